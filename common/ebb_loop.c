/*
 * ebb_loop.c - epoll, timerfd and signalfd, set up once for a daemon.
 */
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include "ebb_loop.h"

int
ebb_loop_add(struct ebb_loop *l, int fd, uint32_t tag)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u32 = tag };

	return epoll_ctl(l->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int
ebb_loop_open(struct ebb_loop *l, double interval_s, const int *signals,
    int n, uint32_t timer_tag, uint32_t signal_tag, struct ebb_err *err)
{
	struct itimerspec its = { 0 };
	sigset_t mask;
	int rc;

	l->epfd = l->tfd = l->sfd = -1;
	sigemptyset(&mask);
	for (int i = 0; i < n; i++)
		sigaddset(&mask, signals[i]);
	sigprocmask(SIG_BLOCK, &mask, NULL);
	signal(SIGPIPE, SIG_IGN);
	its.it_interval.tv_sec = (time_t)interval_s;
	its.it_interval.tv_nsec = (long)((interval_s - floor(interval_s)) *
	    1e9);
	its.it_value = its.it_interval;
	if ((l->epfd = epoll_create1(EPOLL_CLOEXEC)) < 0 ||
	    (l->tfd = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK |
	    TFD_CLOEXEC)) < 0 ||
	    (l->sfd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC)) < 0 ||
	    timerfd_settime(l->tfd, 0, &its, NULL) < 0) {
		rc = -errno;
		ebb_err_set(err, "event loop set-up: %s", strerror(errno));
		goto fail;
	}
	if ((rc = ebb_loop_add(l, l->tfd, timer_tag)) != 0 ||
	    (rc = ebb_loop_add(l, l->sfd, signal_tag)) != 0) {
		ebb_err_set(err, "epoll: %s", strerror(-rc));
		goto fail;
	}
	return 0;
fail:
	ebb_loop_close(l);
	return rc;
}

void
ebb_loop_close(struct ebb_loop *l)
{
	if (l->sfd >= 0)
		close(l->sfd);
	if (l->tfd >= 0)
		close(l->tfd);
	if (l->epfd >= 0)
		close(l->epfd);
	l->epfd = l->tfd = l->sfd = -1;
}
