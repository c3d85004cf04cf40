#!/bin/sh
#
# test-kafka-outage.sh - the brokers go away and come back while the fleet
# runs on the Kafka bus (ebb-kafka-mock's "down all" / "up all"): no
# decision is lost, and the agents tell what they dropped.
#
# One controller (lease 2 s; message.timeout.ms 2000, so that what waits
# in its bus's buffer through the outage fails and must be sent again from
# its outbox) and two agents, h2 (VM web2) and h3 (VM db3), on libvirt's
# test driver, with a buffer of 5 messages (bus.buffer_messages), reports
# every 0.3 s.
#
# Checked:
#   - before: h2 and h3 "on"
#   - `down all`, then at once `ebb migrate web2 h3`: decided (202) while
#     the lease still holds; its command and decision cannot leave
#   - the controller says its bus gave messages up and keeps them, and
#     stops acting once its lease is not confirmed
#   - `up all`: the controller acts again, the command reaches h2's agent
#     (its result ends the decision "failed: ... not supported")
#   - the agents' buffers overflowed: a report on ebb.reports carries
#     "dropped", and `ebb hosts --json` shows it grown for h2 and h3,
#     as /metrics does (ebb_host_dropped_total, when curl is there)
#   - every decision of the journal is on ebb.decisions, each with the
#     outcome the journal has (kcat)
#   - the brokers down again, `ebb migrate db3 h2` decided, the controller
#     killed (-9) before the brokers had the decision, `up all`, the
#     controller started again on its journal: once it holds the lease it
#     publishes again what was not delivered, and every decision of the
#     journal, db3's included, is on ebb.decisions as journalled
#
# kcat reads the topics; without it the test is skipped.

. "$EBB_SRC/tests/bus/lib-kafka.sh"

command -v kcat > /dev/null 2>&1 || { echo "SKIP: needs kcat"; exit 77; }

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
           "properties": { $(kafka_props), "message.timeout.ms": 2000 } },
  "name": "ctl-a",
  "lease_s": 4,
  "http": "127.0.0.1:$HTTP_PORT",
  "token_file": "$T/token",
  "policy": "$T/policy.json",
  "journal": "$T/journal.db",
  "interval_s": 0.5,
  "unknown_after_s": 2,
  "min_hosts_on": 0,
  "hosts": [ { "name": "h2" }, { "name": "h3" } ]
}
EOF
for h in h2 h3; do
	agent_conf $h "\"bus\": { \"kind\": \"kafka\", \"brokers\": \"$BOOT\",
	    \"group\": \"$RUN\", \"buffer_messages\": 5,
	    \"properties\": { $(kafka_props) } }"
done

h2_h3_up
# What a start under a small buffer may already have dropped.
D2=$(host_get "$URL" h2 dropped)
D3=$(host_get "$URL" h3 dropped)
ok "fleet up: h2, h3 on; the controller acts (dropped so far: $D2, $D3)"

# ---- the outage -------------------------------------------------------------

mock "down all"
"$EBB" migrate web2 h3 --controller "$URL" --token-file "$T/token" \
    > "$T/migrate.out" 2>&1 ||
	die "ebb migrate at the start of the outage: $(cat "$T/migrate.out")"
ok "brokers down; web2 -> h3 decided: $(cat "$T/migrate.out")"
wait_until 10 grep -q "kept, and sent again" "$T/ctl.log" ||
	fail "the controller's bus gave up nothing: nothing was kept"
wait_until 10 grep -q "lease: not confirmed" "$T/ctl.log" ||
	fail "the controller kept acting without its lease confirmed"
for h in h2 h3; do
	wait_until 10 grep -q "unreachable" "$T/$h.log" ||
		fail "$h's bus never said the brokers were unreachable"
done
sleep 2
ok "outage: messages kept, the controller stopped acting"
mock "up all"

wait_until 20 grep -q "lease: confirmed again; acting" "$T/ctl.log" ||
	fail "the controller did not act again after the outage"
wait_until 20 decided "$URL" migrate web2 ||
	fail "web2's migration never ended: $(outcome "$URL" migrate web2)"
case $(outcome "$URL" migrate web2) in
"failed: "*"migrate web2"*"not supported"*) ;;
*) fail "migrate web2 after the outage: $(outcome "$URL" migrate web2)" ;;
esac
ok "after the outage the command reached h2: $(outcome "$URL" migrate web2)"

dropped_grew() {
	_d=$(host_get "$URL" "$1" dropped)
	[ -n "$_d" ] && [ "$_d" -gt "$2" ]
}
wait_until 10 dropped_grew h2 "$D2" ||
	fail "h2: /api/hosts shows dropped $(host_get "$URL" h2 dropped)"
wait_until 10 dropped_grew h3 "$D3" ||
	fail "h3: /api/hosts shows dropped $(host_get "$URL" h3 dropped)"
kcat -b "$BOOT" -C -t ebb.reports -e -q -f '%k %s\n' 2> "$T/kcat.log" |
    grep '"dropped": *[1-9]' > "$T/dropped" ||
	fail "no report on ebb.reports carries a dropped count"
ok "drops told: h2 $(host_get "$URL" h2 dropped), h3 $(host_get "$URL" h3 dropped); $(wc -l < "$T/dropped") report(s) carry them"
if command -v curl > /dev/null 2>&1; then
	curl -s "$URL/metrics" > "$T/metrics"
	grep -q '^ebb_host_dropped_total{host="h2"} [1-9]' "$T/metrics" ||
		fail "/metrics: $(grep dropped "$T/metrics")"
	grep -q '^ebb_bus_messages_total{what="resent"} [1-9]' "$T/metrics" ||
		fail "/metrics: nothing resent: $(grep ebb_bus "$T/metrics")"
fi

# ---- nothing lost ---------------------------------------------------------------

# Let the last outcomes leave, then read the topic: the newest message of
# each decision id, as "ID OUTCOME".
sleep 1
kcat -b "$BOOT" -C -t ebb.decisions -e -q -f '%s\n' 2>> "$T/kcat.log" |
    grep '"type": *"decision"' |
    sed -e 's/.*"decision": *{"id": *\([0-9]*\),.*"outcome": *"\([^"]*\)".*/\1 \2/' \
    > "$T/topic"
decisions "$URL" > "$T/journal"
[ -s "$T/journal" ] || fail "the journal holds no decision"
while read -r id kind subj out; do
	got=$(awk -v id="$id" '$1 == id { o = $0; sub(/^[^ ]* /, "", o) } END { print o }' "$T/topic")
	[ "$got" = "$out" ] || echo "$id $kind $subj: journal '$out', topic '$got'"
done < "$T/journal" > "$T/missing"
if [ -s "$T/missing" ]; then
	fail "decisions not on ebb.decisions as journalled: $(cat "$T/missing")"
else
	ok "all $(wc -l < "$T/journal") decisions of the journal are on ebb.decisions with their outcomes"
fi
# ---- a crash with a decision in the buffer ---------------------------------------

# The brokers go away again, a decision is made while the lease holds, and
# the controller dies before the brokers have it: the journal has it, and
# the controller, started again, publishes it when it takes the lease.
mock "down all"
"$EBB" migrate db3 h2 --controller "$URL" --token-file "$T/token" \
    > "$T/migrate2.out" 2>&1 ||
	die "ebb migrate before the crash: $(cat "$T/migrate2.out")"
stop ctl KILL
mock "up all"
ok "db3 -> h2 decided, the controller killed before the brokers had it"
start ctl "$CTL" -c "$T/ctl.json"
wait_until 10 api_up "$URL" || die "the controller did not start again"
acted_twice() {
	[ "$(grep -c "this controller acts" "$T/ctl.log")" -ge 2 ]
}
wait_until 30 acted_twice || die "the restarted controller never acted"
grep -q "published again" "$T/ctl.log" ||
	fail "the restarted controller published nothing again"
sleep 1
kcat -b "$BOOT" -C -t ebb.decisions -e -q -f '%s\n' 2>> "$T/kcat.log" |
    grep '"type": *"decision"' |
    sed -e 's/.*"decision": *{"id": *\([0-9]*\),.*"outcome": *"\([^"]*\)".*/\1 \2/' \
    > "$T/topic"
decisions "$URL" > "$T/journal"
grep -q " migrate db3 " "$T/journal" || fail "the journal lost db3's decision"
while read -r id kind subj out; do
	got=$(awk -v id="$id" '$1 == id { o = $0; sub(/^[^ ]* /, "", o) } END { print o }' "$T/topic")
	[ "$got" = "$out" ] || echo "$id $kind $subj: journal '$out', topic '$got'"
done < "$T/journal" > "$T/missing"
if [ -s "$T/missing" ]; then
	fail "after the crash, not on ebb.decisions as journalled: $(cat "$T/missing")"
else
	ok "after the crash: all $(wc -l < "$T/journal") decisions on ebb.decisions, db3's among them"
fi
stop ctl
stop h2
stop h3
finish
