#!/bin/sh
#
# demo-web.sh - the fleet in a box that made docs/web.png (not a test).
#
#   sh tests/web/demo-web.sh [BUILD_DIR [OUT.png]]     (about 2.5 minutes)
#
# A controller (a round every 2 s, default policy) and six agents on
# 127.0.0.1 over TLS (certificates from scripts/ebb-ca), started one by one: rack1-01 a reserve, rack1-02 without a
# power driver, the other four with a "command" driver whose off kills the
# agent.  The empty hosts are switched off as they come; later some are
# switched on "by hand" (their agent started again, as an operator booting
# them) and switched off again.  A headless Chromium keeps the page open
# the whole time, so the chart is what a browser saw live; at the end the
# newest power-off is opened on its inputs and the page is saved as a PNG
# (default OUT: BUILD_DIR/web-demo.png).  Ports 27411 and 27412.

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(cd "${1:-$SRC/build}" && pwd) || exit 1
OUT=${2:-$BIN/web-demo.png}
AGT="$BIN/ebb-agent"
CTL="$BIN/ebb-controller"
for f in "$AGT" "$CTL"; do
	[ -x "$f" ] || { echo "demo-web: $f is not built" >&2; exit 1; }
done
. "$SRC/tests/web/cdp.sh"
cdp_find || { echo "demo-web: no chromium" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/ebb-web-demo.XXXXXX") || exit 1
CTL_PID=
cleanup() {
	cdp_stop
	[ -n "$CTL_PID" ] && kill "$CTL_PID" 2>/dev/null
	for p in "$T"/*.pid; do
		[ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null
	done
	wait
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
trap '' PIPE

START_CS=$(_cdp_now_cs)
say() {
	echo "demo-web: $* [$(( ($(_cdp_now_cs) - START_CS) / 100 )) s]"
}

AGENT_PORT=27411
URL=http://127.0.0.1:27412
HOSTS="rack1-01 rack1-02 rack1-03 rack1-04 rack2-01 rack2-02"

# A "command" driver: off kills the host's agent, on starts it again.
driver() {
	printf '"power": { "driver": "command", "off": "kill $(cat %s)", ' \
	    "'$T/$1.pid'"
	printf '"on": "%s -c %s >> %s 2>&1 & echo $! > %s" }' "'$AGT'" \
	    "'$T/$1.json'" "'$T/$1.log'" "'$T/$1.pid'"
}

CA="$T/ca"
{ sh "$SRC/scripts/ebb-ca" init "$CA" &&
    sh "$SRC/scripts/ebb-ca" host "$CA" $HOSTS &&
    sh "$SRC/scripts/ebb-ca" controller "$CA" ctl.demo 127.0.0.1; } \
    > "$T/ebb-ca.out" 2>&1 || { echo "demo-web: ebb-ca:" \
    "$(cat "$T/ebb-ca.out")" >&2; exit 1; }

printf 'ebb-demo-token-0123456789abcdef\n' > "$T/token"
cat > "$T/controller.json" <<EOF
{
  "listen": "127.0.0.1:$AGENT_PORT",
  "tls": { "ca": "$CA/ca.crt", "cert": "$CA/controller.crt",
           "key": "$CA/controller.key" },
  "http": "127.0.0.1:27412",
  "token_file": "$T/token",
  "policy": "$SRC/examples/policies/default.json",
  "journal": "$T/journal.db",
  "interval_s": 2,
  "unknown_after_s": 6,
  "boot_timeout_s": 20,
  "min_hosts_on": 0,
  "limits": { "host_cooldown_s": 24 },
  "hosts": [
    { "name": "rack1-01", "reserve": true },
    { "name": "rack1-02" },
    { "name": "rack1-03", $(driver rack1-03) },
    { "name": "rack1-04", $(driver rack1-04) },
    { "name": "rack2-01", $(driver rack2-01) },
    { "name": "rack2-02", $(driver rack2-02) }
  ]
}
EOF
for h in $HOSTS; do
	mkdir -p "$T/state-$h"
	cat > "$T/$h.json" <<EOF
{ "host": "$h", "controller": "127.0.0.1:$AGENT_PORT", "interval_s": 1,
  "tls": { "ca": "$CA/ca.crt", "cert": "$CA/$h.crt", "key": "$CA/$h.key" },
  "reconnect_max_s": 1, "state_dir": "$T/state-$h",
  "hypervisor": { "driver": "none" }, "parking": { "actuator": "none" },
  "power": { "driver": "none" } }
EOF
done

agent() {
	"$AGT" -c "$T/$1.json" >> "$T/$1.log" 2>&1 &
	echo $! > "$T/$1.pid"
}

"$CTL" -c "$T/controller.json" > "$T/controller.log" 2>&1 &
CTL_PID=$!
sleep 1
cdp_start "$T" 1280 900 || exit 1
cdp_open "$URL/" || exit 1
say "page open on $URL/"
sleep 4
for h in $HOSTS; do
	agent "$h"
	sleep 3
done
say "six agents up"
sleep 30
agent rack1-03
say "rack1-03 switched on by hand"
sleep 12
agent rack2-01
say "rack2-01 switched on by hand"
sleep 40
agent rack1-04
agent rack2-02
say "rack1-04 and rack2-02 switched on by hand"
sleep 35

cat > "$T/open.js" <<'EOF'
new Promise((resolve) => {
	const li = document.querySelector('li[data-kind=power-off]');
	if (li)
		li.querySelector('button').click();
	setTimeout(() => resolve('ok'), 300);
})
EOF
cdp_js "$T/open.js" || exit 1
cdp_screenshot "$OUT" || exit 1
say "saved $OUT"
