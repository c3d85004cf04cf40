/*
 * ebb_loop.h - the skeleton every ebb daemon's event loop shares: an epoll
 * set, a periodic timerfd for its work and a signalfd, so that time and
 * signals arrive as events and nothing runs in a signal handler.
 */
#ifndef EBB_LOOP_H
#define EBB_LOOP_H

#include <stdint.h>

#include "ebb.h"

struct ebb_loop {
	int	epfd;
	int	tfd;		/* fires every interval */
	int	sfd;		/* the signals asked for */
};

/*
 * Creates the epoll set, a timer firing every interval_s (registered with
 * timer_tag as its epoll data) and a signalfd for the n signals (blocked
 * for the process, registered with signal_tag); SIGPIPE is ignored, as a
 * peer that hangs up must be an error return, not a death.  0 or -errno
 * with err filled; on failure nothing is left open.
 */
int	ebb_loop_open(struct ebb_loop *, double interval_s,
	    const int *signals, int n, uint32_t timer_tag, uint32_t signal_tag,
	    struct ebb_err *);
/* Adds fd for reading with tag as its epoll data; 0 or -errno. */
int	ebb_loop_add(struct ebb_loop *, int fd, uint32_t tag);
void	ebb_loop_close(struct ebb_loop *);

#endif /* EBB_LOOP_H */
