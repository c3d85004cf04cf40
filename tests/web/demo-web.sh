#!/bin/sh
#
# demo-web.sh - the page of `make demo` as a browser saw it: the picture
# in the README (docs/web.png).  Not a test.
#
#   sh tests/web/demo-web.sh [BUILD_DIR [OUT.png [AT_S]]]    (about 2.5 min)
#
# Runs examples/fleet-box.sh (libvirt hosts in namespaces, live
# migrations, hosts powered down and up; needs root) and keeps a headless
# Chromium on the controller's page from the start, inside the controller
# host's namespace, so that the chart is what the page drew live.  AT_S
# seconds after the page opened (default 80: the rise has woken a host
# and moved VMs to it) the newest migration is opened on its inputs and
# the page is saved (default OUT: BUILD_DIR/web-demo.png).

SRC=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(cd "${1:-$SRC/build}" && pwd) || exit 1
OUT=${2:-$BIN/web-demo.png}
AT=${3:-80}
. "$SRC/tests/web/cdp.sh"
cdp_find || { echo "demo-web: no chromium" >&2; exit 1; }

T=$(mktemp -d "${TMPDIR:-/tmp}/ebb-web-demo.XXXXXX") || exit 1
BOX=
cleanup() {
	rc=$?
	cdp_stop
	[ -n "$BOX" ] && wait "$BOX"
	[ "$rc" -ne 0 ] && [ -f "$T/chromium.log" ] &&
	    tail -n 5 "$T/chromium.log" >&2
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP
trap '' PIPE

BOXDIR="$T/box${T##*.}"
mkdir "$BOXDIR" || exit 1
cdp_box "$BOXDIR" "${FLEET_HOSTS:-4}"
LH_TMP="$BOXDIR" sh "$SRC/examples/fleet-box.sh" "$BIN" > "$T/box.out" 2>&1 &
BOX=$!
cdp_box_wait "$BOX" 120 || { echo "demo-web: the box's controller never" \
    "listened" >&2; tail -5 "$T/box.out" >&2; exit 1; }
cdp_netns "$BOX_NS" "$T" || exit 1
cdp_start "$T" 1280 1000 || exit 1
cdp_open "$BOX_URL" || exit 1
echo "demo-web: page open on $BOX_URL in $BOX_NS; saving in $AT s"
sleep "$AT"

cat > "$T/open.js" <<'EOF'
new Promise((resolve) => {
	const li = document.querySelector('li[data-kind=migrate]');
	if (li)
		li.querySelector('button').click();
	setTimeout(() => resolve(li ? li.dataset.subject : 'none'), 300);
})
EOF
cdp_js "$T/open.js" || exit 1
echo "demo-web: opened the migration of $(cat "$T/js.out")"
cdp_screenshot "$OUT" || exit 1
echo "demo-web: saved $OUT"
cdp_stop
wait "$BOX"
BOX=
tail -1 "$T/box.out"
