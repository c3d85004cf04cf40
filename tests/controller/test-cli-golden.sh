#!/bin/sh
#
# test-cli-golden.sh - what `ebb` prints and how it exits, for usage and
# errors that need no controller: compared byte for byte with
# tests/controller/golden/NAME.out (stdout) and NAME.err (stderr), and the
# exit code with the one listed below.
#
#   help            ebb --help                          0, usage on stdout
#   no-args         ebb                                 2, usage on stderr
#   hosts-help      ebb hosts --help                    0, the fleet verbs
#   unknown-verb    ebb frobnicate                      2
#   why-no-name     ebb why                             2
#   why-two-names   ebb why a b                         2
#   limit-zero      ebb decisions --limit 0             2
#   drain-no-token  ebb drain h2 (no token anywhere)    2, before connecting
#   unreachable     ebb hosts --controller http://127.0.0.1:1
#                                                       1, "cannot connect"
#
# Messages are compared in the C locale (strerror, getopt).  After an
# intended change of the CLI's text, regenerate the files with
# EBB_GOLDEN_UPDATE=1 and review the diff.

: "${EBB_BIN:?EBB_BIN must name the build tree}"
: "${EBB_SRC:?EBB_SRC must name the source tree}"

EBB="$EBB_BIN/ebb"
GOLDEN="$EBB_SRC/tests/controller/golden"
[ -x "$EBB" ] || { echo "FAIL: $EBB is not built" >&2; exit 1; }
[ -d "$GOLDEN" ] || { echo "FAIL: $GOLDEN is missing" >&2; exit 1; }

unset EBB_TOKEN EBB_TOKEN_FILE EBB_CONTROLLER
LC_ALL=C
export LC_ALL

T=$(mktemp -d "${TMPDIR:-/tmp}/ebb-cli-golden.XXXXXX") || exit 1
trap 'rm -rf "$T"' EXIT
trap 'exit 1' INT TERM HUP

FAILED=0

# case NAME RC ARGS...: runs ebb ARGS, compares exit code, stdout, stderr.
case_() {
	_name=$1
	_want=$2
	shift 2
	"$EBB" "$@" > "$T/$_name.out" 2> "$T/$_name.err" < /dev/null
	_rc=$?
	if [ -n "${EBB_GOLDEN_UPDATE:-}" ]; then
		cp "$T/$_name.out" "$GOLDEN/$_name.out"
		cp "$T/$_name.err" "$GOLDEN/$_name.err"
		echo "updated: $_name (exit $_rc)"
		return
	fi
	_ok=1
	if [ "$_rc" -ne "$_want" ]; then
		echo "FAIL: $_name: ebb $*: exit $_rc, expected $_want" >&2
		_ok=0
	fi
	for _s in out err; do
		if [ ! -f "$GOLDEN/$_name.$_s" ]; then
			echo "FAIL: $_name: $GOLDEN/$_name.$_s is missing" >&2
			_ok=0
		elif ! diff -u "$GOLDEN/$_name.$_s" "$T/$_name.$_s" >&2; then
			echo "FAIL: $_name: ebb $*: std$_s differs (above)" >&2
			_ok=0
		fi
	done
	if [ "$_ok" -eq 1 ]; then
		echo "ok: $_name"
	else
		FAILED=$((FAILED + 1))
	fi
}

case_ help 0 --help
case_ no-args 2
case_ hosts-help 0 hosts --help
case_ unknown-verb 2 frobnicate
case_ why-no-name 2 why
case_ why-two-names 2 why a b
case_ limit-zero 2 decisions --limit 0
case_ drain-no-token 2 drain h2 --controller http://127.0.0.1:1
case_ unreachable 1 hosts --controller http://127.0.0.1:1

if [ "$FAILED" -ne 0 ]; then
	echo "$FAILED case(s) failed" >&2
	exit 1
fi
echo "PASS"
