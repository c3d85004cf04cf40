/*
 * work.h - ring 3's event loop: the heartbeat and the workloads.
 */
#ifndef EBB_GUEST_WORK_H
#define EBB_GUEST_WORK_H

#include "cmdline.h"
#include "pattern.h"
#include "trace.h"

/* Run the workloads `c` asks for, forever.  t is NULL without trace=. */
void wl_run(const struct wl_config *c, struct pat *p, struct trace *t)
    __attribute__((noreturn));

#endif
