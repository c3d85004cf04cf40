#!/bin/sh
# test-libvirt-faults.sh - faults during consolidation on libvirt hosts,
# each ending with every VM running exactly once and the journal telling
# the truth (faults-lib.sh describes the fleet, the scenarios and the
# checks):
#   a  the controller SIGKILLed mid-migration and started again;
#   b  an agent silenced (SIGSTOP): its host unknown, never a target nor
#      switched off, "on" again when it speaks;
#   c  the target's link down for seconds during a migration;
#   d  a power-on that fails: the host failed until cleared, another one
#      woken to take the load.
# Each scenario once, on one testbed, with the fault's timing fixed so
# that it lands inside the migration; faults-campaign.sh draws them at
# random.  FX_SEED chooses the VMs and hosts (default: a fixed one).
# Needs root; 77 = skipped.

set -u

: "${EBB_SRC:?EBB_SRC: the source tree}"
# shellcheck source=lib-test.sh
. "$EBB_SRC/tests/libvirt/lib-test.sh"
# shellcheck source=faults-lib.sh
. "$EBB_SRC/tests/libvirt/faults-lib.sh"

fx_require || exit 77
lt_on_exit fx_down LH_TMP 30 controller.log 'agent-h*.log' power.log

t0=$(lh_now_ms)
fx_seed "${FX_SEED:-20240611}"
echo "seed ${FX_SEED:-20240611}"
fx_setup || die "the fleet did not come up"
ok "fleet up in $((($(lh_now_ms) - t0) / 1000)) s"

# scenario NAME FUNCTION: prepare, run, check.
scenario() {
	s0=$(lh_now_ms)
	f0=$FAILED
	FX_HIT=
	fx_prepare || { fail "$1: the fleet could not be prepared"; return; }
	$2 || fail "$1: the scenario did not go as it should"
	fx_check "$1" || fail "$1: the invariants do not hold"
	[ "$FAILED" -eq "$f0" ] &&
	    ok "$1 ($((($(lh_now_ms) - s0) / 1000)) s)"
}

FX_A_DELAY=${FX_A_DELAY:-1.5} FX_A_PAUSE=${FX_A_PAUSE:-1.0}
scenario "a: controller killed mid-migration" fx_scn_a
# Timed to land inside the migration: one that missed tested nothing.
[ "$FX_HIT" = inside ] || fail "a: the kill missed the migration ($FX_HIT)"
FX_B_HOW=${FX_B_HOW:-stop} FX_B_HOLD=${FX_B_HOLD:-8}
scenario "b: agent silenced" fx_scn_b
FX_C_DELAY=${FX_C_DELAY:-3.0} FX_C_LEN=${FX_C_LEN:-5} FX_C_SIDE=${FX_C_SIDE:-dst}
scenario "c: link cut during a migration" fx_scn_c
[ "$FX_HIT" = inside ] || fail "c: the cut missed the migration ($FX_HIT)"
FX_D_HOW=${FX_D_HOW:-nohello}
scenario "d: a power-on that fails" fx_scn_d

# The checkers can fail: given what is wrong on purpose, each must say
# so; a check that passes whatever it is given would make every "ok"
# above worthless.  From the fleet as the scenarios left it.
selftest() {
	st=$T/selftest
	mkdir -p "$st"
	f0=$FAILED
	# fx_lists found each VM twice on its host: virsh, and the scan of
	# the QEMU processes, which is what sees a VM libvirt lost track of.
	fx_lists
	for v in $FX_VMS; do
		h=$(fx_vm_host "$v")
		[ -n "$h" ] && [ "$(grep -cx "$v" "$T/list.h$h")" -eq 2 ] ||
		    fail "selftest: $v on h$h: virsh and the QEMU scan disagree"
	done
	# A heartbeat with a beat missing, ten beats twice (as QEMU's TCG
	# bug makes them), a CORRUPT line.
	# From the longest serial log there is (a VM that has just arrived
	# may have too few beats for the cuts below).
	f='' n=0
	for v in $FX_VMS; do
		h=$(fx_vm_host "$v")
		[ -n "$h" ] || continue
		c=$(grep -c '^HB ' "$(host_serial "$h" "$v")")
		[ "$c" -gt "$n" ] && f=$(host_serial "$h" "$v") n=$c
	done
	[ "$n" -ge 100 ] || { fail "selftest: no serial log of 100 beats"; return; }
	awk '/^HB / && ++n == 50 { next } { print }' "$f" >"$st/gap"
	awk '/^HB / { n++ } n >= 50 && n < 60 { r = r $0 "\n" }
	    { print } n == 59 && r != "" { printf "%s", r; r = "" }' \
	    "$f" >"$st/rep"
	awk '/^HB / && ++n == 50 { print "CORRUPT 1234 word=1 got=0 want=1" }
	    { print }' "$f" >"$st/corrupt"
	# Against the log as it is (which may hold several visits, hence
	# gaps of its own).
	cp "$f" "$st/as-is"
	for k in as-is gap rep corrupt; do
		$FX_PYTHON "$FX_PY" hb -1 "$st/$k" | sed -n 2p >"$st/$k.out"
	done
	read -r g0 r0 c0 _ <"$st/as-is.out"
	read -r g r c _ <"$st/gap.out"
	[ "${g:-0}" -gt "${g0:-0}" ] ||
	    fail "selftest: a missing beat not seen: $g0 $r0 $c0 -> $g $r $c"
	read -r g r c _ <"$st/rep.out"
	[ "${r:-0}" -ge $((${r0:-0} + 10)) ] ||
	    fail "selftest: repeated beats not seen: $g0 $r0 $c0 -> $g $r $c"
	read -r g r c _ <"$st/corrupt.out"
	[ "${c:-0}" -gt "${c0:-0}" ] ||
	    fail "selftest: CORRUPT not seen: $g0 $r0 $c0 -> $g $r $c"
	# The journal: a copy with its last committed migration put back in
	# flight; then that VM said to run where the journal did not put it.
	v=$($FX_PYTHON -c '
import sqlite3, sys
src = sqlite3.connect("file:%s?mode=ro" % sys.argv[1], uri=True)
dst = sqlite3.connect(sys.argv[2])
src.backup(dst)
r = dst.execute("SELECT id, vm, dst FROM migrations WHERE state = "
                "\"committed\" ORDER BY id DESC").fetchone()
dst.execute("UPDATE migrations SET state = \"started\", ended_ts = NULL "
            "WHERE id = ?", (r[0],))
dst.commit()
print(r[1], r[2])' "$T/journal.db" "$st/journal.db") ||
	    { fail "selftest: no committed migration to tamper with"; return; }
	set -- $v
	$FX_PYTHON "$FX_PY" journal "$st/journal.db" >"$st/journal.out" 2>&1
	grep -q "of $1 .* left started" "$st/journal.out" ||
	    fail "selftest: a migration left in flight not seen"
	$FX_PYTHON "$FX_PY" journal "$T/journal.db" \
	    "$1=h$((${2#h} % 3 + 1))" >"$st/where.out" 2>&1
	grep -q "the journal has $1 on $2" "$st/where.out" ||
	    fail "selftest: $1 elsewhere than the journal says not seen"
	[ "$FAILED" -eq "$f0" ] && ok "the checkers catch what they must"
}
selftest

echo "lost $FX_LOST duplicated $FX_DUP corrupt $FX_CORRUPT" \
    "heartbeat $FX_HB journal $FX_JOURNAL;" \
    "$((($(lh_now_ms) - t0) / 1000)) s in all"
lt_end test-libvirt-faults
