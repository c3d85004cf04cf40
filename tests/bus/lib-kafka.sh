# lib-kafka.sh - what the daemon tests on the Kafka bus share (sourced by
# tests/bus/test-kafka-*.sh; not a test itself).
#
# The caller sets nothing; it gets $T (a temporary folder, removed at
# exit), the programs, helpers to wait and to read the controller's API
# through the `ebb` CLI, and:
#   mock_start             ebb-kafka-mock -p 4, its stdin on fd 3, $BOOT
#   mock CMD               a control line (down all, up all, ...), acked
#   kafka_props            the librdkafka properties the mock asks for:
#                          short sessions, quick reconnects
#   write_policy           $T/policy.json: power-off of empty hosts only
#                          (no overload, no underload moves)
#   write_node H VM...     $T/H.xml, a libvirt test-driver node running VMs
#   agent_conf H BUS...    $T/H.json, an agent on the bus (JSON text BUS)
#   start NAME CMD...      runs CMD in the background, pid in $T/NAME.pid,
#                          output in $T/NAME.log
#   stop NAME [SIG]        kills it (default TERM) and waits
#
# KEEP=1 in the environment keeps $T (logs, configurations) after the run.
#
# The mock's facts: a group's first join takes about 3 s, a consumer that
# dies without leaving blocks its group for session.timeout.ms (6 s here),
# so every run uses groups of its own ($RUN).

: "${EBB_BIN:?EBB_BIN must name the build tree}"
: "${EBB_SRC:?EBB_SRC must name the source tree}"

EBB="$EBB_BIN/ebb"
CTL="$EBB_BIN/ebb-controller"
AGT="$EBB_BIN/ebb-agent"
MOCK="$EBB_BIN/ebb-kafka-mock"
for f in "$EBB" "$CTL" "$AGT" "$MOCK"; do
	[ -x "$f" ] || { echo "FAIL: $f is not built" >&2; exit 1; }
done
[ -r /proc/uptime ] || { echo "SKIP: needs /proc (Linux)"; exit 77; }

unset EBB_TOKEN EBB_TOKEN_FILE EBB_CONTROLLER
LC_ALL=C
export LC_ALL

T=$(mktemp -d "${TMPDIR:-/tmp}/ebb-kafka.XXXXXX") || exit 1
RUN=$(basename "$T" | tr -cd 'A-Za-z0-9')
MOCK_PID=
FAILED=0

cleanup() {
	rc=$?
	for p in "$T"/*.pid; do
		[ -f "$p" ] || continue
		pid=$(cat "$p" 2>/dev/null)
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	done
	exec 3>&- 2>/dev/null
	[ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null
	wait 2>/dev/null
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		for l in "$T"/*.log "$T"/*.power; do
			[ -f "$l" ] || continue
			echo "---- $(basename "$l") (last 30 lines)" >&2
			tail -n 30 "$l" >&2
		done
	fi
	[ -n "$KEEP" ] || rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

now_cs() {
	awk '{ printf "%d\n", $1 * 100 }' /proc/uptime
}
START_CS=$(now_cs)

# wait_until SECONDS COMMAND...: COMMAND every 0.2 s until it succeeds.
wait_until() {
	_end=$(( $(now_cs) + $1 * 100 ))
	shift
	while :; do
		"$@" && return 0
		[ "$(now_cs)" -ge "$_end" ] && return 1
		sleep 0.2
	done
}

fail() {
	echo "FAIL: $*" >&2
	FAILED=$((FAILED + 1))
}

die() {
	echo "FAIL: $*" >&2
	exit 1
}

ok() {
	_cs=$(( $(now_cs) - START_CS ))
	printf 'ok: %s [%d.%02d s]\n' "$*" $((_cs / 100)) $((_cs % 100))
}

finish() {
	# Under the sanitizers a daemon that died of a report, or leaked,
	# says so in its log.
	for _l in "$T"/*.log; do
		grep -q "runtime error\|AddressSanitizer\|LeakSanitizer" "$_l" &&
		    fail "$(basename "$_l"): $(grep -m 3 "runtime error\|Sanitizer" "$_l")"
	done
	_cs=$(( $(now_cs) - START_CS ))
	printf 'elapsed: %d.%02d s\n' $((_cs / 100)) $((_cs % 100))
	if [ "$FAILED" -ne 0 ]; then
		echo "$FAILED check(s) failed" >&2
		exit 1
	fi
	echo "PASS"
	exit 0
}

alive() {
	[ -n "$1" ] || return 1
	kill -0 "$1" 2>/dev/null || return 1
	_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$_st" ] && [ "$_st" != Z ] && [ "$_st" != X ]
}

dead() {
	! alive "$1"
}

start() {
	_name=$1
	shift
	"$@" >> "$T/$_name.log" 2>&1 &
	echo $! > "$T/$_name.pid"
}

# stop NAME [SIG]: a daemon that died before it was told to is a failure.
stop() {
	_pid=$(cat "$T/$1.pid" 2>/dev/null)
	[ -n "$_pid" ] || return 0
	alive "$_pid" || fail "$1 ($_pid) was dead before it was stopped"
	kill "-${2:-TERM}" "$_pid" 2>/dev/null
	wait_until 10 dead "$_pid" || die "$1 ($_pid) did not stop"
	rm -f "$T/$1.pid"
}

# ---- the mock cluster ---------------------------------------------------------

mock_start() {
	mkfifo "$T/mock.in" || die "mkfifo"
	"$MOCK" -p 4 < "$T/mock.in" > "$T/mock.out" 2> "$T/mock.log" &
	MOCK_PID=$!
	exec 3> "$T/mock.in"
	wait_until 10 grep -q ':' "$T/mock.out" ||
		die "the mock printed no bootstrap servers"
	BOOT=$(head -n 1 "$T/mock.out")
}

mock() {
	echo "$*" >&3
	wait_until 5 grep -qx "ok $*" "$T/mock.out" || die "mock: no ack for $*"
}

kafka_props() {
	printf '"session.timeout.ms": 6000, "heartbeat.interval.ms": 500, '
	printf '"reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 500, '
	printf '"fetch.wait.max.ms": 50, "linger.ms": 1'
}

# ---- configurations -----------------------------------------------------------

write_policy() {
	cat > "$T/policy.json" <<EOF
{
  "name": "test-power-only",
  "description": "switch off empty hosts; never move a VM on its own",
  "overload": { "detector": "thr", "threshold": 1.0 },
  "selection": { "method": "mmt", "seed": 42 },
  "placement": { "order": "efficiency", "max_util": 1.0 },
  "underload": { "enabled": false },
  "power": { "switch_off_empty": true, "reserve_hosts": 0,
             "min_hosts_on": 0 }
}
EOF
}

# write_node HOST VM...: the node file of HOST's libvirt test driver.
write_node() {
	_h=$1
	shift
	{
		echo "<node>"
		echo "  <cpu><nodes>1</nodes><sockets>1</sockets><cores>2</cores><threads>1</threads><mhz>2000</mhz><model>i686</model></cpu>"
		echo "  <memory>8388608</memory>"
		for _vm in "$@"; do
			echo "  <domain type='test'><name>$_vm</name><memory>524288</memory><vcpu>1</vcpu><os><type>hvm</type></os></domain>"
		done
		echo "</node>"
	} > "$T/$_h.xml"
}

# agent_conf HOST LINK: LINK is the JSON of how it reaches the controller
# ("bus": {...} or "controller": ...).  HOST's VMs come from $T/HOST.xml
# through libvirt's test driver, whose migrations fail at once ("not
# supported"): a command that reaches the agent and comes back.
agent_conf() {
	mkdir -p "$T/state-$1"
	cat > "$T/$1.json" <<EOF
{
  "host": "$1",
  $2,
  "interval_s": 0.3,
  "state_dir": "$T/state-$1",
  "hypervisor": { "driver": "libvirt", "uri": "test://$T/$1.xml",
                  "peer_uri": "test+tcp://$1.invalid/default" },
  "cpu_source": "vms",
  "parking": { "actuator": "none" },
  "power": { "driver": "none" }
}
EOF
}

# ---- the controller's API, through the CLI --------------------------------------

# host_get URL NAME KEY: a host's value in `ebb hosts --json`.
host_get() {
	"$EBB" hosts --json --controller "$1" 2>/dev/null | awk -v name="$2" \
	    -v key="$3" '
		/^  [{]/ { cur = "" }
		$1 == "\"name\":" { v = $2; gsub(/[",]/, "", v); cur = v }
		cur == name && $1 == "\"" key "\":" {
			v = $0
			sub(/^[^:]*: /, "", v)
			sub(/,$/, "", v)
			gsub(/^"|"$/, "", v)
			print v
			exit
		}'
}

state_is() {
	[ "$(host_get "$1" "$2" state)" = "$3" ]
}

# decisions URL: "ID KIND SUBJECT OUTCOME" per decision, oldest first.
decisions() {
	"$EBB" decisions --json --limit 1000 --controller "$1" 2>/dev/null |
	    awk '
		/^  [{]/ { id = kind = subj = out = "" }
		$1 == "\"id\":" { id = $2; sub(/,$/, "", id) }
		$1 == "\"kind\":" { kind = $2 }
		$1 == "\"subject\":" { subj = $2 }
		$1 == "\"outcome\":" { out = $0; sub(/^[^:]*: /, "", out) }
		/^  [}]/ {
			gsub(/[",]/, "", kind); gsub(/[",]/, "", subj)
			sub(/,$/, "", out); gsub(/^"|"$/, "", out)
			print id " " kind " " subj " " out
		}'
}

# outcome URL KIND SUBJECT: the outcome of the newest such decision.
outcome() {
	decisions "$1" | awk -v k="$2" -v s="$3" '$2 == k && $3 == s {
		o = $0; sub(/^[^ ]* [^ ]* [^ ]* /, "", o) } END { print o }'
}

decided() {
	[ -n "$(outcome "$1" "$2" "$3")" ] &&
	    [ "$(outcome "$1" "$2" "$3")" != pending ]
}

rand_port() {
	od -An -N2 -tu2 /dev/urandom | awk '{ print 20000 + $1 % 12000 }'
}

api_up() {
	"$EBB" hosts --controller "$1" > /dev/null 2>&1
}

printf 'ebb-test-token-0123456789abcdef\n' > "$T/token"
chmod 600 "$T/token"

# h2_h3_up: the controller ($T/ctl.json, API at $URL) and the agents of h2
# and h3 ($T/h2.json, $T/h3.json) started; returns once both hosts are on
# with their one VM and the controller holds the lease.
h2_h3_up() {
	start ctl "$CTL" -c "$T/ctl.json"
	wait_until 10 api_up "$URL" || die "the controller's API is not up"
	start h2 "$AGT" -c "$T/h2.json"
	start h3 "$AGT" -c "$T/h3.json"
	wait_until 20 _h2_h3_on ||
		die "h2, h3 not on: $("$EBB" hosts --controller "$URL" 2>&1)"
	wait_until 15 grep -q "this controller acts" "$T/ctl.log" ||
		die "the controller never took the lease"
}

_h2_h3_on() {
	state_is "$URL" h2 on && state_is "$URL" h3 on &&
	    [ "$(host_get "$URL" h2 vms)" = 1 ] &&
	    [ "$(host_get "$URL" h3 vms)" = 1 ]
}
