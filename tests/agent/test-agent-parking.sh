#!/bin/sh
#
# test-agent-parking.sh - ebb-agent's core parking follows real load.
#
# Runs the parking test of tests/unit/test_agent_e2e.c on its own: the
# agent (actuator "none": decisions are reported, the kernel is not
# touched) must unpark every cpu within about two reports of load on all
# of them, and park one again only decrease_time after the load stops.
# It watches the host's real utilization, so on a host too busy to be
# quiet before and after the load it cannot tell anything: the program
# then says why and exits 77 (skipped) instead of guessing.

: "${EBB_BIN:?EBB_BIN must name the build tree}"
prog="$EBB_BIN/test_agent_e2e"
[ -x "$prog" ] || { echo "FAIL: $prog is not built" >&2; exit 1; }

EBB_E2E_TESTS=parking "$prog"
