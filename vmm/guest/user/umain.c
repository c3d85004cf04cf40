/*
 * umain.c - ring 3 starts here: read the command line, lay the workload
 * out in free RAM, print the banner, run.
 *
 * Banner: EBB-GUEST <version> mem=<MiB> work=<...> followed by how the
 * guest keeps time, once, before the first heartbeat.
 */
#include "cmdline.h"
#include "pattern.h"
#include "trace.h"
#include "ulib.h"
#include "work.h"

#define PAGE 4096

/* Ring 0 fills this in before it enters u_main (guest.h). */
struct boot_info boot_info;
char u_stack[U_STACK_SIZE] __attribute__((aligned(16)));

static struct wl_config cfg;
static struct pat pat;
static struct trace tr;

/* Up to n pages, contiguous, from the low end of free range i. */
static uint64_t
take(int i, uint64_t n, uint64_t **base)
{
	struct mem_range *f = &boot_info.free[i];
	uint64_t have = (f->end - f->start) / PAGE;

	if (n > have)
		n = have;
	*base = (uint64_t *)(uintptr_t)f->start;
	f->start += n * PAGE;
	return n;
}

static void
place_window(uint64_t npages)
{
	for (int i = 0; i < boot_info.nfree; i++) {
		struct mem_range *f = &boot_info.free[i];

		if ((f->end - f->start) / PAGE >= npages) {
			pat.win.npages = take(i, npages, &pat.win.base);
			pat.gen = 1;
			return;
		}
	}
	die("the dirty window does not fit in free RAM", NULL);
}

/* touch= takes what it can get, range by range. */
static void
place_touch(uint64_t npages)
{
	for (int i = 0; i < boot_info.nfree && npages > 0; i++) {
		struct pat_region *r = &pat.touch[pat.ntouch];

		r->npages = take(i, npages, &r->base);
		if (r->npages == 0)
			continue;
		npages -= r->npages;
		pat.touch_pages += r->npages;
		pat.ntouch++;
	}
}

static void
banner(void)
{
	static const char *const from[] = {"cpuid15", "hv", "pit"};

	out_str("EBB-GUEST " EBB_VERSION " mem=");
	out_u64((boot_info.ram_bytes + (1 << 19)) >> 20);
	out_str(" work=");
	out_str(cfg.work);
	out_str(" beat=");
	out_u64(cfg.beat_ms);
	out_str(" tsc_khz=");
	out_u64(boot_info.tsc_hz / 1000);
	out_str(" tsc=");
	out_str(from[boot_info.tsc_from]);
	out_str(" tsc_ppm=");
	out_u64(boot_info.tsc_ppm);
	out_str(boot_info.tsc_deadline ? " timer=deadline" : " timer=oneshot");
	if (cfg.trace_ms > 0) {
		out_str(" samples=");
		out_u64(tr.samples);
	}
	if (pat.touch_pages > 0) {
		out_str(" touch_mib=");
		out_u64(pat.touch_pages >> 8);
	}
	out_str("\n");
	out_flush();
}

void
u_main(void)
{
	const char *why = NULL;
	char what[64];

	time_init();
	if (cl_parse(boot_info.cmdline, &cfg, &why, what, sizeof(what)) < 0)
		die(why, what[0] != '\0' ? what : NULL);
	if (cfg.dirty_mib > 0)
		place_window(cfg.dirty_mib << 8);
	if (cfg.touch_pct > 0)
		place_touch(boot_info.ram_bytes / PAGE * cfg.touch_pct / 100);
	if (cfg.trace_ms > 0) {
		if (boot_info.mod_end <= boot_info.mod_start)
			die("trace= needs the trace as a multiboot module",
			    NULL);
		if (trace_open(
		        &tr, (const char *)(uintptr_t)boot_info.mod_start,
		        (const char *)(uintptr_t)boot_info.mod_end, &why) < 0)
			die(why, NULL);
	}
	if (cfg.selftest_corrupt && pat.win.npages == 0 && pat.touch_pages == 0)
		die("selftest-corrupt needs dirty= or touch=", NULL);
	banner();
	wl_run(&cfg, &pat, cfg.trace_ms > 0 ? &tr : NULL);
}
