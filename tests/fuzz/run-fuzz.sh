#!/bin/sh
# run-fuzz.sh - builds ebb's libFuzzer targets with clang (EBB_FUZZ=ON) in
# build-fuzz/ and runs each for FUZZ_SECONDS, one after the other.
#
#	sh tests/fuzz/run-fuzz.sh [TARGET ...]	(make fuzz)
#
# Environment: FUZZ_SECONDS (60), FUZZ_BUILD (build-fuzz), FUZZ_JOBS
# (nproc), FUZZ_MERGE=1 to minimise new interesting inputs back into
# tests/fuzz/corpus/TARGET/ (off by default: the corpus is checked in).
# Prints one JSON line per target:
#	{"target":..,"seconds":..,"execs":..,"execs_per_s":..,"crashes":..}
# Crash inputs are kept in FUZZ_BUILD/fuzz-out/TARGET/ (crash-*, leak-*,
# timeout-*, oom-*), the fuzzer's log beside them.  Exits 1 if any target
# crashed or failed to run.
set -eu

src=$(cd "$(dirname "$0")/../.." && pwd)
seconds=${FUZZ_SECONDS:-60}
build=${FUZZ_BUILD:-build-fuzz}
jobs=${FUZZ_JOBS:-$(nproc 2>/dev/null || echo 2)}
merge=${FUZZ_MERGE:-0}
all="policy wire http mig_recv sim_trace sim_fleet agt_config ctl_config"
targets=${*:-$all}

case $build in /*) ;; *) build=$src/$build ;; esac
if [ ! -f "$build/CMakeCache.txt" ]; then
	CC=${FUZZ_CC:-clang} cmake -S "$src" -B "$build" -DEBB_FUZZ=ON \
	    -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
cmake --build "$build" -j"$jobs" --target ebb_fuzz >/dev/null

status=0
for t in $targets; do
	bin=$build/fuzz_$t
	corpus=$src/tests/fuzz/corpus/$t
	out=$build/fuzz-out/$t
	log=$out/fuzz.log
	rm -rf "$out"
	mkdir -p "$out/new"
	# The checked-in corpus is read only; what the fuzzer finds goes to
	# new/, and is merged back (minimised) only when asked.
	rc=0
	( cd "$out" && ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	    UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	    "$bin" -max_total_time="$seconds" -timeout=25 -rss_limit_mb=2048 \
	    -max_len=65536 -print_final_stats=1 -artifact_prefix="$out/" \
	    "$out/new" "$corpus" ) >"$log" 2>&1 || rc=$?
	execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" |
	    tail -n 1)
	secs=$(sed -n 's/^stat::.*//; s/^Done \([0-9]*\) runs in \([0-9]*\) second.*/\2/p' \
	    "$log" | tail -n 1)
	[ -n "$secs" ] || secs=$seconds
	[ -n "$execs" ] || execs=0
	crashes=$(find "$out" -maxdepth 1 -type f \( -name 'crash-*' -o \
	    -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) |
	    wc -l | tr -d ' ')
	if [ "$rc" -ne 0 ] && [ "$crashes" -eq 0 ]; then
		crashes=1	# died without an artifact: see the log
	fi
	[ "$crashes" -eq 0 ] || status=1
	eps=$(awk -v e="$execs" -v s="$secs" \
	    'BEGIN { printf "%d", (s > 0 ? e / s : e) }')
	printf '{"target":"%s","seconds":%s,"execs":%s,"execs_per_s":%s,"crashes":%s}\n' \
	    "$t" "$secs" "$execs" "$eps" "$crashes"
	if [ "$merge" = 1 ] && [ "$crashes" -eq 0 ]; then
		"$bin" -merge=1 "$corpus" "$out/new" >>"$log" 2>&1 || status=1
	fi
done
exit $status
