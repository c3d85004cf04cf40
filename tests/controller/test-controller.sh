#!/bin/sh
#
# test-controller.sh - ebb-controller end to end, driven and observed only
# through the `ebb` CLI (the HTTP client under test as well).
#
# One controller (interval 0.5 s, unknown after 2 s, boot timeout 4 s, no
# minimum of hosts on, no host cooldown, journal in a temporary folder,
# examples/policies/default.json) and four agents (interval 0.3 s,
# hypervisor "none", parking actuator "none": nothing on this machine is
# touched) on 127.0.0.1, over TLS with certificates that scripts/ebb-ca
# makes in the temporary folder (the controller's names 127.0.0.1, which
# the agents dial):
#   h1  power driver "command": off kills h1's agent by its pidfile, on
#       starts it again in the background; both log to h1.power
#   h2  reserve, no power driver
#   h3  no power driver
#   h4  in maintenance (configuration), a "command" driver that only logs
#       to h4.power: it must never run
#
# Checked:
#   - `ebb hosts --json` lists h1..h4; h1 is switched off by its driver (its
#     agent process is gone, state "off"); h2 stays on, "kept on as a
#     reserve host"; h3 stays on and `ebb why h3` says it has no power driver
#   - `ebb decisions --json` holds a power-off decision for h1 with outcome
#     "done"; `ebb decisions --kind power-off` prints it as a table
#   - h3's agent killed with SIGKILL: h3 is "unknown" within
#     unknown_after_s + 1 s; h4's agent killed, then h4 released from
#     maintenance while its agent is gone: "unknown", and it is never
#     switched off (its driver never runs, no decision) in the seconds after
#   - `ebb drain h2`: no token at all -> exit 2; a wrong token -> exit 3 (the
#     controller answers 401); with --token-file -> exit 0 and h2 is in
#     "maintenance"; --undo -> "on" again
#   - `ebb plan --json` is one JSON object with "actions" and "notes"
#   - `ebb migrate nosuchvm h2 --token-file F` -> exit 3
#   - `ebb hosts --controller http://127.0.0.1:1` -> exit 1 with a message
#   - restart: SIGTERM stops the controller with exit 0; started again on
#     the same journal, h1 is still "off" (from the journal, its driver not
#     run again) and `ebb decisions` still lists the earlier decisions
#   - h1's agent started by hand while the controller thinks h1 is off: its
#     hello makes h1 "on", and it is switched off again (a second decision)
#
# Not checked here: the power-on and boot-timeout paths.  The policy wakes
# an off host only as the target of a migration (policy/pol_plan.c
# decide_power), and real agents without VMs (no /dev/kvm: hypervisor
# "none") report nothing to migrate, so nothing this script can do makes
# the controller switch h1 on.  tests/unit/test_ctl_api.c covers both with
# fake agents that report busy VMs, and GET /metrics, which `ebb` has no
# verb for.
#
# JSON is checked without python or jq: a document is valid JSON when
# `ebb-controller --check-config` (jansson, strict) gets past parsing it and
# complains about its content instead.  Every wait polls against a deadline.

: "${EBB_BIN:?EBB_BIN must name the build tree}"
: "${EBB_SRC:?EBB_SRC must name the source tree}"

EBB="$EBB_BIN/ebb"
CTL="$EBB_BIN/ebb-controller"
AGT="$EBB_BIN/ebb-agent"
POLICY="$EBB_SRC/examples/policies/default.json"
for f in "$EBB" "$CTL" "$AGT"; do
	[ -x "$f" ] || { echo "FAIL: $f is not built" >&2; exit 1; }
done
[ -r "$POLICY" ] || { echo "FAIL: $POLICY is missing" >&2; exit 1; }
[ -r /proc/uptime ] || { echo "SKIP: needs /proc (Linux)"; exit 77; }
command -v openssl >/dev/null 2>&1 ||
	{ echo "SKIP: needs the openssl command (scripts/ebb-ca)"; exit 77; }

unset EBB_TOKEN EBB_TOKEN_FILE EBB_CONTROLLER
LC_ALL=C
export LC_ALL

T=$(mktemp -d "${TMPDIR:-/tmp}/ebb-ctl-e2e.XXXXXX") || exit 1
CTL_PID=
FAILED=0

cleanup() {
	rc=$?
	if [ -n "$CTL_PID" ]; then
		kill "$CTL_PID" 2>/dev/null
	fi
	for p in "$T"/*.pid; do
		[ -f "$p" ] || continue
		pid=$(cat "$p" 2>/dev/null)
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	done
	[ -n "$CTL_PID" ] && wait "$CTL_PID" 2>/dev/null
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		for l in "$T"/*.log "$T"/*.power; do
			[ -f "$l" ] || continue
			echo "---- $(basename "$l") (last 40 lines)" >&2
			tail -n 40 "$l" >&2
		done
	fi
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

# ---- helpers ----------------------------------------------------------------

# Monotonic centiseconds.
now_cs() {
	awk '{ printf "%d\n", $1 * 100 }' /proc/uptime
}

# wait_until SECONDS COMMAND...: COMMAND every 0.1 s until it succeeds;
# 1 once SECONDS have passed without.
wait_until() {
	_end=$(( $(now_cs) + $1 * 100 ))
	shift
	while :; do
		"$@" && return 0
		[ "$(now_cs)" -ge "$_end" ] && return 1
		sleep 0.1
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

# "ok: what [seconds since the start]"
ok() {
	_cs=$(( $(now_cs) - START_CS ))
	printf 'ok: %s [%d.%02d s]\n' "$*" $((_cs / 100)) $((_cs % 100))
}

# A process that runs (not gone, not a zombie).
alive() {
	[ -n "$1" ] || return 1
	kill -0 "$1" 2>/dev/null || return 1
	_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$_st" ] && [ "$_st" != Z ] && [ "$_st" != X ]
}

dead() {
	! alive "$1"
}

# ebb with the controller's URL.
e() {
	_verb=$1
	shift
	"$EBB" "$_verb" --controller "$URL" "$@"
}

# host_get NAME KEY: a host's value from `ebb hosts --json` (strings
# unquoted).  The CLI prints objects with 2-space indent, keys in order,
# "name" first.
host_get() {
	e hosts --json 2>/dev/null | awk -v name="$1" -v key="$2" '
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
	[ "$(host_get "$1" state)" = "$2" ]
}

why_has() {
	e why "$1" 2>/dev/null | head -n 1 | grep -q "$2"
}

# A file holds valid JSON (of any content): jansson parses it.
is_json() {
	_out=$("$CTL" --check-config -c "$1" 2>&1)
	case $_out in
	*"malformed JSON"*)
		return 1 ;;
	*"unknown key"* | *"found an array"* | *": ok ("*)
		return 0 ;;
	esac
	echo "is_json: unexpected answer: $_out" >&2
	return 1
}

# The decisions' ids in `ebb decisions --json` output on stdin.
ids() {
	awk '$1 == "\"id\":" { v = $2; sub(/,$/, "", v); print v }'
}

count_lines() {
	if [ -f "$1" ]; then grep -c "^$2\$" "$1"; else echo 0; fi
}

# ---- configuration ----------------------------------------------------------

CA="$T/ca"
{ sh "$EBB_SRC/scripts/ebb-ca" init "$CA" &&
    sh "$EBB_SRC/scripts/ebb-ca" host "$CA" h1 h2 h3 h4 &&
    sh "$EBB_SRC/scripts/ebb-ca" controller "$CA" ctl.test 127.0.0.1; } \
    > "$T/ebb-ca.log" 2>&1 || die "ebb-ca: $(cat "$T/ebb-ca.log")"

printf 'ebb-test-token-0123456789abcdef\n' > "$T/token"
printf 'this-is-the-wrong-token-0123\n' > "$T/wrong-token"
chmod 600 "$T/token" "$T/wrong-token"

# h1's power commands (no double quote or backslash: they go into JSON).
H1_OFF="echo off >> '$T/h1.power'; kill \$(cat '$T/h1.pid')"
H1_ON="echo on >> '$T/h1.power'; '$AGT' -c '$T/h1.json' >> '$T/h1.log' 2>&1"
H1_ON="$H1_ON & echo \$! > '$T/h1.pid'"

write_configs() {
	cat > "$T/controller.json" <<EOF
{
  "listen": "127.0.0.1:$AGENT_PORT",
  "tls": { "ca": "$CA/ca.crt", "cert": "$CA/controller.crt",
           "key": "$CA/controller.key" },
  "http": "127.0.0.1:$HTTP_PORT",
  "token_file": "$T/token",
  "policy": "$POLICY",
  "journal": "$T/journal/journal.db",
  "interval_s": 0.5,
  "unknown_after_s": 2,
  "boot_timeout_s": 4,
  "min_hosts_on": 0,
  "limits": { "host_cooldown_s": 0 },
  "hosts": [
    { "name": "h1", "power": { "driver": "command",
      "off": "$H1_OFF",
      "on": "$H1_ON" } },
    { "name": "h2", "reserve": true },
    { "name": "h3" },
    { "name": "h4", "maintenance": true, "power": { "driver": "command",
      "off": "echo off >> '$T/h4.power'", "on": "echo on >> '$T/h4.power'" } }
  ]
}
EOF
	for h in h1 h2 h3 h4; do
		mkdir -p "$T/state-$h"
		cat > "$T/$h.json" <<EOF
{
  "host": "$h",
  "controller": "127.0.0.1:$AGENT_PORT",
  "tls": { "ca": "$CA/ca.crt", "cert": "$CA/$h.crt", "key": "$CA/$h.key" },
  "interval_s": 0.3,
  "reconnect_max_s": 0.5,
  "state_dir": "$T/state-$h",
  "hypervisor": { "driver": "none" },
  "parking": { "actuator": "none" },
  "power": { "driver": "none" }
}
EOF
	done
}

api_up() {
	"$EBB" hosts --controller "$URL" >/dev/null 2>&1
}

# Starts the controller, logging to a new $CTL_LOG; 0 when its API answers,
# 2 when a port was taken, 1 otherwise.
CTL_RUNS=0
start_controller() {
	CTL_RUNS=$((CTL_RUNS + 1))
	CTL_LOG="$T/controller.$CTL_RUNS.log"
	"$CTL" -c "$T/controller.json" > "$CTL_LOG" 2>&1 &
	CTL_PID=$!
	_end=$(( $(now_cs) + 1500 ))
	while :; do
		api_up && return 0
		if dead "$CTL_PID"; then
			wait "$CTL_PID" 2>/dev/null
			CTL_PID=
			grep -q "in use" "$CTL_LOG" && return 2
			return 1
		fi
		[ "$(now_cs)" -ge "$_end" ] && return 1
		sleep 0.1
	done
}

# Stops the controller with SIGTERM; fails unless it exits 0 in time.
stop_controller() {
	kill -TERM "$CTL_PID" 2>/dev/null
	wait_until 10 dead "$CTL_PID" ||
		die "the controller did not stop on SIGTERM"
	wait "$CTL_PID"
	_rc=$?
	CTL_PID=
	[ "$_rc" -eq 0 ] || die "the controller exited $_rc on SIGTERM"
}

# Random ports below Linux's ephemeral range; a port in use is retried.
rand_port() {
	od -An -N2 -tu2 /dev/urandom | awk '{ print 20000 + $1 % 12000 }'
}

START_CS=$(now_cs)
tries=0
while :; do
	AGENT_PORT=$(rand_port)
	HTTP_PORT=$(rand_port)
	[ "$AGENT_PORT" -eq "$HTTP_PORT" ] && continue
	URL="http://127.0.0.1:$HTTP_PORT"
	write_configs
	start_controller
	rc=$?
	[ "$rc" -eq 0 ] && break
	[ "$rc" -eq 2 ] || die "the controller did not start"
	tries=$((tries + 1))
	[ "$tries" -lt 10 ] || die "no free ports after $tries tries"
done
ok "controller up on $URL (agents on port $AGENT_PORT)"

for h in h1 h2 h3 h4; do
	"$AGT" -c "$T/$h.json" >> "$T/$h.log" 2>&1 &
	echo $! > "$T/$h.pid"
done

# ---- the fleet settles ------------------------------------------------------

all_listed() {
	_j=$(e hosts --json 2>/dev/null) || return 1
	for h in h1 h2 h3 h4; do
		printf '%s\n' "$_j" | grep -q "\"name\": \"$h\"" || return 1
	done
}
wait_until 5 all_listed || fail "ebb hosts --json does not list h1..h4"
grep -q "INSECURE" "$CTL_LOG" "$T"/h?.log &&
	fail "a daemon runs without TLS: $(grep -h INSECURE "$CTL_LOG" "$T"/h?.log)"
grep -q "agent connection from .* refused" "$CTL_LOG" &&
	fail "the controller refused an agent: $(grep refused "$CTL_LOG")"
e hosts --json > "$T/hosts.json" || fail "ebb hosts --json failed"
is_json "$T/hosts.json" || fail "ebb hosts --json is not JSON"
ok "hosts listed"

h1_pid=$(cat "$T/h1.pid")
wait_until 10 state_is h1 off ||
	fail "h1 was not switched off (state $(host_get h1 state))"
wait_until 5 dead "$h1_pid" ||
	fail "h1's agent ($h1_pid) still runs after power-off"
n=$(count_lines "$T/h1.power" off)
[ "$n" -eq 1 ] || fail "h1's off command ran $n times, not once"
ok "h1 switched off by its driver"

wait_until 5 state_is h2 on || fail "h2 is not on: $(host_get h2 state)"
wait_until 5 why_has h2 "kept on as a reserve host" ||
	fail "ebb why h2: $(e why h2 2>&1 | head -n 1)"
[ "$(host_get h2 why)" = "kept on as a reserve host" ] ||
	fail "hosts --json: h2 why is '$(host_get h2 why)'"
wait_until 5 state_is h3 on || fail "h3 is not on: $(host_get h3 state)"
wait_until 5 why_has h3 "no power driver" ||
	fail "ebb why h3: $(e why h3 2>&1 | head -n 1)"
e why h3 | head -n 1 | grep -q "^h3 is on: " ||
	fail "ebb why h3: $(e why h3 2>&1)"
state_is h4 maintenance || fail "h4 is $(host_get h4 state)"
ok "h2 kept as reserve, h3 kept (no power driver), h4 in maintenance"

# ---- decisions --------------------------------------------------------------

e decisions --json > "$T/decisions.json" || fail "ebb decisions --json failed"
is_json "$T/decisions.json" || fail "ebb decisions --json is not JSON"
# The power-off decision of h1: one object with these three keys.
awk '
	/^  [{]/ { kind = subj = out = "" }
	$1 == "\"kind\":" { kind = $2 }
	$1 == "\"subject\":" { subj = $2 }
	$1 == "\"outcome\":" { out = $2 }
	/^  [}]/ && kind == "\"power-off\"," && subj == "\"h1\"," &&
	    out ~ /^"done"/ { found = 1 }
	END { exit !found }' "$T/decisions.json" ||
	fail "ebb decisions --json: no power-off of h1 with outcome done"
e decisions --kind power-off --host h1 --json | ids > "$T/h1-off-ids"
[ "$(wc -l < "$T/h1-off-ids")" -eq 1 ] ||
	fail "not one power-off of h1: $(tr '\n' ' ' < "$T/h1-off-ids")"
e decisions --kind power-off > "$T/decisions.txt" ||
	fail "ebb decisions --kind power-off"
head -n 1 "$T/decisions.txt" |
    grep -q "^ID  *TIME  *KIND  *SUBJECT  *OUTCOME  *REASON" ||
	fail "decisions table header: $(head -n 1 "$T/decisions.txt")"
grep -Eq "^[0-9]+ +[0-9-]+ [0-9:]+ +power-off +h1 +done +empty" \
    "$T/decisions.txt" ||
	fail "decisions table lacks h1's power-off: $(cat "$T/decisions.txt")"
if grep -v "^ID" "$T/decisions.txt" | grep -vq " power-off "; then
	fail "--kind power-off shows other kinds: $(cat "$T/decisions.txt")"
fi
ok "decisions: h1 power-off done"

# ---- silent agents ----------------------------------------------------------

# h4: its agent says hello (maintenance is kept), is killed, and h4 is
# released while its agent is gone: unknown, and never switched off.
h4_connected() { [ "$(host_get h4 connected)" = true ]; }
h4_gone() { [ "$(host_get h4 connected)" = false ]; }
wait_until 5 h4_connected || fail "h4's agent did not connect"
kill -9 "$(cat "$T/h4.pid")"
wait_until 5 h4_gone || fail "h4 still connected after SIGKILL"
e drain h4 --undo --token-file "$T/token" > "$T/undo-h4.out" ||
	fail "ebb drain h4 --undo failed"
grep -q "^h4: unknown$" "$T/undo-h4.out" ||
	fail "ebb drain h4 --undo: $(cat "$T/undo-h4.out")"
h4_released=$(now_cs)

# h3: SIGKILL; unknown within unknown_after_s + 1 s.
kill -9 "$(cat "$T/h3.pid")"
t0=$(now_cs)
wait_until 3 state_is h3 unknown ||
	fail "h3 not unknown 3 s after its agent was killed"
dt=$(( ($(now_cs) - t0) * 10 ))
[ "$dt" -le 3000 ] || fail "h3 took $dt ms to become unknown"
e why h3 | head -n 1 | grep -q "^h3 is unknown" ||
	fail "ebb why h3: $(e why h3 2>&1)"
ok "h3 unknown $dt ms after SIGKILL"

# ---- drain ------------------------------------------------------------------

e drain h2 > "$T/drain.out" 2> "$T/drain.err"
rc=$?
[ "$rc" -eq 2 ] || fail "ebb drain without any token: exit $rc, expected 2"
grep -q "needs the API token" "$T/drain.err" ||
	fail "ebb drain without token: $(cat "$T/drain.err")"
EBB_TOKEN=$(cat "$T/wrong-token") e drain h2 > "$T/drain.out" \
    2> "$T/drain.err"
rc=$?
[ "$rc" -eq 3 ] || fail "ebb drain with a wrong token: exit $rc, expected 3"
grep -q "401" "$T/drain.err" ||
	fail "ebb drain with a wrong token: $(cat "$T/drain.err")"
e drain h2 --token-file "$T/wrong-token" > /dev/null 2>&1
rc=$?
[ "$rc" -eq 3 ] || fail "ebb drain --token-file WRONG: exit $rc, expected 3"
state_is h2 on || fail "a refused drain changed h2: $(host_get h2 state)"

e drain h2 --token-file "$T/token" > "$T/drain.out"
rc=$?
[ "$rc" -eq 0 ] || fail "ebb drain h2 --token-file: exit $rc"
grep -q "^h2: maintenance$" "$T/drain.out" ||
	fail "ebb drain h2: $(cat "$T/drain.out")"
state_is h2 maintenance || fail "h2 after drain: $(host_get h2 state)"
[ "$(host_get h2 maintenance)" = true ] || fail "h2 maintenance flag not set"
# EBB_TOKEN_FILE is a token source too.
EBB_TOKEN_FILE="$T/token" e drain h2 --undo > "$T/drain.out"
rc=$?
[ "$rc" -eq 0 ] || fail "ebb drain h2 --undo: exit $rc"
grep -q "^h2: on$" "$T/drain.out" ||
	fail "ebb drain h2 --undo: $(cat "$T/drain.out")"
state_is h2 on || fail "h2 after --undo: $(host_get h2 state)"
e drain nosuchhost --token-file "$T/token" > /dev/null 2>&1
rc=$?
[ "$rc" -eq 3 ] || fail "ebb drain nosuchhost: exit $rc, expected 3"
n=$(e decisions --host h2 --json |
    grep -Ec '"kind": "(maintenance|release)"')
[ "$n" -eq 2 ] || fail "not one maintenance and one release of h2: $n"
ok "drain: no token 2, wrong token 3, token 0, undo 0"

# ---- plan, migrate, an unreachable controller -------------------------------

e plan --json > "$T/plan.json" || fail "ebb plan --json failed"
is_json "$T/plan.json" ||
	fail "ebb plan --json is not JSON: $(cat "$T/plan.json")"
grep -q '^  "actions": \[' "$T/plan.json" || fail "plan has no actions array"
grep -q '^  "notes": \[' "$T/plan.json" || fail "plan has no notes array"
grep -q '"policy": "ebb-band"' "$T/plan.json" || fail "plan: no policy ebb-band"
e plan > "$T/plan.txt" || fail "ebb plan failed"
grep -q "^policy ebb-band: [0-9]* actions" "$T/plan.txt" ||
	fail "ebb plan: $(cat "$T/plan.txt")"
ok "plan"

e migrate nosuchvm h2 --token-file "$T/token" > "$T/migrate.out" \
    2> "$T/migrate.err"
rc=$?
[ "$rc" -eq 3 ] || fail "ebb migrate nosuchvm h2: exit $rc, expected 3"
grep -q "404" "$T/migrate.err" ||
	fail "ebb migrate nosuchvm: $(cat "$T/migrate.err")"
e migrate nosuchvm h2 > /dev/null 2>&1
rc=$?
[ "$rc" -eq 2 ] || fail "ebb migrate without a token: exit $rc, expected 2"
ok "migrate of an unknown VM refused"

"$EBB" hosts --controller http://127.0.0.1:1 > "$T/unreach.out" \
    2> "$T/unreach.err"
rc=$?
[ "$rc" -eq 1 ] || fail "ebb hosts on port 1: exit $rc, expected 1"
grep -q "^ebb: cannot connect to 127.0.0.1:1: " "$T/unreach.err" ||
	fail "ebb hosts on port 1: $(cat "$T/unreach.err")"
[ -s "$T/unreach.out" ] && fail "ebb hosts on port 1 printed to stdout"
# EBB_CONTROLLER is honoured when --controller is not given.
EBB_CONTROLLER="$URL" "$EBB" hosts > "$T/env.out" 2>&1 ||
	fail "EBB_CONTROLLER=$URL ebb hosts: $(cat "$T/env.out")"
grep -q "^h1  *off " "$T/env.out" || fail "ebb hosts table: $(cat "$T/env.out")"
ok "unreachable controller: exit 1"

# ---- the unknown hosts were never switched off ------------------------------

# unknown_after_s + 1 s since h4 became unknown, polling all along.
h4_watched() {
	state_is h4 unknown || return 0	# left unknown: reported below
	[ $(( $(now_cs) - h4_released )) -ge 300 ]
}
wait_until 5 h4_watched
state_is h4 unknown || fail "h4 left unknown: $(host_get h4 state)"
state_is h3 unknown || fail "h3 left unknown: $(host_get h3 state)"
[ -f "$T/h4.power" ] &&
	fail "h4's power driver ran while unknown: $(cat "$T/h4.power")"
for h in h3 h4; do
	n=$(e decisions --host $h --kind power-off --json | ids | wc -l)
	[ "$n" -eq 0 ] || fail "$h has $n power-off decisions"
done
ok "unknown hosts h3, h4 never switched off"

# ---- restart on the same journal --------------------------------------------

e decisions --json | ids > "$T/ids-before"
stop_controller
ok "controller stopped on SIGTERM with exit 0"
api_up && die "the API still answers after the controller stopped"
start_controller || die "the controller did not start again"
ok "controller restarted"

state_is h1 off || fail "after restart h1 is $(host_get h1 state), not off"
e decisions --json | ids > "$T/ids-after"
while read -r id; do
	grep -qx "$id" "$T/ids-after" ||
		fail "decision $id is gone after the restart"
done < "$T/ids-before"
grep -qx "$(cat "$T/h1-off-ids")" "$T/ids-after" ||
	fail "h1's power-off decision is gone after the restart"
wait_until 5 state_is h2 on ||
	fail "h2's agent did not come back: $(host_get h2 state)"
state_is h3 unknown || fail "after restart h3 is $(host_get h3 state)"
[ "$(count_lines "$T/h1.power" off)" -eq 1 ] ||
	fail "h1's off command ran again after the restart"
[ "$(count_lines "$T/h1.power" on)" -eq 0 ] ||
	fail "h1 was switched on after the restart"
ok "restart: h1 off from the journal, decisions kept"

# ---- an off host that says hello --------------------------------------------

# Someone switches h1 on by hand: the command the controller would run.
EBB_HOST=h1 sh -c "$H1_ON"
h1_pid=$(cat "$T/h1.pid")
two_offs() { [ "$(count_lines "$T/h1.power" off)" -ge 2 ]; }
wait_until 10 two_offs || fail "h1, on by hand, was not switched off again"
wait_until 5 state_is h1 off || fail "h1 is $(host_get h1 state), not off"
wait_until 5 dead "$h1_pid" || fail "h1's second agent still runs"
e decisions --kind power-off --host h1 --json | ids > "$T/h1-off-ids2"
[ "$(wc -l < "$T/h1-off-ids2")" -eq 2 ] ||
	fail "not two power-offs of h1: $(tr '\n' ' ' < "$T/h1-off-ids2")"
grep -q "host h1: off -> on (agent said hello)" "$CTL_LOG" ||
	fail "the controller did not log h1 coming back on"
ok "h1 on by hand: on, then switched off again"

stop_controller
ok "controller stopped on SIGTERM with exit 0"
end_cs=$(now_cs)
printf 'elapsed: %d.%02d s\n' $(( (end_cs - START_CS) / 100 )) \
    $(( (end_cs - START_CS) % 100 ))

if [ "$FAILED" -ne 0 ]; then
	echo "$FAILED check(s) failed" >&2
	exit 1
fi
echo "PASS"
exit 0
