/*
 * cmdline.h - the workload, as the kernel command line asks for it.
 *
 *   idle                 nothing but heartbeats (the default)
 *   cpu=PCT              busy PCT % of every 10 ms in ring 3, hlt the rest
 *   dirty=WIN_MIB,PPS    rewrite pages of a WIN_MIB window, PPS pages/s
 *   dirty=WIN_MIB,max    ... as fast as the CPU can
 *   trace=FILE,SPS       cpu load following the first multiboot module,
 *                        a PlanetLab trace, SPS seconds per sample
 *   touch=PCT            fill PCT % of RAM with checked data at boot
 *   beat=MS              heartbeat period (default 10)
 *   check=PAGES          pages the checker verifies per beat (default 256)
 *   selftest-corrupt     1 s in, ring 0 flips a word the guest wrote, to
 *                        prove the checker catches it
 */
#ifndef EBB_GUEST_CMDLINE_H
#define EBB_GUEST_CMDLINE_H

#include <stddef.h>
#include <stdint.h>

struct wl_config {
	uint64_t beat_ms;
	uint64_t cpu_pct;
	uint64_t dirty_mib; /* 0: no dirtier */
	uint64_t dirty_pps; /* 0 with dirty_mib set: as fast as possible */
	uint64_t trace_ms;  /* 0: no trace; else ms per sample */
	uint64_t touch_pct;
	uint64_t check_pages;
	int selftest_corrupt;
	char work[160]; /* canonical form for the banner */
};

/*
 * Parse `cmdline` into *c.  Return 0, or -1 with the reason in why[] and
 * the offending word in what[].
 */
int cl_parse(const char *cmdline, struct wl_config *c, const char **why,
             char *what, size_t whatlen);

#endif
