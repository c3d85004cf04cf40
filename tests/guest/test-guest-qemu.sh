#!/bin/sh
# test-guest-qemu.sh - ebb-guest boots in QEMU and keeps its promises.
#
# Boots $EBB_BIN/ebb-guest with qemu-system-x86_64 -kernel (multiboot) for
# a few seconds per case, with TCG and, when /dev/kvm is usable, with KVM
# too, and reads the serial port: the banner; heartbeats numbered 0, 1,
# 2, ... without a gap at ~beat= steps of guest time; a dirtier whose count
# grows and never reports CORRUPT; cpu= burning CPU; a trace module
# replayed; touch= filling RAM; a bad option halting with an ERROR line;
# and a corruption injected from ring 0 (selftest-corrupt) reported as
# CORRUPT <that pfn>, which proves the check can fail.
#
# TCG timing is loose (and the machine may be busy): bounds are wide, and
# each case's clock starts at its banner, not at QEMU's start.  Cases run
# three at a time; the test takes ~8 s per accelerator on a quiet machine.
# Needs qemu-system-x86 (+ qemu-system-data for qboot.rom);
# 77 = skipped.

set -u

bin=${EBB_BIN:?EBB_BIN: the build tree}
guest=$bin/ebb-guest
secs=3 # seconds of guest life for the main cases

qemu=$(command -v qemu-system-x86_64) || {
	echo "skipped: qemu-system-x86_64 is not installed" \
	    "(Debian: qemu-system-x86 qemu-system-data)"
	exit 77
}
command -v timeout >/dev/null || { echo "skipped: no timeout(1)"; exit 77; }
if [ ! -f "$guest" ]; then
	echo "skipped: $guest is not built (cmake --build: target guest)"
	exit 77
fi
# qboot boots in milliseconds; SeaBIOS works too, only slower.
bios=
[ -f /usr/share/qemu/qboot.rom ] && bios="-bios /usr/share/qemu/qboot.rom"

tmp=$(mktemp -d "${TMPDIR:-/tmp}/ebb-guest-qemu.XXXXXX") || exit 1
[ -n "${EBB_KEEP_TMP:-}" ] || trap 'rm -rf "$tmp"' EXIT INT TERM

failures=0
fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}

# boot CASE ACCEL WAIT SECS APPEND [QEMU ARGS...]: in the background, boot
# the guest, wait until a line matches the regex WAIT (a busy machine may
# take seconds just to start QEMU; give up after 30 s), let it run SECS
# seconds more, stop it.  The serial output lands in $tmp/CASE.out, the
# CPU time QEMU used in CASE.times.
boot() {
	name=$1 accel=$2 until=$3 run=$4 append=$5
	shift 5
	case $accel in
	kvm) acc="-enable-kvm -cpu host,-arch-capabilities" ;;
	*) acc="-cpu max" ;;
	esac
	(
		# timeout(1) only as a safety net: no QEMU outlives a killed
		# test by long.
		# shellcheck disable=SC2086 # $acc and $bios are lists of words
		timeout 60 "$qemu" -machine pc $acc -m 256 $bios -nodefaults \
		    -display none -no-reboot -serial "file:$tmp/$name.out" \
		    -kernel "$guest" -append "$append" "$@" \
		    >"$tmp/$name.log" 2>&1 &
		pid=$!
		i=0
		while [ $i -lt 300 ] && kill -0 $pid 2>/dev/null &&
		    ! grep -Eq "$until" "$tmp/$name.out" 2>/dev/null; do
			sleep 0.1
			i=$((i + 1))
		done
		sleep "$run"
		kill $pid 2>/dev/null
		wait $pid
		# Line 2: the children's user and system time, "XmY.YYs
		# XmY.YYs" (not in a pipeline: that would be a subshell's).
		times >"$tmp/$name.times"
	) &
}

# The serial output of CASE.
out() {
	cat "$tmp/$1.out" 2>/dev/null
}

# CPU seconds (user + system) QEMU spent on CASE.
cpu_secs() {
	sed -n '2s/\([0-9]*\)m\([0-9.]*\)s/\1 \2/gp' "$tmp/$1.times" |
	    awk '{ print $1 * 60 + $2 + $3 * 60 + $4 }'
}

# check_beats CASE MIN MAX: the heartbeat contract.  Fails the case if seq
# skips, time goes back, or a line is bad; sets $beats, $step (the median
# guest_ns step, ms) and $dirt0 and $dirt (the first and last dirtied).
check_beats() {
	out "$1" | awk -v name="$1" -v min="$2" -v max="$3" '
	/^HB / {
		if (NF != 4 || $2 !~ /^[0-9]+$/ || $3 !~ /^[0-9]+$/ ||
		    $4 !~ /^[0-9]+$/) {
			print "FAIL: " name ": bad heartbeat: " $0; bad = 1
			next
		}
		if ($2 != n + skew) {
			print "FAIL: " name ": seq " $2 " after " n + skew - 1
			skew = $2 - n; bad = 1	# report each gap once
		}
		if (n > 0 && $3 <= ns) {
			print "FAIL: " name ": guest_ns went from " ns " to " $3
			bad = 1
		}
		if (n > 0 && $4 < dirt) {
			print "FAIL: " name ": dirtied went from " dirt \
			    " to " $4
			bad = 1
		}
		if (n > 0)
			step[n] = ($3 - ns) / 1e6
		if (n == 0)
			first = $4
		ns = $3; dirt = $4; n++
		next
	}
	/^(EBB-GUEST|SELFTEST|TOUCHED) / { next }
	/^CORRUPT / { next }
	{ print "FAIL: " name ": unexpected line: " $0; bad = 1 }
	END {
		if (n < min || n > max) {
			print "FAIL: " name ": " n " heartbeats, expected " \
			    min "-" max; bad = 1
		}
		# Median step, by a plain insertion sort (n is small).
		m = 0
		for (i = 1; i < n; i++) {
			v = step[i]
			for (j = m; j > 0 && s[j] > v; j--)
				s[j + 1] = s[j]
			s[j + 1] = v; m++
		}
		med = m > 0 ? s[int((m + 1) / 2)] : 0
		printf "%d %.2f %d %d\n", n, med, first, dirt
		exit bad
	}' >"$tmp/$1.beats"
	st=$?
	grep '^FAIL' "$tmp/$1.beats" >&2 && failures=$((failures + 1))
	[ $st -eq 0 ] || [ $st -eq 1 ] || fail "$1: awk failed"
	read -r beats step dirt0 dirt <<EOT
$(tail -n 1 "$tmp/$1.beats")
EOT
}

# expect CASE REGEX WHAT (every case expects something: a guest that said
# nothing fails here, with what QEMU said)
expect() {
	out "$1" | grep -Eq "$2" && return
	if [ -s "$tmp/$1.out" ]; then
		fail "$1: no $3 (want /$2/) in: $(head -c 400 "$tmp/$1.out")"
	else
		fail "$1: no serial output; QEMU said: $(cat "$tmp/$1.log")"
	fi
}
# refuse CASE REGEX WHAT
refuse() {
	! out "$1" | grep -Eq "$2" || fail "$1: $3: $(grep -E "$2" \
	    "$tmp/$1.out" | head -n 3)"
}

printf '0\n100\n' >"$tmp/pl.txt"

accels=tcg
if [ -r /dev/kvm ] && [ -w /dev/kvm ]; then
	accels="tcg kvm"
fi

for a in $accels; do
	# Three guests at a time; the timing-sensitive ones together, so
	# that idle and cpu=50 see the same machine.
	boot "$a-idle" "$a" '^EBB-GUEST' "$secs" "beat=10"
	boot "$a-dirty" "$a" '^EBB-GUEST' "$secs" "dirty=16,5000"
	boot "$a-cpu" "$a" '^EBB-GUEST' "$secs" "cpu=50"
	wait
	boot "$a-trace" "$a" '^EBB-GUEST' 2 "trace=pl.txt,0.5" \
	    -initrd "$tmp/pl.txt"
	boot "$a-touch" "$a" '^TOUCHED' 1 "touch=20 beat=20"
	boot "$a-selftest" "$a" '^CORRUPT' 1 "dirty=16,5000 selftest-corrupt"
	wait
	boot "$a-badopt" "$a" '^ERROR' 0.5 "beat=10 frobnicate=1"
	boot "$a-badval" "$a" '^ERROR' 0.5 "dirty=16,fast"
	boot "$a-notrace" "$a" '^ERROR' 0.5 "trace=pl.txt,1"
	wait

	# idle: the banner, and 100 beats a second of guest time.
	c=$a-idle
	expect "$c" '^EBB-GUEST [0-9][0-9.]* mem=25[0-9] work=idle beat=10 ' \
	    "banner"
	check_beats "$c" 20 600
	echo "$c: $beats heartbeats, median step $step ms"
	awk -v m="$step" 'BEGIN { exit !(m >= 8 && m <= 15) }' ||
	    fail "$c: median heartbeat step $step ms, expected ~10"
	[ "$dirt" = 0 ] || fail "$c: idle guest dirtied $dirt pages"
	refuse "$c" '^(CORRUPT|ERROR|FAULT)' "unexpected"

	# dirty: the count grows at roughly the asked rate, nothing corrupt.
	c=$a-dirty
	expect "$c" '^EBB-GUEST .* work=dirty:16:5000 ' "banner"
	check_beats "$c" 20 600
	echo "$c: $beats heartbeats, dirtied $dirt0 -> $dirt pages"
	[ "$dirt" -gt "$dirt0" ] || fail "$c: dirtied pages did not grow"
	# At ~10 ms a beat, 5000 pages/s is ~50 a beat; allow 30-70.
	awk -v n="$beats" -v d="$dirt" \
	    'BEGIN { r = d / (n ? n : 1); exit !(r >= 30 && r <= 70) }' ||
	    fail "$c: $dirt pages in $beats beats, expected ~50 a beat"
	refuse "$c" '^(CORRUPT|ERROR|FAULT)' "unexpected"

	# cpu=50: heartbeats go on, and QEMU burns more CPU than for the idle
	# guest beside it (by a margin that holds on a loaded machine too,
	# where a spinning vCPU gets much less than the half it wants).
	c=$a-cpu
	expect "$c" '^EBB-GUEST .* work=cpu:50 ' "banner"
	check_beats "$c" 20 600
	busy=$(cpu_secs "$c") idle=$(cpu_secs "$a-idle")
	echo "$c: $beats heartbeats, QEMU CPU ${busy}s (idle guest ${idle}s)"
	awk -v b="$busy" -v i="$idle" 'BEGIN { exit !(b >= i * 1.3 + 0.1) }' ||
	    fail "$c: QEMU used ${busy}s of CPU, idle ${idle}s: not busy"
	refuse "$c" '^(CORRUPT|ERROR|FAULT)' "unexpected"

	c=$a-trace
	expect "$c" '^EBB-GUEST .* work=trace:pl.txt:0.5 .* samples=2' "banner"
	check_beats "$c" 10 600
	echo "$c: $beats heartbeats"
	refuse "$c" '^(CORRUPT|ERROR|FAULT)' "unexpected"

	c=$a-touch
	expect "$c" '^EBB-GUEST .* work=touch:20 beat=20 .* touch_mib=5[01]' \
	    "banner"
	expect "$c" '^TOUCHED mib=5[01] ms=[0-9]+$' "TOUCHED line"
	check_beats "$c" 5 300
	echo "$c: $beats heartbeats, median step $step ms"
	refuse "$c" '^(CORRUPT|ERROR|FAULT)' "unexpected"

	# The injected corruption is reported, once, for the page it hit.
	c=$a-selftest
	expect "$c" '^EBB-GUEST .* work=dirty:16:5000 ' "banner"
	check_beats "$c" 10 600
	pfn=$(out "$c" | sed -n 's/^SELFTEST corrupting pfn \([0-9]*\)$/\1/p')
	if [ -z "$pfn" ]; then
		fail "$c: no SELFTEST line"
	else
		n=$(out "$c" | grep -c "^CORRUPT $pfn word=7 ")
		[ "$n" = 1 ] || fail "$c: $n CORRUPT lines for pfn $pfn, want 1"
		n=$(out "$c" | grep -c "^CORRUPT ")
		[ "$n" = 1 ] || fail "$c: $n CORRUPT lines in all, want 1"
		echo "$c: corrupted pfn $pfn, reported"
	fi
	refuse "$c" '^(ERROR|FAULT)' "unexpected"

	# A bad command line halts with a clear ERROR line and no heartbeat.
	for c in "$a-badopt:^ERROR unknown option 'frobnicate=1' \(halted\)\$" \
	    "$a-badval:^ERROR bad value in 'dirty=16,fast' \(halted\)\$" \
	    "$a-notrace:^ERROR trace= needs the trace as a multiboot module"; do
		re=${c#*:}
		c=${c%%:*}
		expect "$c" "$re" "ERROR line"
		refuse "$c" '^(HB|EBB-GUEST) ' "runs despite the error"
	done
	echo "$a: bad command lines halt with ERROR"
done

if [ "$failures" -gt 0 ]; then
	echo "test-guest-qemu: $failures failure(s)" >&2
	exit 1
fi
echo "test-guest-qemu: ebb-guest passes under $accels"
