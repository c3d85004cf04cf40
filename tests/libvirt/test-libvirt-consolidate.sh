#!/bin/sh
# test-libvirt-consolidate.sh - the closed loop on libvirt hosts: the
# controller decides, libvirt migrates live, a host is powered off, and the
# guest never notices more than a pause.
#
# Three "hosts" from lib-hosts.sh: h1 and h2 run libvirtd, an ebb-agent
# (hypervisor.driver "libvirt") and one ebb-guest domain each (TCG, a
# heartbeat on COM1 every 10 ms of guest time); h3 runs ebb-controller
# only.  Agents and controller talk TLS with certificates from
# scripts/ebb-ca.  Both hosts idle, so the default policy drains one of
# them: the test waits for
#   - a "migrate" decision whose outcome is "done", carried out by
#     libvirt (virDomainMigrateToURI3, peer-to-peer over the source's
#     libvirtd to the target's unix socket, data over tcp://10.77.0.K);
#   - both domains running on the target and none on the source;
#   - a "power-off" decision "done" for the emptied host, carried out by
#     the "command" power driver, which stops that host (host_power_off);
#   - the migrated guest's heartbeat unbroken across the move: h-source's
#     serial log followed by h-target's continues seq by seq, no CORRUPT;
#   - `ebb why` answering for the host that stayed on.
# The guests run no memory dirtier: QEMU 7.2's TCG dirty-tracking bug
# (docs/libvirt-testbed.md) shows only under one, and this test is about
# the loop, not about QEMU.  Needs root; 77 = skipped.

set -u

: "${EBB_SRC:?EBB_SRC: the source tree}"
# shellcheck source=lib-test.sh
. "$EBB_SRC/tests/libvirt/lib-test.sh"

guest=$EBB_BIN/ebb-guest
lh_require || exit 77
for f in "$guest" "$EBB_BIN/ebb-agent" "$EBB_BIN/ebb-controller" \
    "$EBB_BIN/ebb"; do
	[ -x "$f" ] || [ -f "$f" ] || { echo "skipped: $f is not built"; exit 77; }
done
command -v openssl >/dev/null || { echo "skipped: no openssl(1)"; exit 77; }

lt_on_exit hosts_down LH_TMP 25 controller.log 'agent-h*.log' power.log \
    'h*/log/libvirtd.log' 'h*/log/qemu/*.log'

hosts_up 3 || die "the testbed did not come up"
T=$LH_TMP
ok "h1, h2, h3 up"

# ---- certificates, configs --------------------------------------------------
ca=$T/ca
sh "$EBB_SRC/scripts/ebb-ca" init "$ca" >/dev/null &&
    sh "$EBB_SRC/scripts/ebb-ca" host "$ca" h1 h2 >/dev/null &&
    sh "$EBB_SRC/scripts/ebb-ca" controller "$ca" controller \
    "$(host_addr 3)" >/dev/null || die "ebb-ca failed"
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/token"

# The power driver's commands run from the controller (in h3): they step
# back into the namespaces of this script (the machine's own) and act on
# the testbed there.
power() { # power on|off H
	printf 'nsenter -t %s -n -m -u -- sh -c %s' "$$" "'. $EBB_SRC/tests/libvirt/lib-hosts.sh && hosts_attach $T && host_power_$1 $2' >>$T/power.log 2>&1"
}

# The hosts share one kernel, so each agent reports its host's load from
# its VMs' CPU time (cpu_source "vms"): /proc/stat is the whole machine's,
# and a busy CI machine would look like two overloaded hosts trading VMs
# back and forth.  A VM moves at most once in 120 s.
cat >"$T/controller.json" <<EOF
{
  "listen": "$(host_addr 3):7400",
  "http": "$(host_addr 3):7401",
  "token_file": "$T/token",
  "journal": "$T/journal.db",
  "policy": "$EBB_SRC/examples/policies/default.json",
  "interval_s": 1,
  "unknown_after_s": 20,
  "boot_timeout_s": 60,
  "min_hosts_on": 1,
  "limits": { "migrations_total": 2, "migrations_per_host": 1,
              "vm_cooldown_s": 120, "host_cooldown_s": 0 },
  "tls": { "ca": "$ca/ca.crt", "cert": "$ca/controller.crt",
           "key": "$ca/controller.key" },
  "hosts": [
    { "name": "h1", "power": { "driver": "command",
      "on": "$(power on 1)", "off": "$(power off 1)" } },
    { "name": "h2", "power": { "driver": "command",
      "on": "$(power on 2)", "off": "$(power off 2)" } }
  ]
}
EOF
for k in 1 2; do
	cat >"$T/agent-h$k.json" <<EOF
{
  "host": "h$k",
  "controller": "$(host_addr 3):7400",
  "interval_s": 1,
  "reconnect_max_s": 2,
  "state_dir": "$T/agent-h$k",
  "cpu_source": "vms",
  "hypervisor": { "driver": "libvirt", "uri": "qemu:///system",
                  "peer_uri": "$(host_uri $k)",
                  "migrate_addr": "$(host_migrate_uri $k)",
                  "downtime_ms": 500 },
  "parking": { "enabled": true, "actuator": "affinity", "min_cores": 1 },
  "tls": { "ca": "$ca/ca.crt", "cert": "$ca/h$k.crt", "key": "$ca/h$k.key",
           "server_name": "controller" }
}
EOF
done

# ---- the guests -----------------------------------------------------------------
for k in 1 2; do
	lh_domain_xml "vm$k" "$guest" "beat=10" >"$T/vm$k.xml" ||
	    die "lh_domain_xml failed"
	host_virsh $k define "$T/vm$k.xml" >/dev/null &&
	    host_virsh $k start "vm$k" >/dev/null ||
	    die "vm$k does not start on h$k"
done
for k in 1 2; do
	lh_wait_beats "$(host_serial $k vm$k)" 20 30 ||
	    die "vm$k on h$k does not beat"
done
ok "vm1 beats on h1, vm2 on h2"

# ---- the daemons ------------------------------------------------------------
host_run 3 "$T/controller.log" "$EBB_BIN/ebb-controller" -c "$T/controller.json"
for k in 1 2; do
	host_run $k "$T/agent-h$k.log" "$EBB_BIN/ebb-agent" -c "$T/agent-h$k.json"
done
api="http://$(host_addr 3):7401"
e() { host_exec 3 "$EBB_BIN/ebb" --controller "$api" "$@"; }

decision_done() { # KIND
	e decisions --json 2>/dev/null >"$T/decisions.json" &&
	    grep -q "\"kind\": *\"$1\"" "$T/decisions.json" &&
	    python3 - "$T/decisions.json" "$1" <<'EOF'
import json, sys
ds = json.load(open(sys.argv[1]))
ds = ds.get("decisions", ds) if isinstance(ds, dict) else ds
sys.exit(0 if any(d.get("kind") == sys.argv[2] and
                  str(d.get("outcome", "")).startswith("done")
                  for d in ds) else 1)
EOF
}
lh_until 60 decision_done migrate ||
    die "no migration was decided and done within 60 s"
ok "the controller decided a migration and libvirt carried it out"
lh_until 60 decision_done power-off ||
    die "the emptied host was not powered off within 60 s"
ok "the emptied host was powered off"

# Which way did it go?  The target runs both domains.
src= dst=
for k in 1 2; do
	n=$(host_virsh $k list --name 2>/dev/null | grep -c vm || true)
	[ "$n" -eq 2 ] && dst=$k
done
[ -n "$dst" ] || die "no host runs both VMs"
src=$((3 - dst))
moved=vm$src
ok "$moved moved h$src -> h$dst; h$dst runs vm1 and vm2"

# The heartbeat across the move: the source's serial log, then the
# target's, one stream of seq numbers without a gap or a repeat.
lh_wait_beats "$(host_serial $dst $moved)" 50 30 ||
    fail "$moved does not beat on h$dst after the move"
if cat "$(host_serial $src $moved)" "$(host_serial $dst $moved)" |
    tr -d '\r' | awk '
	/CORRUPT/ { print "CORRUPT: " $0; bad = 1 }
	$1 == "HB" && $2 ~ /^[0-9]+$/ {
		if (n && $2 != last + 1) {
			print "gap: " last " -> " $2; bad = 1
		}
		last = $2; n++
	}
	END { print "beats " n " last " last; exit bad }' >"$T/beats.out"; then
	ok "heartbeat unbroken across the migration ($(tail -1 "$T/beats.out"))"
else
	fail "heartbeat broken across the migration: $(head -3 "$T/beats.out")"
fi

# The journal says why the other host stayed on.
e why "h$dst" >"$T/why.out" 2>&1 || fail "ebb why h$dst failed"
[ -s "$T/why.out" ] && ok "ebb why h$dst: $(head -1 "$T/why.out")"
e hosts >"$T/hosts.out" 2>&1 && cat "$T/hosts.out"

lt_end test-libvirt-consolidate
