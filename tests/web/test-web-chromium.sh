#!/bin/sh
#
# test-web-chromium.sh - the controller's web page in a real headless
# Chromium, against a fleet in a box on 127.0.0.1.
#
# One controller (interval 0.5 s, no minimum of hosts on, no cooldown) and
# three agents (hypervisor "none", parking actuator "none"), over TLS with
# certificates from scripts/ebb-ca:
#   h1  empty, power driver "command" whose off kills h1's agent
#   h2  reserve, no power driver
#   h3  no power driver
# h2 and h3 have one VM each (web2, db3) from libvirt's test driver, in
# the agent's process: their migrations fail at once, "not supported",
# which is a migration decided, sent to h2's agent and ended by its
# result. (Real live migrations on libvirt hosts are the fleet box's:
# tests/libvirt/test-fleet-box.sh.)
#
# Chromium is driven over its DevTools pipe by the shell functions of
# cdp.sh (beside this file), so the test needs no node, npm or python.
#
# Checked, once h1 is off:
#   - the page shows h1, h2 and h3 with their states (off, on, on), h2 as
#     a reserve, and h1's power-off decision in the timeline (dumped DOM,
#     saved as $EBB_BIN/web-dom.html);
#   - the page is live: it receives rounds on /api/events (SSE) and its
#     chart has drawn the three series;
#   - a click on the decision shows its inputs;
#   - read-only without the token: no drain button, forms disabled;
#   - the fleet map lists web2 on h2 and db3 on h3;
#   - with the token typed in: Drain on h2 puts it in maintenance (seen
#     through `ebb hosts`), Undrain releases it; the page's migrate form
#     moves web2 to h3, and the migration's decision appears in the
#     timeline with its reason ("operator asked") and its outcome (failed:
#     not supported); a wrong token is refused and the page is read-only
#     again;
#   - a screenshot, $EBB_BIN/web-screenshot.png, is a non-empty PNG.
#
# Exit 77 (skipped) when Chromium or the openssl command is not installed.

: "${EBB_BIN:?EBB_BIN must name the build tree}"
: "${EBB_SRC:?EBB_SRC must name the source tree}"

EBB="$EBB_BIN/ebb"
CTL="$EBB_BIN/ebb-controller"
AGT="$EBB_BIN/ebb-agent"
POLICY="$EBB_SRC/examples/policies/default.json"
SHOT="$EBB_BIN/web-screenshot.png"
DOM="$EBB_BIN/web-dom.html"
for f in "$EBB" "$CTL" "$AGT"; do
	[ -x "$f" ] || { echo "FAIL: $f is not built" >&2; exit 1; }
done
[ -r /proc/uptime ] || { echo "SKIP: needs /proc (Linux)"; exit 77; }
. "$EBB_SRC/tests/web/cdp.sh"
if ! cdp_find; then
	echo "SKIP: no chromium (apt-get install chromium)"
	exit 77
fi
command -v openssl >/dev/null 2>&1 ||
	{ echo "SKIP: needs the openssl command (scripts/ebb-ca)"; exit 77; }

unset EBB_TOKEN EBB_TOKEN_FILE EBB_CONTROLLER
LC_ALL=C
export LC_ALL

T=$(mktemp -d "${TMPDIR:-/tmp}/ebb-web.XXXXXX") || exit 1
CTL_PID=
FAILED=0

cleanup() {
	rc=$?
	cdp_stop
	[ -n "$CTL_PID" ] && kill "$CTL_PID" 2>/dev/null
	for p in "$T"/*.pid; do
		[ -f "$p" ] || continue
		pid=$(cat "$p" 2>/dev/null)
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	done
	[ -n "$CTL_PID" ] && wait "$CTL_PID" 2>/dev/null
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		for l in "$T"/*.log; do
			[ -f "$l" ] || continue
			echo "---- $(basename "$l") (last 30 lines)" >&2
			tail -n 30 "$l" >&2
		done
	fi
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
# A write to a gone browser fails instead of killing the script.
trap '' PIPE

# ---- helpers ----------------------------------------------------------------

now_cs() {
	awk '{ printf "%d\n", $1 * 100 }' /proc/uptime
}

wait_until() {
	_end=$(( $(now_cs) + $1 * 100 ))
	shift
	while :; do
		"$@" && return 0
		[ "$(now_cs)" -ge "$_end" ] && return 1
		sleep 0.1
	done
}

fail() {
	echo "FAIL: $*" >&2
	FAILED=$((FAILED + 1))
}

die() {
	echo "FAIL: $*" >&2
	exit 1
}

ok() {
	_cs=$(( $(now_cs) - START_CS ))
	printf 'ok: %s [%d.%02d s]\n' "$*" $((_cs / 100)) $((_cs % 100))
}

# host_get NAME KEY: a host's value from `ebb hosts --json`.
host_get() {
	"$EBB" hosts --json --controller "$URL" 2>/dev/null |
	    awk -v name="$1" -v key="$2" '
		/^  [{]/ { cur = "" }
		$1 == "\"name\":" { v = $2; gsub(/[",]/, "", v); cur = v }
		cur == name && $1 == "\"" key "\":" {
			v = $0
			sub(/^[^:]*: /, "", v)
			sub(/,$/, "", v)
			gsub(/^"|"$/, "", v)
			print v
			exit
		}'
}

state_is() {
	[ "$(host_get "$1" state)" = "$2" ]
}

rand_port() {
	od -An -N2 -tu2 /dev/urandom | awk '{ print 20000 + $1 % 12000 }'
}

# ---- the fleet ------------------------------------------------------------------

CA="$T/ca"
{ sh "$EBB_SRC/scripts/ebb-ca" init "$CA" &&
    sh "$EBB_SRC/scripts/ebb-ca" host "$CA" h1 h2 h3 &&
    sh "$EBB_SRC/scripts/ebb-ca" controller "$CA" ctl.test 127.0.0.1; } \
    > "$T/ebb-ca.out" 2>&1 || { echo "FAIL: ebb-ca: $(cat "$T/ebb-ca.out")" >&2;
    exit 1; }

printf 'ebb-test-token-0123456789abcdef\n' > "$T/token"
chmod 600 "$T/token"
H1_OFF="echo off >> '$T/h1.power'; kill \$(cat '$T/h1.pid')"

write_configs() {
	cat > "$T/controller.json" <<EOF
{
  "listen": "127.0.0.1:$AGENT_PORT",
  "tls": { "ca": "$CA/ca.crt", "cert": "$CA/controller.crt",
           "key": "$CA/controller.key" },
  "http": "127.0.0.1:$HTTP_PORT",
  "token_file": "$T/token",
  "policy": "$POLICY",
  "journal": "$T/journal/journal.db",
  "interval_s": 0.5,
  "unknown_after_s": 2,
  "boot_timeout_s": 4,
  "min_hosts_on": 0,
  "limits": { "host_cooldown_s": 0 },
  "hosts": [
    { "name": "h1", "power": { "driver": "command", "off": "$H1_OFF",
      "on": "echo on >> '$T/h1.power'" } },
    { "name": "h2", "reserve": true },
    { "name": "h3" }
  ]
}
EOF
	for h in h1 h2 h3; do
		mkdir -p "$T/state-$h"
		case $h in
		h1) hv='{ "driver": "none" }' ;;
		*) hv="{ \"driver\": \"libvirt\", \"uri\": \"test://$T/$h.xml\",
		    \"peer_uri\": \"test+tcp://$h.invalid/default\" }" ;;
		esac
		cat > "$T/$h.json" <<EOF
{
  "host": "$h",
  "controller": "127.0.0.1:$AGENT_PORT",
  "tls": { "ca": "$CA/ca.crt", "cert": "$CA/$h.crt", "key": "$CA/$h.key" },
  "interval_s": 0.3,
  "reconnect_max_s": 0.5,
  "state_dir": "$T/state-$h",
  "hypervisor": $hv,
  "parking": { "actuator": "none" },
  "power": { "driver": "none" }
}
EOF
	done
}

# write_node HOST VM: the node file of HOST's libvirt test driver.
write_node() {
	cat > "$T/$1.xml" <<EOF
<node>
  <cpu><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads><mhz>2000</mhz><model>i686</model></cpu>
  <memory>8388608</memory>
  <domain type='test'><name>$2</name><memory>524288</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>
</node>
EOF
}
write_node h2 web2
write_node h3 db3

api_up() {
	"$EBB" hosts --controller "$URL" >/dev/null 2>&1
}

# 0 when the API answers, 2 when a port was taken, 1 otherwise.
start_controller() {
	"$CTL" -c "$T/controller.json" > "$T/controller.log" 2>&1 &
	CTL_PID=$!
	_end=$(( $(now_cs) + 1500 ))
	while :; do
		api_up && return 0
		if ! kill -0 "$CTL_PID" 2>/dev/null; then
			wait "$CTL_PID" 2>/dev/null
			CTL_PID=
			grep -q "in use" "$T/controller.log" && return 2
			return 1
		fi
		[ "$(now_cs)" -ge "$_end" ] && return 1
		sleep 0.1
	done
}

START_CS=$(now_cs)
tries=0
while :; do
	AGENT_PORT=$(rand_port)
	HTTP_PORT=$(rand_port)
	[ "$AGENT_PORT" -eq "$HTTP_PORT" ] && continue
	URL="http://127.0.0.1:$HTTP_PORT"
	write_configs
	start_controller
	rc=$?
	[ "$rc" -eq 0 ] && break
	[ "$rc" -eq 2 ] || die "the controller did not start"
	tries=$((tries + 1))
	[ "$tries" -lt 10 ] || die "no free ports after $tries tries"
done
ok "controller up on $URL"

for h in h1 h2 h3; do
	"$AGT" -c "$T/$h.json" >> "$T/$h.log" 2>&1 &
	echo $! > "$T/$h.pid"
done
wait_until 10 state_is h1 off ||
	die "h1 was not switched off (state $(host_get h1 state))"
wait_until 5 state_is h2 on || die "h2 is $(host_get h2 state), not on"
wait_until 5 state_is h3 on || die "h3 is $(host_get h3 state), not on"
ok "fleet settled: h1 off, h2 and h3 on"

# ---- the browser ------------------------------------------------------------------

cdp_start "$T" 1280 900 || die "chromium does not start (see chromium.log)"
cdp_open "$URL/" || die "cannot open $URL/"
ok "chromium opened $URL/"

# Waits (up to 15 s) until the page shows the three hosts, h1 off, h1's
# power-off decision, two rounds received live and the chart drawn; then
# answers a summary.
cat > "$T/wait.js" <<'EOF'
new Promise((resolve) => {
	const t0 = Date.now();
	const summary = () => {
		const hosts = [...document.querySelectorAll('article.host')]
		    .map((a) => a.dataset.host + ':' + a.dataset.state);
		const dec = document.querySelector(
		    'li[data-kind=power-off][data-subject=h1]');
		return 'hosts=' + hosts.join(',') + ' decision=' +
		    (dec ? 'power-off:h1:' + dec.dataset.outcome : 'none') +
		    ' live=' + document.body.dataset.live + ' rounds=' +
		    (document.body.dataset.rounds || 0) + ' paths=' +
		    document.querySelectorAll('#chart svg path').length;
	};
	const tick = () => {
		const s = summary();
		const done = / decision=power-off:h1:done /.test(s) &&
		    /h1:off/.test(s) && /h2:on/.test(s) && /h3:on/.test(s) &&
		    / live=sse /.test(s) && !/ rounds=[01] /.test(s) &&
		    / paths=3$/.test(s);
		if (done || Date.now() - t0 > 15000)
			resolve((done ? 'READY ' : 'TIMEOUT ') + s);
		else
			setTimeout(tick, 100);
	};
	tick();
})
EOF
# The page may still be loading: retry while its context is replaced.
i=0
until cdp_js "$T/wait.js" 20; do
	i=$((i + 1))
	[ "$i" -lt 5 ] || die "cannot evaluate in the page"
	sleep 0.2
done
echo "page: $(cat "$T/js.out")"
grep -q '^READY ' "$T/js.out" || fail "the page did not settle: $(cat "$T/js.out")"

# ---- the dumped DOM ----------------------------------------------------------------

printf '%s\n' 'Promise.resolve(document.documentElement.outerHTML)' \
    > "$T/dom.js"
cdp_js "$T/dom.js" || die "cannot dump the DOM"
cp "$T/js.out" "$DOM"
has() {
	grep -Eq "$1" "$DOM"
}
for hs in h1:off h2:on h3:on; do
	h=${hs%%:*}
	s=${hs#*:}
	has "<article [^>]*data-host=\"$h\"[^>]* data-state=\"$s\"" ||
		fail "the page does not show $h as $s"
done
[ "$(grep -o '<article class="host"' "$DOM" | wc -l)" -eq 3 ] ||
	fail "the page does not show exactly three hosts"
has '<article [^>]*data-host="h2".*<span class="tag">reserve</span>' ||
	fail "h2 is not shown as a reserve"
has '<li data-id="[0-9]+" data-kind="power-off" data-subject="h1" data-outcome="done">' ||
	fail "no power-off decision for h1 in the timeline"
has '<span class="reason">empty: no VM left</span>' ||
	fail "the power-off decision's reason is not shown"
has '<body [^>]*data-live="sse"' || fail "the page is not live on /api/events"
has '<path [^>]*stroke="#1f77b4"' || fail "no active-hosts line in the chart"
has '<path [^>]*stroke="#d62728"' || fail "no fleet-power line in the chart"
has '<path [^>]*stroke="#7f7f7f"[^>]*stroke-dasharray="6 4"' ||
	fail "no dashed baseline in the chart"
has 'id="t-on">2 / 3<' || fail "the totals do not say 2 of 3 hosts on"
has '<article [^>]*data-host="h2".*<ul class="vms"[^>]*><li[^>]*>web2 ' ||
	fail "the map does not show web2 on h2"
has '<article [^>]*data-host="h3".*<ul class="vms"[^>]*><li[^>]*>db3 ' ||
	fail "the map does not show db3 on h3"
ok "DOM: hosts, states, VMs, the power-off decision, live chart ($DOM)"

# ---- a decision's inputs, read-only ------------------------------------------------

cat > "$T/click.js" <<'EOF'
new Promise((resolve) => {
	const li = document.querySelector(
	    'li[data-kind=power-off][data-subject=h1]');
	li.querySelector('button').click();
	const d = li.querySelector('.detail');
	const acts = [...document.querySelectorAll('article.host button.act')]
	    .filter((b) => !b.hidden).length;
	resolve('expanded=' + li.querySelector('button')
	    .getAttribute('aria-expanded') + ' hidden=' + d.hidden +
	    ' drain_buttons=' + acts + ' apply_disabled=' +
	    document.getElementById('policy-apply').disabled + ' inputs=' +
	    d.querySelector('pre').textContent.replace(/\s+/g, ' '));
})
EOF
cdp_js "$T/click.js" || die "cannot click the decision"
echo "decision: $(cat "$T/js.out")"
grep -q '^expanded=true hidden=false ' "$T/js.out" ||
	fail "clicking the decision does not show its details"
# The host's state, load and VMs when the decision was taken, as journalled.
for kv in '"state": "on"' '"busy": [0-9]' '"vms": 0' '"policy": "ebb-band"'; do
	grep -q " inputs={.*$kv" "$T/js.out" ||
		fail "the decision's inputs lack $kv: $(cat "$T/js.out")"
done
grep -q ' drain_buttons=0 apply_disabled=true ' "$T/js.out" ||
	fail "read-only page offers actions: $(cat "$T/js.out")"
ok "a click shows the decision's inputs; read-only without a token"

# ---- the screenshot (the artifact) -------------------------------------------------------

sleep 1	# a few more rounds on the chart
cdp_screenshot "$SHOT" || fail "no screenshot"
sig=$(od -An -tx1 -N8 "$SHOT" | tr -d ' \n')
size=$(wc -c < "$SHOT")
[ "$sig" = 89504e470d0a1a0a ] || fail "$SHOT is not a PNG ($sig)"
[ "$size" -gt 10000 ] || fail "$SHOT is only $size bytes"
ok "screenshot: $SHOT ($size bytes)"

# ---- actions with the token ----------------------------------------------------------------

# type_token TOKEN: the operator types it into the form and submits.
type_token() {
	cat > "$T/token.js" <<EOF
new Promise((resolve) => {
	document.getElementById('token').value = '$1';
	document.getElementById('token-set').click();
	const b = document.querySelector('article[data-host=h2] button.act');
	resolve('mode=' + document.body.dataset.mode + ' h2=' +
	    (b.hidden ? 'hidden' : b.textContent) + ' stored=' +
	    (sessionStorage.getItem('ebb.token') ? 'yes' : 'no'));
})
EOF
	cdp_js "$T/token.js"
}

# click_h2 WANT: clicks h2's Drain/Undrain and waits for its label WANT.
click_h2() {
	cat > "$T/drain.js" <<EOF
new Promise((resolve) => {
	const t0 = Date.now();
	document.querySelector('article[data-host=h2] button.act').click();
	const tick = () => {
		const b = document.querySelector('article[data-host=h2] button.act');
		const s = 'h2=' + document.querySelector('article[data-host=h2]')
		    .dataset.state + ' button=' + (b.hidden ? 'hidden' :
		    b.textContent) + ' mode=' + document.body.dataset.mode;
		if (s.indexOf(' button=$1 ') >= 0 || Date.now() - t0 > 5000)
			resolve(s);
		else
			setTimeout(tick, 100);
	};
	setTimeout(tick, 100);
})
EOF
	cdp_js "$T/drain.js" 10
}

type_token 'ebb-test-token-0123456789abcdef' || die "cannot type the token"
grep -q '^mode=operator h2=Drain stored=yes$' "$T/js.out" ||
	fail "the token does not unlock the page: $(cat "$T/js.out")"
click_h2 Undrain || die "cannot click Drain"
grep -q '^h2=maintenance button=Undrain mode=operator$' "$T/js.out" ||
	fail "Drain: $(cat "$T/js.out")"
wait_until 3 state_is h2 maintenance ||
	fail "h2 is $(host_get h2 state) after Drain, not maintenance"
click_h2 Drain || die "cannot click Undrain"
grep -q '^h2=on button=Drain mode=operator$' "$T/js.out" ||
	fail "Undrain: $(cat "$T/js.out")"
wait_until 3 state_is h2 on || fail "h2 is $(host_get h2 state) after Undrain"
ok "with the token: Drain and Undrain of h2"

# The migrate form: web2 to h3, then its decision in the timeline.
cat > "$T/migrate.js" <<'EOF'
new Promise((resolve) => {
	const t0 = Date.now();
	const pick = (id, v) => {
		const s = document.getElementById(id);
		if (![...s.options].some((o) => o.value === v))
			return false;
		s.value = v;
		return true;
	};
	const find = () => document.querySelector(
	    'li[data-kind=migrate][data-subject=web2]');
	const go = () => {
		if (!pick('mig-vm', 'web2') || !pick('mig-to', 'h3')) {
			if (Date.now() - t0 > 5000)
				return resolve('no web2 or h3 in the form');
			return setTimeout(go, 100);
		}
		document.getElementById('mig-go').click();
		tick();
	};
	const tick = () => {
		const li = find();
		const out = li ? li.dataset.outcome : 'none';
		if ((li && out !== 'pending') || Date.now() - t0 > 10000) {
			const r = li && li.querySelector('.reason');
			resolve('outcome=' + out + ' reason=' +
			    (r ? r.textContent : 'none'));
		} else {
			setTimeout(tick, 100);
		}
	};
	go();
})
EOF
cdp_js "$T/migrate.js" 15 || die "cannot use the migrate form"
echo "migrate: $(cat "$T/js.out")"
grep -q '^outcome=failed: .*not supported.* reason=operator asked$' \
    "$T/js.out" || fail "the migration's decision: $(cat "$T/js.out")"
ok "the migrate form: web2 to h3 decided, carried to h2's agent, shown ended"

type_token 'this-is-the-wrong-token-0123' || die "cannot type the token"
click_h2 hidden || die "cannot click Drain"
grep -q '^h2=on button=hidden mode=read-only$' "$T/js.out" ||
	fail "a wrong token: $(cat "$T/js.out")"
state_is h2 on || fail "a wrong token changed h2: $(host_get h2 state)"
ok "a wrong token is refused and the page is read-only again"

cdp_stop
end_cs=$(now_cs)
printf 'elapsed: %d.%02d s\n' $(( (end_cs - START_CS) / 100 )) \
    $(( (end_cs - START_CS) % 100 ))
if [ "$FAILED" -ne 0 ]; then
	echo "$FAILED check(s) failed" >&2
	exit 1
fi
echo "PASS"
exit 0
