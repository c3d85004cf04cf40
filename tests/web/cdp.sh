# cdp.sh - headless Chromium driven over its DevTools pipe from POSIX sh;
# sourced (". cdp.sh") by test-web-chromium.sh, demo-web.sh and
# tests/libvirt/test-fleet-box.sh.
#
# --remote-debugging-pipe makes Chromium read DevTools commands from fd 3
# and write answers and events to fd 4, each a JSON object ended by a NUL.
# Here fd 3 is a FIFO this shell holds open as fd 5, and fd 4 a file that
# is searched for the answer's id: no node, npm or python needed.
# (--dump-dom and --screenshot alone cannot wait for a page whose event
# stream never ends: --virtual-time-budget waits for the network to go
# quiet, and an open EventSource never does.)
#
#   cdp_find || skip          sets CHROMIUM (or takes $EBB_CHROMIUM)
#   cdp_netns NS DIR          later Chromiums run in network namespace NS
#                             (a wrapper script written in DIR)
#   cdp_box DIR K             BOX_NS and BOX_URL of a fleet box's page
#   cdp_box_wait PID S        until that page's server listens
#   cdp_start DIR W H         Chromium on about:blank, a W x H page
#   cdp_open URL              navigates the page
#   cdp METHOD PARAMS [S]     one command; its answer in $CDP_DIR/cdp.resp
#   cdp_js FILE [S]           evaluates the script (awaiting a promise);
#                             its string value in $CDP_DIR/js.out
#   cdp_screenshot FILE       PNG of the page
#   cdp_stop                  closes the browser, ends its processes
#
# Each returns 0, or 1 with a message on stderr.  Scripts handed to cdp_js
# are joined into one line: no // comments in them.

CDP_DIR=
CDP_ID=0
CDP_SID=
CHR_PID=

_cdp_now_cs() {
	awk '{ printf "%d\n", $1 * 100 }' /proc/uptime
}

cdp_find() {
	CHROMIUM=${EBB_CHROMIUM:-}
	if [ -z "$CHROMIUM" ]; then
		for _c in chromium chromium-browser; do
			CHROMIUM=$(command -v "$_c" 2>/dev/null) && break
		done
	fi
	[ -n "$CHROMIUM" ] && [ -x "$CHROMIUM" ]
}

# cdp_netns NS DIR: Chromium in namespace NS, where a fleet in a box's
# controller serves its page on an address of the box's own network.
cdp_netns() {
	printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$1" "$CHROMIUM" \
	    > "$2/chromium-in-$1" && chmod +x "$2/chromium-in-$1" &&
	    CHROMIUM="$2/chromium-in-$1"
}

# cdp_box DIR K: where the page of a fleet in a box (examples/fleet-box.sh)
# working in folder DIR with K hosts will be: BOX_NS, its controller host's
# namespace (lib-hosts.sh names them after the folder), and BOX_URL.
cdp_box() {
	BOX_NS="ebblv$(printf '%s' "${1##*/}" | tr -cd 'a-zA-Z0-9' |
	    tail -c 6)h$(($2 + 1))"
	BOX_URL="http://${LH_NET:-10.77.0}.$(($2 + 1)):7401/"
}

# cdp_box_wait PID SECONDS: until the box's controller listens; 1 if the
# box (PID) ended or the time ran out first.
cdp_box_wait() {
	_cdp_end=$(( $(_cdp_now_cs) + $2 * 100 ))
	until ip netns list 2>/dev/null | grep -q "^$BOX_NS" &&
	    ip netns exec "$BOX_NS" ss -ltn 2>/dev/null | grep -q ':7401 '; do
		kill -0 "$1" 2>/dev/null || return 1
		[ "$(_cdp_now_cs)" -lt "$_cdp_end" ] || return 1
		sleep 0.2
	done
}

# cdp METHOD PARAMS [SECONDS]: to the page's session once there is one.
cdp() {
	CDP_ID=$((CDP_ID + 1))
	if [ -n "$CDP_SID" ]; then
		printf '{"id":%d,"sessionId":"%s","method":"%s","params":%s}\0' \
		    "$CDP_ID" "$CDP_SID" "$1" "$2" >&5
	else
		printf '{"id":%d,"method":"%s","params":%s}\0' \
		    "$CDP_ID" "$1" "$2" >&5
	fi || { echo "cdp: $1: the browser is gone" >&2; return 1; }
	_cdp_end=$(( $(_cdp_now_cs) + ${3:-10} * 100 ))
	while :; do
		tr '\0' '\n' < "$CDP_DIR/cdp.out" | grep "^{\"id\":$CDP_ID," \
		    > "$CDP_DIR/cdp.resp" && break
		if [ "$(_cdp_now_cs)" -ge "$_cdp_end" ]; then
			echo "cdp: no answer to $1 in ${3:-10} s" >&2
			return 1
		fi
		sleep 0.05
	done
	if grep -q '^{"id":[0-9]*,"error"' "$CDP_DIR/cdp.resp"; then
		echo "cdp: $1: $(cut -c1-300 "$CDP_DIR/cdp.resp")" >&2
		return 1
	fi
}

# cdp_start DIR WIDTH HEIGHT: files go to DIR (the caller removes it).
cdp_start() {
	CDP_DIR=$1
	rm -f "$CDP_DIR/cdp.in"
	mkfifo "$CDP_DIR/cdp.in" || return 1
	: > "$CDP_DIR/cdp.out"
	# setsid: a session of its own, so that cdp_stop ends the renderers
	# and helpers with it.
	setsid "$CHROMIUM" --headless --no-sandbox --disable-gpu \
	    --disable-background-networking --disable-component-update \
	    --disable-sync --disable-dev-shm-usage --no-first-run \
	    --no-default-browser-check --hide-scrollbars --mute-audio \
	    --remote-debugging-pipe --user-data-dir="$CDP_DIR/profile" \
	    --window-size="$2,$3" about:blank \
	    3< "$CDP_DIR/cdp.in" 4> "$CDP_DIR/cdp.out" \
	    2> "$CDP_DIR/chromium.log" &
	CHR_PID=$!
	exec 5> "$CDP_DIR/cdp.in"
	cdp Target.createTarget '{"url":"about:blank"}' 20 || return 1
	_tid=$(sed -n 's/.*"targetId":"\([^"]*\)".*/\1/p' "$CDP_DIR/cdp.resp")
	cdp Target.attachToTarget "{\"targetId\":\"$_tid\",\"flatten\":true}" 30 ||
		return 1
	CDP_SID=$(sed -n 's/.*"sessionId":"\([^"]*\)".*/\1/p' \
	    "$CDP_DIR/cdp.resp")
	[ -n "$CDP_SID" ] || { echo "cdp: no session" >&2; return 1; }
	cdp Emulation.setDeviceMetricsOverride "{\"width\":$2,\"height\":$3,\
\"deviceScaleFactor\":1,\"mobile\":false}"
}

# The answer is sent once the new document is committed, so that scripts
# evaluated after it run in that document.
cdp_open() {
	cdp Page.navigate "{\"url\":\"$1\"}" 20
}

# A JSON string of the script in file $1, its lines joined.
_cdp_js_string() {
	printf '"'
	tr '\n\t' '  ' < "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'
	printf '"'
}

# cdp_js FILE [SECONDS]: the usual JSON escapes of the value are undone.
cdp_js() {
	cdp Runtime.evaluate "{\"expression\":$(_cdp_js_string "$1"),\
\"awaitPromise\":true,\"returnByValue\":true}" "${2:-10}" || return 1
	if ! grep -q '"result":{"result":{"type":"string","value":"' \
	    "$CDP_DIR/cdp.resp"; then
		echo "cdp_js $1: $(cut -c1-300 "$CDP_DIR/cdp.resp")" >&2
		return 1
	fi
	sed 's/^.*"result":{"result":{"type":"string","value":"//
	    s/"}},"sessionId":"[^"]*"}$//
	    s/\\u003[Cc]/</g; s/\\u003[Ee]/>/g; s/\\u0026/\&/g
	    s/\\"/"/g; s/\\n/\
/g; s/\\t/	/g; s/\\\\/\\/g' "$CDP_DIR/cdp.resp" > "$CDP_DIR/js.out"
}

cdp_screenshot() {
	cdp Page.captureScreenshot '{"format":"png"}' 20 || return 1
	sed -n 's/.*"data":"\([^"]*\)".*/\1/p' "$CDP_DIR/cdp.resp" |
	    base64 -d > "$1"
}

cdp_stop() {
	[ -n "$CHR_PID" ] || return 0
	cdp Browser.close '{}' 5 >/dev/null 2>&1
	exec 5>&-
	# The group: whatever Browser.close left behind.
	kill -TERM -- "-$CHR_PID" 2>/dev/null
	wait "$CHR_PID" 2>/dev/null
	CHR_PID=
	CDP_SID=
}
