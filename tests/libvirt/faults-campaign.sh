#!/bin/sh
# faults-campaign.sh - random fault trials on one libvirt testbed (`make
# faults`): each trial draws a scenario of faults-lib.sh (a: controller
# killed mid-migration, b: agent silenced, c: link cut during a
# migration, d: failed power-on), the VM, the hosts, the moment and the
# length of the fault, from a seed printed at the start; then checks that
# every VM runs exactly once, its heartbeat is unbroken and the journal is
# consistent.
#
#   faults-campaign.sh [BUILD_DIR]     (`make faults`), or with EBB_BIN
#   and EBB_SRC set as for the tests; BUILD_DIR defaults to ./build.
#   TRIALS=N (default 20)   SEED=S (default: the clock)
#   FX_SCENARIOS="a b c d"  the scenarios drawn from
#
# Progress goes to stderr; stdout gets exactly one line, at the end:
#   {"trials":…, "vms_lost":…, "vms_duplicated":…, "corrupt":…,
#    "journal_inconsistent":…, "heartbeat_broken":…, "scenario_failed":…,
#    "seed":…, "seconds":…, "seconds_per_trial":…, "by_scenario":{…}}
# vms_lost / vms_duplicated: VM-checks that found a VM on no host / on
# several; corrupt: checks that found a CORRUPT line; heartbeat_broken:
# checks that found a gap or a repeated beat; journal_inconsistent: trials
# after which the journal checker found something new; scenario_failed:
# trials whose fault did not have the effect it should (a host that did
# not become unknown or failed, a fleet that did not settle);
# faults_outside_migration: a and c trials whose fault, drawn at random,
# came before or after the migration (not a failure: a plain kill or cut).
# Exit 0 when all but the last are 0, 1 otherwise, 77 when the machine
# cannot run it.
# EBB_KEEP_TMP=1 keeps the logs, the journal and the serial logs.

set -u

EBB_SRC=${EBB_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
EBB_BIN=${EBB_BIN:-${1:-build}}
EBB_BIN=$(cd "$EBB_BIN" 2>/dev/null && pwd) ||
    { echo "faults-campaign: no build folder ${1:-build}" >&2; exit 77; }
export EBB_SRC EBB_BIN
LC_ALL=C
export LC_ALL
TRIALS=${TRIALS:-20}
SEED=${SEED:-$(date +%s)}
FX_SCENARIOS=${FX_SCENARIOS:-a b c d}
# The JSON line alone on stdout (fd 3); everything else to stderr.
exec 3>&1 1>&2

# shellcheck source=lib-hosts.sh
. "$EBB_SRC/tests/libvirt/lib-hosts.sh"
# shellcheck source=faults-lib.sh
. "$EBB_SRC/tests/libvirt/faults-lib.sh"

fx_require || exit 77

DONE=0 SCN_FAILED=0 ABORTED=false
T0=$(lh_now_ms)
BY=

# shellcheck disable=SC2317 # run by the trap
finish() {
	rc=$?
	trap - EXIT
	if [ "$FX_LOST$FX_DUP$FX_CORRUPT$FX_HB$FX_JOURNAL$SCN_FAILED" != 000000 ] &&
	    [ -n "$LH_TMP" ]; then
		echo "logs: $LH_TMP (EBB_KEEP_TMP=1 keeps them)" >&2
	fi
	fx_down >&2
	[ "$rc" -eq 77 ] && exit 77
	secs=$((($(lh_now_ms) - T0) / 1000))
	per=0
	[ "$DONE" -gt 0 ] && per=$(awk -v s="$TRIAL_MS" -v n="$DONE" \
	    'BEGIN { printf "%.1f", s / n / 1000 }')
	printf '{"trials":%d, "vms_lost":%d, "vms_duplicated":%d, "corrupt":%d, "journal_inconsistent":%d, "heartbeat_broken":%d, "scenario_failed":%d, "faults_outside_migration":%d, "aborted":%s, "seed":%s, "seconds":%d, "seconds_per_trial":%s, "by_scenario":{%s}}\n' \
	    "$DONE" "$FX_LOST" "$FX_DUP" "$FX_CORRUPT" "$FX_JOURNAL" "$FX_HB" \
	    "$SCN_FAILED" "$FX_MISSED" "$ABORTED" "$SEED" "$secs" "$per" \
	    "${BY#, }" >&3
	[ "$FX_LOST$FX_DUP$FX_CORRUPT$FX_HB$FX_JOURNAL$SCN_FAILED" = 000000 ] &&
	    [ "$ABORTED" = false ] && exit 0
	exit 1
}
trap finish EXIT
trap 'ABORTED=true; exit 1' INT TERM HUP

TRIAL_MS=0
echo "faults-campaign: seed $SEED, $TRIALS trials of: $FX_SCENARIOS" >&2
fx_seed "$SEED"
fx_setup || { fx_say "the fleet did not come up"; ABORTED=true; exit 1; }

n_a=0 n_b=0 n_c=0 n_d=0
bad_prepare=0
i=1
while [ "$i" -le "$TRIALS" ]; do
	fx_pick $FX_SCENARIOS
	scn=$FX_R
	t0=$(lh_now_ms)
	if ! fx_prepare; then
		bad_prepare=$((bad_prepare + 1))
		SCN_FAILED=$((SCN_FAILED + 1))
		fx_say "trial $i: the fleet could not be brought back"
		if [ "$bad_prepare" -ge 2 ]; then
			ABORTED=true
			break
		fi
		continue
	fi
	bad_prepare=0
	fx_say "---- trial $i/$TRIALS: scenario $scn"
	if ! "fx_scn_$scn"; then
		SCN_FAILED=$((SCN_FAILED + 1))
		fx_say "trial $i: scenario $scn did not go as it should"
	fi
	fx_check "trial $i" || fx_say "trial $i: the invariants do not hold"
	ms=$(($(lh_now_ms) - t0))
	TRIAL_MS=$((TRIAL_MS + ms))
	DONE=$i
	eval "n_$scn=\$((n_$scn + 1))"
	BY=", \"a\":$n_a, \"b\":$n_b, \"c\":$n_c, \"d\":$n_d"
	fx_say "trial $i: $((ms / 1000)) s; lost $FX_LOST dup $FX_DUP" \
	    "corrupt $FX_CORRUPT hb $FX_HB journal $FX_JOURNAL" \
	    "failed $SCN_FAILED"
	i=$((i + 1))
done
