#!/bin/sh
# test-libvirt-migrate.sh - a live migration between two libvirt hosts.
#
# Two hosts from lib-hosts.sh (h1, h2: network namespaces on one bridge,
# each with its own libvirtd in its own mount namespace).  The TCG domain
# of domain.xml.in boots ebb-guest on h1 with a heartbeat every 10 ms and
# a memory dirtier (16 MiB window, 5000 pages/s, every page checked before
# it is rewritten); once it beats, h1's libvirtd migrates it peer to peer:
#   virsh migrate --live --p2p --persistent --undefinesource DOMAIN \
#       qemu+unix:///system?socket=<h2's socket> tcp://10.77.0.2
# Checked:
#   - the migration succeeds; the domain runs on h2, is persistent there,
#     and is gone from h1 (not even defined), h1's QEMU has exited;
#   - the guest did not restart: its banner is in h1's serial log only;
#   - the heartbeat is unbroken across the two serial logs (h1's, then
#     h2's, read as one stream: a line the pause cut in two is whole
#     again): seq 0, 1, 2, ... without a gap, guest_ns rising, dirtied
#     never falling and rising on h2 too, no CORRUPT, ERROR or FAULT line
#     (a lost dirty page would be a CORRUPT line);
# and printed: libvirt's total time and downtime (domjobinfo --completed
# on h2: --undefinesource leaves nothing to ask on h1), the heartbeat gap
# in guest time (TCG stops the guest's TSC while it is paused, so this
# gap hardly shows the downtime: that is expected, not a failure) and in
# an outside observer's time (estimated from the serial files' times).
#
# QEMU before 9.0 loses guest writes in TCG live migrations now and then
# (about 1 in 15 here): its migration thread clears dirty bits without
# making TCG's TLB trap the next write again (fixed upstream in 2024,
# "physmem: ... dirty bits cleared", N. Piggin).  The guest then shows
# exactly that: seq and dirtied going back and CORRUPT pages, on h2 only.
# With such a QEMU and TCG, a migration failing that way and no other is
# reported as the known bug and tried again with a fresh guest, up to
# three times in all; EBB_LV_STRICT=1 fails at once instead.  See
# docs/libvirt-testbed.md.
#
# Takes ~20-30 s (libvirtd's first QEMU probe and TCG are most of it).
# Needs root, libvirt-daemon, libvirt-daemon-driver-qemu, libvirt-clients,
# qemu-system-x86, and ebb-guest built; 77 = skipped.

set -u

: "${EBB_SRC:?EBB_SRC: the source tree}"
# shellcheck source=lib-test.sh
. "$EBB_SRC/tests/libvirt/lib-test.sh"

guest=$EBB_BIN/ebb-guest
work="dirty=16,5000 beat=10"
lh_require || exit 77
if [ ! -f "$guest" ]; then
	echo "skipped: $guest is not built (cmake --build: target guest)"
	exit 77
fi
command -v timeout >/dev/null || { echo "skipped: no timeout(1)"; exit 77; }

# On failure, what the daemons and the guest said; then the fleet goes.
lt_on_exit hosts_down LH_TMP 15 'h*/log/libvirtd.log' 'h*/libvirtd.out' \
    'h*/log/qemu/*.log' 'h*/log/qemu/*.serial' migrate.out

# qemu_pids H: the QEMU processes in hK's network namespace.
qemu_pids() {
	for _p in $(ip netns pids "$(host_ns "$1")" 2>/dev/null); do
		case $(cat "/proc/$_p/comm" 2>/dev/null) in
		qemu*) echo "$_p" ;;
		esac
	done
}

# qemu_gone H: no QEMU runs in hK.
# shellcheck disable=SC2317 # run by lh_poll
qemu_gone() {
	[ -z "$(qemu_pids "$1")" ]
}

# jobinfo KEY: a number from h2's `domjobinfo --completed` (saved below).
jobinfo() {
	sed -n "s/^$1: *\([0-9.]*\).*/\1/p" "$LH_TMP/jobinfo"
}

# check_beats S1 S2 OUT: the heartbeat contract over h1's serial log S1
# followed by h2's S2.  Writes "FAIL..." lines and, last, "seq2 ggap span2
# beats": the seq of the first beat begun on h2, the guest-time gap at the
# move (ms), the guest time from h2's first beat to its last (ms) and the
# number of beats.  Returns 0 if all is well, 2 if all that is wrong is
# what lost guest writes cause (on h2's side only: seq or dirtied going
# back, CORRUPT), 1 for anything else.
check_beats() {
	# Lines begun on h1: its complete lines, plus the one the pause
	# cut (the guest stopped while writing it; it ends on h2).
	_n1=$(wc -l <"$1")
	[ -n "$(tail -c 1 "$1")" ] && _n1=$((_n1 + 1))
	cat "$1" "$2" | awk -v n1="$_n1" '
	function bad(why) { print "FAIL: " why; hard = 1 }
	function lost(why) { print "FAIL: " why; if (NR > n1) soft = 1; else hard = 1 }
	NR == 1 && !/^EBB-GUEST / { bad("the first line is not the banner") }
	/^EBB-GUEST / {
		if (NR != 1)
			bad("line " NR ": a banner again: the guest restarted")
		next
	}
	/^HB / {
		if (NF != 4 || $2 !~ /^[0-9]+$/ || $3 !~ /^[0-9]+$/ ||
		    $4 !~ /^[0-9]+$/) {
			bad("line " NR ": bad heartbeat: " $0)
			next
		}
		if ($2 != seq) {
			lost("line " NR ": seq " $2 " after " seq - 1)
			seq = $2
		}
		if (seq > 0 && $3 <= ns)
			bad("line " NR ": guest_ns from " ns " to " $3)
		if (seq > 0 && $4 < dirt)
			lost("line " NR ": dirtied from " dirt " to " $4)
		if (NR <= n1) {
			n_1++; last1 = $3
		} else {
			if (n_2++ == 0) { first2 = $3; dirt2 = $4; seq2 = $2 }
			last2 = $3
		}
		seq++; ns = $3; dirt = $4
		next
	}
	/^CORRUPT / {
		if (ncorrupt++ < 5)
			lost("line " NR ": " $0)
		else if (NR <= n1)
			hard = 1
		next
	}
	{ bad("line " NR ": unexpected: " $0) }
	END {
		if (ncorrupt > 5)
			print "FAIL: ... " ncorrupt " CORRUPT lines in all"
		if (n_1 < 10 || n_2 < 10)
			bad(n_1 " heartbeats on h1, " n_2 " on h2")
		if (n_2 > 0 && dirt <= dirt2)
			bad("the dirtier did not run on h2: " dirt2 " -> " dirt)
		printf "%d %.1f %.1f %d\n", seq2, (first2 - last1) / 1e6,
		    (last2 - first2) / 1e6, seq
		exit hard ? 1 : soft ? 2 : 0
	}' >"$3"
}

# QEMU before 9.0 with TCG: lost writes are its known bug (see the top).
qemu_major=$(qemu-system-x86_64 --version |
    sed -n 's/^QEMU emulator version \([0-9]*\)\..*/\1/p')
known_bug=
if [ "${qemu_major:-0}" -lt 9 ] && grep -q "<domain type='qemu'>" \
    "$LH_SRCDIR/domain.xml.in" && [ -z "${EBB_LV_STRICT:-}" ]; then
	known_bug=1
fi

t_start=$(lh_now_ms)
hosts_up 2 || die "the hosts did not come up"
ok "h1, h2 up in $(($(lh_now_ms) - t_start)) ms ($LH_TMP)"

attempt=0
while :; do
	attempt=$((attempt + 1))
	dom=ebbmig$attempt

	# ---- the guest on h1 ------------------------------------------------

	lh_domain_xml "$dom" "$guest" "$work" 64 1 >"$LH_TMP/$dom.xml"
	host_virsh h1 define "$LH_TMP/$dom.xml" >/dev/null ||
		die "virsh define on h1 failed"
	host_virsh h1 start "$dom" >/dev/null || die "virsh start on h1 failed"
	s1=$(host_serial h1 "$dom")
	s2=$(host_serial h2 "$dom")
	lh_wait_beats "$s1" 50 30 || die "no 50 heartbeats on h1 in 30 s:" \
	    "$(head -c 300 "$s1" 2>/dev/null)"
	grep -q "^EBB-GUEST .* work=dirty:16:5000 beat=10 " "$s1" ||
		fail "h1: banner: $(head -n 1 "$s1")"
	ok "$dom beating on h1: $(head -n 1 "$s1")"

	# ---- the migration --------------------------------------------------

	# --timeout: past 60 s QEMU pauses the guest so that the migration
	# ends (with a long downtime, reported); timeout(1) is the safety net.
	t0=$(lh_now_ms)
	timeout 100 virsh -c "$(host_uri h1)" migrate --live --p2p \
	    --persistent --undefinesource --timeout 60 "$dom" \
	    "$(host_uri h2)" "$(host_migrate_uri h2)" \
	    >"$LH_TMP/migrate.out" 2>&1
	rc=$?
	wall=$(($(lh_now_ms) - t0))
	[ $rc -eq 0 ] ||
		die "virsh migrate: exit $rc: $(cat "$LH_TMP/migrate.out")"
	ok "virsh migrate returned after $wall ms"

	[ "$(host_virsh h2 domstate "$dom" 2>&1)" = running ] ||
		fail "h2: $dom is $(host_virsh h2 domstate "$dom" 2>&1)"
	host_virsh h2 dominfo "$dom" | grep -q '^Persistent: *yes' ||
		fail "h2: $dom is not persistent"
	host_virsh h1 list --all --name | grep -qx "$dom" &&
		fail "h1 still has $dom: $(host_virsh h1 list --all)"
	lh_poll 0.1 5 qemu_gone h1 || fail "h1's QEMU still runs: $(qemu_pids h1)"
	[ -n "$(qemu_pids h2)" ] || fail "no QEMU runs on h2"
	ok "$dom runs on h2 (persistent), gone from h1"

	host_virsh h2 domjobinfo --completed "$dom" >"$LH_TMP/jobinfo" 2>&1 ||
		fail "h2: domjobinfo --completed: $(cat "$LH_TMP/jobinfo")"
	total=$(jobinfo "Time elapsed")
	down=$(jobinfo "Total downtime")
	mib=$(jobinfo "Memory processed")
	if [ -z "$total" ] || [ -z "$down" ] || [ -z "$mib" ]; then
		fail "domjobinfo --completed lacks the times:" \
		    "$(cat "$LH_TMP/jobinfo")"
	fi

	lh_wait_beats "$s2" 50 30 || fail "no 50 heartbeats on h2 in 30 s"
	# Stopped, so that the serial logs are final (their times too).
	host_virsh h2 destroy "$dom" >/dev/null ||
		fail "virsh destroy on h2 failed"

	# ---- the heartbeat across the two hosts -----------------------------

	check_beats "$s1" "$s2" "$LH_TMP/beats.$attempt"
	st=$?
	if [ $st -eq 2 ] && [ -n "$known_bug" ] && [ $attempt -lt 3 ]; then
		sed 's/^FAIL: /  lost write: /' "$LH_TMP/beats.$attempt" |
		    grep '^  lost' | head -n 4
		echo "known QEMU $qemu_major bug (TCG loses dirty pages in" \
		    "live migration; fixed in QEMU 9.0): trying again" \
		    "with a fresh guest"
		host_virsh h2 undefine "$dom" >/dev/null
		continue
	fi
	grep '^FAIL' "$LH_TMP/beats.$attempt" >&2
	[ $st -eq 0 ] || FAILED=$((FAILED + 1))
	[ $st -eq 2 ] && [ -n "$known_bug" ] &&
		echo "(QEMU $qemu_major's known TCG bug, three times in a row)" >&2
	break
done

read -r seq2 ggap span2 nbeats <<EOF
$(tail -n 1 "$LH_TMP/beats.$attempt")
EOF
# The observer's gap: h1's log was last written at its last beat; h2's
# first beat came span2 ms of (running) guest time before h2's last write.
# File times have the kernel's tick as resolution: a few ms.
ogap=$(stat -c '%.3Y' "$s1" "$s2" | tr '\n' ' ' |
    awk -v span="$span2" '{ printf "%.0f\n", ($2 - $1) * 1000 - span }')
# A gap of a few beats at most in guest time: under TCG the guest's clock
# stands still while it is paused.  (Where the TSC runs on, as with KVM,
# this gap would be the downtime.)
awk -v g="$ggap" -v d="${down:-0}" \
    'BEGIN { exit !(g > 0 && g < d + 1000) }' ||
	fail "heartbeat gap of $ggap ms in guest time (downtime ${down:-?} ms)"
[ "$FAILED" -eq 0 ] && ok "heartbeat unbroken: $nbeats beats," \
    "h2 took over at seq $seq2, no CORRUPT"

echo "migration: total ${total:-?} ms, downtime ${down:-?} ms," \
    "${mib:-?} MiB of RAM sent, virsh migrate ${wall} ms" \
    "(attempt $attempt)"
echo "heartbeat gap: ${ggap} ms of guest time," \
    "~${ogap} ms observed (serial file times)"
echo "elapsed: $(($(lh_now_ms) - t_start)) ms"

if [ "$FAILED" -ne 0 ]; then
	echo "test-libvirt-migrate: $FAILED failure(s)" >&2
	exit 1
fi
echo "PASS"
exit 0
