#!/bin/sh
# tests/bench/run.sh [BUILD_DIR] - ebb's benchmarks (never part of ctest).
#
#  (a) the simulator: every policy in examples/policies/*.json, both models,
#      every PlanetLab day under ../shared/data/planetlab/ (or two synthetic
#      days when there are none); one JSON line per run: the fields of
#      `ebb simulate --json` plus "day" (cpu_s is the run's CPU time);
#  (b) one planning round (bench_round) on 10,000 hosts / 100,000 VMs with
#      lr-mmt-1.2 and default, and on 800 hosts / 1052 VMs, the size of
#      CloudSim's PlanetLab experiment (0.21 s a round there);
#  (c) a summary: median CPU-seconds per simulated day, round times.
#
# BENCH_QUICK=1: one day, lr-mmt-1.2 and default, the cloudsim model, and
# 3 repetitions of the 10k round.  Lines that are not JSON start with "#",
# so `grep '^{'` keeps the results.  The machine is shared: read medians,
# never assert on them.

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd) || exit 2
case $BUILD in
/*) ;;
*)	if [ ! -d "$BUILD" ] && [ -d "$ROOT/$BUILD" ]; then
		BUILD=$ROOT/$BUILD
	fi
	;;
esac
EBB=$BUILD/ebb
BENCH_ROUND=$BUILD/bench_round
POLICIES=$ROOT/examples/policies
PLANETLAB=$ROOT/../shared/data/planetlab
QUICK=${BENCH_QUICK:-0}

for b in "$EBB" "$BENCH_ROUND"; do
	if [ ! -x "$b" ]; then
		echo "run.sh: $b not found; build first (cmake --build $BUILD)" >&2
		exit 2
	fi
done

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ebb-bench.XXXXXX") || exit 2
trap 'rm -rf "$TMP"' EXIT
trap 'exit 130' INT TERM
status=0
start=$(date +%s)

note() {
	echo "# $*"
}

# The policy files to run, one a line.
if [ "$QUICK" = 1 ]; then
	for p in lr-mmt-1.2 default; do
		if [ -f "$POLICIES/$p.json" ]; then
			echo "$POLICIES/$p.json"
		else
			note "no $POLICIES/$p.json: skipped" >&2
		fi
	done >"$TMP/policies"
	MODELS=cloudsim
else
	for p in "$POLICIES"/*.json; do
		[ -f "$p" ] && echo "$p"
	done >"$TMP/policies"
	MODELS="cloudsim realistic"
fi

# The days: "name<TAB>kind<TAB>argument", kind being trace or synthetic.
for d in "$PLANETLAB"/*; do
	[ -d "$d" ] && printf '%s\ttrace\t%s\n' "$(basename "$d")" "$d"
done >"$TMP/days"
if [ ! -s "$TMP/days" ]; then
	note "no PlanetLab days in $PLANETLAB: using synthetic traces" \
	    "(--synthetic 1052 --seed 1, --synthetic 898 --seed 2) instead"
	printf 'synthetic-1052-s1\tsynthetic\t1052 1\n' >"$TMP/days"
	printf 'synthetic-898-s2\tsynthetic\t898 2\n' >>"$TMP/days"
fi
if [ "$QUICK" = 1 ]; then
	head -n 1 "$TMP/days" >"$TMP/days1" && mv "$TMP/days1" "$TMP/days"
fi

# The value of a numeric or string field of a one-line JSON object.
field() {
	sed -n "s/.*\"$1\":\"\{0,1\}\([^,\"}]*\).*/\1/p"
}

# A summary row's name: the policy file's, and the policy's own if other.
label() {	# file-name < json
	name=$(field policy)
	if [ -n "$name" ] && [ "$name" != "$1" ]; then
		echo "$1=$name"
	else
		echo "$1"
	fi
}

# ---- (a) the simulator --------------------------------------------------

TAB=$(printf '\t')
while IFS=$TAB read -r day kind arg; do
	while read -r pfile; do
		pname=$(basename "$pfile" .json)
		for model in $MODELS; do
			if [ "$kind" = trace ]; then
				set -- --trace "$arg"
			else
				# arg is "COUNT SEED"
				set -- --synthetic "${arg% *}" --seed "${arg#* }"
			fi
			if ! "$EBB" simulate --json "$@" --policy "$pfile" \
			    --model "$model" </dev/null >"$TMP/out" 2>"$TMP/err"; then
				note "FAIL: ebb simulate $* --policy $pfile" \
				    "--model $model: $(head -n 1 "$TMP/err")"
				status=1
				continue
			fi
			# The day goes in as a JSON string: escape \ and ".
			DAY=$(printf '%s' "$day" | sed 's/\\/\\\\/g; s/"/\\"/g') \
			    awk '{ sub(/}$/, ""); printf "%s,\"day\":\"%s\"}\n",
				$0, ENVIRON["DAY"] }' "$TMP/out"
			printf '%s\t%s\t%s\t%s\t%s\n' \
			    "$(label "$pname" <"$TMP/out")" "$model" "$day" \
			    "$(field cpu_s <"$TMP/out")" \
			    "$(field plan_cpu_s <"$TMP/out")" >>"$TMP/sim.tsv"
		done
	done <"$TMP/policies"
done <"$TMP/days"

# ---- (b) one planning round ---------------------------------------------

round() {	# name hosts vms reps [--policy file]
	rname=$1 hosts=$2 vms=$3 reps=$4
	shift 4
	if ! "$BENCH_ROUND" --hosts "$hosts" --vms "$vms" --reps "$reps" \
	    "$@" </dev/null >"$TMP/out" 2>"$TMP/err"; then
		note "FAIL: bench_round --hosts $hosts --vms $vms $*:" \
		    "$(tail -n 1 "$TMP/err")"
		status=1
		return
	fi
	cat "$TMP/out"
	printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' \
	    "$(label "$rname" <"$TMP/out")" "$hosts" "$vms" \
	    "$(field median_ms <"$TMP/out")" "$(field min_ms <"$TMP/out")" \
	    "$(field max_ms <"$TMP/out")" \
	    "$(field migrations <"$TMP/out")" >>"$TMP/round.tsv"
}

if [ "$QUICK" = 1 ]; then reps10k=3; else reps10k=5; fi
for p in lr-mmt-1.2 default; do
	if [ -f "$POLICIES/$p.json" ]; then
		round "$p" 10000 100000 "$reps10k" --policy "$POLICIES/$p.json"
	else
		note "no $POLICIES/$p.json: its 10k-host round skipped"
	fi
done
round lr-mmt-1.2 800 1052 9 --policy "$POLICIES/lr-mmt-1.2.json"

# ---- (c) summary ----------------------------------------------------------

# Median of column `col` of the rows that share columns 1..2, per group.
median_by() {	# col file
	sort -t "$TAB" -k1,1 -k2,2 -k"$1","$1"g "$2" | awk -F '\t' -v c="$1" '
	function flush() {
		if (n == 0)
			return
		m = n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
		printf "%s\t%s\t%d\t%s\n", k1, k2, n, m
	}
	$1 != k1 || $2 != k2 { flush(); n = 0; k1 = $1; k2 = $2 }
	{ v[++n] = $c }
	END { flush() }'
}

echo "#"
if [ -s "$TMP/sim.tsv" ]; then
	ndays=$(wc -l <"$TMP/days" | tr -d ' ')
	note "simulator: median over $ndays day(s) of CPU-seconds per simulated day"
	median_by 4 "$TMP/sim.tsv" >"$TMP/cpu"
	median_by 5 "$TMP/sim.tsv" >"$TMP/plan"
	paste "$TMP/cpu" "$TMP/plan" | awk -F '\t' '
	BEGIN { printf "#   %-20s %-10s %4s %9s %11s\n", "policy", "model",
		"days", "cpu_s", "plan_cpu_s" }
	{ printf "#   %-20s %-10s %4d %9.3f %11.3f\n", $1, $2, $3, $4, $8 }'
fi
if [ -s "$TMP/round.tsv" ]; then
	note "one planning round (CPU ms; CloudSim: 210 ms at 800 hosts)"
	awk -F '\t' '
	BEGIN { printf "#   %-20s %6s %7s %10s %10s %10s %6s\n", "policy",
		"hosts", "vms", "median_ms", "min_ms", "max_ms", "moves" }
	{ printf "#   %-20s %6d %7d %10.1f %10.1f %10.1f %6d\n", $1, $2, $3,
		$4, $5, $6, $7 }' "$TMP/round.tsv"
fi
note "took $(( $(date +%s) - start )) s of wall time"
exit $status
