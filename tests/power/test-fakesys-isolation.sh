#!/bin/sh
# test-fakesys-isolation.sh - the fake-sysfs unit tests leave the host alone.
#
# test_cpufreq and test_sensors mount tmpfs copies of
# tests/fixtures/sys/host4 over /sys/devices, /sys/class and /sys/bus and
# write to them (scaling_max_freq).  That must happen only in their private
# mount namespace: afterwards the host's mount table has no trace of it,
# the host's /sys reads as before, and the checked-in fixture is unchanged.
#
# Needs EBB_SRC and EBB_BIN (ctest sets them) and root; 77 = skipped.

set -u

src=${EBB_SRC:?EBB_SRC: the source tree}
bin=${EBB_BIN:?EBB_BIN: the build tree}
fixture=$src/tests/fixtures/sys/host4

if [ "$(id -u)" != 0 ]; then
	echo "skipped: needs root (the unit tests skip too)"
	exit 77
fi
for t in test_cpufreq test_sensors; do
	if [ ! -x "$bin/$t" ]; then
		echo "skipped: $bin/$t not built"
		exit 77
	fi
done

# Every file, link target and mode of the fixture, and the host's view.
snapshot() {
	(cd "$fixture" && find . -printf '%p %y %m %l\n' | sort &&
	    find . -type f -exec cat {} + | cksum)
}
host_view() {
	cat /sys/devices/system/cpu/online /sys/devices/system/cpu/present
	ls /sys/class /sys/bus /sys/devices
	grep -c ebb-fakesys /proc/self/mountinfo
}

before=$(snapshot)
host_before=$(host_view)

rc=0
for t in test_cpufreq test_sensors; do
	"$bin/$t" >/dev/null 2>&1
	r=$?
	if [ $r = 77 ]; then
		echo "skipped: $t cannot make a mount namespace here"
		exit 77
	fi
	if [ $r != 0 ]; then
		echo "FAIL: $t exited $r"
		rc=1
	fi
done

if [ "$(snapshot)" != "$before" ]; then
	echo "FAIL: the fixture tree $fixture changed"
	rc=1
fi
if [ "$(host_view)" != "$host_before" ]; then
	echo "FAIL: the host's /sys or mount table changed:"
	host_view
	rc=1
fi
if grep -q ebb-fakesys /proc/self/mountinfo; then
	echo "FAIL: an ebb-fakesys mount is visible on the host"
	rc=1
fi
[ $rc = 0 ] && echo "ok: host and fixture untouched"
exit $rc
