#!/bin/sh
# tests/bench/bench-agent.sh [BUILD_DIR] - what ebb-agent costs its host,
# beside collectd and prometheus-node-exporter doing the same job at the
# same interval, and how fast it unparks cores on a load step.
#
#  (a) ebb-agent, interval_s 1, hypervisor "none" (no /dev/kvm here, so no
#      VMs: the line says "vms":0), parking decided but not applied
#      (actuator "none"), reporting to a controller sink (bench_agent_sink
#      sink: accepts the connection, reads and counts the JSON lines, in
#      plain TCP: "insecure_plaintext", so TLS is not in the figures) and
#      with its metrics_listen scraped every second;
#  (b) collectd -f, Interval 1, plugins cpu (per core), load, memory and
#      csv (into the temporary directory);
#  (c) prometheus-node-exporter on a free 127.0.0.1 port, collectors cpu,
#      loadavg and meminfo only, scraped every second;
#  one after the other, never together, each for the same time: 600 s, or
#  60 s with BENCH_QUICK=1 (BENCH_SECONDS=N overrides both), after a
#  warm-up of 3 s that is not counted.  cpu_s is utime + stime from
#  /proc/PID/stat (end minus start, / CLK_TCK), rss_kib the largest VmRSS
#  of /proc/PID/status read every 5 s; samples are the reports the sink
#  read (ebb-agent), the rows collectd wrote to load-*, or the scrapes
#  answered 200 (node_exporter).  One JSON line per tool:
#    {"tool":..,"interval_s":1,"seconds":..,"cpu_s":..,"rss_kib":..,
#     "samples":..}            (ebb-agent's also has "vms":0)
#  (d) parking reaction: ebb-agent at interval_s 0.1 (the smallest it
#      accepts), increase_time one interval, decrease_time 0.5 s, actuator
#      "none", reporting to bench_agent_sink react, which waits until one
#      core is unparked, starts BENCH_LOAD (2) busy processes and times the
#      step to the first report whose "unparked" set grew; 5 runs, median:
#    {"parking_reaction_s":..,"interval_s":0.1,"increase_time_s":0.1,
#     "runs":N}                (null when no run reached the parked state)
#
# A tool that is not installed is installed with apt-get when this runs as
# root (packages collectd-core and prometheus-node-exporter; BENCH_NO_INSTALL=1
# says no), and otherwise skipped with a note.  Lines that are not JSON
# start with "#": `grep '^{'` keeps the results.  The machine is shared
# (2 cores): read the figures, never assert on them; the exit status is
# non-zero only when ebb-agent itself could not be measured.

BUILD=${1:-build}
ROOT=$(cd "$(dirname "$0")/../.." && pwd) || exit 2
case $BUILD in
/*) ;;
*)	if [ ! -d "$BUILD" ] && [ -d "$ROOT/$BUILD" ]; then
		BUILD=$ROOT/$BUILD
	fi
	;;
esac
AGENT=$BUILD/ebb-agent
SINK=$BUILD/bench_agent_sink
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then
	SECONDS_TO_RUN=${BENCH_SECONDS:-60}
	IDLE_WAIT=60
else
	SECONDS_TO_RUN=${BENCH_SECONDS:-600}
	IDLE_WAIT=120
fi
WARMUP=3
RSS_EVERY=5
REACT_RUNS=${BENCH_REACT_RUNS:-5}
REACT_LOAD=${BENCH_LOAD:-2}
REACT_INTERVAL=0.1
REACT_INCREASE=${BENCH_INCREASE_TIME:-$REACT_INTERVAL}
REACT_DECREASE=0.5

note() {
	echo "# $*"
}

if [ ! -x "$AGENT" ]; then
	echo "bench-agent.sh: $AGENT not found; build first" \
	    "(cmake --build $BUILD)" >&2
	exit 2
fi
if [ ! -x "$SINK" ]; then
	# A build tree configured before bench_agent_sink.c existed.
	cmake --build "$BUILD" --target bench_agent_sink >/dev/null 2>&1
fi
if [ ! -x "$SINK" ]; then
	echo "bench-agent.sh: $SINK not found; build it first" \
	    "(cmake --build $BUILD --target bench_agent_sink)" >&2
	exit 2
fi
case $SECONDS_TO_RUN in
''|*[!0-9]*|0)
	echo "bench-agent.sh: BENCH_SECONDS must be a whole number > 0" >&2
	exit 2
	;;
esac

TMP=$(mktemp -d "${TMPDIR:-/tmp}/ebb-bench-agent.XXXXXX") || exit 2
PIDS=""
cleanup() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
status=0
start=$(date +%s)
HZ=$(getconf CLK_TCK)
NCPU=$(getconf _NPROCESSORS_ONLN)

# ---- helpers ------------------------------------------------------------------

# Stops one process we started (by pid) and forgets it.
stop() {	# pid
	kill "$1" 2>/dev/null
	wait "$1" 2>/dev/null
	rest=""
	for p in $PIDS; do
		[ "$p" = "$1" ] || rest="$rest $p"
	done
	PIDS=$rest
}

# utime + stime of a process, in clock ticks (the comm field may hold
# spaces and parentheses: cut after the last ") ").
ticks() {	# pid
	sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{ print $12 + $13 }'
}

# The CPU time of a process's live threads in ns (/proc/PID/task/*/
# schedstat, exact where /proc/PID/stat counts ticks; a thread that exited
# is not in it); empty without schedstat.
sched_ns() {	# pid
	cat "/proc/$1"/task/*/schedstat 2>/dev/null |
	    awk '{ s += $1; n++ } END { if (n) printf "%.0f\n", s }'
}

rss() {		# pid -> KiB
	awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null
}

# The time since boot in centiseconds (/proc/uptime has two decimals).
now_cs() {
	awk '{ printf "%d\n", $1 * 100 + 0.5 }' /proc/uptime
}

# The first field of a status file written by bench_agent_sink.
status_field() {	# file n
	awk -v n="$2" 'NR == 1 { print $n + 0 }' "$1" 2>/dev/null
}

# Is something listening on 127.0.0.1:port (or any address:port)?
listening() {	# port
	hex=$(printf '%04X' "$1")
	awk -v h="$hex" '$4 == "0A" && $2 ~ (":" h "$") { f = 1 }
	    END { exit !f }' /proc/net/tcp /proc/net/tcp6 2>/dev/null
}

# A TCP port that nothing uses now (the one who binds it may still lose a
# race; the callers check that their server came up).
free_port() {
	i=0
	while [ $i -lt 100 ]; do
		r=$(od -An -N2 -tu2 /dev/urandom | tr -d ' ')
		p=$((20000 + r % 40000))
		hex=$(printf '%04X' "$p")
		if ! grep -q ":$hex " /proc/net/tcp /proc/net/tcp6 2>/dev/null
		then
			echo "$p"
			return 0
		fi
		i=$((i + 1))
	done
	return 1
}

# Waits (at most 10 s) for a file to exist and not be empty.
wait_file() {	# file
	i=0
	while [ ! -s "$1" ] && [ $i -lt 100 ]; do
		sleep 0.1
		i=$((i + 1))
	done
	[ -s "$1" ]
}

# Waits (at most 10 s) for pid to listen on port; fails if it died.
wait_listen() {	# pid port
	i=0
	while [ $i -lt 100 ]; do
		kill -0 "$1" 2>/dev/null || return 1
		listening "$2" && return 0
		sleep 0.1
		i=$((i + 1))
	done
	return 1
}

# A command by name, in PATH or in the sbin folders a non-root PATH lacks.
find_cmd() {	# name
	for d in $(echo "$PATH" | tr ':' ' ') /usr/sbin /sbin /usr/bin; do
		if [ -x "$d/$1" ]; then
			echo "$d/$1"
			return 0
		fi
	done
	return 1
}

APT_UPDATED=0
# Finds a tool, installing its Debian package when root; prints its path.
need_tool() {	# command package
	if find_cmd "$1"; then
		return 0
	fi
	if [ "$(id -u)" != 0 ] || [ "${BENCH_NO_INSTALL:-0}" = 1 ] ||
	    ! command -v apt-get >/dev/null 2>&1; then
		return 1
	fi
	note "$1 is missing: apt-get install --no-install-recommends $2" >&2
	if [ $APT_UPDATED = 0 ]; then
		DEBIAN_FRONTEND=noninteractive apt-get update -qq \
		    >"$TMP/apt.log" 2>&1
		APT_UPDATED=1
	fi
	if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	    --no-install-recommends "$2" >>"$TMP/apt.log" 2>&1; then
		note "apt-get install $2 failed: $(tail -n 1 "$TMP/apt.log")" >&2
		return 1
	fi
	find_cmd "$1"
}

# Measures pid over SECONDS_TO_RUN after the warm-up; `samples_cmd` is a
# command that prints the tool's sample count so far, `extra_cmd` another
# count (M_EXTRA: its growth in the window).  Sets M_SECONDS, M_CPU_S,
# M_RSS_KIB, M_SAMPLES, M_CPU_TICKS; fails if the process died.
measure() {	# pid samples_cmd [extra_cmd]
	sleep "$WARMUP"
	kill -0 "$1" 2>/dev/null || return 1
	t0=$(now_cs)
	c0=$(ticks "$1")
	s0=$(sched_ns "$1")
	n0=$($2)
	e0=$(${3:-true})
	M_RSS_KIB=$(rss "$1")
	end=$((t0 + SECONDS_TO_RUN * 100))
	while :; do
		now=$(now_cs)
		[ "$now" -ge "$end" ] && break
		left=$(((end - now + 99) / 100))
		[ "$left" -gt "$RSS_EVERY" ] && left=$RSS_EVERY
		sleep "$left"
		r=$(rss "$1")
		[ -n "$r" ] || return 1
		[ "$r" -gt "$M_RSS_KIB" ] && M_RSS_KIB=$r
	done
	c1=$(ticks "$1")
	s1=$(sched_ns "$1")
	n1=$($2)
	e1=$(${3:-true})
	M_EXTRA=$((${e1:-0} - ${e0:-0}))
	t1=$(now_cs)
	[ -n "$c1" ] || return 1
	M_CPU_TICKS=$((c1 - c0))
	M_SAMPLES=$((n1 - n0))
	M_SECONDS=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", (b - a) / 100 }')
	M_CPU_S=$(awk -v t="$M_CPU_TICKS" -v hz="$HZ" 'BEGIN { printf "%.3f", t / hz }')
	M_SCHED_S=""
	if [ -n "$s0" ] && [ -n "$s1" ]; then
		M_SCHED_S=$(awk -v a="$s0" -v b="$s1" 'BEGIN { printf "%.6f", (b - a) / 1e9 }')
	fi
}

# One tool's JSON line, and its summary row for the end.
result() {	# tool [extra json]
	printf '{"tool":"%s","interval_s":1,"seconds":%s,"cpu_s":%s,"rss_kib":%s,"samples":%s%s}\n' \
	    "$1" "$M_SECONDS" "$M_CPU_S" "$M_RSS_KIB" "$M_SAMPLES" "${2:-}"
	printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$1" "$M_SECONDS" "$M_CPU_S" \
	    "$M_RSS_KIB" "$M_SAMPLES" "$M_SCHED_S" >>"$TMP/summary.tsv"
}

# What a process maps and how much of it is resident, as "#" lines.
rss_breakdown() {	# pid name
	[ -r "/proc/$1/smaps_rollup" ] || return 0
	roll=$(awk '
	    /^(Rss|Pss|Pss_Anon|Pss_File|Shared_Clean|Private_Clean|Private_Dirty|Anonymous):/ {
		sub(":", "", $1); printf "%s %s, ", $1, $2 }' \
	    "/proc/$1/smaps_rollup")
	note "$2 memory (/proc/PID/smaps_rollup, KiB): ${roll%, }"
	note "$2 resident KiB by mapping (from /proc/PID/smaps):"
	awk '
	/^[0-9a-f]+-[0-9a-f]+ / { name = NF >= 6 ? $6 : "[anon]"; next }
	/^Rss:/ { rss[name] += $2 }
	END { for (n in rss) printf "%8d  %s\n", rss[n], n }' \
	    "/proc/$1/smaps" 2>/dev/null | sort -rn | sed 's/^/#   /'
}

# ---- (a) ebb-agent ------------------------------------------------------------

note "ebb-agent, collectd and node_exporter, one after the other," \
    "${SECONDS_TO_RUN} s each (after ${WARMUP} s of warm-up), interval 1 s;" \
    "$NCPU cpus, CLK_TCK $HZ"
note "ebb-agent runs without VMs: no /dev/kvm here, hypervisor driver" \
    "\"none\" (\"vms\":0)"

mkdir -p "$TMP/agent"
"$SINK" sink "$TMP/agent/ctl.port" "$TMP/agent/ctl.count" \
    2>"$TMP/agent/sink.err" &
SINK_PID=$!
PIDS="$PIDS $SINK_PID"
agent_ok=0
if wait_file "$TMP/agent/ctl.port"; then
	CTL_PORT=$(cat "$TMP/agent/ctl.port")
	tries=0
	while [ $tries -lt 5 ] && [ $agent_ok = 0 ]; do
		tries=$((tries + 1))
		MPORT=$(free_port) || break
		cat >"$TMP/agent/agent.json" <<EOF
{
  "host": "bench",
  "controller": "127.0.0.1:$CTL_PORT",
  "insecure_plaintext": true,
  "interval_s": 1,
  "state_dir": "$TMP/agent",
  "metrics_listen": "127.0.0.1:$MPORT",
  "hypervisor": { "driver": "none" },
  "parking": { "enabled": true, "actuator": "none", "lower_max_freq": false },
  "power": { "driver": "none" }
}
EOF
		"$AGENT" -c "$TMP/agent/agent.json" </dev/null \
		    2>"$TMP/agent/agent.err" &
		AGENT_PID=$!
		PIDS="$PIDS $AGENT_PID"
		if wait_listen "$AGENT_PID" "$MPORT"; then
			agent_ok=1
		else
			stop "$AGENT_PID"
		fi
	done
fi
if [ $agent_ok = 1 ]; then
	"$SINK" scrape "127.0.0.1:$MPORT" "$TMP/agent/scrape.count" 1 \
	    2>"$TMP/agent/scrape.err" &
	SCRAPE_PID=$!
	PIDS="$PIDS $SCRAPE_PID"
	agent_reports() { status_field "$TMP/agent/ctl.count" 1; }
	agent_scrapes() { status_field "$TMP/agent/scrape.count" 1; }
	if measure "$AGENT_PID" agent_reports agent_scrapes; then
		result ebb-agent ',"vms":0'
		note "ebb-agent: $M_SAMPLES reports to the sink and" \
		    "$M_EXTRA scrapes of /metrics answered in the window" \
		    "($(status_field "$TMP/agent/scrape.count" 2) failed in all," \
		    "last answer $(status_field "$TMP/agent/scrape.count" 3) bytes)"
		rss_breakdown "$AGENT_PID" ebb-agent
	else
		note "FAIL: ebb-agent died during the measurement:" \
		    "$(tail -n 1 "$TMP/agent/agent.err")"
		status=1
	fi
	stop "$SCRAPE_PID"
	stop "$AGENT_PID"
else
	note "FAIL: ebb-agent did not start:" \
	    "$(tail -n 1 "$TMP/agent/agent.err" 2>/dev/null)" \
	    "$(tail -n 1 "$TMP/agent/sink.err" 2>/dev/null)"
	status=1
fi
stop "$SINK_PID"

# ---- (b) collectd -------------------------------------------------------------

if COLLECTD=$(need_tool collectd collectd-core); then
	D=$TMP/collectd
	mkdir -p "$D/csv"
	cat >"$D/collectd.conf" <<EOF
Hostname "bench"
FQDNLookup false
BaseDir "$D"
PIDFile "$D/collectd.pid"
TypesDB "/usr/share/collectd/types.db"
Interval 1
AutoLoadPlugin false
LoadPlugin cpu
LoadPlugin load
LoadPlugin memory
LoadPlugin csv
<Plugin cpu>
  ReportByCpu true
  ReportByState true
  ValuesPercentage false
</Plugin>
<Plugin csv>
  DataDir "$D/csv"
  StoreRates false
</Plugin>
EOF
	"$COLLECTD" -f -C "$D/collectd.conf" -P "$D/collectd.pid" \
	    </dev/null >"$D/collectd.log" 2>&1 &
	CD_PID=$!
	PIDS="$PIDS $CD_PID"
	# The rows of load-DATE (one a sample) less their header lines.
	collectd_rows() {
		cat "$D"/csv/*/load/load-* 2>/dev/null | grep -vc '^epoch'
	}
	if measure "$CD_PID" collectd_rows; then
		result collectd
		note "collectd $("$COLLECTD" -h 2>&1 | sed -n 's/^collectd \([0-9][0-9.]*[0-9]\).*/\1/p')" \
		    "wrote $(find "$D/csv" -type f | wc -l | tr -d ' ') csv files"
		rss_breakdown "$CD_PID" collectd
	else
		note "collectd died: $(tail -n 1 "$D/collectd.log"): skipped"
	fi
	stop "$CD_PID"
else
	note "collectd is not installed: skipped (Debian package" \
	    "collectd-core, which this script installs when run as root)"
fi

# ---- (c) prometheus-node-exporter ---------------------------------------------

if NODE_EXPORTER=$(need_tool prometheus-node-exporter prometheus-node-exporter) ||
    NODE_EXPORTER=$(find_cmd node_exporter); then
	D=$TMP/node_exporter
	mkdir -p "$D"
	ne_ok=0
	tries=0
	while [ $tries -lt 5 ] && [ $ne_ok = 0 ]; do
		tries=$((tries + 1))
		NPORT=$(free_port) || break
		"$NODE_EXPORTER" --web.listen-address="127.0.0.1:$NPORT" \
		    --collector.disable-defaults --collector.cpu \
		    --collector.loadavg --collector.meminfo --log.level=warn \
		    </dev/null >"$D/ne.log" 2>&1 &
		NE_PID=$!
		PIDS="$PIDS $NE_PID"
		if wait_listen "$NE_PID" "$NPORT"; then
			ne_ok=1
		else
			stop "$NE_PID"
		fi
	done
	if [ $ne_ok = 1 ]; then
		"$SINK" scrape "127.0.0.1:$NPORT" "$D/scrape.count" 1 \
		    2>"$D/scrape.err" &
		SCRAPE_PID=$!
		PIDS="$PIDS $SCRAPE_PID"
		ne_scrapes() { status_field "$D/scrape.count" 1; }
		if measure "$NE_PID" ne_scrapes; then
			result node_exporter
			note "node_exporter $("$NODE_EXPORTER" --version 2>&1 |
			    sed -n 's/^node_exporter, version \([^ ]*\).*/\1/p'):" \
			    "$(status_field "$D/scrape.count" 2) scrapes failed," \
			    "last $(status_field "$D/scrape.count" 3) bytes"
			rss_breakdown "$NE_PID" node_exporter
		else
			note "node_exporter died: $(tail -n 1 "$D/ne.log"): skipped"
		fi
		stop "$SCRAPE_PID"
		stop "$NE_PID"
	else
		note "node_exporter did not start: $(tail -n 1 "$D/ne.log"): skipped"
	fi
	if listening 9100; then
		note "something listens on :9100 (a system node_exporter that" \
		    "installing the package started?): it ran beside the bench"
	fi
else
	note "prometheus-node-exporter is not installed: skipped (Debian" \
	    "package prometheus-node-exporter, which this script installs" \
	    "when run as root)"
fi

# ---- (d) parking reaction ---------------------------------------------------------

note "parking reaction: interval ${REACT_INTERVAL} s, increase_time" \
    "${REACT_INCREASE} s, decrease_time ${REACT_DECREASE} s, a step from idle" \
    "to $REACT_LOAD busy processes on $NCPU cpus, $REACT_RUNS runs" \
    "(each waits at most ${IDLE_WAIT} s for one unparked core)"
D=$TMP/react
mkdir -p "$D"
"$SINK" react "$D/ctl.port" "$REACT_RUNS" "$REACT_LOAD" "$IDLE_WAIT" \
    >"$D/times" 2>"$D/react.err" &
REACT_PID=$!
PIDS="$PIDS $REACT_PID"
if wait_file "$D/ctl.port"; then
	cat >"$D/agent.json" <<EOF
{
  "host": "bench",
  "controller": "127.0.0.1:$(cat "$D/ctl.port")",
  "insecure_plaintext": true,
  "interval_s": $REACT_INTERVAL,
  "state_dir": "$D",
  "metrics_listen": "",
  "hypervisor": { "driver": "none" },
  "parking": { "enabled": true, "actuator": "none", "lower_max_freq": false,
    "increase_time": $REACT_INCREASE, "decrease_time": $REACT_DECREASE },
  "power": { "driver": "none" }
}
EOF
	"$AGENT" -c "$D/agent.json" </dev/null 2>"$D/agent.err" &
	RAGENT_PID=$!
	PIDS="$PIDS $RAGENT_PID"
	wait "$REACT_PID"
	stop "$RAGENT_PID"
fi
stop "$REACT_PID"
cat "$D/react.err"
grep -v '^-' "$D/times" 2>/dev/null | sort -g >"$D/ok"
nruns=$(wc -l <"$D/ok" | tr -d ' ')
if [ "$nruns" -gt 0 ]; then
	median=$(awk '{ v[NR] = $1 } END {
	    m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
	    printf "%.3f", m }' "$D/ok")
else
	median=null
	note "parking reaction: no run saw the parked state and the unpark" \
	    "(a busy shared machine never looks idle)"
fi
printf '{"parking_reaction_s":%s,"interval_s":%s,"increase_time_s":%s,"runs":%s}\n' \
    "$median" "$REACT_INTERVAL" "$REACT_INCREASE" "$nruns"

# ---- summary ------------------------------------------------------------------------

echo "#"
if [ -s "$TMP/summary.tsv" ]; then
	note "per tool: CPU ms per sample, RSS, and ebb-agent / collectd"
	awk -F '\t' '
	{
		tool[NR] = $1; cpu[NR] = $3; rss[NR] = $4; n[NR] = $5
		sch[NR] = $6
		per = $5 > 0 ? $3 / $5 : 0
		sper = $5 > 0 && $6 != "" ? $6 / $5 : 0
		if ($1 == "collectd") { ccpu = per; cs = sper; crss = $4; hc = 1 }
		if ($1 == "ebb-agent") { acpu = per; as = sper; arss = $4; ha = 1 }
	}
	END {
		printf "#   %-14s %8s %9s %10s %10s %9s\n", "tool", "samples",
		    "cpu_s", "ms/sample", "(exact)", "rss_MiB"
		for (i = 1; i <= NR; i++)
			printf "#   %-14s %8d %9.3f %10.3f %10s %9.1f\n", tool[i],
			    n[i], cpu[i], (n[i] > 0 ? 1000 * cpu[i] / n[i] : 0),
			    (n[i] > 0 && sch[i] != "" ? sprintf("%.3f",
			    1000 * sch[i] / n[i]) : "-"), rss[i] / 1024
		print "#   (exact: the threads\047 schedstat run time, ns;" \
		    " cpu_s counts clock ticks)"
		if (!hc || !ha)
			exit
		rr = crss > 0 ? arss / crss : 0
		if (cs > 0)
			printf "#   ebb-agent / collectd by schedstat: CPU %.2f\n",
			    as / cs
		if (ccpu <= 0) {
			print "#   collectd used less than a clock tick: no ratio"
			exit
		}
		cr = acpu / ccpu
		verdict = cr <= 0.5 && rr <= 1.0 ? "met" : "NOT met"
		printf "#   ebb-agent / collectd: CPU %.2f (goal <= 0.5), " \
		    "RSS %.2f (goal <= 1.0): %s\n", cr, rr, verdict
	}' "$TMP/summary.tsv"
fi
note "took $(( $(date +%s) - start )) s of wall time"
exit $status
