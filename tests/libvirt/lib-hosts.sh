# lib-hosts.sh - a fleet of libvirt "hosts" on one machine, for tests.
#
# Sourced by lib-test.sh (for the tests), faults-campaign.sh, the power
# commands of the tests and examples/fleet-box.sh (POSIX sh, root).
# Host hK is:
#   - a network namespace "ebblv<tag>hK" with eth0 = $LH_NET.K/24 and lo
#     up, eth0 plugged into a bridge that lives in a namespace of its own
#     (nothing is created in the machine's own network namespace);
#   - a holder process (a sleep) that owns hK's mount and UTS namespaces:
#     hostname hK, and $LH_TMP/hK/{etc,run,lib,log,cache} bound over
#     /etc/libvirt, /run/libvirt, /var/lib/libvirt, /var/log/libvirt and
#     /var/cache/libvirt, so each host has its own libvirt state;
#   - a libvirtd entered into those namespaces, listening only on its unix
#     socket.  /run/libvirt is a bind of a directory everyone sees, so the
#     socket is $LH_TMP/hK/run/libvirt-sock from any namespace: that is
#     what makes `qemu+unix:///system?socket=...` (host_uri) a URI one
#     host's libvirtd can use to reach another's, for a p2p migration.
# docs/libvirt-testbed.md explains each setting and why it is there.
#
# Use:
#   . "$EBB_SRC/tests/libvirt/lib-hosts.sh"
#   lh_require || exit 77          # it prints the reason
#   trap 'hosts_down' EXIT; trap 'exit 1' INT TERM HUP
#   hosts_up 2 || exit 1
#   host_virsh h1 list --all
#   host_run h2 "$LH_TMP/agent.log" "$EBB_BIN/ebb-agent" -c "$LH_TMP/h2.json"
#   lh_wait_beats "$(host_serial h1 vm1)" 20 30   # also lh_poll, lh_until
#
# LH_CORES=N (before hosts_up): every host's /proc/stat is a still copy of
# the machine's with only the lines of cpu0..cpuN-1, so that the host's
# processes count N cores.  The hosts share the machine's kernel, so a
# host's real CPU figures would be the machine's anyway: this is for an
# ebb-agent with "cpu_source": "vms", which takes its host's busy time
# from its VMs and only its core count from /proc/stat (the controller
# sizes a host by that count).  Unset: the machine's /proc/stat.
#
# The fleet's state is in LH_* variables and in $LH_TMP/state: functions
# that start or stop things must run in the shell that called hosts_up,
# or in a process that called hosts_attach first (a power command, say);
# host_dir, host_ns, host_addr, host_uri, host_migrate_uri, host_serial
# and lh_domain_xml only compute, and work in $(...) too.

LH_NET=${LH_NET:-10.77.0}	# hK is $LH_NET.K
LH_CORES=${LH_CORES:-}		# set: each host shows that many cores (below)
LH_TMP=${LH_TMP:-}		# set it before hosts_up to choose the folder
LH_N=0
LH_TAG=
LH_OWN_TMP=
LH_PID=				# the pid of the last host_run
LH_LIBVIRTD=/usr/sbin/libvirtd
LH_DIRS="etc:/etc/libvirt run:/run/libvirt lib:/var/lib/libvirt
log:/var/log/libvirt cache:/var/cache/libvirt"
LH_SRCDIR=${EBB_SRC:+$EBB_SRC/tests/libvirt}
LH_SRCDIR=${LH_SRCDIR:-$(dirname "$0")}

lh_say() {
	echo "lib-hosts: $*" >&2
}

# lh_num H: the number of host H ("h2" or "2" -> 2).
lh_num() {
	echo "${1#h}"
}

# Monotonic milliseconds (from /proc/uptime: 10 ms steps).
lh_now_ms() {
	awk '{ printf "%d\n", $1 * 1000 }' /proc/uptime
}

# lh_poll STEP SECONDS CMD [ARG...]: CMD, every STEP seconds, until it
# succeeds (0) or SECONDS have passed (1).  CMD must not poll itself: the
# deadline is one variable.
lh_poll() {
	lh_poll_end=$(($(lh_now_ms) + $2 * 1000))
	lh_poll_step=$1
	shift 2
	while ! "$@"; do
		[ "$(lh_now_ms)" -lt "$lh_poll_end" ] || return 1
		sleep "$lh_poll_step"
	done
}

# lh_until SECONDS CMD [ARG...]: CMD succeeds within SECONDS (polled every
# 0.5 s: for CMDs that ask a daemon).
lh_until() {
	lh_poll 0.5 "$@"
}

host_dir() {
	echo "$LH_TMP/h$(lh_num "$1")"
}
host_ns() {
	echo "ebblv${LH_TAG}h$(lh_num "$1")"
}
host_addr() {
	echo "$LH_NET.$(lh_num "$1")"
}
# host_uri H: hK's libvirtd, from any host's namespaces and from outside.
host_uri() {
	echo "qemu+unix:///system?socket=$(host_dir "$1")/run/libvirt-sock"
}
# host_migrate_uri H: where QEMU on hK takes incoming migrations.  Without
# it libvirt would hand the source hK's hostname, which means nothing here.
host_migrate_uri() {
	echo "tcp://$(host_addr "$1")"
}
# host_serial H NAME: the file that domain NAME's serial port (as
# lh_domain_xml writes it) fills while NAME runs on hK.
host_serial() {
	echo "$(host_dir "$1")/log/qemu/$2.serial"
}

# lh_has_beats FILE N: the ebb-guest whose serial log is FILE has written
# N heartbeats ("HB ..." lines) or more.  No FILE yet counts as none.
lh_has_beats() {
	lh_nb=$(grep -c '^HB ' "$1" 2>/dev/null)
	[ "${lh_nb:-0}" -ge "$2" ]
}

# lh_wait_beats FILE N SECONDS: until FILE has N heartbeats; 1 if it has
# not after SECONDS.
lh_wait_beats() {
	lh_poll 0.1 "$3" lh_has_beats "$1" "$2"
}

# lh_require: 0 if this machine can run the testbed; else prints why, in
# one line fit for a skip, and returns 1.
lh_require() {
	if [ "$(id -u)" != 0 ]; then
		echo "skipped: needs root (network and mount namespaces)"
		return 1
	fi
	for lh_c in ip unshare nsenter virsh qemu-system-x86_64; do
		command -v "$lh_c" >/dev/null 2>&1 && continue
		echo "skipped: no $lh_c (Debian: iproute2 util-linux" \
		    "libvirt-clients qemu-system-x86 qemu-system-data)"
		return 1
	done
	lh_drv=
	for lh_c in /usr/lib/libvirt/connection-driver/libvirt_driver_qemu.so \
	    /usr/lib/*/libvirt/connection-driver/libvirt_driver_qemu.so; do
		[ -f "$lh_c" ] && lh_drv=$lh_c
	done
	if [ ! -x "$LH_LIBVIRTD" ] || [ -z "$lh_drv" ]; then
		echo "skipped: libvirtd or its QEMU driver is not installed" \
		    "(Debian: libvirt-daemon libvirt-daemon-driver-qemu)"
		return 1
	fi
	if ! ip netns add "ebblvprobe$$" 2>/dev/null; then
		echo "skipped: cannot create a network namespace"
		return 1
	fi
	ip netns del "ebblvprobe$$"
	return 0
}

lh_uuid() {
	cat /proc/sys/kernel/random/uuid
}

# lh_write_conf H: hK's /etc/libvirt: the package's configuration files,
# then ours.  Files only: the folders (qemu/, networks, storage, secrets)
# hold the machine's own domains and networks, which no test host should
# see, let alone autostart.
lh_write_conf() {
	lh_d=$(host_dir "$1")
	for lh_f in /etc/libvirt/*; do
		[ -f "$lh_f" ] && cp "$lh_f" "$lh_d/etc/"
	done
	# Unix sockets only, no authentication: root only, in a private
	# folder.  host_uuid must differ between hosts: libvirt refuses to
	# migrate to a host with its own UUID ("same host").  The pid file
	# is given on the command line (host_libvirtd_start).
	# $LH_LOG_LEVEL / $LH_LOG_FILTERS: e.g. 1 and "1:qemu 1:util.command".
	cat >"$lh_d/etc/libvirtd.conf" <<EOF
listen_tls = 0
listen_tcp = 0
unix_sock_group = "root"
unix_sock_ro_perms = "0700"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
host_uuid = "$(lh_uuid)"
log_filters = "${LH_LOG_FILTERS:-}"
log_outputs = "${LH_LOG_LEVEL:-3}:file:/var/log/libvirt/libvirtd.log"
EOF
	# No systemd, virtlogd, cgroups, AppArmor or private /dev here: see
	# docs/libvirt-testbed.md for each line.
	cat >"$lh_d/etc/qemu.conf" <<EOF
security_driver = "none"
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
stdio_handler = "file"
namespaces = [ ]
cgroup_controllers = [ ]
migration_address = "$(host_addr "$1")"
EOF
}

# lh_write_users H: hK's own /etc/passwd and /etc/group: the machine's,
# plus the user libvirt-qemu and the groups libvirt-qemu and kvm where
# missing.  The QEMU driver looks its compiled-in user up before it reads
# qemu.conf (where ours says root) and fails to start if there is none;
# libvirt-daemon-system, not installed here, would have created it.
lh_write_users() {
	lh_d=$(host_dir "$1")
	cp /etc/passwd "$lh_d/passwd" && cp /etc/group "$lh_d/group" ||
	    return 1
	for lh_g in libvirt-qemu kvm; do
		grep -q "^$lh_g:" "$lh_d/group" ||
		    echo "$lh_g:x:$(lh_free_id "$lh_d/group"):" >>"$lh_d/group"
	done
	lh_gid=$(sed -n 's/^kvm:x:\([0-9]*\):.*/\1/p' "$lh_d/group")
	grep -q '^libvirt-qemu:' "$lh_d/passwd" ||
	    echo "libvirt-qemu:x:$(lh_free_id "$lh_d/passwd"):$lh_gid:ebb:/var/lib/libvirt:/usr/sbin/nologin" \
	    >>"$lh_d/passwd"
}

# lh_free_id FILE: a numeric id that the passwd or group FILE does not use.
lh_free_id() {
	awk -F: '{ used[$3] = 1 }
	END { for (i = 64055; used[i]; i++) ; print i }' "$1"
}

# lh_mountpoints: make the folders libvirt's are bound over, if absent
# (they are when only libvirt-daemon is installed, not -daemon-system),
# each with a marker file, so that the last testbed to go (whichever made
# them) removes them; the binds hide the marker from the hosts.
LH_MARK=.ebb-testbed-mountpoint
lh_mountpoints() {
	for lh_p in $LH_DIRS; do
		lh_p=${lh_p#*:}
		[ -d "$lh_p" ] && continue
		mkdir -p "$lh_p" && : >"$lh_p/$LH_MARK" || return 1
	done
}

# lh_stat_cores N: the machine's /proc/stat with the per-core lines of
# cpu0..cpuN-1 only (LH_CORES).
lh_stat_cores() {
	case $1 in
	'' | *[!0-9]* | 0)
		lh_say "LH_CORES=$1: not a number of cores"
		return 1
		;;
	esac
	awk -v n="$1" '/^cpu[0-9]/ { if (substr($1, 4) + 0 >= n) next }
	{ print }' /proc/stat
}

# host_create H: hK's folders, network namespace and holder.
host_create() {
	lh_k=$(lh_num "$1")
	lh_d=$(host_dir "$lh_k")
	lh_ns=$(host_ns "$lh_k")
	for lh_p in $LH_DIRS; do
		mkdir -p "$lh_d/${lh_p%%:*}" || return 1
	done
	mkdir -p "$lh_d/log/qemu"
	lh_write_conf "$lh_k"
	lh_write_users "$lh_k" || return 1
	ip netns add "$lh_ns" || return 1
	ip -n "$lh_ns" link set lo up
	ip link add eth0 netns "$lh_ns" type veth peer name "h$lh_k" \
	    netns "ebblv${LH_TAG}sw" || return 1
	ip -n "ebblv${LH_TAG}sw" link set "h$lh_k" master br0 up
	ip -n "$lh_ns" addr add "$(host_addr "$lh_k")/24" dev eth0
	ip -n "$lh_ns" link set eth0 up
	# The binds, in the holder's private mount namespace only: hK's
	# users, the fleet's /etc/hosts, and the libvirt folders.
	lh_binds="mount --bind '$lh_d/passwd' /etc/passwd &&
	    mount --bind '$lh_d/group' /etc/group &&
	    mount --bind '$LH_TMP/hosts' /etc/hosts &&"
	# libvirtd probes every QEMU binary it finds, seconds each;
	# x86_64 is the only one the testbed uses.
	for lh_q in /usr/bin/qemu-system-*; do
		[ "$lh_q" = /usr/bin/qemu-system-x86_64 ] || [ ! -f "$lh_q" ] ||
		    lh_binds="$lh_binds mount --bind /dev/null '$lh_q' &&"
	done
	for lh_p in $LH_DIRS; do
		lh_binds="$lh_binds mount --bind '$lh_d/${lh_p%%:*}' '${lh_p#*:}' &&"
	done
	if [ -n "$LH_CORES" ]; then
		lh_stat_cores "$LH_CORES" >"$lh_d/stat" || return 1
		lh_binds="$lh_binds mount --bind '$lh_d/stat' /proc/stat &&"
	fi
	# `ip netns exec` enters the network namespace (and mounts a /sys
	# of it), unshare makes the mount and UTS namespaces (propagation
	# private: no bind leaks out), the shell binds, writes "ready" and
	# becomes a sleep that keeps the namespaces for host_exec/host_run.
	# Each of the three execs the next: the pid is the sleep's.
	ip netns exec "$lh_ns" unshare -m -u --propagation private sh -c "
		hostname h$lh_k && $lh_binds
		echo ready >'$lh_d/holder.ready' && exec sleep 1000000" \
	    >"$lh_d/holder.log" 2>&1 &
	echo $! >"$lh_d/holder.pid"
	lh_t=0
	while [ ! -s "$lh_d/holder.ready" ]; do
		lh_t=$((lh_t + 1))
		if [ $lh_t -gt 200 ] || ! lh_alive "$(cat "$lh_d/holder.pid")"
		then
			lh_say "h$lh_k: namespace setup failed:" \
			    "$(cat "$lh_d/holder.log")"
			return 1
		fi
		sleep 0.05
	done
}

# host_exec H CMD [ARG...]: CMD in hK's network, mount and UTS namespaces,
# in the foreground.
host_exec() {
	lh_h=$(cat "$(host_dir "$1")/holder.pid") || return 1
	shift
	nsenter -t "$lh_h" -n -m -u -- "$@"
}

# host_run H LOG CMD [ARG...]: CMD in hK's namespaces in the background,
# stdout and stderr to LOG (a path as this shell sees it).  Its pid goes
# into $LH_PID and into hK's list for host_power_off and hosts_down
# (nsenter execs CMD, so the pid is CMD's own).
host_run() {
	lh_hd=$(host_dir "$1")
	lh_h=$(cat "$lh_hd/holder.pid") || return 1
	lh_log=$2
	shift 2
	nsenter -t "$lh_h" -n -m -u -- "$@" >"$lh_log" 2>&1 &
	LH_PID=$!
	echo "$LH_PID" >>"$lh_hd/run.pids"
}

# host_wait_socket H [SECONDS]: wait until hK's libvirtd answers (default
# 30 s); 1, with a message, if it died or did not answer in time.
host_wait_socket() {
	lh_d=$(host_dir "$1")
	lh_end=$(($(lh_now_ms) + ${2:-30} * 1000))
	while :; do
		if [ -S "$lh_d/run/libvirt-sock" ] &&
		    virsh -c "$(host_uri "$1")" version >/dev/null 2>&1; then
			return 0
		fi
		if ! lh_alive "$(cat "$lh_d/libvirtd.pid" 2>/dev/null)"; then
			lh_say "h$(lh_num "$1"): libvirtd died:" \
			    "$(tail -n 5 "$lh_d/log/libvirtd.log" \
			    "$lh_d/libvirtd.out" 2>/dev/null)"
			return 1
		fi
		if [ "$(lh_now_ms)" -ge "$lh_end" ]; then
			lh_say "h$(lh_num "$1"): libvirtd does not answer"
			return 1
		fi
		sleep 0.05
	done
}

# host_libvirtd_start H: start hK's libvirtd, not waiting for it.  Not
# --daemon: it stays the process host_run started, whose pid we know.
# The pid file must be hK's: the default, /run/libvirtd.pid, is outside
# the bound folders, so every host would share it and only one libvirtd
# would start.
host_libvirtd_start() {
	lh_d=$(host_dir "$1")
	rm -f "$lh_d/run/libvirt-sock"
	host_run "$1" "$lh_d/libvirtd.out" "$LH_LIBVIRTD" \
	    --pid-file /run/libvirt/libvirtd.pid || return 1
	echo "$LH_PID" >"$lh_d/libvirtd.pid"
}

# host_libvirtd_stop H: stop hK's libvirtd only; its QEMUs go on running,
# as when a real libvirtd restarts.
host_libvirtd_stop() {
	lh_p=$(cat "$(host_dir "$1")/libvirtd.pid" 2>/dev/null) || return 0
	lh_kill_wait "$lh_p"
	rm -f "$(host_dir "$1")/libvirtd.pid"
}

# host_power_off H: hK "loses power": every process in it but the holder
# (libvirtd, QEMUs, host_run's) is killed and its /run/libvirt emptied;
# /etc/libvirt and /var/lib/libvirt (defined domains) stay, like disks.
host_power_off() {
	lh_d=$(host_dir "$1")
	lh_h=$(cat "$lh_d/holder.pid" 2>/dev/null)
	lh_pids=
	for lh_p in $(cat "$lh_d/run.pids" 2>/dev/null) \
	    $(ip netns pids "$(host_ns "$1")" 2>/dev/null); do
		[ "$lh_p" = "$lh_h" ] || lh_pids="$lh_pids $lh_p"
	done
	# shellcheck disable=SC2086 # a list of pids
	[ -z "$lh_pids" ] || lh_kill_wait $lh_pids
	rm -f "$lh_d/run.pids" "$lh_d/libvirtd.pid"
	rm -rf "${lh_d:?}/run/"*
}

# host_power_on H: start hK's libvirtd again and wait for it.
host_power_on() {
	host_libvirtd_start "$1" && host_wait_socket "$1"
}

# host_virsh H ARG...: virsh (quiet: no headers) against hK's libvirtd.
host_virsh() {
	lh_u=$(host_uri "$1")
	shift
	virsh -q -c "$lh_u" "$@"
}

# lh_alive PID: PID runs (a zombie does not: it only waits to be reaped,
# perhaps by this shell).
lh_alive() {
	kill -0 "$1" 2>/dev/null || return 1
	lh_st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)
	[ -n "$lh_st" ] && [ "$lh_st" != Z ] && [ "$lh_st" != X ]
}

# lh_kill_wait PID...: SIGTERM, up to 3 s in all, then SIGKILL; reaps the
# ones that are this shell's children.
lh_kill_wait() {
	kill "$@" 2>/dev/null
	lh_t=0
	for lh_p in "$@"; do
		while lh_alive "$lh_p" && [ $lh_t -lt 60 ]; do
			sleep 0.05
			lh_t=$((lh_t + 1))
		done
		lh_alive "$lh_p" && kill -9 "$lh_p" 2>/dev/null
	done
	for lh_p in "$@"; do
		wait "$lh_p" 2>/dev/null
	done
	return 0
}

# hosts_up N: the temporary folder (unless $LH_TMP names one), the bridge,
# hosts h1..hN, their libvirtds, answering.  1, with a message, if
# anything failed: call hosts_down anyway (the EXIT trap).
hosts_up() {
	if [ -z "$LH_TMP" ]; then
		LH_TMP=$(mktemp -d "${TMPDIR:-/tmp}/ebb-lv.XXXXXX") || return 1
		LH_OWN_TMP=1
	fi
	# Unix socket paths are at most 107 bytes; libvirt's own are longer
	# than ours by 30 or so.
	if [ ${#LH_TMP} -gt 60 ]; then
		lh_say "$LH_TMP: too long a path for unix sockets"
		return 1
	fi
	LH_TAG=$(printf '%s' "${LH_TMP##*/}" | tr -cd 'a-zA-Z0-9' | tail -c 6)
	printf 'LH_TAG=%s\nLH_N=%s\n' "$LH_TAG" "$1" >"$LH_TMP/state"
	lh_mountpoints || return 1
	# Every host knows every host's name: libvirtd resolves its own, and
	# a name no one knows costs a 5 s resolver timeout.
	{
		echo "127.0.0.1 localhost"
		lh_i=1
		while [ $lh_i -le "$1" ]; do
			echo "$(host_addr $lh_i) h$lh_i"
			lh_i=$((lh_i + 1))
		done
	} >"$LH_TMP/hosts"
	ip netns add "ebblv${LH_TAG}sw" || return 1
	ip -n "ebblv${LH_TAG}sw" link add br0 type bridge || return 1
	ip -n "ebblv${LH_TAG}sw" link set br0 up
	lh_i=1
	while [ $lh_i -le "$1" ]; do
		LH_N=$lh_i
		host_create "$lh_i" || return 1
		lh_i=$((lh_i + 1))
	done
	# h1 first: its libvirtd probes QEMU (seconds) and caches what it
	# found; the others start at once from a copy of that cache (well
	# under a second).  Same machine, same binaries: the cache is as
	# valid for them as for h1.
	host_libvirtd_start 1 && host_wait_socket 1 || return 1
	lh_i=2
	while [ $lh_i -le "$1" ]; do
		cp -R "$(host_dir 1)/cache/." "$(host_dir $lh_i)/cache/" &&
		    host_libvirtd_start "$lh_i" || return 1
		lh_i=$((lh_i + 1))
	done
	lh_i=2
	while [ $lh_i -le "$1" ]; do
		host_wait_socket "$lh_i" || return 1
		lh_i=$((lh_i + 1))
	done
}

# hosts_attach DIR: use the fleet hosts_up made in DIR (from another
# process, e.g. a power command a controller runs).  hosts_down from there
# tears it down but leaves DIR to its owner.
hosts_attach() {
	LH_TMP=$1
	LH_OWN_TMP=
	# shellcheck disable=SC1091 # written by hosts_up
	. "$LH_TMP/state"
}

# hosts_down: all that hosts_up made, gone: every process in the hosts'
# network namespaces (libvirtd, QEMUs, holders, host_run's), the
# namespaces (the binds die with the last process in their mount
# namespace), the mount points testbeds made (if it is the last testbed)
# and the temporary folder (kept if $EBB_KEEP_TMP is set).  Safe after a partial hosts_up, and twice.
hosts_down() {
	if [ -z "$LH_TAG" ]; then
		lh_rm_tmp
		return 0
	fi
	lh_pids=
	lh_i=1
	while [ $lh_i -le "$LH_N" ]; do
		lh_d=$(host_dir "$lh_i")
		lh_pids="$lh_pids $(cat "$lh_d/run.pids" "$lh_d/holder.pid" \
		    2>/dev/null) $(ip netns pids "$(host_ns $lh_i)" 2>/dev/null)"
		lh_i=$((lh_i + 1))
	done
	# shellcheck disable=SC2086 # a list of pids
	case $lh_pids in
	*[0-9]*) lh_kill_wait $lh_pids ;;
	esac
	lh_i=1
	while [ $lh_i -le "$LH_N" ]; do
		# A QEMU some libvirtd forked while we looked.
		lh_pids=$(ip netns pids "$(host_ns $lh_i)" 2>/dev/null)
		# shellcheck disable=SC2086
		[ -z "$lh_pids" ] || kill -9 $lh_pids 2>/dev/null
		ip netns del "$(host_ns $lh_i)" 2>/dev/null
		lh_i=$((lh_i + 1))
	done
	ip netns del "ebblv${LH_TAG}sw" 2>/dev/null
	# The mount points a testbed made, unless another testbed runs:
	# rmdir here would detach its binds in its mount namespaces.
	if ! ip netns list 2>/dev/null | grep -q '^ebblv[a-zA-Z0-9]*h[0-9]'
	then
		for lh_p in $LH_DIRS; do
			lh_p=${lh_p#*:}
			[ -f "$lh_p/$LH_MARK" ] || continue
			rm -f "$lh_p/$LH_MARK"
			rmdir "$lh_p" 2>/dev/null
		done
	fi
	LH_N=0
	LH_TAG=
	lh_rm_tmp
}

lh_rm_tmp() {
	if [ -n "$LH_OWN_TMP" ] && [ -n "$LH_TMP" ] &&
	    [ -z "${EBB_KEEP_TMP:-}" ]; then
		rm -rf "$LH_TMP"
		LH_TMP=
	fi
	return 0
}

# lh_domain_xml NAME KERNEL CMDLINE [MEM_MIB [VCPUS [MODULE]]]: on stdout,
# a TCG domain that boots the multiboot KERNEL (ebb-guest) with CMDLINE,
# 64 MiB and 1 vCPU unless told, its serial port to
# /var/log/libvirt/qemu/NAME.serial of the host it runs on (host_serial).
# MODULE, if given, is the guest's first multiboot module (<initrd>: an
# ebb-guest trace for trace=); QEMU reads it again on every migration
# target, so it must be a path every host sees (under $LH_TMP, say) and
# hold no comma.  From domain.xml.in beside this file; the arguments must
# not hold | & \.
lh_domain_xml() {
	lh_bios=
	[ -f /usr/share/qemu/qboot.rom ] &&
	    lh_bios="<loader type='rom'>/usr/share/qemu/qboot.rom</loader>"
	lh_initrd=
	[ -z "${6:-}" ] || lh_initrd="<initrd>$6</initrd>"
	sed -e "s|@NAME@|$1|g" -e "s|@KERNEL@|$2|g" -e "s|@CMDLINE@|$3|g" \
	    -e "s|@MEM_MIB@|${4:-64}|g" -e "s|@VCPUS@|${5:-1}|g" \
	    -e "s|@UUID@|$(lh_uuid)|g" -e "s|@LOADER@|$lh_bios|g" \
	    -e "s|@INITRD@|$lh_initrd|g" "$LH_SRCDIR/domain.xml.in"
}
