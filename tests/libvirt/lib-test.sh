# lib-test.sh - what the tests under tests/libvirt/ share besides the
# testbed itself: their settings, their verdicts and how they end.
#
# Sourced by tests/libvirt/test-*.sh (POSIX sh), which check EBB_SRC first
# because this file is found through it.  It checks EBB_BIN, sets LC_ALL=C
# (the tests read the output of ip, virsh and their own tools) and
# sources lib-hosts.sh.
#
# Use:
#   set -u
#   : "${EBB_SRC:?EBB_SRC: the source tree}"
#   . "$EBB_SRC/tests/libvirt/lib-test.sh"
#   lh_require || exit 77
#   lt_on_exit hosts_down LH_TMP 20 controller.log 'h*/log/libvirtd.log'
#   hosts_up 2 || die "the hosts did not come up"
#   ok "it works" / fail "it does not"
#   lt_end test-name
#
# fail lets the test go on and counts into FAILED; die fails and exits 1.
# Exit 77 means skipped (ctest's SKIP_RETURN_CODE).

: "${EBB_BIN:?EBB_BIN: the build tree}"
LC_ALL=C
export LC_ALL

# shellcheck source=lib-hosts.sh
. "$EBB_SRC/tests/libvirt/lib-hosts.sh"

FAILED=0

fail() {
	echo "FAIL: $*" >&2
	FAILED=$((FAILED + 1))
}

die() {
	fail "$@"
	exit 1
}

ok() {
	echo "ok: $*"
}

# lt_end NAME: the verdict of test NAME: exit 1 if any check failed, else
# say that all passed.
lt_end() {
	[ "$FAILED" -eq 0 ] || exit 1
	echo "$1: all checks passed"
}

# lt_on_exit DOWN DIR LINES GLOB...: how the test ends, whatever ends it.
# INT, TERM and HUP exit 1.  On any exit, if the test failed (neither 0
# nor 77), the last LINES lines of each non-empty file DIR/GLOB go to
# stderr, so that a CI log shows what the daemons said; then DOWN
# (hosts_down, say) removes every process, namespace and folder the test
# made, and the test exits with the status it had.  DIR names the
# variable that holds the test's folder (LH_TMP, say): it is read at
# exit, as the folder is made after the trap is set.
lt_on_exit() {
	lt_args=
	for lt_a in "$@"; do
		lt_args="$lt_args '$lt_a'"
	done
	# shellcheck disable=SC2064 # the arguments, now
	trap "lt_cleanup$lt_args" EXIT
	trap 'exit 1' INT TERM HUP
}

# lt_cleanup DOWN DIR LINES GLOB...: the EXIT trap lt_on_exit sets.  $? is
# still the exit status on its first line.
# shellcheck disable=SC2317 # run by the trap
lt_cleanup() {
	lt_rc=$?
	lt_down=$1
	eval "lt_dir=\${$2:-}"
	shift 2
	if [ "$lt_rc" -ne 0 ] && [ "$lt_rc" -ne 77 ] && [ -n "$lt_dir" ]; then
		lt_tail "$lt_dir" "$@"
	fi
	$lt_down
	exit "$lt_rc"
}

# lt_tail DIR LINES GLOB...: the last LINES lines of each non-empty file
# DIR/GLOB, each under its name in DIR, on stderr.
lt_tail() {
	lt_d=$1
	lt_n=$2
	shift 2
	for lt_g in "$@"; do
		# shellcheck disable=SC2231 # GLOB is meant to expand
		for lt_f in "$lt_d"/$lt_g; do
			[ -s "$lt_f" ] || continue
			echo "---- ${lt_f#"$lt_d"/} (last $lt_n lines)" >&2
			tail -n "$lt_n" "$lt_f" >&2
		done
	done
}
