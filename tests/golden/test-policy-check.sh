#!/bin/sh
#
# test-policy-check.sh - `ebb policy check` against golden files.
#
# Every tests/golden/policy/X.json is an invalid policy; X.err is the exact
# stderr `ebb policy check X.json` must print, run from that folder so that
# messages name the file as given.  Every examples/policies/*.json must pass,
# and `ebb policy show` must print a policy that passes and shows the same.
#
# Regenerate a golden file only after reading the new message:
#   cd tests/golden/policy && ebb policy check X.json 2>X.err

: "${EBB_SRC:?EBB_SRC must name the source tree}"
: "${EBB_BIN:?EBB_BIN must name the build tree}"
ebb="$EBB_BIN/ebb"
[ -x "$ebb" ] || { echo "FAIL: $ebb is not built" >&2; exit 1; }

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ebb-policy-check.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

failures=0
cases=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# expect_status WANT GOT WHAT
expect_status() {
	[ "$2" -eq "$1" ] || fail "$3: exit status $2, expected $1"
}

# ---- invalid policies: exact stderr, exit 2, nothing on stdout ----------
cd "$EBB_SRC/tests/golden/policy" || exit 1
for f in *.json; do
	[ -e "$f" ] || { fail "no golden policies in $PWD"; break; }
	cases=$((cases + 1))
	want="${f%.json}.err"
	if [ ! -f "$want" ]; then
		fail "$f has no $want"
		continue
	fi
	"$ebb" policy check "$f" >"$tmp/out" 2>"$tmp/err"
	expect_status 2 $? "ebb policy check $f"
	[ -s "$tmp/out" ] && fail "ebb policy check $f wrote to stdout:" \
	    "$(cat "$tmp/out")"
	diff -u "$want" "$tmp/err" >"$tmp/diff" ||
	    fail "ebb policy check $f: stderr differs from $want:
$(cat "$tmp/diff")"
done
for e in *.err; do
	[ -e "$e" ] || continue
	[ -f "${e%.err}.json" ] || fail "$e has no ${e%.err}.json"
done
[ "$cases" -ge 10 ] || fail "only $cases golden policies, expected 10 or more"

# An unreadable file, and one bad file among good ones.
"$ebb" policy check no-such-policy.json >"$tmp/out" 2>"$tmp/err"
expect_status 2 $? "ebb policy check no-such-policy.json"
echo "no-such-policy.json: cannot read: No such file or directory" |
    diff -u - "$tmp/err" >"$tmp/diff" ||
    fail "unreadable file: $(cat "$tmp/diff")"

"$ebb" policy check "$EBB_SRC/examples/policies/lr-mmt-1.2.json" \
    bad-enum.json >"$tmp/out" 2>"$tmp/err"
expect_status 2 $? "ebb policy check GOOD BAD"
grep -qx "$EBB_SRC/examples/policies/lr-mmt-1.2.json: ok" "$tmp/out" ||
    fail "ebb policy check GOOD BAD: no 'ok' line for GOOD"
diff -u bad-enum.err "$tmp/err" >"$tmp/diff" ||
    fail "ebb policy check GOOD BAD: $(cat "$tmp/diff")"

# ---- the examples: valid, and canonical JSON survives show -------------
cd "$EBB_SRC/examples/policies" || exit 1
for f in *.json; do
	[ -e "$f" ] || { fail "no example policies in $PWD"; break; }
	if ! "$ebb" policy check "$f" >"$tmp/out" 2>"$tmp/err"; then
		fail "examples/policies/$f is invalid: $(cat "$tmp/err")"
		continue
	fi
	[ -s "$tmp/err" ] && fail "examples/policies/$f: $(cat "$tmp/err")"
	echo "$f: ok" | diff -u - "$tmp/out" >"$tmp/diff" ||
	    fail "examples/policies/$f: stdout: $(cat "$tmp/diff")"

	"$ebb" policy show "$f" >"$tmp/shown.json" 2>"$tmp/err"
	expect_status 0 $? "ebb policy show examples/policies/$f"
	"$ebb" policy show "$tmp/shown.json" >"$tmp/again.json" 2>"$tmp/err"
	expect_status 0 $? "ebb policy show of the shown $f"
	diff -u "$tmp/shown.json" "$tmp/again.json" >"$tmp/diff" ||
	    fail "ebb policy show $f is not stable: $(cat "$tmp/diff")"
done

# ---- usage ---------------------------------------------------------------
"$ebb" policy --help >"$tmp/out" 2>&1
expect_status 0 $? "ebb policy --help"
grep -q "^usage: ebb policy check" "$tmp/out" ||
    fail "ebb policy --help prints no usage"
"$ebb" policy check --help >"$tmp/out" 2>&1
expect_status 0 $? "ebb policy check --help"
grep -q "^usage: ebb policy check" "$tmp/out" ||
    fail "ebb policy check --help prints no usage"
"$ebb" policy frobnicate >"$tmp/out" 2>"$tmp/err"
expect_status 2 $? "ebb policy frobnicate"
grep -q "^usage: " "$tmp/err" ||
    fail "ebb policy frobnicate prints no usage on stderr"
"$ebb" policy check >"$tmp/out" 2>"$tmp/err"
expect_status 2 $? "ebb policy check (no file)"

if [ "$failures" -gt 0 ]; then
	echo "test-policy-check: $failures failure(s)" >&2
	exit 1
fi
echo "test-policy-check: $cases golden policies and the examples pass"
