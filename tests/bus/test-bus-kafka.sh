#!/bin/sh
#
# test-bus-kafka.sh - the Kafka bus between processes: ebb-kafka-mock (a
# librdkafka mock cluster, faults injected through its stdin), ebb-bus-tool
# (the bus as the daemons will use it, configured from a file) and kcat.
#
# Checked:
#   - ebb-kafka-mock prints its bootstrap servers and acknowledges each
#     control line ("ok down 1"), refuses a bad one ("error ..."), and exits
#     0 at the end of its stdin
#   - an agent's three reports are delivered; kcat reads them back from
#     ebb.reports, keyed by the host, seq 0..2 in order
#   - the broker down while an agent sends two more: they wait in the
#     buffer and are delivered once it is up again
#   - a controller in a fresh group receives all five, in seq order
#   - a Produce error pushed into the mock makes a controller's decision
#     fail, and the failure reaches the caller (printed, exit 1)
#
# kcat is optional: without it that step is skipped, not the test.

: "${EBB_BIN:?EBB_BIN must name the build tree}"

MOCK="$EBB_BIN/ebb-kafka-mock"
TOOL="$EBB_BIN/ebb-bus-tool"
for f in "$MOCK" "$TOOL"; do
	[ -x "$f" ] || { echo "FAIL: $f is not built" >&2; exit 1; }
done

T=$(mktemp -d "${TMPDIR:-/tmp}/ebb-bus.XXXXXX") || exit 1
MOCK_PID=
cleanup() {
	exec 3>&- 2>/dev/null
	[ -n "$MOCK_PID" ] && kill "$MOCK_PID" 2>/dev/null
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 1' INT TERM

fail() {
	echo "FAIL: $*" >&2
	for f in "$T"/*.out "$T"/*.err; do
		[ -s "$f" ] && { echo "--- $f" >&2; cat "$f" >&2; }
	done
	exit 1
}

# Waits up to $2 tenths of a second for file $1 to hold a line matching $3.
wait_line() {
	i=0
	while ! grep -q -- "$3" "$1" 2>/dev/null; do
		i=$((i + 1))
		[ "$i" -gt "$2" ] && return 1
		sleep 0.1
	done
}

mkfifo "$T/ctl" || exit 1
"$MOCK" -p 2 <"$T/ctl" >"$T/mock.out" 2>"$T/mock.err" &
MOCK_PID=$!
# Opening the fifo for writing lets the mock's stdin open.
exec 3>"$T/ctl"
wait_line "$T/mock.out" 100 ':' || fail "the mock printed no bootstrap servers"
BOOT=$(head -n 1 "$T/mock.out")
echo "mock cluster at $BOOT"

# Short sessions and quick reconnects, as the mock's facts ask.
for who in agent ctl; do
	cat >"$T/$who.json" <<EOF
{"bus": {"kind": "kafka", "brokers": "$BOOT", "group": "sh-$who",
  "buffer_messages": 100,
  "properties": {"session.timeout.ms": 6000, "heartbeat.interval.ms": 500,
    "reconnect.backoff.ms": 50, "reconnect.backoff.max.ms": 500,
    "fetch.wait.max.ms": 50, "linger.ms": 1}}}
EOF
done

# 1. Three reports from h1.
"$TOOL" -c "$T/agent.json" -r agent -H h1 send -n 3 >"$T/send1.out" \
    2>"$T/send1.err" || fail "the first reports were not delivered"
grep -q '^taken 3 delivered 3 failed 0 dropped_full 0$' "$T/send1.out" ||
    fail "unexpected send summary"

# 2. kcat reads them.
if command -v kcat >/dev/null 2>&1; then
	kcat -b "$BOOT" -C -t ebb.reports -e -q -f '%k %s\n' >"$T/kcat.out" \
	    2>"$T/kcat.err" || fail "kcat could not read ebb.reports"
	[ "$(wc -l <"$T/kcat.out")" -eq 3 ] || fail "kcat read no 3 lines"
	for s in 0 1 2; do
		grep -q "^h1 .*\"type\": *\"report\".*\"seq\": *$s[,}]" \
		    "$T/kcat.out" || grep -q "^h1 .*\"seq\": *$s[,}].*\"report\"" \
		    "$T/kcat.out" || fail "kcat lacks report $s of h1"
	done
	echo "kcat read ebb.reports"
else
	echo "kcat not installed: its step skipped"
fi

# 3. The broker goes away while the agent sends; it comes back.
echo "down 1" >&3
wait_line "$T/mock.out" 50 '^ok down 1$' || fail "no ack for down"
"$TOOL" -c "$T/agent.json" -r agent -H h1 send -s 3 -n 2 -w 20 \
    >"$T/send2.out" 2>"$T/send2.err" &
SEND=$!
wait_line "$T/send2.err" 100 'state down' || fail "the agent never said down"
echo "up 1" >&3
wait_line "$T/mock.out" 50 '^ok up 1$' || fail "no ack for up"
wait "$SEND" || fail "the buffered reports were not delivered"
grep -q '^taken 2 delivered 2 failed 0' "$T/send2.out" ||
    fail "unexpected summary after the outage"
grep -q 'state up' "$T/send2.err" || fail "the agent never said up again"
echo "reports buffered through an outage were delivered"

# 4. A controller gets all five, in order.
"$TOOL" -c "$T/ctl.json" -r controller -H ctl recv -n 5 -w 20 \
    >"$T/recv.out" 2>"$T/recv.err" || fail "the controller did not get 5"
seqs=$(sed 's/.*"seq": *\([0-9]*\).*/\1/' "$T/recv.out" | tr '\n' ' ')
[ "$seqs" = "0 1 2 3 4 " ] || fail "seq order at the controller: $seqs"
echo "the controller received seq $seqs"

# 5. A permanent Produce error reaches the caller.
echo "err Produce INVALID_RECORD 1" >&3
wait_line "$T/mock.out" 50 '^ok err Produce INVALID_RECORD 1$' ||
    fail "no ack for err"
echo "err NoSuchApi 1 1" >&3
wait_line "$T/mock.out" 50 '^error err NoSuchApi 1 1: ' ||
    fail "a bad control line was not refused"
if "$TOOL" -c "$T/ctl.json" -r controller -H ctl send -t decisions -k vm1 \
    >"$T/send3.out" 2>"$T/send3.err"; then
	fail "a refused decision was reported delivered"
fi
grep -q '^failed 0 ebb.decisions vm1: ' "$T/send3.out" ||
    fail "the failure did not reach the caller"
echo "a refused decision reached the caller: $(head -n 1 "$T/send3.out")"

# The end of stdin stops the mock.
exec 3>&-
wait "$MOCK_PID" || fail "the mock exited with $?"
MOCK_PID=
echo "PASS"
