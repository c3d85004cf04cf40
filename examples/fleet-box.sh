#!/bin/sh
# fleet-box.sh - the fleet in a box: a small ebb fleet on one machine, with
# real libvirt hosts, real live migrations, and hosts that really go down
# and come back, driven by a time-compressed utilization trace.
#
#   sh examples/fleet-box.sh [BUILD_DIR]    (as root; default BUILD_DIR: build)
#
# What runs (tests/libvirt/lib-hosts.sh makes the hosts: network, mount and
# UTS namespaces, each with its own libvirtd):
#   - h1..hK (K = 4), each with an ebb-agent (hypervisor.driver "libvirt",
#     "cpu_source": "vms", TLS with certificates from scripts/ebb-ca) and 2
#     VMs at the start: ebb-guest, 1 vCPU, 64 MiB, QEMU TCG, replaying a
#     utilization trace (trace=) with a heartbeat on COM1 every 10 ms;
#   - h(K+1) with ebb-controller only, a round a second, whose "command"
#     power driver switches h1..hK off (host_power_off: every process of
#     the host killed) and on again (host_power_on, then the agent).
# With FLEET_BUS=kafka the agents and the controller meet on Kafka topics
# instead of the TLS link (docs/bus.md): librdkafka's mock cluster
# (tests/tools/ebb-kafka-mock) runs on h(K+1), and since it binds and
# advertises 127.0.0.1 only, tests/tools/ebb-relay carries the bus across
# the bridge: on h(K+1) from its address to the mock, on each hK from
# 127.0.0.1 to h(K+1) (restarted with the agent when a host comes back).
# Each VM's trace is one of `ebb trace gen` (or, when the PlanetLab days
# are beside the checkout, a file of $EBB_SHARED_DIR/data/planetlab/DAY/),
# one sample a second, brought to a fleet-wide envelope: quiet for the first
# FLEET_RISE % of the run (the fleet consolidates, hosts go down), then a
# rise to FLEET_PEAK_PCT % a VM until FLEET_FALL % (hosts come back, VMs
# spread out), then quiet again.  Each VM keeps its own trace's ups and
# downs around the envelope.
#
# It prints what happens (every migration with the time it took and its
# downtime, every power-off and power-on, where the VMs are every 10 s) and
# ends with exactly one JSON line:
#   {"energy_kwh":..., "baseline_kwh":..., "migrations":...,
#    "hosts_powered_down":..., "hosts_powered_up":..., "vms_lost":...,
#    "vms_duplicated":..., "corrupt":..., "bus":"tcp"|"kafka"}
#   energy_kwh, baseline_kwh  the controller's own estimate, integrated
#       here over the DURATION seconds from the controller's start: its
#       per-round fleet watts and no-consolidation baseline from GET
#       /api/series (each host's power curve at the utilization it
#       reports, off hosts 0 W and switching ones idle; the baseline has
#       every host on, at its reported utilization or idle).  Each
#       round's figure holds until the next round, as the controller sums
#       them;
#   migrations               migrate decisions done;
#   hosts_powered_down, _up  power-off / power-on decisions done (a
#                            power-on is done when the agent says hello);
#   vms_lost                 VMs running on no host at the end;
#   vms_duplicated           VMs seen running on two hosts at once: every
#                            host's `virsh list` twice a second, all hosts
#                            at the same time, and asked again at once
#                            when a VM shows up on two;
#   corrupt                  CORRUPT and FAULT lines plus heartbeat
#                            sequence gaps in every VM's serial output on
#                            all the hosts it visited, concatenated in visit
#                            order (those right after a move are also named
#                            when they have the signature of QEMU < 9's
#                            known TCG migration bug; counted all the same;
#                            gaps that come only from the watcher having
#                            missed a stay, every seq being there exactly
#                            once, are said and not counted);
#   bus                      how agents and controller talked (FLEET_BUS).
# After DURATION the controller's policy is replaced (PUT /api/policy) by
# one that moves nothing and switches nothing, the migrations in flight
# end, and then the VMs are counted where they are.
#
# Environment: FLEET_BUS (tcp, or kafka: above), DURATION (90 s),
# FLEET_HOSTS (4), FLEET_VMS_PER_HOST (2),
# FLEET_SPS (1 s per trace sample), FLEET_QUIET_PCT (5), FLEET_PEAK_PCT
# (15), FLEET_RISE (55) and FLEET_FALL (80) in % of DURATION, FLEET_SEED
# (1), FLEET_CORES (1, below), FLEET_POLICY (a policy file; default: the
# box policy below), FLEET_LEAD_S (15: the controller starts that long
# after the first VM), EBB_SHARED_DIR (../shared beside the checkout),
# FLEET_PLANETLAB_DAY (the first day there), EBB_KEEP_TMP=1 (keep the
# logs, serial files, journal and configs), LH_TMP (a folder of at most 60
# characters to work in, left in place; default: a new one, removed).
#
# The hosts share the machine's cores and kernel.  Each host shows
# FLEET_CORES cores (lib-hosts' LH_CORES: a still /proc/stat with that
# many cpu lines) and its agent takes the host's busy time from its VMs'
# CPU time, so the controller sees 1-core hosts loaded by their VMs.
# The box policy is the default policy (examples/policies/default.json,
# "ebb-band") with the overload band at 60 % instead of 90 %: the guests
# share two cores with everything else on the machine, and the CPU time
# they get stops following their traces well before one core is busy (see
# docs/benchmarks.md), so with the 90 % band the rise would not overload
# any host here.
#
# Not root, or libvirt/QEMU/curl missing: it says why and exits 77 (make
# demo then runs the simulator demo instead).

set -u
LC_ALL=C
export LC_ALL

build=${1:-${EBB_BIN:-build}}
case $build in
/*) ;;
*) build=$PWD/$build ;;
esac
EBB_BIN=$build
EBB_SRC=${EBB_SRC:-$(cd "$(dirname "$0")/.." && pwd)}
export EBB_SRC EBB_BIN

DURATION=${DURATION:-90}
K=${FLEET_HOSTS:-4}
PER=${FLEET_VMS_PER_HOST:-2}
SPS=${FLEET_SPS:-1}
QUIET=${FLEET_QUIET_PCT:-5}
PEAK=${FLEET_PEAK_PCT:-15}
RISE=${FLEET_RISE:-55}
FALL=${FLEET_FALL:-80}
SEED=${FLEET_SEED:-1}
LEAD=${FLEET_LEAD_S:-15}
POLICY=${FLEET_POLICY:-}
BUS=${FLEET_BUS:-tcp}
SHARED=${EBB_SHARED_DIR:-$(dirname "$EBB_SRC")/shared}
NV=$((K * PER))
C=$((K + 1))			# the controller's host
# The hosts' power curve (HP ProLiant ML110 G5, SPECpower: W at 0..100 %),
# for the controller's estimate and the agents' model alike.
POWER_W="93.7, 97, 101, 105, 110, 116, 121, 125, 129, 133, 135"

say() {
	printf 'fleet-box: %s\n' "$*"
}
die() {
	say "$*" >&2
	exit 1
}

# lib-hosts reads LH_CORES when it is sourced.
# shellcheck disable=SC2034
LH_CORES=${FLEET_CORES:-1}
# shellcheck source=tests/libvirt/lib-hosts.sh
. "$EBB_SRC/tests/libvirt/lib-hosts.sh"

# ---- can it run here? -------------------------------------------------------
if ! why=$(lh_require); then
	say "cannot run a fleet of libvirt hosts here: ${why#skipped: }"
	say "(make demo runs the simulator demo instead)"
	exit 77
fi
kafka_bins=
[ "$BUS" != kafka ] || kafka_bins="ebb-kafka-mock ebb-relay ebb-bus-kafka.so"
for f in ebb-guest ebb-agent ebb-controller ebb $kafka_bins; do
	if [ ! -f "$EBB_BIN/$f" ]; then
		say "$EBB_BIN/$f is not built (make build)"
		exit 77
	fi
done
for c in openssl curl timeout; do
	if ! command -v $c >/dev/null 2>&1; then
		say "needs $c(1), which is not installed"
		exit 77
	fi
done
case $BUS in
tcp | kafka) ;;
*) die "FLEET_BUS is tcp or kafka, not '$BUS'" ;;
esac
case $DURATION.$K.$PER.$LEAD in
*[!0-9.]*) die "DURATION, FLEET_HOSTS, FLEET_VMS_PER_HOST and FLEET_LEAD_S are whole numbers" ;;
esac
if [ "$K" -lt 2 ] || [ "$PER" -lt 1 ] || [ "$DURATION" -lt 20 ]; then
	die "needs FLEET_HOSTS >= 2, FLEET_VMS_PER_HOST >= 1, DURATION >= 20"
fi

# ---- the box ------------------------------------------------------------------
T=
POLLER=
# shellcheck disable=SC2317 # run by the trap
cleanup() {
	rc=$?
	if [ -n "$POLLER" ]; then
		: >"$T/stop"
		kill "$POLLER" 2>/dev/null
		wait "$POLLER" 2>/dev/null
	fi
	if [ "$rc" -ne 0 ] && [ "$rc" -ne 77 ] && [ -n "$LH_TMP" ]; then
		for f in "$LH_TMP"/controller.log "$LH_TMP"/agent-h*.log \
		    "$LH_TMP"/power.log "$LH_TMP"/mock.log; do
			[ -s "$f" ] || continue
			echo "---- ${f#"$LH_TMP"/} (last 15 lines)" >&2
			tail -n 15 "$f" >&2
		done
	fi
	[ -n "${EBB_KEEP_TMP:-}" ] && [ -n "$LH_TMP" ] &&
	    say "kept $LH_TMP" >&2
	hosts_down
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 1' INT TERM HUP

now_ms() {
	lh_now_ms
}
# at: "+12.3s", the time since the controller started.
at() {
	awk -v n="$(now_ms)" -v t="$TC_MS" \
	    'BEGIN { printf "%7s", sprintf("+%.1fs", (n - t) / 1000) }'
}
secs_since() { # MS: whole seconds since MS
	echo $((($(now_ms) - $1) / 1000))
}

START_MS=$(now_ms)
say "bringing up $K hosts and a controller host (namespaces, a libvirtd each)"
hosts_up "$C" || die "the hosts did not come up"
T=$LH_TMP
api="http://$(host_addr $C):7401"
say "hosts up in $(secs_since "$START_MS") s"

# ---- traces ---------------------------------------------------------------------
# N samples: the lead-in, the run, and a quiet tail for the slack around it.
N=$(awk -v d="$DURATION" -v l="$LEAD" -v s="$SPS" \
    'BEGIN { printf "%d", (l + d + 60) / s + 1 }')
mkdir -p "$T/traces" "$T/raw"
day=
if [ -n "${FLEET_PLANETLAB_DAY:-}" ]; then
	day=$SHARED/data/planetlab/$FLEET_PLANETLAB_DAY
elif [ -d "$SHARED/data/planetlab" ]; then
	for d in "$SHARED/data/planetlab"/*/; do
		[ -d "$d" ] && { day=${d%/}; break; }
	done
fi
if [ -n "$day" ] && [ -d "$day" ]; then
	# The first NV files of the day with any load at all, from their
	# first sample, repeated when shorter than N.
	i=0
	for f in "$day"/*; do
		[ "$i" -lt "$NV" ] || break
		[ -f "$f" ] || continue
		awk '$1 > 0 { found = 1 } END { exit !found }' "$f" || continue
		i=$((i + 1))
		awk -v n="$N" '{ x[NR] = $1 } END {
			for (k = 0; k < n; k++) print x[k % NR + 1] + 0 }' \
		    "$f" >"$T/raw/vm$i"
	done
	[ "$i" -eq "$NV" ] || die "$day has fewer than $NV traces"
	src="PlanetLab $(basename "$day")"
else
	"$EBB_BIN/ebb" trace gen --out "$T/gen" --vms "$NV" --samples "$N" \
	    --seed "$SEED" >/dev/null || die "ebb trace gen failed"
	i=0
	for f in "$T/gen"/vm*; do
		i=$((i + 1))
		cp "$f" "$T/raw/vm$i"
	done
	src="synthetic (ebb trace gen --seed $SEED; no PlanetLab days in $SHARED/data/planetlab)"
fi

# shape_trace VM OFFSET_S: VM's trace brought to the envelope, for a guest
# that boots OFFSET_S seconds before the controller starts.  Sample x of a
# raw trace whose mean is m becomes level(t) * (1 + min(x / m, 3)) / 2
# (between half and twice the level, with the trace's own ups and downs),
# t being the time since the controller started; level is QUIET before
# the run and after it, rises over 6 % of the run from RISE % to PEAK,
# and falls back from FALL %.
shape_trace() {
	awk -v sps="$SPS" -v d="$DURATION" -v q="$QUIET" -v p="$PEAK" \
	    -v rise="$RISE" -v fall="$FALL" -v off="$2" '
	{ x[NR] = $1; s += $1 }
	END {
		m = s / NR; if (m < 0.5) m = 0.5
		r0 = d * rise / 100; f0 = d * fall / 100; ramp = d * 0.06
		for (k = 1; k <= NR; k++) {
			t = (k - 1) * sps - off
			if (t < r0 || t >= f0 + ramp) l = q
			else if (t < r0 + ramp) l = q + (p - q) * (t - r0) / ramp
			else if (t < f0) l = p
			else l = p - (p - q) * (t - f0) / ramp
			r = x[k] / m
			if (r > 3) r = 3
			v = l * (1 + r) / 2
			if (v < 1) v = 1
			if (v > 95) v = 95
			printf "%d\n", v + 0.5
		}
	}' "$T/raw/$1"
}
say "traces: $src; $N samples of $SPS s; ${QUIET} % a VM, ${PEAK} % from $((DURATION * RISE / 100)) s to $((DURATION * FALL / 100)) s"

# ---- certificates, policy, configurations ------------------------------------------------
ca=$T/ca
hosts=
k=1
while [ $k -le "$K" ]; do
	hosts="$hosts h$k"
	k=$((k + 1))
done
# shellcheck disable=SC2086 # a list of names
if [ "$BUS" = tcp ] && ! { sh "$EBB_SRC/scripts/ebb-ca" init "$ca" &&
    sh "$EBB_SRC/scripts/ebb-ca" host "$ca" $hosts &&
    sh "$EBB_SRC/scripts/ebb-ca" controller "$ca" controller \
    "$(host_addr $C)"; } >"$T/ca.log" 2>&1; then
	die "ebb-ca failed: $(tail -3 "$T/ca.log")"
fi
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/token"

if [ -z "$POLICY" ]; then
	# The box policy: default.json's, with a 60 % overload band (see the
	# head of this file).
	POLICY=$T/policy.json
	cat >"$POLICY" <<'EOF'
{
  "name": "ebb-band-box",
  "description": "ebb-band (default.json) with a 60% overload band, for 1-core hosts that share a small machine (examples/fleet-box.sh)",
  "overload": { "detector": "band", "threshold": 0.6, "safety": 1.0,
                "fallback_threshold": 0.6, "min_history": 12, "window": 10,
                "band_high": 0.6, "confidence": 0.5 },
  "selection": { "method": "mmt", "seed": 42 },
  "placement": { "order": "efficiency", "max_util": 1.0 },
  "underload": { "enabled": true, "max_util": 0.3, "exclude_targets": true,
                 "max_hosts": 0 },
  "power": { "switch_off_empty": true, "reserve_hosts": 0, "min_hosts_on": 1 }
}
EOF
fi
"$EBB_BIN/ebb" policy check "$POLICY" >"$T/check.out" 2>&1 ||
    die "policy $POLICY: $(cat "$T/check.out")"

# ---- the bus ------------------------------------------------------------------
# FLEET_BUS=kafka: the mock cluster on h$C, and relays (see the head of
# this file).  The mock stops at the end of its stdin: it reads a fifo
# opened read-write, which never ends (and takes its control lines, should
# anyone want to take a broker down).  The relays' pairs follow the mock's
# bootstrap list, one per broker; each relay prints "ready" once it
# listens.  RELAY_ARGS is an agent host's pairs, for power.sh too.
RELAY_ARGS=
BOOT=
if [ "$BUS" = kafka ]; then
	mkfifo "$T/mock.in" || die "mkfifo $T/mock.in"
	host_run $C "$T/mock.out" sh -c "exec '$EBB_BIN/ebb-kafka-mock' -p 4 \
	    <>'$T/mock.in' 2>'$T/mock.log'"
	end=$(($(now_ms) + 10000))
	until grep -q ':' "$T/mock.out" 2>/dev/null; do
		[ "$(now_ms)" -lt "$end" ] ||
		    die "the Kafka mock printed no bootstrap list: $(cat "$T/mock.log")"
		sleep 0.1
	done
	BOOT=$(head -n 1 "$T/mock.out")
	ctl_pairs=
	for b in $(echo "$BOOT" | tr ',' ' '); do
		ctl_pairs="$ctl_pairs $(host_addr $C):${b##*:} $b"
		RELAY_ARGS="$RELAY_ARGS $b $(host_addr $C):${b##*:}"
	done
	relay_ready() { # LOG
		end=$(($(now_ms) + 5000))
		until grep -qx ready "$1" 2>/dev/null; do
			[ "$(now_ms)" -lt "$end" ] ||
			    die "no relay: $(cat "$1")"
			sleep 0.05
		done
	}
	# shellcheck disable=SC2086 # lists of addresses
	host_run $C "$T/relay-h$C.log" "$EBB_BIN/ebb-relay" -v $ctl_pairs
	relay_ready "$T/relay-h$C.log"
	k=1
	while [ $k -le "$K" ]; do
		# shellcheck disable=SC2086
		host_run $k "$T/relay-h$k.1.log" "$EBB_BIN/ebb-relay" -v \
		    $RELAY_ARGS
		relay_ready "$T/relay-h$k.1.log"
		k=$((k + 1))
	done
	say "Kafka mock on h$C at $BOOT, relayed to the hosts over the bridge"
fi

# The power driver's commands: the controller runs them inside h$C; they
# step back into this script's namespaces (nsenter -t $$) and act on the
# box from there.  A host that comes back gets its libvirtd, then its
# agent, in a session of its own (setsid): the controller kills a power
# command's process group when it times out, and the agent must outlive
# the command that started it.  Each boot's agent logs to a file of its own.
# On kafka the host's relay went down with it: it comes back first, so
# that the agent's first connection finds it.
cat >"$T/power.sh" <<EOF
#!/bin/sh
# power.sh on|off K: host hK's power, for ebb-controller's command driver.
EBB_SRC='$EBB_SRC'
RELAY_ARGS='$RELAY_ARGS'
. "\$EBB_SRC/tests/libvirt/lib-hosts.sh"
hosts_attach '$T'
exec >>'$T/power.log' 2>&1
echo "\$(date +%T) power \$1 h\$2"
case \$1 in
off)
	host_power_off "\$2"
	;;
on)
	host_power_on "\$2" || exit 1
	n=1
	while [ -e '$T'/agent-h\$2.\$n.log ]; do
		n=\$((n + 1))
	done
	if [ -n "\$RELAY_ARGS" ]; then
		host_run "\$2" '$T'/relay-h\$2.\$n.log setsid \\
		    '$EBB_BIN/ebb-relay' -v \$RELAY_ARGS
		i=0
		until grep -qx ready '$T'/relay-h\$2.\$n.log || [ \$i -ge 100 ]
		do
			sleep 0.05
			i=\$((i + 1))
		done
	fi
	host_run "\$2" '$T'/agent-h\$2.\$n.log setsid '$EBB_BIN/ebb-agent' \\
	    -c '$T'/agent-h\$2.json
	;;
esac
EOF
power() { # on|off K
	printf 'nsenter -t %s -n -m -u -- sh %s %s %s' "$$" "$T/power.sh" "$1" "$2"
}

# How agents and controller meet, as JSON members of their configurations.
# tcp: the controller listens on h$C, TLS both ways.  kafka: the bus (no
# listen, controller address or TLS: refused there), with what the tests
# on the mock use (tests/bus/lib-kafka.sh: short sessions, so that a
# powered-off agent's group is free again 6 s later; quick reconnects),
# groups of this run's own, and a 4 s lease: the controller acts 2 x 4 + 1
# s after it first reaches the brokers, and holds on while a renewal (every
# 4/3 s) is read back within 4 s on a busy machine.
bus_json() {
	printf '{ "kind": "kafka", "brokers": "%s", "group": "ebb-box%s",\n' \
	    "$BOOT" "$LH_TAG"
	printf '           "properties": { "session.timeout.ms": 6000, '
	printf '"heartbeat.interval.ms": 500,\n'
	printf '             "reconnect.backoff.ms": 50, '
	printf '"reconnect.backoff.max.ms": 500,\n'
	printf '             "fetch.wait.max.ms": 50, "linger.ms": 1 } }'
}
ctl_link() {
	if [ "$BUS" = kafka ]; then
		cat <<EOF
  "bus": $(bus_json),
  "name": "ctl-a", "lease_s": 4,
EOF
	else
		cat <<EOF
  "listen": "$(host_addr $C):7400",
  "tls": { "ca": "$ca/ca.crt", "cert": "$ca/controller.crt",
           "key": "$ca/controller.key" },
EOF
	fi
}
agent_link() { # K
	if [ "$BUS" = kafka ]; then
		echo "  \"bus\": $(bus_json),"
	else
		cat <<EOF
  "controller": "$(host_addr $C):7400",
  "reconnect_max_s": 2,
  "tls": { "ca": "$ca/ca.crt", "cert": "$ca/h$1.crt", "key": "$ca/h$1.key",
           "server_name": "controller" },
EOF
	fi
}

# The controller: a round a second; at most 4 migrations at a time, 2 per
# host; a VM stays 10 s where it went, a host 10 s in the power state it
# was put in (a host here boots in about 5 s).
{
	cat <<EOF
{
$(ctl_link)
  "http": "$(host_addr $C):7401",
  "token_file": "$T/token",
  "journal": "$T/journal.db",
  "policy": "$POLICY",
  "interval_s": 1,
  "unknown_after_s": 10,
  "boot_timeout_s": 60,
  "min_hosts_on": 1,
  "limits": { "migrations_total": 4, "migrations_per_host": 2,
              "vm_cooldown_s": 10, "host_cooldown_s": 10 },
  "default_host": { "pe_mips": 2660, "power_w": [$POWER_W] },
  "hosts": [
EOF
	k=1
	while [ $k -le "$K" ]; do
		sep=,
		[ $k -lt "$K" ] || sep=
		cat <<EOF
    { "name": "h$k", "power": { "driver": "command",
      "on": "$(power on $k)", "off": "$(power off $k)" } }$sep
EOF
		k=$((k + 1))
	done
	echo "  ]"
	echo "}"
} >"$T/controller.json"
k=1
while [ $k -le "$K" ]; do
	cat >"$T/agent-h$k.json" <<EOF
{
  "host": "h$k",
$(agent_link $k)
  "interval_s": 1,
  "state_dir": "$T/agent-h$k",
  "cpu_source": "vms",
  "hypervisor": { "driver": "libvirt", "uri": "qemu:///system",
                  "peer_uri": "$(host_uri $k)",
                  "migrate_addr": "$(host_migrate_uri $k)",
                  "downtime_ms": 300 },
  "parking": { "enabled": false },
  "power": { "driver": "none", "model_w": [$POWER_W] }
}
EOF
	k=$((k + 1))
done
"$EBB_BIN/ebb-controller" -c "$T/controller.json" --check-config \
    >"$T/check.out" 2>&1 || die "controller config: $(cat "$T/check.out")"
"$EBB_BIN/ebb-agent" -c "$T/agent-h1.json" --check-config \
    >"$T/check.out" 2>&1 || die "agent config: $(cat "$T/check.out")"

# ---- the VMs ----------------------------------------------------------------------
# vmN on h((N-1)/PER+1), the hosts in parallel.  Each VM's trace is cut at
# its start so that every guest's trace time has the controller's start at
# T0 + LEAD (a guest reads its trace when it boots).
T0_MS=$(now_ms)
start_vms() { # K
	j=1
	while [ $j -le "$PER" ]; do
		i=$((($1 - 1) * PER + j))
		off=$(awk -v l="$LEAD" -v n="$(now_ms)" -v t="$T0_MS" \
		    'BEGIN { print l - (n - t) / 1000 }')
		shape_trace "vm$i" "$off" >"$T/traces/vm$i" &&
		    lh_domain_xml "vm$i" "$EBB_BIN/ebb-guest" \
		    "trace=vm$i,$SPS beat=10" 64 1 "$T/traces/vm$i" \
		    >"$T/vm$i.xml" &&
		    host_virsh "$1" define "$T/vm$i.xml" >/dev/null &&
		    host_virsh "$1" start "vm$i" >/dev/null || {
			echo "vm$i does not start on h$1" >>"$T/start.err"
			return 1
		}
		j=$((j + 1))
	done
}
k=1
pids=
while [ $k -le "$K" ]; do
	start_vms $k 2>"$T/start-h$k.log" &
	pids="$pids $!"
	k=$((k + 1))
done
# shellcheck disable=SC2086 # a list of pids
wait $pids
[ ! -s "$T/start.err" ] ||
    die "$(cat "$T/start.err"): $(cat "$T"/start-h*.log | tail -3)"
i=1
while [ $i -le "$NV" ]; do
	k=$(((i - 1) / PER + 1))
	f=$(host_serial $k "vm$i")
	while [ "$(grep -c '^HB ' "$f" 2>/dev/null || true)" -lt 10 ]; do
		[ "$(secs_since "$T0_MS")" -lt 40 ] ||
		    die "vm$i on h$k does not beat: $(head -c 300 "$f")"
		sleep 0.1
	done
	i=$((i + 1))
done
late=$(($(secs_since "$T0_MS") - LEAD))
if [ "$late" -gt 0 ]; then
	say "the VMs took $late s longer than FLEET_LEAD_S=$LEAD to start: their traces run up to $late s ahead"
else
	sleep $((-late))
fi
say "$NV VMs beating ($PER on each of$hosts); setup took $(secs_since "$START_MS") s"

# ---- the daemons --------------------------------------------------------------------
TC_MS=$(now_ms)
TC_W=$(date +%s.%N)
host_run $C "$T/controller.log" "$EBB_BIN/ebb-controller" -c "$T/controller.json"
k=1
while [ $k -le "$K" ]; do
	host_run $k "$T/agent-h$k.1.log" "$EBB_BIN/ebb-agent" -c "$T/agent-h$k.json"
	k=$((k + 1))
done
say "controller on h$C ($api, policy $(basename "$POLICY")), agents on$hosts, on the $BUS bus; running $DURATION s"

# ---- the watcher --------------------------------------------------------------------
# Twice a second or as fast as the machine allows: the size of every serial
# file, then every host's `virsh list`, all hosts at once.  Sizes first: a
# VM that is not running on a host at two lists in a row wrote nothing
# there in between, so the size taken between those lists is where its
# next stay there begins.  A VM running on two hosts is asked about again
# at once, so that a move that ended between two hosts' lists does not
# pass for two copies.  Few processes a round (the machine is small and
# busy): the clock is read by the shell, virsh gives up on a silent
# libvirtd by itself (keepalive), and one awk reads everything.
# Poll log lines: P ms | S host vm bytes | H host up|down|err |
# V host vm state | D vm host... (confirmed) | d vm host... | E
now_ms_sh() { # the shell's own monotonic milliseconds, into $now
	read -r now _ </proc/uptime
	now=$(( ${now%.*} * 1000 + 1${now#*.}0 - 1000 ))
}
list_hosts() { # K...: $T/poll/K.out, and K.st: up, down or err
	lp=
	for lk in "$@"; do
		if [ -S "$T/h$lk/run/libvirt-sock" ]; then
			virsh -q -k 1 -K 3 -c "qemu+unix:///system?socket=$T/h$lk/run/libvirt-sock" \
			    list >"$T/poll/$lk.out" 2>/dev/null &
			lp="$lp $lk:$!"
		else
			echo down >"$T/poll/$lk.st"
		fi
	done
	for x in $lp; do
		if wait "${x#*:}"; then
			echo up
		else
			echo err
		fi >"$T/poll/${x%:*}.st"
	done
}
poll_loop() {
	all=
	k=1
	while [ $k -le "$K" ]; do
		all="$all $k"
		k=$((k + 1))
	done
	while [ ! -e "$T/stop" ]; do
		now_ms_sh
		set -- "$T"/h*/log/qemu/vm*.serial
		if [ -e "$1" ]; then
			stat -c '%n %s' "$@" >"$T/poll/stat" 2>/dev/null
		else
			: >"$T/poll/stat"
		fi
		# shellcheck disable=SC2086
		list_hosts $all
		awk -v now="$now" -v hosts="$all" -v dir="$T/poll" '
		BEGIN {
			print "P", now
			while ((getline l < (dir "/stat")) > 0) {
				n = split(l, a, " "); p = a[1]
				sub(/\/log\/qemu\//, " ", p); sub(/\.serial$/, "", p)
				sub(/.*\/h/, "", p)
				print "S", p, a[n]
			}
			split(hosts, hs, " ")
			for (i in hs) {
				k = hs[i]; st = "err"
				getline st < (dir "/" k ".st")
				print "H", k, st
				if (st != "up") continue
				while ((getline l < (dir "/" k ".out")) > 0) {
					split(l, a, " ")
					if (a[3] == "") continue
					print "V", k, a[2], a[3]
					if (a[3] == "running") { on[a[2]] = on[a[2]] " " k; nr[a[2]]++ }
				}
			}
			for (v in nr)
				if (nr[v] > 1) print "twice", v on[v]
		}' >"$T/poll/round"
		grep -v '^twice ' "$T/poll/round"
		if grep -q '^twice ' "$T/poll/round"; then
			# shellcheck disable=SC2046
			list_hosts $(sed -n 's/^twice [^ ]* //p' "$T/poll/round" |
			    tr ' ' '\n' | sort -u)
			sed -n 's/^twice //p' "$T/poll/round" | while read -r v hs; do
				n=0
				for lk in $hs; do
					[ "$(cat "$T/poll/$lk.st")" = up ] &&
					    awk -v v="$v" '$2 == v && $3 == "running" { f = 1 }
					    END { exit !f }' "$T/poll/$lk.out" &&
					    n=$((n + 1))
				done
				if [ $n -gt 1 ]; then
					echo "D $v $hs"
				else
					echo "d $v $hs"
				fi
			done
		fi
		echo "E"
		sleep 0.3
	done
}
mkdir -p "$T/poll"
poll_loop >"$T/poll.log" 2>/dev/null &
POLLER=$!

# Each host as the controller sees it (state, busy) with the VMs its
# libvirtd listed at the last complete poll: "h1 on 34%: vm1 vm2 ...".
placement() {
	host_exec $C "$EBB_BIN/ebb" --controller "$api" hosts 2>/dev/null |
	    awk -v K="$K" '
	FILENAME == "-" { if (FNR > 1) { st[$1] = $2; busy[$1] = $4 }; next }
	$1 == "P" { delete on; for (k = 1; k <= K; k++) on[k] = "" }
	$1 == "V" { on[$2] = on[$2] " " $3 ($4 == "running" ? "" : "(" $4 ")") }
	$1 == "E" {
		line = ""
		for (k = 1; k <= K; k++) {
			h = "h" k
			w = (h in st) ? st[h] : "?"
			if (w == "on" || w == "draining" || w == "empty")
				w = w " " busy[h]
			line = line sprintf("  %s %s:%s", h, w,
			    on[k] == "" ? " -" : on[k])
		}
		last = line
	}
	END { print last }' - "$T/poll.log"
}

# The decisions, one a line, tab-separated: id kind subject from to
# outcome ts updated_ts reason (from `ebb decisions --json`); 1 when the
# controller did not answer (three tries).
decisions_tsv() {
	for try in 1 2 3; do
		host_exec $C "$EBB_BIN/ebb" --controller "$api" decisions \
		    --json --limit 10000 >"$T/decisions.json" \
		    2>"$T/decisions.err" && break
		[ $try -lt 3 ] || return 1
		sleep 0.3
	done
	awk '
	function val(s) {
		sub(/^[^:]*: */, "", s); sub(/,$/, "", s)
		if (s ~ /^"/) {
			s = substr(s, 2, length(s) - 2); gsub(/\\"/, "\"", s)
		}
		return s
	}
	/^  \{/ { delete f; next }
	/^  \}/ {
		printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", f["id"], f["kind"],
		    f["subject"], f["from"], f["to"], f["outcome"], f["ts"],
		    f["updated_ts"], f["reason"]
		next
	}
	/^ +"[a-z_]+": / {
		k = $0; sub(/^ +"/, "", k); sub(/".*/, "", k)
		if (!(k in f)) f[k] = val($0)
	}' "$T/decisions.json"
}

# Every migration's time and downtime as its source's agent logged them,
# "host vm elapsed_s downtime_ms", each host's in the order it logged them.
agent_migrations() {
	k=1
	while [ $k -le "$K" ]; do
		n=1
		while [ -f "$T/agent-h$k.$n.log" ]; do
			sed -n "s/.*migration of \([^ ]*\) done: \([0-9.]*\) s, downtime \([0-9.]*\) ms.*/h$k \1 \2 \3/p" \
			    "$T/agent-h$k.$n.log"
			n=$((n + 1))
		done
		k=$((k + 1))
	done
}

# The decisions that have an outcome, readable, "id<TAB>line": each
# migration with the time from decision to outcome and the downtime its
# source's agent measured (the n-th migration of VM from H that is done is
# the n-th that H's agent logged as done for VM).
events() {
	decisions_tsv >"$T/decisions.tsv" || return 1
	agent_migrations >"$T/agent-migrations.txt"
	awk -F '\t' -v t0="$TC_W" '
	FILENAME ~ /agent-migrations/ {
		split($0, a, " ")
		key = a[1] " " a[2]
		dt[key, ++ndt[key]] = a[4]
		next
	}
	$6 == "pending" { next }
	{
		when = sprintf("%7s", sprintf("+%.1fs", $7 - t0))
		took = $8 - $7
		if ($2 == "migrate") {
			line = sprintf("%s  migrate    %-5s %s -> %s  ", when,
			    $3, $4, $5)
			if ($6 == "done") {
				key = $4 " " $3
				j = ++used[key]
				line = line sprintf("done in %.1f s", took)
				if (j <= ndt[key])
					line = line sprintf(", downtime %d ms",
					    dt[key, j])
			} else
				line = line $6
			line = line "  (" $9 ")"
		} else if ($2 == "power-on" && $6 == "done")
			line = sprintf("%s  power-on   %s  done: its agent said hello %.1f s later  (%s)",
			    when, $3, took, $9)
		else if ($2 == "power-off" && $6 == "done")
			line = sprintf("%s  power-off  %s  done in %.1f s  (%s)",
			    when, $3, took, $9)
		else
			line = sprintf("%s  %-10s %s  %s  (%s)", when, $2, $3,
			    $6, $9)
		print $1 "\t" line
	}' "$T/agent-migrations.txt" "$T/decisions.tsv"
}

: >"$T/printed"
print_events() {
	events >"$T/events.txt" 2>/dev/null || return 0
	while IFS='	' read -r id line; do
		grep -qx "$id" "$T/printed" && continue
		echo "$id" >>"$T/printed"
		printf '  %s\n' "$line"
	done <"$T/events.txt"
}

END_MS=$((TC_MS + DURATION * 1000))
next_status=$((TC_MS + 3000))
while [ "$(now_ms)" -lt "$END_MS" ]; do
	sleep 2
	print_events
	if [ "$(now_ms)" -ge "$next_status" ]; then
		printf '  %s %s\n' "$(at)" "$(placement)"
		next_status=$((next_status + 10000))
	fi
done
TE_W=$(date +%s.%N)
printf '  %s %s\n' "$(at)" "$(placement)"

# ---- the end ---------------------------------------------------------------------
# The fleet stops moving: the controller's policy is replaced (through its
# API, with the token; journalled as a "policy" decision) by one that
# finds no host overloaded or underloaded and switches nothing off.  Then
# the migrations in flight end (at most 40 s), and the watcher's lists
# show every VM running on one host and nothing paused (at most 20 s): a
# VM between two hosts is neither lost nor found yet.
cat >"$T/freeze.json" <<'EOF'
{
  "name": "fleet-box-end",
  "description": "the end of a fleet-box run: nothing overloaded, nothing drained, nothing switched off",
  "overload": { "detector": "thr", "threshold": 1.0 },
  "underload": { "enabled": false },
  "power": { "switch_off_empty": false, "reserve_hosts": 0, "min_hosts_on": 1 }
}
EOF
host_exec $C curl -sf -X PUT -H "Authorization: Bearer $(cat "$T/token")" \
    -H 'Content-Type: application/json' --data-binary "@$T/freeze.json" \
    "$api/api/policy" >/dev/null ||
    say "could not replace the controller's policy: the fleet may still move"
END2_MS=$(($(now_ms) + 40000))
pending() { # a migration in flight, or no answer from the controller
	decisions_tsv >"$T/decisions.tsv" || return 0
	awk -F '\t' '$6 == "pending" && $2 == "migrate" { p = 1 }
	    END { exit !p }' "$T/decisions.tsv"
}
while [ "$(now_ms)" -lt "$END2_MS" ] && pending; do
	sleep 0.5
done
print_events
settled() { # the last complete poll: each VM running on one host, none paused
	awk -v nv="$NV" '
	$1 == "P" { delete n; bad = 0 }
	$1 == "V" { if ($4 == "running") n[$3]++; else bad = 1 }
	$1 == "E" {
		ok = !bad
		for (i = 1; i <= nv; i++) if (n["vm" i] != 1) ok = 0
		last = ok
	}
	END { exit !last }' "$T/poll.log"
}
END2_MS=$(($(now_ms) + 20000))
until settled || [ "$(now_ms)" -ge "$END2_MS" ]; do
	sleep 0.5
done
sleep 1.5		# a poll or two more
: >"$T/stop"
wait "$POLLER" 2>/dev/null
POLLER=

# The energy: the controller's series (its watts and baseline each round,
# each holding until the next round; a gap of over 3 rounds is not
# counted, as the controller does), from its start to the end of the run.
host_exec $C curl -sf "$api/api/series" >"$T/series.json" ||
    die "cannot read $api/api/series"
# shellcheck disable=SC2046 # three numbers
set -- $(awk -v t0="$TC_W" -v t1="$TE_W" '
function arr(name,   s) {
	s = $0
	if (!match(s, "\"" name "\":\\[[^]]*\\]")) return ""
	return substr(s, RSTART + length(name) + 4, RLENGTH - length(name) - 5)
}
{
	n = split(arr("t"), t, ",")
	split(arr("watts"), w, ",")
	split(arr("baseline_w"), b, ",")
	iv = $0; sub(/.*"interval_s":/, "", iv); iv = iv + 0
	for (i = 2; i <= n; i++) {
		a = t[i - 1] + 0; z = t[i] + 0
		if (a < t0 || a >= t1) continue
		if (z > t1) z = t1
		if (z - a <= 0 || t[i] - a > 3 * iv) continue
		e += w[i - 1] * (z - a); base += b[i - 1] * (z - a); rounds++
	}
	printf "%.6f %.6f %d\n", e / 3.6e6, base / 3.6e6, rounds
}' "$T/series.json")
energy_kwh=${1:-0} baseline_kwh=${2:-0} rounds=${3:-0}

# The VMs' stays: a stay of VM on host K is a time it was listed by K
# and ran there at least once; stays in the order the VM first ran in
# them, each from the size K's serial file had while the VM was last not
# running on K (two lists in a row), to the start of the VM's next stay on
# K or the end of the file.  "unsure" when that size is older than the
# VM's previous stay on K (it came back too fast to be sure).
awk -v K="$K" -v nv="$NV" -v t0="$TC_MS" '
$1 == "P" { now = $2; delete st; delete pres; delete run; delete size; next }
$1 == "S" { size[$2, $3] = $4; next }
$1 == "H" { st[$2] = $3; next }
$1 == "V" { pres[$2, $3] = 1; if ($4 == "running") run[$2, $3] = 1; next }
function hosts(   s, j) {
	for (j = 3; j <= NF; j++) s = s (j > 3 ? "," : "") "h" $j
	return s
}
$1 == "D" { if (!dup[$2]++) printf "DUP %s %.1f %s\n", $2, (now - t0) / 1000, hosts(); next }
$1 == "d" { printf "RACE %s %.1f %s\n", $2, (now - t0) / 1000, hosts(); next }
$1 == "E" {
	for (i = 1; i <= nv; i++) {
		vm = "vm" i
		for (k = 1; k <= K; k++) {
			if (st[k] == "err") {	# nothing known: no conclusion
				quiet2[k, vm] = 0
				continue
			}
			p = ((k, vm) in pres); r = ((k, vm) in run)
			if (!r) {
				if (quiet2[k, vm]) { abs[k, vm] = size[k, vm] + 0; abst[k, vm] = now }
				quiet2[k, vm] = 1
			} else
				quiet2[k, vm] = 0
			if (!p) { stay[k, vm] = 0; continue }
			if (r && !stay[k, vm]) {
				stay[k, vm] = 1
				n = ++nvis[vm]
				vh[vm, n] = k; vs[vm, n] = abs[k, vm] + 0
				if (left[k, vm] && abst[k, vm] <= left[k, vm])
					printf "UNSURE %s h%d %.1f\n", vm, k, (now - t0) / 1000
			}
			if (stay[k, vm]) left[k, vm] = now
			if (r) lastrun[vm] = k
		}
	}
	for (i = 1; i <= nv; i++) {
		vm = "vm" i; running[vm] = 0
		for (k = 1; k <= K; k++) if ((k, vm) in run) running[vm]++
	}
	next
}
END {
	for (i = 1; i <= nv; i++) {
		vm = "vm" i
		for (j = 1; j <= nvis[vm]; j++) {
			end = -1
			for (l = j + 1; l <= nvis[vm]; l++)
				if (vh[vm, l] == vh[vm, j]) { end = vs[vm, l]; break }
			printf "SEG %s %d %d %d\n", vm, vh[vm, j], vs[vm, j], end
		}
		printf "FINAL %s %d %d\n", vm, running[vm] + 0, lastrun[vm] + 0
	}
}' "$T/poll.log" >"$T/visits.txt"

# Each VM's output, stay after stay, checked: every CORRUPT line, every
# FAULT line (the guest died) and every heartbeat whose seq is not the
# previous one's + 1 is a fault.  A fault within the first 3 lines after a
# move that is a seq going back (one the guest printed already), a
# CORRUPT or a FAULT is what QEMU before 9.0 does under TCG when a live
# migration loses guest writes (docs/libvirt-testbed.md): counted all the
# same, and named as such when this QEMU is one of those.
qemu_major=$(qemu-system-x86_64 --version 2>/dev/null |
    sed -n 's/^QEMU emulator version \([0-9]*\)\..*/\1/p')
stalled=0 lost=0
: >"$T/beats.txt"
: >"$T/faults.txt"
i=1
while [ $i -le "$NV" ]; do
	vm=vm$i
	path=
	bounds=
	at_byte=0
	: >"$T/$vm.stream"
	grep "^SEG $vm " "$T/visits.txt" >"$T/$vm.segs"
	while read -r _ _ k s e; do
		f=$(host_serial "$k" "$vm")
		path="$path h$k"
		bounds="$bounds $at_byte"
		[ -f "$f" ] || continue
		if [ "$e" -ge 0 ]; then
			tail -c +$((s + 1)) "$f" | head -c $((e - s))
		else
			tail -c +$((s + 1)) "$f"
		fi >>"$T/$vm.stream"
		at_byte=$(wc -c <"$T/$vm.stream")
	done <"$T/$vm.segs"
	# shellcheck disable=SC2046 # two numbers
	set -- $(awk -v vm="$vm" '$1 == "FINAL" && $2 == vm { print $3, $4 }' \
	    "$T/visits.txt")
	[ "${1:-0}" -ge 1 ] || lost=$((lost + 1))
	# Still beating: its file on the host it last ran on grows.
	f=$(host_serial "${2:-0}" "$vm")
	s1=$(wc -c <"$f" 2>/dev/null || echo 0)
	sleep 0.3
	s2=$(wc -c <"$f" 2>/dev/null || echo 0)
	beating=yes
	[ "$s2" -gt "$s1" ] || { beating=no; stalled=$((stalled + 1)); }
	# bounds: where each stay but the first begins in the stream.
	awk -v vm="$vm" -v path="$path" -v beating="$beating" \
	    -v bounds="${bounds# 0}" -v faults="$T/faults.txt" '
	BEGIN { nb = split(bounds, b, " "); j = 1; since = 99 }
	function fault(what, near) {
		if (near) {
			known++
			what = what ", right after a move"
		}
		if (nf < 5)
			msg[++nf] = sprintf("  %s: %s (line %d of its output)",
			    vm, what, NR)
	}
	{
		pos += length($0) + 1
		sub(/\r$/, "")
		# A stay begins within this line (or in the last bytes of the
		# one before): the lines from here are the first after a move.
		while (j <= nb && b[j] < pos) { j++; since = 0 }
		since++
	}
	/CORRUPT|FAULT/ { bad++; fault($0, since <= 3) }
	$1 == "HB" && $2 ~ /^[0-9]+$/ {
		if (n && $2 != last + 1) {
			gaps++
			fault(sprintf("heartbeat %d -> %d", last, $2),
			    $2 <= last && since <= 3)
		}
		last = $2; n++
		if (seen[$2 + 0]++) twice++
		if (n == 1 || $2 + 0 < lo) lo = $2 + 0
		if ($2 + 0 > hi) hi = $2 + 0
	}
	END {
		# Gaps, but every seq from the first to the last there exactly
		# once and no CORRUPT or FAULT: in the order the guest printed
		# them there is no gap at all; the watcher put the stays out of
		# order (it missed one).  Not a fault of the guest: said, not
		# counted.
		for (q = lo; q <= hi; q++) if (!(q in seen)) missing++
		if (gaps && !twice && !missing && !bad) {
			printf "  %s: %d gaps in the order the watcher saw its stays, but every seq from %d to %d is there exactly once: the watcher missed a stay, the guest missed no beat\n",
			    vm, gaps, lo, hi >>faults
			gaps = known = 0
			last = hi
		} else
			for (q = 1; q <= nf; q++) print msg[q] >>faults
		printf "%s %d %d %d %d %d %s%s\n", vm, n, last, gaps, bad,
		    known, beating, path
	}' "$T/$vm.stream" >>"$T/beats.txt"
	i=$((i + 1))
done
dups=$(grep -c '^DUP ' "$T/visits.txt")
corrupt=$(awk '{ s += $4 + $5 } END { print s + 0 }' "$T/beats.txt")
known=$(awk '{ s += $6 } END { print s + 0 }' "$T/beats.txt")

# ---- the report ------------------------------------------------------------------
decisions_tsv >"$T/decisions.tsv" ||
    die "the controller does not answer: $(cat "$T/decisions.err")"
agent_migrations >"$T/agent-migrations.txt"
count() { # KIND: how many of its decisions are done
	awk -F '\t' -v k="$1" '$2 == k && $6 == "done" { n++ } END { print n + 0 }' \
	    "$T/decisions.tsv"
}
median() { # FIELD of agent-migrations.txt
	awk -v f="$1" '{ print $f }' "$T/agent-migrations.txt" | sort -n | awk '
	{ x[NR] = $1 }
	END {
		if (NR == 0) print "-"
		else if (NR % 2) print x[(NR + 1) / 2]
		else print (x[NR / 2] + x[NR / 2 + 1]) / 2
	}'
}
migrations=$(count migrate)
downs=$(count power-off)
ups=$(count power-on)
notdone=$(awk -F '\t' '$6 != "done" { n++ } END { print n + 0 }' \
    "$T/decisions.tsv")
dt_max=$(awk '$4 > m { m = $4 } END { print m + 0 }' "$T/agent-migrations.txt")
# Power-ons that brought nothing: a host woken and switched off again with
# no migration to it in between, and the host-seconds it drew idle power
# for that (from the power-on decision to the power-off decision's end).
idle_w=${POWER_W%%,*}
wasted=$(sort -n "$T/decisions.tsv" | awk -F '\t' -v w="$idle_w" '
	$2 == "power-on" && $6 == "done" { on[$3] = $7; used[$3] = 0; next }
	$2 == "migrate" && $6 == "done" { used[$5] = 1; next }
	$2 == "power-off" && $6 == "done" && ($3 in on) {
		if (!used[$3]) { n++; s += $8 - on[$3] }
		delete on[$3]
	}
	END { printf "%d %.0f %.6f\n", n, s, s * w / 3.6e6 }')

echo
say "heartbeats (beats, last seq, gaps, CORRUPT lines, still beating at the end, hosts in order):"
awk '{ on = ""; for (i = 8; i <= NF; i++) on = on " " $i
	printf "  %-5s %6d beats, last %6d, gaps %d, corrupt %d%s, beating %s, on%s\n",
	    $1, $2, $3, $4, $5, $6 ? sprintf(" (%d right after a move)", $6) : "",
	    $7, on }' "$T/beats.txt"
cat "$T/faults.txt"
if [ "$known" -gt 0 ] && [ "${qemu_major:-0}" -lt 9 ]; then
	say "faults: $corrupt, of which $known look like QEMU $qemu_major's known TCG bug (a live migration loses guest writes: right after a move the guest prints a seq again, finds a CORRUPT page or dies; fixed in QEMU 9.0, see docs/libvirt-testbed.md)"
elif [ "$corrupt" -gt 0 ]; then
	say "faults: $corrupt"
fi
while read -r what vm t where; do
	case $what in
	DUP) say "DUPLICATE: $vm running on $where at +$t s (asked twice)" ;;
	RACE) say "note: $vm listed as running on $where at +$t s, on one only when asked again (a move ending between two lists)" ;;
	UNSURE) say "note: $vm came back to $t too soon to be sure where its output there starts" ;;
	esac
done <"$T/visits.txt"
if [ "$stalled" -eq 0 ]; then
	say "heartbeat: all $NV VMs still beating at the end"
else
	say "heartbeat: $stalled VMs NOT beating at the end"
fi
ratio=$(awk -v e="$energy_kwh" -v b="$baseline_kwh" 'BEGIN {
	if (b > 0) printf "%.1f", 100 * (1 - e / b); else print "?" }')
say "energy $energy_kwh kWh against $baseline_kwh kWh without consolidation: $ratio % less (over $rounds controller rounds)"
say "migrations $migrations (time median $(median 3) s; downtime median $(median 4) ms, max $dt_max ms); hosts powered down $downs, up $ups; decisions not done $notdone"
# shellcheck disable=SC2086 # three numbers
set -- $wasted
if [ "$1" -gt 0 ]; then
	say "power-ons that brought no VM: $1, $2 host-seconds at idle power, $3 kWh ($(awk -v x="$3" -v b="$baseline_kwh" 'BEGIN { printf "%.1f", (b > 0 ? 100 * x / b : 0) }') % of the baseline)"
fi
say "$DURATION s, $K hosts, $NV VMs, policy $(basename "$POLICY"), $BUS bus; $(secs_since "$START_MS") s with setup"
printf '{"energy_kwh":%s, "baseline_kwh":%s, "migrations":%d, "hosts_powered_down":%d, "hosts_powered_up":%d, "vms_lost":%d, "vms_duplicated":%d, "corrupt":%d, "bus":"%s"}\n' \
    "$energy_kwh" "$baseline_kwh" "$migrations" "$downs" "$ups" "$lost" \
    "$dups" "$corrupt" "$BUS"
