#!/bin/sh
# Install the Debian packages ebb needs to build, test and run its demo.
# Safe to run again: it asks apt only for what is missing, so on a machine
# that has everything it does nothing and needs no network.
#
# Works on a bare Debian 12 (debootstrap --variant=minbase) as root.
set -eu

PKGS="
build-essential cmake pkg-config git ca-certificates iproute2 procps
libjansson-dev libcmocka-dev libsqlite3-dev libssl-dev
libcpupower-dev libsensors-dev libvirt-dev librdkafka-dev libmicrohttpd-dev
clang libclang-rt-14-dev
qemu-system-x86 qemu-system-data chromium
libvirt-daemon libvirt-daemon-driver-qemu libvirt-clients kcat openssl curl
"

missing=""
for p in $PKGS; do
	# dpkg-query prints "install ok installed" only for a fully installed package.
	st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
	case "$st" in
	"install ok installed") ;;
	*) missing="$missing $p" ;;
	esac
done

if [ -z "$missing" ]; then
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages:$missing" >&2
	echo "install-deps: run this script as root (or install them yourself)" >&2
	exit 1
fi

echo "install-deps: installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
