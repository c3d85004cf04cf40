#!/bin/sh
#
# test-tls.sh - who may talk to the controller's agent port: real
# ebb-controller and ebb-agent processes on 127.0.0.1, certificates made
# by scripts/ebb-ca in a temporary folder.
#
# Two CAs: A (the fleet's: h1, h2, an h5 that has expired, the controller
# as ctl.test and 127.0.0.1) and B (a stranger's, with its own h1).  One
# controller trusts A; the good agent h1 (A's certificate) dials
# 127.0.0.1, which the controller's certificate names.  Checked, one after
# the other while the good agent stays connected:
#   - h1 is listed by `ebb hosts --json`, connected and on;
#   - an agent with B's certificate for h1: refused at the handshake, the
#     controller logs why ("certificate verify failed", "unable to get
#     local issuer certificate"), the agent hears "unknown ca";
#   - an agent with A's certificate for h2 that says hello as h1: refused
#     ("does not name it"), h1's real connection is not replaced;
#   - an agent with A's expired certificate for h5: refused ("certificate
#     has expired");
#   - an agent that expects the controller under another name
#     (tls.server_name wrong.test): the agent refuses the controller
#     ("hostname mismatch");
#   - revocation: both daemons read A's CRL (tls.crl); an agent h4 is
#     served, then `ebb-ca revoke A h4` rewrites the list: the controller
#     ends h4's session ("has been revoked") within seconds, and h4's
#     reconnections are refused at the handshake ("certificate revoked");
#     h1, whose agent reads the same list, stays;
#   - an agent with "insecure_plaintext" (a JSON hello in plain TCP):
#     dropped at the handshake, its host never listed;
#   - a TCP client that connects and says nothing, and a TLS client with a
#     good certificate that says nothing: both dropped after 5 s ("no TLS
#     handshake within", "no hello within");
#   - through all of it the controller runs, h1 stays connected and on,
#     the good agent never loses its connection, and neither daemon warns
#     of plain TCP; SIGTERM stops the agent and then the controller with
#     status 0 (in a sanitizer build: no leak on the TLS paths).
#
# Needs the openssl command (exit 77 without it).

: "${EBB_BIN:?EBB_BIN must name the build tree}"
: "${EBB_SRC:?EBB_SRC must name the source tree}"

EBB="$EBB_BIN/ebb"
CTL="$EBB_BIN/ebb-controller"
AGT="$EBB_BIN/ebb-agent"
EBBCA="$EBB_SRC/scripts/ebb-ca"
for f in "$EBB" "$CTL" "$AGT"; do
	[ -x "$f" ] || { echo "FAIL: $f is not built" >&2; exit 1; }
done
[ -r /proc/uptime ] || { echo "SKIP: needs /proc (Linux)"; exit 77; }
command -v openssl >/dev/null 2>&1 ||
	{ echo "SKIP: needs the openssl command"; exit 77; }

unset EBB_TOKEN EBB_TOKEN_FILE EBB_CONTROLLER
LC_ALL=C
export LC_ALL

T=$(mktemp -d "${TMPDIR:-/tmp}/ebb-tls.XXXXXX") || exit 1
CTL_PID=
FAILED=0

cleanup() {
	rc=$?
	for p in "$T"/*.pid; do
		[ -f "$p" ] || continue
		pid=$(cat "$p" 2>/dev/null)
		[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null
	done
	if [ -n "$CTL_PID" ]; then
		kill "$CTL_PID" 2>/dev/null
		wait "$CTL_PID" 2>/dev/null
	fi
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ]; then
		for l in "$T"/*.log; do
			[ -f "$l" ] || continue
			echo "---- $(basename "$l") (last 30 lines)" >&2
			tail -n 30 "$l" >&2
		done
	fi
	rm -rf "$T"
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

now_cs() {
	awk '{ printf "%d\n", $1 * 100 }' /proc/uptime
}

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

ok() {
	_cs=$(( $(now_cs) - START_CS ))
	printf 'ok: %s [%d.%02d s]\n' "$*" $((_cs / 100)) $((_cs % 100))
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

# host_get NAME KEY: a value from `ebb hosts --json` (strings unquoted).
host_get() {
	"$EBB" hosts --json --controller "$URL" 2>/dev/null |
	    awk -v name="$1" -v key="$2" '
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

listed() {
	"$EBB" hosts --json --controller "$URL" 2>/dev/null |
	    grep -q "\"name\": \"$1\""
}

h1_serving() {
	[ "$(host_get h1 connected)" = true ] && [ "$(host_get h1 state)" = on ]
}

# in_log FILE TEXT: the file holds TEXT (fixed string).
in_log() {
	grep -qF "$2" "$1" 2>/dev/null
}

# The controller still runs and still serves h1, whatever was just tried.
still_serving() {
	alive "$CTL_PID" || die "the controller died ($1)"
	h1_serving || fail "$1: h1 is no longer served" \
	    "(connected $(host_get h1 connected), $(host_get h1 state))"
}

# agent NAME HOST CERTDIR CERT [EXTRA-JSON]: starts an agent that says
# hello as HOST with CERTDIR/CERT.{crt,key}, trusting CA A; logs to
# NAME.log, pid in NAME.pid.
agent() {
	_extra=${5:-}
	cat > "$T/$1.json" <<EOF
{
  "host": "$2",
  "controller": "127.0.0.1:$AGENT_PORT",
  "tls": { "ca": "$T/A/ca.crt", "cert": "$3/$4.crt", "key": "$3/$4.key"
           $_extra },
  "interval_s": 0.3,
  "reconnect_max_s": 0.5,
  "state_dir": "$T",
  "hypervisor": { "driver": "none" },
  "parking": { "actuator": "none" },
  "power": { "driver": "none" }
}
EOF
	"$AGT" -c "$T/$1.json" > "$T/$1.log" 2>&1 &
	echo $! > "$T/$1.pid"
}

stop() {
	_pid=$(cat "$T/$1.pid" 2>/dev/null)
	[ -n "$_pid" ] && kill -9 "$_pid" 2>/dev/null
	rm -f "$T/$1.pid"
}

# ---- certificates -------------------------------------------------------------

START_CS=$(now_cs)
{
	sh "$EBBCA" init "$T/A" &&
	sh "$EBBCA" host "$T/A" h1 h2 h4 &&
	EBB_CA_DAYS=0 sh "$EBBCA" host "$T/A" h5 &&
	sh "$EBBCA" controller "$T/A" ctl.test 127.0.0.1 &&
	sh "$EBBCA" init "$T/B" &&
	sh "$EBBCA" host "$T/B" h1
} > "$T/ebb-ca.out" 2>&1 || die "ebb-ca: $(cat "$T/ebb-ca.out")"
for f in A/ca.key A/h1.key A/controller.key B/h1.key; do
	mode=$(stat -c %a "$T/$f")
	[ "$mode" = 600 ] || fail "$f has mode $mode, not 600"
done
ok "certificates made (keys 0600)"

# ---- the controller and the good agent ----------------------------------------

rand_port() {
	od -An -N2 -tu2 /dev/urandom | awk '{ print 20000 + $1 % 12000 }'
}

tries=0
while :; do
	AGENT_PORT=$(rand_port)
	HTTP_PORT=$(rand_port)
	[ "$AGENT_PORT" -eq "$HTTP_PORT" ] && continue
	URL="http://127.0.0.1:$HTTP_PORT"
	cat > "$T/controller.json" <<EOF
{
  "listen": "127.0.0.1:$AGENT_PORT",
  "tls": { "ca": "$T/A/ca.crt", "cert": "$T/A/controller.crt",
           "key": "$T/A/controller.key", "crl": "$T/A/crl.pem" },
  "http": "127.0.0.1:$HTTP_PORT",
  "journal": "$T/journal.db",
  "interval_s": 0.5,
  "unknown_after_s": 30,
  "min_hosts_on": 100
}
EOF
	"$CTL" -c "$T/controller.json" > "$T/controller.log" 2>&1 &
	CTL_PID=$!
	if wait_until 15 "$EBB" hosts --controller "$URL" >/dev/null 2>&1
	then
		break
	fi
	if dead "$CTL_PID"; then
		wait "$CTL_PID" 2>/dev/null
		CTL_PID=
		grep -q "in use" "$T/controller.log" ||
			die "the controller did not start: $(cat "$T/controller.log")"
	else
		die "the controller's API does not answer"
	fi
	tries=$((tries + 1))
	[ "$tries" -lt 10 ] || die "no free ports after $tries tries"
done
ok "controller up (agents on $AGENT_PORT, TLS)"

agent good h1 "$T/A" h1 ", \"crl\": \"$T/A/crl.pem\""
wait_until 10 h1_serving ||
	die "h1 with A's certificate is not served: $(host_get h1 state)"
ok "h1 (A's certificate) connected and on"

# ---- another CA's certificate -------------------------------------------------

agent rogue h1 "$T/B" h1
wait_until 10 in_log "$T/controller.log" "certificate verify failed" ||
	fail "the controller did not log why B's h1 was refused"
in_log "$T/controller.log" "unable to get local issuer certificate" ||
	fail "the controller's log lacks the verifier's reason:" \
	    "$(grep refused "$T/controller.log")"
wait_until 5 in_log "$T/rogue.log" "unknown ca" ||
	fail "the agent with B's certificate was not told: $(cat "$T/rogue.log")"
stop rogue
still_serving "B's h1"
ok "B's certificate for h1 refused: $(grep -m1 -o 'refused.*' "$T/controller.log")"

# ---- a good certificate for another host ----------------------------------------

agent poser h1 "$T/A" h2
wait_until 10 in_log "$T/controller.log" \
    'hello as host "h1" refused: the agent'"'"'s certificate (CN=h2 DNS:h2) does not name it' ||
	fail "h2's certificate saying hello as h1 was not refused"
wait_until 5 in_log "$T/poser.log" "does not name it" ||
	fail "the posing agent was not told why: $(tail -n 5 "$T/poser.log")"
stop poser
in_log "$T/controller.log" "replaced by a newer connection" &&
	fail "the posing agent replaced h1's connection"
listed h2 && fail "h2 is listed, though it never said hello as itself"
still_serving "h2 as h1"
ok "A's certificate for h2 cannot say hello as h1"

# ---- an expired certificate -----------------------------------------------------

agent expired h5 "$T/A" h5
wait_until 10 in_log "$T/controller.log" "certificate has expired" ||
	fail "h5's expired certificate was not refused"
stop expired
listed h5 && fail "h5 (expired certificate) is listed"
still_serving "expired h5"
ok "an expired certificate refused"

# ---- the agent checks the controller ----------------------------------------------

agent picky h2 "$T/A" h2 ', "server_name": "wrong.test"'
wait_until 10 in_log "$T/picky.log" "hostname mismatch" ||
	fail "an agent expecting wrong.test accepted the controller:" \
	    "$(tail -n 5 "$T/picky.log")"
stop picky
listed h2 && fail "h2 is listed, though it refused the controller"
still_serving "agent refusing the controller"
ok "an agent refuses a controller certificate for another name"

# ---- plain TCP ------------------------------------------------------------------------

refusals() {
	grep -c "agent connection from .* refused" "$T/controller.log"
}
before=$(refusals)
cat > "$T/plain.json" <<EOF
{
  "host": "h3",
  "controller": "127.0.0.1:$AGENT_PORT",
  "insecure_plaintext": true,
  "interval_s": 0.3,
  "reconnect_max_s": 0.5,
  "state_dir": "$T",
  "hypervisor": { "driver": "none" },
  "parking": { "actuator": "none" },
  "power": { "driver": "none" }
}
EOF
"$AGT" -c "$T/plain.json" > "$T/plain.log" 2>&1 &
echo $! > "$T/plain.pid"
more_refusals() { [ "$(refusals)" -gt "$before" ]; }
wait_until 10 more_refusals || fail "a plain-TCP hello was not refused"
in_log "$T/plain.log" "INSECURE" ||
	fail "the plain-TCP agent did not warn: $(head -n 3 "$T/plain.log")"
sleep 1
stop plain
listed h3 && fail "h3 (plain TCP) is listed"
still_serving "plain TCP hello"
ok "a JSON hello in plain TCP dropped: $(grep "refused" "$T/controller.log" | tail -n 1 | sed 's/.*: //')"

# ---- silent peers -------------------------------------------------------------------

# A TLS client with h1's own certificate that completes the handshake and
# then says nothing; and, when a shell with /dev/tcp or python3 is here, a
# TCP client that sends nothing at all.
sleep 9 | openssl s_client -connect "127.0.0.1:$AGENT_PORT" -quiet \
    -CAfile "$T/A/ca.crt" -cert "$T/A/h1.crt" -key "$T/A/h1.key" \
    > "$T/s_client.log" 2>&1 &
echo $! > "$T/s_client.pid"
silent_tcp=
if command -v bash >/dev/null 2>&1; then
	bash -c "exec 3<>/dev/tcp/127.0.0.1/$AGENT_PORT; sleep 9" \
	    > "$T/tcp.log" 2>&1 &
	echo $! > "$T/tcp.pid"
	silent_tcp=bash
elif command -v python3 >/dev/null 2>&1; then
	python3 -c "import socket, time
s = socket.create_connection(('127.0.0.1', $AGENT_PORT)); time.sleep(9)" \
	    > "$T/tcp.log" 2>&1 &
	echo $! > "$T/tcp.pid"
	silent_tcp=python3
fi
t0=$(now_cs)
wait_until 8 in_log "$T/controller.log" "no hello within 5 s" ||
	fail "a silent TLS client was not dropped"
dt=$(( ($(now_cs) - t0) * 10 ))
[ "$dt" -ge 4000 ] || fail "the silent TLS client was dropped after $dt ms"
if [ -n "$silent_tcp" ]; then
	wait_until 3 in_log "$T/controller.log" \
	    "no TLS handshake within 5 s" ||
		fail "a silent TCP client was not dropped"
	ok "silent peers dropped after about 5 s (TLS: $dt ms; TCP via $silent_tcp)"
else
	ok "a silent TLS peer dropped after $dt ms (no bash or python3 for" \
	    "a raw TCP one)"
fi
stop s_client
stop tcp
still_serving "silent peers"

# ---- revocation -----------------------------------------------------------------------

h4_connected() {
	[ "$(host_get h4 connected)" = true ]
}
h4_gone() {
	[ "$(host_get h4 connected)" = false ]
}
agent victim h4 "$T/A" h4
wait_until 10 h4_connected || fail "h4 (A's certificate) was not served"
sh "$EBBCA" revoke "$T/A" h4 > "$T/revoke.out" 2>&1 ||
	die "ebb-ca revoke: $(cat "$T/revoke.out")"
t0=$(now_cs)
wait_until 10 in_log "$T/controller.log" \
    "certificate (/CN=h4) has been revoked" ||
	fail "the controller kept h4's session after its revocation"
wait_until 5 h4_gone || fail "h4 still connected after its revocation"
dt=$(( ($(now_cs) - t0) * 10 ))
wait_until 10 in_log "$T/victim.log" "certificate revoked" ||
	fail "h4 reconnecting was not refused as revoked:" \
	    "$(tail -n 5 "$T/victim.log")"
in_log "$T/controller.log" "read again: 1 revoked" ||
	fail "the controller did not say it read the new list"
# The agent looks at the file at most once a second, at its next report.
wait_until 5 in_log "$T/good.log" "read again: 1 revoked" ||
	fail "h1's agent did not read the new list"
stop victim
still_serving "h4 revoked"
ok "h4 revoked: session ended after $dt ms, reconnections refused"

# ---- throughout -----------------------------------------------------------------------

in_log "$T/good.log" "connection lost" &&
	fail "the good agent lost its connection: $(grep 'connection lost' "$T/good.log")"
in_log "$T/controller.log" "agent h1 disconnected" &&
	fail "the controller dropped h1: $(grep 'h1 disconnected' "$T/controller.log")"
grep -q "INSECURE" "$T/controller.log" "$T/good.log" &&
	fail "a daemon of the fleet runs without TLS"
ok "h1 served throughout; $(refusals) connections refused"

# SIGTERM: status 0 (in a sanitizer build: nothing leaked on the TLS path).
good_pid=$(cat "$T/good.pid")
kill -TERM "$good_pid"
wait_until 10 dead "$good_pid" || fail "the good agent did not stop on SIGTERM"
wait "$good_pid"
rc=$?
rm -f "$T/good.pid"
[ "$rc" -eq 0 ] || fail "the good agent exited $rc on SIGTERM"
kill -TERM "$CTL_PID"
wait_until 10 dead "$CTL_PID" || die "the controller did not stop on SIGTERM"
wait "$CTL_PID"
rc=$?
CTL_PID=
[ "$rc" -eq 0 ] || fail "the controller exited $rc on SIGTERM"
ok "agent and controller stopped with status 0"

if [ "$FAILED" -ne 0 ]; then
	echo "$FAILED check(s) failed" >&2
	exit 1
fi
echo "PASS"
exit 0
