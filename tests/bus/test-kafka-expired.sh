#!/bin/sh
#
# test-kafka-expired.sh - a command that reaches its agent after the
# valid_until it was sent with is refused as expired, and its controller,
# still acting in the same term, sends it again under the lease as it now
# stands: the decision is carried out, not lost.
#
# One controller (lease 2 s) and two agents on libvirt's test driver (its
# migrations fail at once, "not supported": that failure is the proof that
# the command reached the driver). h2's agent is stopped (SIGSTOP) for
# longer than the lease, `ebb migrate web2 h3` is decided meanwhile, and
# h2 is let go (SIGCONT): its consumer reads a command whose valid_until
# has passed.
#
# Checked:
#   - h2's agent refused the command as expired
#   - the controller sent it again ("sent again under the current lease")
#     and counts it (resent_expired in /metrics)
#   - the decision ends as the driver answered: "failed: ... not supported"

. "$EBB_SRC/tests/bus/lib-kafka.sh"

write_policy
write_node h2 web2
write_node h3 db3
mock_start
ok "mock cluster at $BOOT"
HTTP_PORT=$(rand_port)
URL="http://127.0.0.1:$HTTP_PORT"

cat > "$T/ctl.json" <<EOF
{
  "bus": { "kind": "kafka", "brokers": "$BOOT", "group": "$RUN",
           "properties": { $(kafka_props) } },
  "name": "ctl-a",
  "lease_s": 2,
  "http": "127.0.0.1:$HTTP_PORT",
  "token_file": "$T/token",
  "policy": "$T/policy.json",
  "journal": "$T/journal.db",
  "interval_s": 0.5,
  "unknown_after_s": 30,
  "min_hosts_on": 0,
  "hosts": [ { "name": "h2" }, { "name": "h3" } ]
}
EOF
for h in h2 h3; do
	agent_conf $h "\"bus\": { \"kind\": \"kafka\", \"brokers\": \"$BOOT\",
	    \"group\": \"$RUN\", \"properties\": { $(kafka_props) } }"
done

h2_h3_up
ok "fleet up; the controller acts"

H2=$(cat "$T/h2.pid")
kill -STOP "$H2"
"$EBB" migrate web2 h3 --controller "$URL" --token-file "$T/token" \
    > "$T/migrate.out" 2>&1 || {
	kill -CONT "$H2"
	die "ebb migrate: $(cat "$T/migrate.out")"
}
# Past the valid_until the command left with (at most lease_s ahead).
sleep 4
kill -CONT "$H2"
ok "h2 held 4 s past the decision: $(cat "$T/migrate.out")"

wait_until 15 grep -q "expired command" "$T/h2.log" ||
	fail "h2's agent did not refuse the late command as expired"
wait_until 15 grep -q "as expired; sent again under the current lease" \
    "$T/ctl.log" || fail "the controller did not send the command again"
wait_until 20 decided "$URL" migrate web2 ||
	fail "web2's migration never ended: $(outcome "$URL" migrate web2)"
case $(outcome "$URL" migrate web2) in
"failed: "*"not supported"*) ;;
*) fail "migrate web2: $(outcome "$URL" migrate web2)" ;;
esac
ok "carried out on its second sending: $(outcome "$URL" migrate web2)"
if command -v curl > /dev/null 2>&1; then
	curl -s "$URL/metrics" > "$T/metrics"
	grep -q '^ebb_bus_messages_total{what="resent_expired"} [1-9]' \
	    "$T/metrics" ||
		fail "/metrics: $(grep resent "$T/metrics")"
fi
stop h2
stop h3
stop ctl
finish
