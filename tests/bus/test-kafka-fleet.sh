#!/bin/sh
#
# test-kafka-fleet.sh - the daemons on the Kafka bus (ebb-kafka-mock), and
# the same scenario on tcp: the same decisions must come out of both.
#
# One controller (interval 0.5 s, unknown after 2 s, lease 2 s on kafka,
# policy: switch off empty hosts, never move a VM on its own) and three
# real agents (interval 0.3 s), whose VMs come from libvirt's test driver
# (in-process, no daemon): its migrations fail at once, "not supported",
# which is a command that reaches an agent and a result that comes back.
#   h1  no VM; power driver "command": off kills h1's agent
#   h2  VM web2;  h3  VM db3; no power driver
#
# Checked, on kafka:
#   - the agents' hellos and reports reach the controller: h1..h3 listed,
#     h2 and h3 "on" with one VM each, "dropped" 0 in /api/hosts
#   - the controller takes the lease (a "takeover" decision, done)
#   - h1 is switched off: power-off decision "done", its agent gone
#   - `ebb migrate web2 h3`: the command reaches h2's agent (its log),
#     and its result ends the decision: "failed: ... not supported"
#   - every decision of the journal is on ebb.decisions with its outcome
#     (kcat, when installed)
#   - the agents refused no command as stale
# then on tcp (plain, insecure_plaintext, for the test only):
#   - the same decisions, kinds, subjects and outcomes, takeover aside
#
# The kafka controller acts only once it holds the lease: 2 x lease_s +
# 1 s after it first reached the brokers, as no other holder is seen.

. "$EBB_SRC/tests/bus/lib-kafka.sh"

command -v kcat > /dev/null 2>&1 || echo "kcat not installed: its checks skipped"

write_policy
write_node h1
write_node h2 web2
write_node h3 db3

# ctl_conf LINK DIR: the controller's configuration, LINK being how agents
# reach it (JSON members), its journal in $T/DIR.
ctl_conf() {
	cat > "$T/ctl.json" <<EOF
{
  $1,
  "http": "127.0.0.1:$HTTP_PORT",
  "token_file": "$T/token",
  "policy": "$T/policy.json",
  "journal": "$T/$2/journal.db",
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

kafka_configs() {
	BUS="\"bus\": { \"kind\": \"kafka\", \"brokers\": \"$BOOT\",
	    \"group\": \"$RUN\", \"properties\": { $(kafka_props) } }"
	ctl_conf "$BUS, \"name\": \"ctl-a\", \"lease_s\": 2" kafka
	for h in h1 h2 h3; do
		agent_conf $h "$BUS"
	done
}

# The same fleet on tcp, plain.
tcp_configs() {
	ctl_conf "\"listen\": \"127.0.0.1:$AGENT_PORT\",
	    \"insecure_plaintext\": true" tcp
	for h in h1 h2 h3; do
		agent_conf $h "\"controller\": \"127.0.0.1:$AGENT_PORT\",
		    \"insecure_plaintext\": true"
	done
}

# Runs the scenario against the configurations in place; $1 names the run.
scenario() {
	URL="http://127.0.0.1:$HTTP_PORT"
	rm -f "$T/h1.power"
	start ctl-$1 "$CTL" -c "$T/ctl.json"
	wait_until 10 api_up "$URL" || die "$1: the controller's API is not up"
	for h in h1 h2 h3; do
		start $h "$AGT" -c "$T/$h.json"
		cp "$T/$h.pid" "$T/$h.pid0"
	done
	all_on() {
		state_is "$URL" h2 on && state_is "$URL" h3 on &&
		    [ "$(host_get "$URL" h2 vms)" = 1 ] &&
		    [ "$(host_get "$URL" h3 vms)" = 1 ]
	}
	wait_until 20 all_on ||
		die "$1: h2, h3 not on with a VM each: $("$EBB" hosts --controller "$URL" 2>&1)"
	ok "$1: hosts report, h2 and h3 on with their VMs"
	wait_until 20 state_is "$URL" h1 off ||
		die "$1: h1 not switched off: $(host_get "$URL" h1 state)"
	wait_until 5 dead "$(cat "$T/h1.pid0")" ||
		fail "$1: h1's agent still runs after its power-off"
	rm -f "$T/h1.pid"
	[ "$(outcome "$URL" power-off h1)" = done ] ||
		fail "$1: power-off of h1: $(outcome "$URL" power-off h1)"
	ok "$1: h1 switched off, decision done"

	"$EBB" migrate web2 h3 --controller "$URL" --token-file "$T/token" \
	    > "$T/migrate-$1.out" 2>&1 ||
		fail "$1: ebb migrate web2 h3: $(cat "$T/migrate-$1.out")"
	wait_until 15 decided "$URL" migrate web2 ||
		fail "$1: the migration of web2 was not decided: $(outcome "$URL" migrate web2)"
	case $(outcome "$URL" migrate web2) in
	"failed: "*"migrate web2"*"not supported"*) ;;
	*) fail "$1: migrate web2: $(outcome "$URL" migrate web2)" ;;
	esac
	grep -q "migrat.*web2" "$T/h2.log" ||
		fail "$1: h2's agent never heard of the migration"
	ok "$1: the migrate command reached h2 and its result came back: $(outcome "$URL" migrate web2)"

	decisions "$URL" | awk '$2 != "takeover" { $1 = ""; print }' \
	    > "$T/decisions-$1"
}

stop_all() {
	for n in ctl-$1 h1 h2 h3; do
		[ -f "$T/$n.pid" ] && stop $n
	done
	rm -f "$T"/h?.pid0
}

# ---- kafka ------------------------------------------------------------------

mock_start
HTTP_PORT=$(rand_port)
AGENT_PORT=$(rand_port)
[ "$AGENT_PORT" -eq "$HTTP_PORT" ] && AGENT_PORT=$((HTTP_PORT + 1))
ok "mock cluster at $BOOT"
kafka_configs
scenario kafka

URL="http://127.0.0.1:$HTTP_PORT"
[ "$(outcome "$URL" takeover ctl-a)" = done ] ||
	fail "no takeover decision of ctl-a: $(decisions "$URL")"
for h in h2 h3; do
	[ "$(host_get "$URL" $h dropped)" = 0 ] ||
		fail "$h dropped: $(host_get "$URL" $h dropped)"
done
if grep -q "refused\|stale command\|does not go past" "$T"/h?.log; then
	fail "an agent refused a command: $(grep -h "refused\|stale" "$T"/h?.log)"
fi

if command -v kcat > /dev/null 2>&1; then
	# The latest message of each decision id, as "ID OUTCOME".
	kcat -b "$BOOT" -C -t ebb.decisions -e -q -f '%s\n' 2> "$T/kcat.log" |
	    grep '"type": *"decision"' |
	    sed -e 's/.*"decision": *{"id": *\([0-9]*\),.*"outcome": *"\([^"]*\)".*/\1 \2/' \
	    > "$T/topic"
	decisions "$URL" | while read -r id kind subj out; do
		got=$(awk -v id="$id" '$1 == id { o = $0; sub(/^[^ ]* /, "", o) } END { print o }' "$T/topic")
		[ "$got" = "$out" ] || echo "$id $kind $subj: journal '$out', topic '$got'"
	done > "$T/missing"
	[ -s "$T/missing" ] && fail "decisions not on ebb.decisions as journalled: $(cat "$T/missing")"
	ok "every decision of the journal is on ebb.decisions with its outcome"
fi
stop_all kafka

# ---- tcp --------------------------------------------------------------------

tcp_configs
scenario tcp
stop_all tcp

if ! diff -u "$T/decisions-tcp" "$T/decisions-kafka" > "$T/diff"; then
	fail "tcp and kafka decided differently: $(cat "$T/diff")"
else
	ok "tcp and kafka: the same decisions ($(wc -l < "$T/decisions-tcp"))"
fi
finish
