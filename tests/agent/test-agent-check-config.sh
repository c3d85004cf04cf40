#!/bin/sh
#
# test-agent-check-config.sh - `ebb-agent --check-config` against golden
# files.
#
# Every tests/agent/check-config/X.json with an X.err is an invalid
# configuration: X.err is the exact stderr `ebb-agent --check-config -c
# X.json` must print (run from that folder, so that messages name the file
# as given), with exit status 2 and nothing on stdout.  Every one with an
# X.out is valid: X.out is the exact stdout, with status 0 and nothing on
# stderr.  examples/agent.json must pass.
#
# Regenerate a golden file only after reading the new message:
#   cd tests/agent/check-config &&
#   ebb-agent --check-config -c X.json 2>X.err     (or >X.out)

: "${EBB_SRC:?EBB_SRC must name the source tree}"
: "${EBB_BIN:?EBB_BIN must name the build tree}"
agent="$EBB_BIN/ebb-agent"
[ -x "$agent" ] || { echo "FAIL: $agent is not built" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ebb-agent-check.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

failures=0
bad=0
good=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# expect_status WANT GOT WHAT
expect_status() {
	[ "$2" -eq "$1" ] || fail "$3: exit status $2, expected $1"
}

cd "$EBB_SRC/tests/agent/check-config" || exit 1
for f in *.json; do
	[ -e "$f" ] || { fail "no configurations in $PWD"; break; }
	base=${f%.json}
	"$agent" --check-config -c "$f" >"$tmp/out" 2>"$tmp/err"
	status=$?
	if [ -f "$base.err" ]; then
		bad=$((bad + 1))
		expect_status 2 "$status" "ebb-agent --check-config -c $f"
		[ -s "$tmp/out" ] && fail "$f: wrote to stdout:" \
		    "$(cat "$tmp/out")"
		diff -u "$base.err" "$tmp/err" >"$tmp/diff" ||
		    fail "$f: stderr differs from $base.err:
$(cat "$tmp/diff")"
	elif [ -f "$base.out" ]; then
		good=$((good + 1))
		expect_status 0 "$status" "ebb-agent --check-config -c $f"
		[ -s "$tmp/err" ] && fail "$f: wrote to stderr:" \
		    "$(cat "$tmp/err")"
		diff -u "$base.out" "$tmp/out" >"$tmp/diff" ||
		    fail "$f: stdout differs from $base.out:
$(cat "$tmp/diff")"
	else
		fail "$f has neither $base.err nor $base.out"
	fi
done
for g in *.err *.out; do
	[ -e "$g" ] || continue
	[ -f "${g%.*}.json" ] || fail "$g has no ${g%.*}.json"
done
[ "$bad" -ge 15 ] || fail "only $bad invalid configurations, expected 15+"
[ "$good" -ge 1 ] || fail "no valid configuration"

# An unreadable file is status 1, not 2: nothing was checked.
"$agent" --check-config -c no-such-agent.json >"$tmp/out" 2>"$tmp/err"
expect_status 1 $? "ebb-agent --check-config -c no-such-agent.json"
grep -q "no-such-agent.json" "$tmp/err" ||
    fail "unreadable file: stderr does not name it: $(cat "$tmp/err")"

# The shipped example.
"$agent" --check-config -c "$EBB_SRC/examples/agent.json" >"$tmp/out" \
    2>"$tmp/err"
expect_status 0 $? "ebb-agent --check-config -c examples/agent.json"
[ -s "$tmp/err" ] && fail "examples/agent.json: $(cat "$tmp/err")"
grep -q "^host  *host1$" "$tmp/out" ||
    fail "examples/agent.json: no host line in: $(cat "$tmp/out")"

if [ "$failures" -gt 0 ]; then
	echo "test-agent-check-config: $failures failure(s)" >&2
	exit 1
fi
echo "test-agent-check-config: $bad invalid and $good valid" \
    "configurations and the example pass"
