#!/bin/sh
#
# test-kafka-standby.sh - two controllers on the Kafka bus, one acting and
# one standing by; the active killed, the standby takes over; the old one
# restarted, it stands by.  Never two actors.
#
# ctl-a and ctl-b share the fleet's configuration (each its own name,
# journal and API port); ctl-b says "standby": true.  Lease 3 s.  Three
# agents on libvirt's test driver: h1 (no VM, a "command" power driver
# that kills its agent), h2 (VM web2), h3 (VM db3).
#
# Checked:
#   - ctl-a takes the lease and acts; ctl-b stands by
#   - h1 is switched off by ctl-a; ctl-b mirrors the decision (with its
#     outcome) and the state: h1 "off" in ctl-b's `ebb hosts`
#   - ctl-b knows where the VMs run (`ebb vms`: web2 on h2, db3 on h3)
#   - ctl-b refuses to change anything: `ebb migrate` on it -> 503
#   - `ebb migrate web2 h3` on ctl-a: decided, its result comes back;
#     ctl-b mirrors it with the same outcome
#   - kill -9 ctl-a: ctl-b takes over (its "takeover" decision) within
#     lease_s + 4 s, and continues: `ebb migrate db3 h2` on ctl-b is a
#     decision of its own, whose command reaches h3's agent (numbered
#     above ctl-a's) and whose result comes back
#   - ctl-a started again on its journal: it stands by (the lease is
#     ctl-b's), refuses changes, and never acts in the next 10 s (more
#     than its own wait before it would claim a free lease), while ctl-b
#     goes on acting; the agents refused no command

. "$EBB_SRC/tests/bus/lib-kafka.sh"

LEASE=3
write_policy
write_node h1
write_node h2 web2
write_node h3 db3
mock_start
ok "mock cluster at $BOOT"
PA=$(rand_port)
PB=$((PA + 1))
UA="http://127.0.0.1:$PA"
UB="http://127.0.0.1:$PB"

BUS="\"bus\": { \"kind\": \"kafka\", \"brokers\": \"$BOOT\",
    \"group\": \"$RUN\", \"properties\": { $(kafka_props) } }"
# ctl_conf NAME PORT STANDBY
ctl_conf() {
	cat > "$T/$1.json" <<EOF
{
  $BUS,
  "name": "$1",
  "standby": $3,
  "lease_s": $LEASE,
  "http": "127.0.0.1:$2",
  "token_file": "$T/token",
  "policy": "$T/policy.json",
  "journal": "$T/$1/journal.db",
  "interval_s": 0.5,
  "unknown_after_s": 2,
  "min_hosts_on": 0,
  "limits": { "host_cooldown_s": 0 },
  "hosts": [
    { "name": "h1", "power": { "driver": "command",
      "off": "echo off >> '$T/h1.power'; kill \$(cat '$T/h1.pid')",
      "on": "echo on >> '$T/h1.power'" } },
    { "name": "h2" }, { "name": "h3" }
  ]
}
EOF
}
ctl_conf ctl-a "$PA" false
ctl_conf ctl-b "$PB" true
for h in h1 h2 h3; do
	agent_conf $h "$BUS"
done

start ctl-a "$CTL" -c "$T/ctl-a.json"
start ctl-b "$CTL" -c "$T/ctl-b.json"
wait_until 10 api_up "$UA" || die "ctl-a's API is not up"
wait_until 10 api_up "$UB" || die "ctl-b's API is not up"
for h in h1 h2 h3; do
	start $h "$AGT" -c "$T/$h.json"
done
wait_until 20 grep -q "this controller acts" "$T/ctl-a.log" ||
	die "ctl-a never took the lease"
wait_until 10 grep -q "lease: held by ctl-a" "$T/ctl-b.log" ||
	fail "ctl-b did not see ctl-a's lease"
grep -q "this controller acts" "$T/ctl-b.log" &&
	fail "ctl-b acts beside ctl-a"
ok "ctl-a acts, ctl-b stands by"

# ---- the standby's picture ------------------------------------------------------

wait_until 15 state_is "$UA" h1 off || fail "ctl-a did not switch h1 off"
wait_until 10 state_is "$UB" h1 off ||
	fail "ctl-b does not see h1 off: $(host_get "$UB" h1 state)"
wait_until 10 decided "$UB" power-off h1 ||
	fail "ctl-b did not mirror h1's power-off"
[ "$(outcome "$UB" power-off h1)" = "$(outcome "$UA" power-off h1)" ] ||
	fail "power-off h1: ctl-a '$(outcome "$UA" power-off h1)', ctl-b '$(outcome "$UB" power-off h1)'"
vm_on() {
	"$EBB" vms --json --controller "$1" 2>/dev/null | tr -d ' \n' |
	    grep -q "\"id\":\"$2\",\"host\":\"$3\""
}
wait_until 10 vm_on "$UB" web2 h2 || fail "ctl-b does not see web2 on h2"
wait_until 10 vm_on "$UB" db3 h3 || fail "ctl-b does not see db3 on h3"
ok "ctl-b mirrors: h1 off (decision $(outcome "$UB" power-off h1)), web2 on h2, db3 on h3"

"$EBB" migrate db3 h2 --controller "$UB" --token-file "$T/token" \
    > "$T/refused.out" 2>&1 &&
	fail "ctl-b took a migration while standing by"
grep -q "503.*stands by" "$T/refused.out" || fail "ctl-b: $(cat "$T/refused.out")"
ok "ctl-b refuses changes: $(head -n 1 "$T/refused.out")"

"$EBB" migrate web2 h3 --controller "$UA" --token-file "$T/token" \
    > "$T/m1.out" 2>&1 || fail "ebb migrate web2 h3 on ctl-a: $(cat "$T/m1.out")"
wait_until 15 decided "$UA" migrate web2 ||
	fail "ctl-a: web2's migration not decided"
wait_until 10 decided "$UB" migrate web2 ||
	fail "ctl-b did not mirror web2's migration and its outcome"
[ "$(outcome "$UB" migrate web2)" = "$(outcome "$UA" migrate web2)" ] ||
	fail "migrate web2: ctl-a '$(outcome "$UA" migrate web2)', ctl-b '$(outcome "$UB" migrate web2)'"
ok "ctl-a migrated web2 (result: $(outcome "$UA" migrate web2)); ctl-b has it too"

# ---- takeover -----------------------------------------------------------------

stop ctl-a KILL
t0=$(now_cs)
wait_until $((LEASE + 6)) grep -q "this controller acts" "$T/ctl-b.log" ||
	die "ctl-b did not take over within $((LEASE + 6)) s"
dt=$(( ($(now_cs) - t0) * 10 ))
[ "$dt" -le $(( (LEASE + 4) * 1000 )) ] ||
	fail "ctl-b took over after $dt ms, more than lease_s + 4 s"
[ "$(outcome "$UB" takeover ctl-b)" = done ] ||
	fail "ctl-b has no takeover decision: $(decisions "$UB")"
ok "ctl-a killed; ctl-b took over after $dt ms: $(grep -h "this controller acts" "$T/ctl-b.log")"

"$EBB" migrate db3 h2 --controller "$UB" --token-file "$T/token" \
    > "$T/m2.out" 2>&1 || fail "ebb migrate db3 h2 on ctl-b: $(cat "$T/m2.out")"
wait_until 15 decided "$UB" migrate db3 ||
	fail "ctl-b: db3's migration not decided"
case $(outcome "$UB" migrate db3) in
"failed: "*"migrate db3"*"not supported"*) ;;
*) fail "ctl-b: migrate db3: $(outcome "$UB" migrate db3)" ;;
esac
ok "ctl-b goes on: migrate db3 decided, its result came back: $(outcome "$UB" migrate db3)"

# ---- the old active comes back ----------------------------------------------------

start ctl-a "$CTL" -c "$T/ctl-a.json"
wait_until 10 api_up "$UA" || die "ctl-a's API is not up again"
wait_until 15 grep -q "lease: held by ctl-b" "$T/ctl-a.log" ||
	fail "ctl-a, restarted, did not see ctl-b's lease"
sleep 10
n=$(grep -c "this controller acts" "$T/ctl-a.log")
[ "$n" -eq 1 ] || fail "ctl-a, restarted, acts again ($n takeovers in its log)"
grep -q "holds it now\|not confirmed" "$T/ctl-b.log" &&
	fail "ctl-b stopped acting: $(grep -h "lease" "$T/ctl-b.log" | tail -n 3)"
"$EBB" migrate db3 h2 --controller "$UA" --token-file "$T/token" \
    > "$T/refused2.out" 2>&1 &&
	fail "ctl-a, restarted, took a migration"
grep -q "503.*ctl-b holds the lease" "$T/refused2.out" ||
	fail "ctl-a, restarted: $(cat "$T/refused2.out")"
n=$(grep -c "this controller acts" "$T/ctl-b.log")
[ "$n" -eq 1 ] || fail "ctl-b took over $n times"
ok "ctl-a restarted stands by; ctl-b still the one actor"

if grep -q "stale command\|expired command\|does not go past" "$T"/h?.log; then
	fail "an agent refused a command: $(grep -h "stale\|expired\|go past" "$T"/h?.log)"
fi
stop ctl-a
stop ctl-b
stop h2
stop h3
finish
