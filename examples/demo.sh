#!/bin/sh
# Run the ebb simulator once over a day of a fleet and draw it as SVG.
#
#   sh examples/demo.sh [BUILD_DIR]      (default BUILD_DIR: build)
#
# Uses the PlanetLab traces of 3 March 2011 when they sit beside the checkout
# (../shared/data/planetlab/20110303), otherwise as many synthetic
# PlanetLab-like traces (1052 VMs, the size of that day).
set -eu

build=${1:-build}
case $build in
/*) ;;
*) build="$PWD/$build" ;;
esac

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"

ebb="$build/ebb"
if [ ! -x "$ebb" ]; then
	echo "demo: $ebb not found; build first (make build)" >&2
	exit 1
fi

set --
for p in examples/policies/default.json examples/policies/lr-mmt-1.2.json; do
	if [ -f "$p" ]; then
		set -- --policy "$p"
		break
	fi
done
if [ $# -eq 0 ]; then
	echo "demo: no policy file in examples/policies/; using ebb's built-in defaults"
fi

traces="$(dirname "$root")/shared/data/planetlab/20110303"
if [ -d "$traces" ]; then
	echo "demo: PlanetLab traces: $traces"
	set -- "$@" --trace "$traces"
else
	echo "demo: the PlanetLab traces are not present ($traces); running on 1052 synthetic traces instead"
	set -- "$@" --synthetic 1052
fi

svg="$build/demo.svg"
echo "+ $ebb simulate $* --plot $svg"
"$ebb" simulate "$@" --plot "$svg"
echo
echo "demo: plot of active hosts and fleet power written to $svg"
