# faults-lib.sh - faults injected into a libvirt fleet run by ebb, and the
# checks that each ends with every VM running exactly once and a journal
# that tells the truth.  Sourced by test-libvirt-faults.sh (each scenario
# once) and faults-campaign.sh (random trials); POSIX sh, root.
#
# The fleet (lib-hosts.sh, LH_CORES=1): h1, h2, h3 run libvirtd, an
# ebb-agent (hypervisor.driver "libvirt", cpu_source "vms") and at first
# one ebb-guest each (vm1, vm2 on cpu=FX_CPU %, vm3 idle, all touching half
# their RAM so that a migration moves real bytes, over a bandwidth limit so
# that it lasts long enough to be hit); h4 runs ebb-controller only, with
# the "command" power driver stepping back into this script's namespaces
# to run $T/power.sh (host_power_off / host_power_on and the agent).
#
# The policy is switched through the API (PUT /api/policy): "quiet" (no
# move, no power action: the faults' migrations are the operator's, from
# `ebb migrate`), "consolidate" (drain and switch off), "offonly" (switch
# off empty hosts only) and "overload" (thr: the three VMs on one host
# are too many, which makes the controller wake a host).
#
# Scenarios (fx_scn_a .. fx_scn_d), each followed by fx_settle and fx_check:
#   a  the controller SIGKILLed DELAY after asking for a migration, started
#      again PAUSE later: it must learn from the journal and the agents'
#      reports how the migration ended;
#   b  an agent silenced (SIGSTOP, or its host's link down) HOLD seconds
#      under the consolidating policy: its host becomes unknown, is never
#      a target nor switched off, and is known again when it speaks;
#   c  a link (the target's or the source's) down for CUT seconds DELAY
#      after a migration began: libvirt completes or fails it, the
#      controller records which;
#   d  a power-on that fails ("exit": the command fails; "nohello": the
#      host boots but its agent never says hello): the host becomes
#      failed, gets no power action until cleared, another host is woken
#      and takes the load.
# fx_check: each VM runs on exactly one host (virsh list on every host
# whose libvirtd answers, and QEMU processes wherever); its heartbeat over
# its serial logs goes on seq by seq, no gap, no repeat, no CORRUPT; the
# journal (faults-check.py journal) agrees with where the VMs run and with
# the rules.  Counters: FX_LOST FX_DUP FX_CORRUPT FX_HB FX_JOURNAL.

FX_VMS="vm1 vm2 vm3"
FX_HOSTS="1 2 3"
FX_CTL=4
FX_CPU=${FX_CPU:-10}		# % busy of vm1 and vm2
FX_MEM=${FX_MEM:-64}		# MiB per guest
FX_TOUCH=${FX_TOUCH:-50}	# % of it filled at boot
FX_BW=${FX_BW:-8}		# MiB/s migration bandwidth
FX_UNKNOWN_S=8			# silence before a host is unknown: above
				# the reporting hiccups of a loaded machine
FX_BOOT_S=${FX_BOOT_S:-10}	# boot timeout: powering-on -> failed
FX_THR=${FX_THR:-0.17}		# overload threshold of one host (1 core)
FX_LOST=0 FX_DUP=0 FX_CORRUPT=0 FX_HB=0 FX_JOURNAL=0
FX_MISSED=0			# faults that missed their migration (fx_hit)
FX_CTL_PID=
FX_NSTART=0			# controller starts
FX_PYTHON=python3		# not a pyenv shim: it costs half a second
[ -x /usr/bin/python3 ] && FX_PYTHON=/usr/bin/python3
FX_ARCH=0			# serial logs archived
FX_HIT=				# where the last fault landed (fx_hit)

fx_say() {
	echo "[$(date +%T)] $*"
}

# ---- randomness (a seeded LCG: the choices replay from the seed) -------------

FX_RNG=1
fx_seed() {
	FX_RNG=$(($1 % 2147483648))
}
# fx_rand N: 0..N-1 into FX_R.
fx_rand() {
	FX_RNG=$(((FX_RNG * 1103515245 + 12345) % 2147483648))
	FX_R=$(((FX_RNG / 65536) % $1))
}
# fx_pick WORD...: one of the words into FX_R.
fx_pick() {
	fx_rand $#
	shift "$FX_R"
	FX_R=$1
}
# fx_secs LO HI: a duration in tenths between LO and HI s, as "S.D", in FX_R.
fx_secs() {
	fx_rand $((($2 - $1) * 10 + 1))
	FX_R=$(($1 * 10 + FX_R))
	FX_R=$((FX_R / 10)).$((FX_R % 10))
}

# ---- the fleet ----------------------------------------------------------------

fx_api_url() {
	echo "http://$(host_addr $FX_CTL):7401"
}

# fx_ebb ARGS: the CLI against the controller, from h4.
fx_ebb() {
	host_exec $FX_CTL env EBB_TOKEN_FILE="$T/token" "$EBB_BIN/ebb" \
	    --controller "$(fx_api_url)" "$@"
}

# fx_api POST|PUT PATH [BODY_FILE]: the API with the token; its answer on
# stdout, 1 on an HTTP error.  Always with a body, if only an empty one:
# the API answers 411 to a POST without Content-Length, which curl leaves
# out when given no data (and the clear of a failed host never happened).
fx_api() {
	host_exec $FX_CTL curl -sS -m 5 --fail-with-body -X "$1" \
	    -H "Authorization: Bearer $(cat "$T/token")" \
	    -H 'Content-Type: application/json' \
	    --data-binary "@${3:-/dev/null}" "$(fx_api_url)$2"
}

# fx_clear K: the operator clears failed host hK; it must then be
# failed no more (unknown until its agent says hello).
fx_clear() {
	fx_api POST "/api/hosts/h$1/clear" >"$T/clear.out" 2>&1 || {
		fx_say "clear h$1: $(cat "$T/clear.out")"
		return 1
	}
	fx_state && [ "$(fx_host_state "$1")" != failed ] || {
		fx_say "h$1 is still $(fx_host_state "$1") after clear"
		return 1
	}
}

# fx_state: the controller's picture into $T/state.txt (0 if it answered).
fx_state() {
	host_exec $FX_CTL $FX_PYTHON "$FX_PY" state "$(fx_api_url)" \
	    >"$T/state.tmp" 2>/dev/null && mv "$T/state.tmp" "$T/state.txt"
}
# fx_host_state H: h's state as the last fx_state saw it.
fx_host_state() {
	awk -v h="h$1" '$1 == "host" && $2 == h { print $3 }' "$T/state.txt"
}

# fx_policy NAME: put policy NAME in force.
fx_policy() {
	fx_api PUT /api/policy "$T/policy-$1.json" >"$T/policy.out" 2>&1 ||
	    fx_say "policy $1: $(cat "$T/policy.out")"
	grep -q '"error"' "$T/policy.out" &&
	    fx_say "policy $1 refused: $(cat "$T/policy.out")"
}

fx_write_policies() {
	# No move, no power action.
	cat >"$T/policy-quiet.json" <<EOF
{ "name": "quiet",
  "overload": { "detector": "thr", "threshold": 1.0 },
  "underload": { "enabled": false },
  "power": { "switch_off_empty": false, "min_hosts_on": 1 } }
EOF
	# Drain every host that can be drained, switch off the empty ones.
	cat >"$T/policy-consolidate.json" <<EOF
{ "name": "consolidate",
  "overload": { "detector": "thr", "threshold": 1.0 },
  "placement": { "order": "efficiency" },
  "underload": { "enabled": true, "max_util": 1.0,
                 "exclude_targets": true, "max_hosts": 1 },
  "power": { "switch_off_empty": true, "min_hosts_on": 1 } }
EOF
	cat >"$T/policy-offonly.json" <<EOF
{ "name": "offonly",
  "overload": { "detector": "thr", "threshold": 1.0 },
  "underload": { "enabled": false },
  "power": { "switch_off_empty": true, "min_hosts_on": 1 } }
EOF
	# The three VMs on one host are far above FX_THR of a one-core host,
	# so the controller must wake one.  Under TCG they measure well above
	# their cpu= (one run here: vm3, idle, 0.11; vm1 and vm2 at cpu=10,
	# 0.17-0.19), and that moves with the machine's load: how the policy
	# can spread them is not what scenario d checks.
	cat >"$T/policy-overload.json" <<EOF
{ "name": "overload",
  "overload": { "detector": "thr", "threshold": $FX_THR },
  "placement": { "order": "efficiency", "max_util": $FX_THR },
  "underload": { "enabled": false },
  "power": { "switch_off_empty": false, "min_hosts_on": 1 } }
EOF
}

fx_write_configs() {
	cat >"$T/power.sh" <<EOF
#!/bin/sh
# power.sh on|off K: the controller's power driver for hK (run through
# nsenter in the test's namespaces).  \$T/power-fail, when present, makes
# the next power-on fail: "exit" (the command fails) or "nohello"
# (libvirtd starts, the agent does not).
. "$LH_SRCDIR/lib-hosts.sh"
. "$LH_SRCDIR/faults-lib.sh"
hosts_attach "$T"
T="$T"
EBB_BIN="$EBB_BIN"
echo "\$(date +%T) power \$1 h\$2"
case \$1 in
off)	host_power_off "\$2" ;;
on)	# Claimed by one power-on only, even when two run at once.
	fail=
	if mv "\$T/power-fail" "\$T/power-fail.\$\$" 2>/dev/null; then
		fail=\$(cat "\$T/power-fail.\$\$")
		rm -f "\$T/power-fail.\$\$"
	fi
	case \$fail in
	exit)	echo "power-on of h\$2 fails (test)"; exit 1 ;;
	nohello) echo "h\$2 boots without its agent (test)"
		host_power_on "\$2"; exit \$? ;;
	esac
	host_power_on "\$2" && fx_agent_start "\$2" ;;
esac
EOF
	cat >"$T/controller.json" <<EOF
{
  "listen": "$(host_addr $FX_CTL):7400",
  "http": "$(host_addr $FX_CTL):7401",
  "token_file": "$T/token",
  "journal": "$T/journal.db",
  "policy": "$T/policy-quiet.json",
  "interval_s": 1,
  "unknown_after_s": $FX_UNKNOWN_S,
  "boot_timeout_s": $FX_BOOT_S,
  "min_hosts_on": 1,
  "limits": { "migrations_total": 2, "migrations_per_host": 1,
              "vm_cooldown_s": 20, "host_cooldown_s": 0 },
  "tls": { "ca": "$T/ca/ca.crt", "cert": "$T/ca/controller.crt",
           "key": "$T/ca/controller.key" },
  "hosts": [
EOF
	for k in $FX_HOSTS; do
		sep=,
		[ "$k" = 3 ] && sep=
		cat >>"$T/controller.json" <<EOF
    { "name": "h$k", "power": { "driver": "command",
      "on": "nsenter -t $$ -n -m -u -- sh $T/power.sh on $k >>$T/power.log 2>&1",
      "off": "nsenter -t $$ -n -m -u -- sh $T/power.sh off $k >>$T/power.log 2>&1" } }$sep
EOF
	done
	echo "  ] }" >>"$T/controller.json"
	for k in $FX_HOSTS; do
		cat >"$T/agent-h$k.json" <<EOF
{
  "host": "h$k",
  "controller": "$(host_addr $FX_CTL):7400",
  "interval_s": 1,
  "reconnect_max_s": 2,
  "cpu_source": "vms",
  "state_dir": "$T/agent-h$k",
  "hypervisor": { "driver": "libvirt", "uri": "qemu:///system",
                  "peer_uri": "$(host_uri $k)",
                  "migrate_addr": "$(host_migrate_uri $k)",
                  "downtime_ms": 500, "bandwidth_mib": $FX_BW },
  "parking": { "enabled": false },
  "tls": { "ca": "$T/ca/ca.crt", "cert": "$T/ca/h$k.crt",
           "key": "$T/ca/h$k.key", "server_name": "controller" }
}
EOF
	done
}

# fx_agent_start K: hK's agent, its log appended to; pid in hK's
# agent.pid and run.pids (host_power_off and hosts_down stop it).
fx_agent_start() {
	fx_d=$(host_dir "$1")
	fx_h=$(cat "$fx_d/holder.pid") || return 1
	nsenter -t "$fx_h" -n -m -u -- "$EBB_BIN/ebb-agent" \
	    -c "$T/agent-h$1.json" >>"$T/agent-h$1.log" 2>&1 &
	echo $! >"$fx_d/agent.pid"
	echo $! >>"$fx_d/run.pids"
}

fx_agent_pid() {
	cat "$(host_dir "$1")/agent.pid" 2>/dev/null
}

fx_ctl_start() {
	FX_NSTART=$((FX_NSTART + 1))
	echo "==== start $FX_NSTART $(date +%T)" >>"$T/controller.log"
	fx_h=$(cat "$(host_dir $FX_CTL)/holder.pid") || return 1
	nsenter -t "$fx_h" -n -m -u -- "$EBB_BIN/ebb-controller" \
	    -c "$T/controller.json" >>"$T/controller.log" 2>&1 &
	FX_CTL_PID=$!
	echo "$FX_CTL_PID" >>"$(host_dir $FX_CTL)/run.pids"
	# Until its API answers.
	lh_until 20 fx_state
}

fx_ctl_kill() {
	kill -9 "$FX_CTL_PID" 2>/dev/null
	wait "$FX_CTL_PID" 2>/dev/null
	FX_CTL_PID=
}

# fx_down: the controller asked to stop, then the whole fleet gone
# (hosts_down): the end of a test or a campaign, whatever ended it.
fx_down() {
	[ -n "$FX_CTL_PID" ] && kill "$FX_CTL_PID" 2>/dev/null
	hosts_down
}

# fx_lists: what runs where, into $T/list.hK: the domains hK's libvirtd
# lists as active (running or paused), and, whether it answers or not,
# the guests of the QEMU processes in hK.
fx_lists() {
	for k in $FX_HOSTS; do
		: >"$T/list.h$k"
		[ -S "$(host_dir $k)/run/libvirt-sock" ] &&
		    host_virsh $k list --name >>"$T/list.h$k" 2>/dev/null
		for fx_p in $(ip netns pids "$(host_ns $k)" 2>/dev/null); do
			tr '\0' '\n' <"/proc/$fx_p/cmdline" 2>/dev/null |
			    sed -n 's/^guest=\([^,]*\).*/\1/p'
		done >>"$T/list.h$k"
	done
}

# fx_where VM: the hosts VM runs on, as the last fx_lists saw them.
fx_where_listed() {
	fx_w=
	for k in $FX_HOSTS; do
		grep -qx "$1" "$T/list.h$k" && fx_w="$fx_w h$k"
	done
	echo $fx_w
}

# fx_where VM: the hosts VM runs on now.
fx_where() {
	fx_lists
	fx_where_listed "$1"
}

# fx_beats_past FILE SEQ: FILE's last beat is past SEQ (the VM runs).
fx_beats_past() {
	fx_s=$(tail -c 400 "$1" 2>/dev/null | grep -a '^HB ' | tail -n 1 |
	    cut -d' ' -f2)
	case $fx_s in '' | *[!0-9]*) return 1 ;; esac
	[ "$fx_s" -gt "$2" ]
}

# fx_require: 0 if this machine can run the fleet; else prints why, in one
# line fit for a skip, and returns 1 (as lh_require).
fx_require() {
	lh_require || return 1
	for fx_f in "$EBB_BIN/ebb-guest" "$EBB_BIN/ebb-agent" \
	    "$EBB_BIN/ebb-controller" "$EBB_BIN/ebb"; do
		[ -f "$fx_f" ] || { echo "skipped: $fx_f is not built"; return 1; }
	done
	for fx_c in openssl python3 curl; do
		command -v $fx_c >/dev/null ||
		    { echo "skipped: no $fx_c"; return 1; }
	done
}

# fx_setup: the whole fleet, up and reporting, the quiet policy in force.
fx_setup() {
	# shellcheck disable=SC2034 # read by hosts_up
	LH_CORES=1
	hosts_up 4 || return 1
	T=$LH_TMP
	FX_PY=$LH_SRCDIR/faults-check.py
	mkdir -p "$T/serial" "$T/ca.tmp"
	rmdir "$T/ca.tmp"
	sh "$EBB_SRC/scripts/ebb-ca" init "$T/ca" >/dev/null &&
	    sh "$EBB_SRC/scripts/ebb-ca" host "$T/ca" h1 h2 h3 >/dev/null &&
	    sh "$EBB_SRC/scripts/ebb-ca" controller "$T/ca" controller \
	    "$(host_addr $FX_CTL)" >/dev/null || return 1
	head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$T/token"
	fx_write_policies
	fx_write_configs
	for k in $FX_HOSTS; do
		case $k in
		3) work="beat=10 touch=$FX_TOUCH" ;;
		*) work="beat=10 cpu=$FX_CPU touch=$FX_TOUCH" ;;
		esac
		lh_domain_xml "vm$k" "$EBB_BIN/ebb-guest" "$work" "$FX_MEM" \
		    >"$T/vm$k.xml" &&
		    host_virsh $k define "$T/vm$k.xml" >/dev/null &&
		    host_virsh $k start "vm$k" >/dev/null || return 1
		echo -1 >"$T/serial/vm$k.last"
	done
	for k in $FX_HOSTS; do
		lh_wait_beats "$(host_serial $k vm$k)" 20 60 || {
			fx_say "vm$k does not beat on h$k"
			return 1
		}
	done
	fx_ctl_start || return 1
	for k in $FX_HOSTS; do
		fx_agent_start $k
	done
	lh_until 60 fx_all_on || {
		fx_say "the hosts did not all come on: $(cat "$T/state.txt")"
		return 1
	}
}

fx_all_on() {
	fx_state || return 1
	for k in $FX_HOSTS; do
		[ "$(fx_host_state $k)" = on ] || return 1
	done
}

# ---- bringing the fleet back to every host on ------------------------------

# fx_prepare: the quiet policy, every host powered and "on" (a failed one
# cleared, an off one powered on by hand, a silenced agent resumed).
fx_prepare() {
	fx_policy quiet
	rm -f "$T/power-fail"
	fx_state || return 1
	for k in $FX_HOSTS; do
		ip -n "$(host_ns $k)" link set eth0 up 2>/dev/null
		fx_p=$(fx_agent_pid $k)
		[ -n "$fx_p" ] && kill -CONT "$fx_p" 2>/dev/null
		# Failed, or back after failing and held from power-off
		# (the controller's power_held) until an operator clears it.
		if [ "$(fx_host_state $k)" = failed ] || awk -v h="h$k" \
		    '$1 == "host" && $2 == h && $7 == 1 { f = 1 }
		    END { exit !f }' "$T/state.txt"; then
			fx_clear $k || return 1
		fi
		if [ ! -S "$(host_dir $k)/run/libvirt-sock" ] ||
		    ! host_virsh $k version >/dev/null 2>&1; then
			fx_say "prepare: powering h$k on"
			sh "$T/power.sh" on $k >>"$T/power.log" 2>&1
		elif ! lh_alive "$(fx_agent_pid $k)"; then
			fx_say "prepare: starting h$k's agent"
			fx_agent_start $k
		fi
	done
	lh_until 60 fx_all_on || {
		fx_say "prepare: not all hosts on: $(tr '\n' ' ' <"$T/state.txt")"
		return 1
	}
}

# ---- settling and checking -----------------------------------------------------

# fx_quiet: nothing in flight: no VM migrating, no host switching, and the
# journal with no migration, power action or decision open.
fx_quiet() {
	fx_state || return 1
	awk '($1 == "vm" && $4 == 1) ||
	    ($1 == "host" && ($3 == "powering-on" || $3 == "powering-off")) {
		bad = 1 }
	END { exit bad }' "$T/state.txt" || return 1
	$FX_PYTHON "$FX_PY" inflight "$T/journal.db" >"$T/inflight.txt" ||
	    return 1
	[ "$(cat "$T/inflight.txt")" = "migrations 0 power 0 pending 0" ]
}

fx_settle() {
	lh_until "${1:-90}" fx_quiet && return 0
	fx_say "not settled after ${1:-90} s: $(cat "$T/inflight.txt" 2>/dev/null);" \
	    "$(tr '\n' ' ' <"$T/state.txt")"
	return 1
}

# fx_check NAME: the invariants after a trial; adds to the counters and
# returns 1 if anything is wrong.
fx_check() {
	fx_bad=0
	fx_pairs=
	# Where each VM runs: exactly one host.
	fx_lists
	for v in $FX_VMS; do
		fx_w=$(fx_where_listed "$v")
		set -- $fx_w
		case $# in
		1) fx_pairs="$fx_pairs $v=$1" ;;
		0) fx_say "LOST: $v runs nowhere"
		   FX_LOST=$((FX_LOST + 1)); fx_bad=1
		   fx_pairs="$fx_pairs $v=" ;;
		*) fx_say "DUPLICATED: $v runs on $fx_w"
		   FX_DUP=$((FX_DUP + 1)); fx_bad=1 ;;
		esac
		eval "fx_at_$v=\"$fx_w\""
	done
	# Heartbeats: the serial logs of hosts a VM left go to the archive
	# ($T/serial/VM.N.hK, listed with their first and last beat in
	# VM.index).  A log holds one visit or, when the VM came back to the
	# host before it was archived, several: so the check takes this
	# trial's logs and every archived one whose beats reach into the
	# range they cover.  Problems already counted are not counted again.
	for v in $FX_VMS; do
		eval "fx_w=\$fx_at_$v"
		fx_files=
		for k in $FX_HOSTS; do
			f=$(host_serial $k "$v")
			case " $fx_w " in *" h$k "*) continue ;; esac
			[ -s "$f" ] || continue
			FX_ARCH=$((FX_ARCH + 1))
			fx_a=$T/serial/$v.$(printf %05d $FX_ARCH).h$k
			mv "$f" "$fx_a"
			echo "$fx_a $($FX_PYTHON "$FX_PY" seqs "$fx_a")" \
			    >>"$T/serial/$v.index"
			fx_files="$fx_files $fx_a"
		done
		for h in $fx_w; do
			fx_files="$fx_files $(host_serial "${h#h}" "$v")"
		done
		fx_min=
		for f in $fx_files; do
			fx_s=$(grep -a -m1 '^HB ' "$f" 2>/dev/null | cut -d' ' -f2)
			case $fx_s in '' | *[!0-9]*) continue ;; esac
			[ -z "$fx_min" ] || [ "$fx_s" -lt "$fx_min" ] &&
			    fx_min=$fx_s
		done
		# An archived log taken in may hold older visits itself: the
		# range grows until no other archived log reaches into it.
		fx_old=$(awk -v m="${fx_min:-0}" -v new=" $fx_files " '
		    { p[NR] = $1; f[NR] = $2; l[NR] = $3 }
		    END {
			do {
				more = 0
				for (i = 1; i <= NR; i++) {
					if (in_[i] || index(new, " " p[i] " ") ||
					    l[i] < m - 1)
						continue
					in_[i] = 1
					if (f[i] >= 0 && f[i] < m) {
						m = f[i]
						more = 1
					}
				}
			} while (more)
			for (i = 1; i <= NR; i++)
				if (in_[i])
					print p[i]
		    }' "$T/serial/$v.index" 2>/dev/null)
		# shellcheck disable=SC2086
		$FX_PYTHON "$FX_PY" hb "$(cat "$T/serial/$v.last")" $fx_old \
		    $fx_files >"$T/hb.$v.out"
		read -r fx_hb <"$T/hb.$v.out" || fx_hb="the checker failed"
		# shellcheck disable=SC2046 # four numbers
		set -- $(sed -n 2p "$T/hb.$v.out")
		[ $# -eq 4 ] || { set -- 1 0 0 -1
			echo "P hb the checker failed" >>"$T/hb.$v.out"; }
		[ "$4" -ge 0 ] && echo "$4" >"$T/serial/$v.last"
		touch "$T/serial/$v.seen"
		sed -n 's/^P //p' "$T/hb.$v.out" >"$T/hb.$v.p"
		# Listed is not running: a VM left paused (a migration that
		# neither finished nor resumed its source) is still "active"
		# to virsh.  It must beat on, now, where it is.
		set -- $fx_w
		fx_l=$(cat "$T/serial/$v.last")
		if [ $# -eq 1 ] && ! lh_until 15 fx_beats_past \
		    "$(host_serial "${1#h}" "$v")" "$fx_l"; then
			echo "hb no beat past $fx_l on $1: not running" \
			    >>"$T/hb.$v.p"
			fx_hb="$fx_hb; no beat past $fx_l on $1 within 15 s"
		fi
		fx_new=$(grep -vxF -f "$T/serial/$v.seen" "$T/hb.$v.p" || true)
		[ -n "$fx_new" ] || continue
		echo "$fx_new" >>"$T/serial/$v.seen"
		fx_say "$v: heartbeat broken: $fx_hb"
		echo "$fx_new" | grep -q '^corrupt' &&
		    FX_CORRUPT=$((FX_CORRUPT + 1))
		echo "$fx_new" | grep -q '^hb' && FX_HB=$((FX_HB + 1))
		fx_bad=1
		cp "$T/hb.$v.out" "$T/serial/$v.bad.$FX_ARCH"
	done
	# The journal against the truth; problems already counted are not
	# counted again.
	# shellcheck disable=SC2086
	$FX_PYTHON "$FX_PY" journal "$T/journal.db" $fx_pairs >"$T/journal.now" 2>&1
	touch "$T/journal.seen"
	fx_new=$(grep -vxF -f "$T/journal.seen" "$T/journal.now" || true)
	if [ -n "$fx_new" ]; then
		fx_say "journal inconsistent:"
		echo "$fx_new" | sed 's/^/    /'
		FX_JOURNAL=$((FX_JOURNAL + 1))
		echo "$fx_new" >>"$T/journal.seen"
		fx_bad=1
	fi
	fx_say "check: where:$fx_pairs"
	return $fx_bad
}

# ---- scenarios --------------------------------------------------------------------

# fx_vm_host VM: the one host VM runs on now ("" if not exactly one).
fx_vm_host() {
	# shellcheck disable=SC2046 # a list of hosts
	set -- $(fx_where "$1")
	[ $# -eq 1 ] && echo "${1#h}"
}

# fx_other K: a host other than K, chosen at random, into FX_R.
fx_other() {
	fx_rand 2
	FX_R=$(( (($1 - 1) + 1 + FX_R) % 3 + 1 ))
}

# fx_hit "migrations N ..." | OTHER: whether a fault landed inside a
# migration, into FX_HIT ("inside" or "outside: ..."); FX_MISSED counts
# the ones outside.  Random timing misses now and then, by design; the
# CI test's fixed timing must not.
fx_hit() {
	case $1 in
	"migrations "[1-9]*) FX_HIT=inside ;;
	*) FX_HIT="outside: $1"; FX_MISSED=$((FX_MISSED + 1)) ;;
	esac
}

# fx_migrate VM K: the operator asks for VM to move to hK.
fx_migrate() {
	fx_ebb migrate "$1" "h$2" >"$T/migrate.out" 2>&1 || {
		fx_say "ebb migrate $1 h$2: $(cat "$T/migrate.out")"
		return 1
	}
}

# a: controller killed DELAY s after the migrate, restarted PAUSE s later.
fx_scn_a() {
	fx_pick $FX_VMS; v=$FX_R
	src=$(fx_vm_host "$v")
	[ -n "$src" ] || return 1
	fx_other "$src"; dst=$FX_R
	fx_secs 0 7; delay=${FX_A_DELAY:-$FX_R}
	fx_secs 0 4; pause=${FX_A_PAUSE:-$FX_R}
	fx_say "a: migrate $v h$src -> h$dst, SIGKILL the controller after" \
	    "$delay s, restart after $pause s"
	fx_migrate "$v" "$dst" || return 1
	sleep "$delay"
	fx_ctl_kill
	# Did the kill land inside the migration?  Its journal, as the
	# controller left it, says whether it had one in flight.
	fx_hit "$($FX_PYTHON "$FX_PY" inflight "$T/journal.db")"
	fx_say "a: controller killed ($FX_HIT); $v on: $(fx_where "$v")"
	sleep "$pause"
	fx_ctl_start || { fx_say "a: the controller does not restart"; return 1; }
	fx_settle 90
}

# b: hK's agent silenced (stop|link) for HOLD s under "consolidate".
fx_scn_b() {
	fx_pick $FX_HOSTS; k=$FX_R
	fx_pick stop link; how=${FX_B_HOW:-$FX_R}
	fx_secs 6 20; hold=${FX_B_HOLD:-$FX_R}
	fx_say "b: silence h$k's agent ($how), then consolidate for $hold s"
	case $how in
	stop) kill -STOP "$(fx_agent_pid $k)" ;;
	link) ip -n "$(host_ns $k)" link set eth0 down ;;
	esac
	fx_b_bad=0
	# Until it is unknown the controller may still act on its last
	# report (unknown_after_s): the policy that would like to switch it
	# off or fill it comes after.
	fx_b_unknown() { fx_state && [ "$(fx_host_state $k)" = unknown ]; }
	lh_until $((FX_UNKNOWN_S + 10)) fx_b_unknown || {
		fx_say "b: h$k did not become unknown: $(fx_host_state $k)"
		fx_b_bad=1
	}
	fx_policy consolidate
	fx_b_end=$(($(lh_now_ms) + ${hold%.*} * 1000))
	while [ "$(lh_now_ms)" -lt "$fx_b_end" ]; do
		fx_state
		case $(fx_host_state $k) in
		unknown) ;;
		*) fx_say "b: h$k is $(fx_host_state $k) while silent"
		   fx_b_bad=1 ;;
		esac
		sleep 1
	done
	case $how in
	stop) kill -CONT "$(fx_agent_pid $k)" ;;
	link) ip -n "$(host_ns $k)" link set eth0 up ;;
	esac
	# Known again: on, or already switched off by the policy if it is
	# empty (what it may do with a host that reports).
	fx_b_on() {
		fx_state || return 1
		case $(fx_host_state $k) in
		unknown | failed) return 1 ;;
		esac
	}
	lh_until 40 fx_b_on || { fx_say "b: h$k is not on again"; fx_b_bad=1; }
	# Normal again: a few rounds of the consolidating policy with it.
	sleep 3
	fx_policy quiet
	fx_settle 90 || fx_b_bad=1
	return $fx_b_bad
}

# c: hK's link down for CUT s, DELAY s after the migrate.
fx_scn_c() {
	fx_pick $FX_VMS; v=$FX_R
	src=$(fx_vm_host "$v")
	[ -n "$src" ] || return 1
	fx_other "$src"; dst=$FX_R
	fx_pick "$dst" "$dst" "$src"; cut=$FX_R
	case ${FX_C_SIDE:-} in
	dst) cut=$dst ;;
	src) cut=$src ;;
	esac
	fx_secs 0 5; delay=${FX_C_DELAY:-$FX_R}
	fx_secs 1 10; len=${FX_C_LEN:-$FX_R}
	fx_say "c: migrate $v h$src -> h$dst, h$cut's link down after" \
	    "$delay s for $len s"
	fx_migrate "$v" "$dst" || return 1
	sleep "$delay"
	ip -n "$(host_ns $cut)" link set eth0 down
	# Inside the migration if the VM has a QEMU on both hosts (libvirt
	# starts the target's at the migration's beginning, and the source's
	# goes at its end).
	# shellcheck disable=SC2046 # a list of hosts
	set -- $(fx_where "$v")
	[ $# -eq 2 ] && fx_hit "migrations 1" || fx_hit "$v on: $*"
	fx_say "c: link down ($FX_HIT)"
	sleep "$len"
	ip -n "$(host_ns $cut)" link set eth0 up
	fx_say "c: link up; $v on: $(fx_where "$v")"
	fx_settle 120
}

# d: all VMs on hX, the others switched off, then the overload policy
# wakes one: the first power-on fails (exit | nohello).
fx_scn_d() {
	# The VMs gather on the host drawn, unless another has more of them
	# already: every migration saved is 5-10 s less of a slow scenario,
	# and which host it is does not matter to the fault.
	fx_lists
	fx_pick $FX_HOSTS; x=$FX_R
	for k in $FX_HOSTS; do
		[ "$(sort -u "$T/list.h$k" | grep -c .)" -gt \
		    "$(sort -u "$T/list.h$x" | grep -c .)" ] && x=$k
	done
	fx_pick exit nohello; how=${FX_D_HOW:-$FX_R}
	fx_say "d: gather the VMs on h$x, switch the others off, wake one:" \
	    "the power-on fails ($how)"
	for v in $FX_VMS; do
		s=$(fx_vm_host "$v")
		[ "$s" = "$x" ] && continue
		fx_migrate "$v" "$x" || return 1
		lh_until 60 fx_quiet ||
		    { fx_say "d: gathering $v on h$x did not end"; return 1; }
	done
	fx_policy offonly
	fx_d_off() {
		fx_state || return 1
		for k in $FX_HOSTS; do
			[ "$k" = "$x" ] && continue
			[ "$(fx_host_state $k)" = off ] || return 1
		done
	}
	lh_until 60 fx_d_off ||
	    { fx_say "d: the empty hosts were not switched off"; return 1; }
	echo "$how" >"$T/power-fail"
	fx_policy overload
	fx_d_failed() {
		fx_state || return 1
		for k in $FX_HOSTS; do
			[ "$(fx_host_state $k)" = failed ] && failed=$k && return 0
		done
		return 1
	}
	failed=
	lh_until $((FX_BOOT_S + 40)) fx_d_failed ||
	    { fx_say "d: no host failed: $(tr '\n' ' ' <"$T/state.txt")"; return 1; }
	fx_say "d: h$failed failed; waiting for another host to take the load"
	# Another host woken in its place, on and running a VM of hX's, and
	# nothing in flight.  Not "vm1 and vm2 apart", as this once asked:
	# TCG makes each busy VM measure about FX_THR alone (see
	# fx_write_policies), so two hosts may not hold the three VMs under
	# it, and the policy rightly leaves one host overloaded with nowhere
	# to go.  How the VMs share the hosts is the policy's business; the
	# fault's outcome is that the load found a host.
	fx_d_took() {
		fx_quiet || return 1
		[ "$(fx_host_state "$failed")" = failed ] || return 1
		fx_lists
		for k in $FX_HOSTS; do
			[ "$k" = "$x" ] || [ "$k" = "$failed" ] && continue
			[ "$(fx_host_state $k)" = on ] && [ -s "$T/list.h$k" ] &&
			    return 0
		done
		return 1
	}
	fx_d_bad=0
	lh_until 90 fx_d_took || {
		fx_say "d: no other host took the load:" \
		    "$(tr '\n' ' ' <"$T/state.txt")"
		fx_d_bad=1
	}
	fx_say "d: $(awk '$1 == "host" { printf "%s %s %s VMs busy %s; ",
	    $2, $3, $5, $6 }' "$T/state.txt")"
	# The failed host stays failed, with no power action, until cleared.
	sleep 3
	fx_state
	[ "$(fx_host_state "$failed")" = failed ] ||
	    { fx_say "d: h$failed is $(fx_host_state "$failed")"; fx_d_bad=1; }
	fx_policy quiet
	fx_clear "$failed" || fx_d_bad=1
	fx_settle 60 || fx_d_bad=1
	return $fx_d_bad
}
