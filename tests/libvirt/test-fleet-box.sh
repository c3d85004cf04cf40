#!/bin/sh
# test-fleet-box.sh - examples/fleet-box.sh, small and short: the whole
# loop on libvirt hosts, down and back up.
#
# Two hosts with two VMs each and a controller host (FLEET_HOSTS=2,
# FLEET_VMS_PER_HOST=2, DURATION=70: quiet until 40 % of the run, then 35 %
# a VM to the end; about 110 s in all).  The test asserts that
#   - the fleet consolidates: a migration for underload is done and a host
#     is powered off;
#   - the rise brings a host back: a power-on decision is done (the
#     controller marks it done only when the host's agent says hello), that
#     host's second agent log shows it connected again, the controller
#     logged the hello, and a migration to that host, decided after the
#     power-on, is done;
#   - every VM's heartbeat went on across all its moves (no gap, no
#     CORRUPT, no FAULT, still beating at the end), no VM was lost or ran
#     on two hosts at once;
#   - the last line is the JSON summary, well-formed;
#   - the controller's web page, in headless Chromium inside the box while
#     it runs, shows every host and VM and a migration done, live (SSE);
#     its screenshot is $EBB_BIN/web-fleet-box.png (when Chromium is
#     installed);
#   - the daemons' logs are free of sanitizer reports;
#   - nothing of the box is left: no namespace, no QEMU, no libvirtd.
#
# QEMU before 9.0 loses guest writes in TCG live migrations now and then
# (docs/libvirt-testbed.md; here about 1 migration in 15 with these busy
# guests): right after a move the guest prints a seq again, finds a
# CORRUPT page or dies with a FAULT.  fleet-box counts those faults and
# says which ones have that signature.  With such a QEMU, a run whose only
# faults are of that kind is said and run once more with a fresh box; if
# the second run has them too, they are reported and not failed (they are
# QEMU's, not ebb's).  EBB_LV_STRICT=1 fails on any fault at once.
# FLEET_BOX_ATTEMPTS (default 2) is how many runs that may take: 1 keeps
# the test under 2.5 minutes, the second run costing as much again.
#
# FLEET_BUS=kafka runs the same fleet and the same checks with agents and
# controller on the Kafka bus (tests/bus/test-kafka-fleet-box.sh): there
# the woken host's agent must say hello on the bus, through the relay
# that came back with it.
#
# Needs root, libvirt and QEMU (77 = skipped otherwise, as fleet-box says).
# DURATION and FLEET_* from the environment override the settings here.

set -u

: "${EBB_SRC:?EBB_SRC: the source tree}"
# shellcheck source=lib-test.sh
. "$EBB_SRC/tests/libvirt/lib-test.sh"
BUS=${FLEET_BUS:-tcp}
# What a woken host's agent logs once it reaches the controller.
case $BUS in
kafka) hello_log="bus: brokers reachable; saying hello to the controller" ;;
*) hello_log="connected to controller" ;;
esac

# Each run's folder is ours (fleet-box's LH_TMP): fleet-box leaves it, with
# its logs, for the checks below, and this script removes it.
T=
BOX=
# shellcheck disable=SC2317 # run by the trap
teardown() {
	if [ -n "$BOX" ] && kill -0 "$BOX" 2>/dev/null; then
		kill "$BOX" 2>/dev/null
		wait "$BOX" 2>/dev/null
	fi
	BOX=
	[ -n "$T" ] || return 0
	# fleet-box tears its hosts down itself; if it could not (killed),
	# this does, but only while its namespaces exist (the pid files of a
	# fleet that is gone name processes that are not ours any more).
	if [ -f "$T/state" ]; then
		tag=$(sed -n 's/^LH_TAG=//p' "$T/state")
		if [ -n "$tag" ] && ip netns list 2>/dev/null |
		    grep -q "^ebblv${tag}h[0-9]"; then
			hosts_attach "$T"
			hosts_down
		fi
	fi
	if [ -n "${EBB_KEEP_TMP:-}" ]; then
		echo "kept $T"
	else
		rm -rf "$T"
	fi
	T=
}
lt_on_exit teardown T 30 box.err controller.log power.log

# ---- the run(s) ----------------------------------------------------------------------
json=
field() { # NAME: its value in the summary
	printf '%s\n' "$json" | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"
}
# The faults fleet-box found "N M": M of the N have QEMU's signature
# (empty when there were none or none of them had it).
known_faults() {
	sed -n 's/^fleet-box: faults: \([0-9]*\), of which \([0-9]*\) look like QEMU.*/\1 \2/p' \
	    "$T/box.out"
}
# The controller's page in headless Chromium while the box runs (issue 8:
# the web view against the fleet in a box): inside the controller host's
# namespace, until the page shows every host and VM and a migration done;
# then a screenshot, $EBB_BIN/web-fleet-box.png.  Skipped without Chromium.
WEB=
WEB_RESULT=
WEB_SHOT="$EBB_BIN/web-fleet-box.png"
# shellcheck source=../web/cdp.sh
. "$EBB_SRC/tests/web/cdp.sh"
if cdp_find; then
	WEB=1
else
	echo "note: no chromium: the page is not checked"
fi
web_watch() {
	_w=$(mktemp -d "${TMPDIR:-/tmp}/ebb-fbweb.XXXXXX") || return 0
	cdp_box "$T" "${FLEET_HOSTS:-2}"
	if ! cdp_box_wait "$BOX" 120; then
		WEB_RESULT="the controller's page never listened"
	elif ! cdp_netns "$BOX_NS" "$_w" || ! cdp_start "$_w" 1280 1000 ||
	    ! cdp_open "$BOX_URL"; then
		WEB_RESULT="chromium did not open $BOX_URL: $(tail -n 3 \
		    "$_w/chromium.log" 2>/dev/null)"
	else
		cat > "$_w/wait.js" <<EOF
new Promise((resolve) => {
	const t0 = Date.now();
	const tick = () => {
		const hosts = document.querySelectorAll('article.host').length;
		const vms = document.querySelectorAll('article.host ul.vms li').length;
		const mig = document.querySelector(
		    'li[data-kind=migrate][data-outcome=done]');
		const s = 'hosts=' + hosts + ' vms=' + vms + ' migration=' +
		    (mig ? mig.dataset.subject + ':' +
		    mig.querySelector('.reason').textContent : 'none') +
		    ' live=' + document.body.dataset.live;
		const done = hosts === ${FLEET_HOSTS:-2} &&
		    vms === ${FLEET_HOSTS:-2} * ${FLEET_VMS_PER_HOST:-2} && mig;
		if (done || Date.now() - t0 > 100000) {
			if (mig)
				mig.querySelector('button').click();
			setTimeout(() => resolve((done ? 'READY ' : 'TIMEOUT ') + s), 300);
		} else {
			setTimeout(tick, 250);
		}
	};
	tick();
})
EOF
		if cdp_js "$_w/wait.js" 110; then
			WEB_RESULT=$(cat "$_w/js.out")
			cdp_screenshot "$WEB_SHOT" ||
				WEB_RESULT="$WEB_RESULT; no screenshot"
		else
			WEB_RESULT="the page could not be read"
		fi
	fi
	cdp_stop
	rm -rf "$_w"
}

attempt=0
while :; do
	attempt=$((attempt + 1))
	T=$(mktemp -d "${TMPDIR:-/tmp}/ebb-lv.XXXXXX") || exit 1
	LH_TMP=$T FLEET_HOSTS=${FLEET_HOSTS:-2} \
	    FLEET_VMS_PER_HOST=${FLEET_VMS_PER_HOST:-2} \
	    DURATION=${DURATION:-70} FLEET_PEAK_PCT=${FLEET_PEAK_PCT:-35} \
	    FLEET_RISE=${FLEET_RISE:-40} FLEET_FALL=${FLEET_FALL:-100} \
	    FLEET_LEAD_S=${FLEET_LEAD_S:-10} EBB_KEEP_TMP='' \
	    sh "$EBB_SRC/examples/fleet-box.sh" "$EBB_BIN" >"$T/box.out" \
	    2>"$T/box.err" &
	BOX=$!
	[ -n "$WEB" ] && [ -z "$WEB_RESULT" ] && web_watch
	wait "$BOX"
	rc=$?
	BOX=
	if [ "$rc" -eq 77 ]; then
		echo "skipped: $(sed -n 's/^fleet-box: //p' "$T/box.out" | head -1)"
		exit 77
	fi
	cat "$T/box.out"
	[ "$rc" -eq 0 ] || die "fleet-box.sh exited $rc"
	json=$(tail -n 1 "$T/box.out")
	kf=$(known_faults)
	if [ "$attempt" -lt "${FLEET_BOX_ATTEMPTS:-2}" ] &&
	    [ -z "${EBB_LV_STRICT:-}" ] &&
	    [ -n "$kf" ] && [ "${kf% *}" = "${kf#* }" ] &&
	    [ "${kf% *}" = "$(field corrupt)" ]; then
		echo "note: ${kf% *} faults, all of QEMU's known TCG migration" \
		    "bug: once more with a fresh box"
		teardown
		continue
	fi
	break
done

# ---- nothing left behind ------------------------------------------------------------
tag=$(sed -n 's/^LH_TAG=//p' "$T/state")
if ip netns list 2>/dev/null | grep -q "^ebblv${tag}"; then
	fail "namespaces left: $(ip netns list | grep "^ebblv${tag}" | tr '\n' ' ')"
else
	ok "no namespace left"
fi
# shellcheck disable=SC2009 # any process whose command line names $T
left=$(ps -eo pid=,args= | grep -F "$T/" | grep -v grep || true)
if [ -n "$left" ]; then
	fail "processes left: $left"
else
	ok "no QEMU, libvirtd, agent or controller left"
fi

# ---- the summary ----------------------------------------------------------------------
n='[0-9]+(\.[0-9]+)?'
if printf '%s\n' "$json" | grep -Eq "^\{\"energy_kwh\":$n, \"baseline_kwh\":$n, \"migrations\":[0-9]+, \"hosts_powered_down\":[0-9]+, \"hosts_powered_up\":[0-9]+, \"vms_lost\":[0-9]+, \"vms_duplicated\":[0-9]+, \"corrupt\":[0-9]+, \"bus\":\"$BUS\"\}$"
then
	ok "summary: $json"
else
	fail "the last line is not the JSON summary: $json"
fi
if [ "$(field vms_lost)" = 0 ]; then
	ok "no VM lost"
else
	fail "VMs lost: $(field vms_lost)"
fi
if [ "$(field vms_duplicated)" = 0 ] &&
    ! grep -q "^fleet-box: DUPLICATE" "$T/box.out"; then
	ok "no VM ran on two hosts at once"
else
	fail "VMs running on two hosts: $(field vms_duplicated)"
fi
if awk -v e="$(field energy_kwh)" -v b="$(field baseline_kwh)" \
    'BEGIN { exit !(e > 0 && b > 0 && e < b) }'; then
	ok "energy $(field energy_kwh) kWh < baseline $(field baseline_kwh) kWh"
else
	fail "energy $(field energy_kwh) kWh, baseline $(field baseline_kwh) kWh"
fi

# ---- consolidation ----------------------------------------------------------------------
# Event lines: "  +12.3s  migrate    vm3   h2 -> h1  done in ..." and
# "  +14.1s  power-off  h2  done ...".
if grep -Eq '^ +\+[0-9.]+s  migrate +vm[0-9]+ +h[0-9]+ -> h[0-9]+  done.*\(underload\)' \
    "$T/box.out"; then
	ok "a VM moved off an underloaded host"
else
	fail "no migration for underload was done"
fi
if grep -Eq '^ +\+[0-9.]+s  power-off  h[0-9]+  done' "$T/box.out" &&
    [ "$(field hosts_powered_down)" -ge 1 ]; then
	ok "an emptied host was powered off"
else
	fail "no host was powered off"
fi

# ---- and back up ----------------------------------------------------------------------
# A power-on done, then a migration to that host decided after it.
back=$(awk '
	function secs(s) { sub(/^\+/, "", s); sub(/s$/, "", s); return s + 0 }
	$1 ~ /^\+[0-9.]+s$/ && $2 == "power-on" && $4 == "done:" {
		on[$3] = secs($1); next
	}
	$1 ~ /^\+[0-9.]+s$/ && $2 == "migrate" && $7 == "done" {
		if (($6 in on) && secs($1) >= on[$6] && !seen++)
			print $6, $3, on[$6], secs($1)
	}' "$T/box.out")
if [ "$(field hosts_powered_up)" -ge 1 ] && [ -n "$back" ]; then
	# shellcheck disable=SC2086 # four words
	set -- $back
	ok "$1 powered on at +$3 s, and $2 moved to it at +$4 s"
	if [ -f "$T/agent-$1.2.log" ] &&
	    grep -q "$hello_log" "$T/agent-$1.2.log"; then
		ok "$1's agent connected again after the power-on"
	else
		fail "$1's second agent did not connect: $(tail -3 "$T/agent-$1.2.log" 2>&1)"
	fi
	# On kafka the bus crossed the bridge: the relay that came back
	# with the host carried its agent's connections to the brokers.
	if [ "$BUS" = kafka ]; then
		if grep -q "^ebb-relay: #[0-9]* connected$" \
		    "$T/relay-$1.2.log" 2>/dev/null; then
			ok "$1's relay came back and carried its agent's bus"
		else
			fail "$1's relay carried nothing after the power-on: $(tail -3 "$T/relay-$1.2.log" 2>&1)"
		fi
	fi
	if grep -q "host $1: powering-on -> on (agent said hello)" \
	    "$T/controller.log"; then
		ok "the controller saw $1's hello"
	else
		fail "the controller did not see $1's hello"
	fi
else
	fail "no host came back with a VM moved to it (powered up: $(field hosts_powered_up))"
fi

# ---- heartbeats ----------------------------------------------------------------------
# "  vm1   7815 beats, last 7814, gaps 0, corrupt 0, beating yes, on h1 h2"
# and, for faults right after a move, "corrupt 1 (1 right after a move)".
kf=$(known_faults)
nvms=$(grep -c '^  vm[0-9]* *[0-9]* beats' "$T/box.out")
if [ "$(field corrupt)" = 0 ] && [ "$nvms" -ge 4 ] &&
    ! grep '^  vm[0-9]* *[0-9]* beats' "$T/box.out" |
    grep -qv 'gaps 0, corrupt 0, beating yes' &&
    grep -q "^fleet-box: heartbeat: all $nvms VMs still beating at the end" \
    "$T/box.out"; then
	ok "all $nvms VMs beat on across every move: no gap, no CORRUPT, no FAULT"
elif [ -z "${EBB_LV_STRICT:-}" ] && [ -n "$kf" ] &&
    [ "${kf% *}" = "${kf#* }" ] && [ "${kf% *}" = "$(field corrupt)" ]; then
	echo "note: in all $attempt run(s), faults of QEMU's known TCG" \
	    "migration bug only (not ebb's; EBB_LV_STRICT=1 fails on them):"
	grep '^  vm[0-9]*: ' "$T/box.out"
	ok "no fault but QEMU's known one"
else
	fail "heartbeats: $(field corrupt) faults"
	grep '^  vm[0-9]*' "$T/box.out" >&2
fi

# ---- the page -------------------------------------------------------------------------
if [ -n "$WEB" ]; then
	case $WEB_RESULT in
	"READY "*"; no screenshot") fail "the page: $WEB_RESULT" ;;
	"READY "*) ok "the page in Chromium: ${WEB_RESULT#READY } ($WEB_SHOT)" ;;
	*) fail "the page: $WEB_RESULT" ;;
	esac
fi

# ---- the daemons themselves ------------------------------------------------------------
# Under the sanitizers a daemon that leaked or misbehaved says so in its log.
san=$(grep -l "runtime error\|AddressSanitizer\|LeakSanitizer" \
    "$T"/*.log 2>/dev/null)
if [ -z "$san" ]; then
	ok "no sanitizer report in the daemons' logs"
else
	for l in $san; do
		fail "${l##*/}: $(grep -m 3 "runtime error\|Sanitizer\|#[0-4] " "$l")"
	done
fi

lt_end test-fleet-box
