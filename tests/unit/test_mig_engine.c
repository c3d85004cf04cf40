/*
 * test_mig_engine.c - the pre-copy engine end to end, no KVM: sender and
 * receiver in two threads over a socketpair or TCP on 127.0.0.1.
 *
 * The source "VM" is a mapped region holding a pattern with zero pages,
 * and a writer thread that dirties pages at a set rate while the migration
 * runs.  Its dirty log - the test's stand-in for KVM_GET_DIRTY_LOG - is a
 * bitmap the writer sets (atomically, after writing the page) and that
 * get_dirty swaps out.  pause parks the writer, resume lets it go, throttle
 * slows it.  The target "VM" checks the CPU, maps memory, keeps the state.
 *
 * Checked: the target's memory equals the source's at pause, byte for
 * byte; zero pages go as markers; convergence while the writer runs; the
 * commit protocol (the source resumes on NACK, on a receiver killed
 * mid-stream or while starting, on any corrupted byte, on a wrong token -
 * refused before any memory is touched -, on cancel); bandwidth pacing
 * (within 30 %); auto-converge; forced completion after max_rounds.  The
 * last test measures throughput and prints it (no timed assertion).
 */
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ebb.h"
#include "ebb_net.h"
#include "ebb_rand.h"
#include "mig_engine.h"
#include "mig_stream.h"

#define PS		MIG_PAGE_SIZE
#define MiB		(1024u * 1024u)
#define STATE_LEN	3000

static const uint8_t TOKEN[] = "per-migration-token-0123456789";
static const uint8_t WRONG[] = "per-migration-token-0123456780";

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void
sleep_ms(unsigned ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000 };

	nanosleep(&ts, NULL);
}

static void *
map(size_t size)
{
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	assert_true(p != MAP_FAILED);
	/*
	 * Huge pages, as a VMM would give its guests: first-touch 4 KiB page
	 * faults cost ~16 us each on this (nested) machine.
	 */
	madvise(p, size, MADV_HUGEPAGE);
	return p;
}

/* ---- the source VM --------------------------------------------------- */

struct src_vm {
	uint8_t		*mem;
	size_t		 size, npages, nwords;
	/* The test's stand-in for KVM's dirty log (KVM_GET_DIRTY_LOG): a
	   page's bit is set after the page was written (release) and
	   swapped out by standin_get_dirty_log() (acquire). */
	_Atomic uint64_t *dirty_standin;

	/* The writer: rate pages/s over pages [lo, lo + n), at random or
	   in a sweep, slowed by throttle %. */
	bool		 has_writer;
	pthread_t	 th;
	double		 rate;
	size_t		 lo, n;
	bool		 sweep;
	uint64_t	 seed;

	pthread_mutex_t	 mu;
	pthread_cond_t	 cv;
	bool		 pause_req, parked, stop, running;
	unsigned	 throttle;
	uint64_t	 writes;
	int		 npause, nresume, nget_dirty, nthrottle;
	unsigned	 pcts[64];
	uint8_t		 state[STATE_LEN];
};

static void
write_page(struct src_vm *vm, size_t pfn, uint64_t gen)
{
	uint64_t w[PS / 8], v = gen * 0x9e3779b97f4a7c15ull + pfn + 1;

	for (size_t i = 0; i < PS / 8; i++)
		w[i] = v + i;
	/*
	 * A guest writes while the sender reads: the same race a real VM
	 * has.  The bit goes up after the write, so a page written after
	 * get_dirty() swapped its bit out is always sent again.
	 */
	memcpy(vm->mem + pfn * PS, w, PS);
	atomic_fetch_or_explicit(&vm->dirty_standin[pfn / 64],
	    1ull << (pfn % 64), memory_order_release);
}

static void *
writer_main(void *p)
{
	struct src_vm *vm = p;
	struct ebb_rand rng;
	uint64_t last = now_ns(), gen = 1;
	size_t next = 0;
	double credit = 0;

	ebb_rand_seed(&rng, vm->seed);
	pthread_mutex_lock(&vm->mu);
	while (!vm->stop) {
		unsigned thr;
		uint64_t t;
		size_t k;

		if (vm->pause_req) {
			vm->parked = true;
			pthread_cond_broadcast(&vm->cv);
			while (vm->pause_req && !vm->stop)
				pthread_cond_wait(&vm->cv, &vm->mu);
			vm->parked = false;
			last = now_ns();
			continue;
		}
		thr = vm->throttle;
		pthread_mutex_unlock(&vm->mu);

		t = now_ns();
		credit += (double)(t - last) * 1e-9 * vm->rate *
		    (100 - thr) / 100.0;
		last = t;
		k = (size_t)EBB_MIN(credit, 5000.0);
		credit -= (double)k;
		for (size_t i = 0; i < k; i++) {
			size_t pfn = vm->sweep ? vm->lo + next++ % vm->n :
			    vm->lo + (size_t)ebb_rand_below(&rng, vm->n);

			write_page(vm, pfn, gen++);
		}
		sleep_ms(1);
		pthread_mutex_lock(&vm->mu);
		vm->writes += k;
	}
	vm->parked = true;
	pthread_cond_broadcast(&vm->cv);
	pthread_mutex_unlock(&vm->mu);
	return NULL;
}

/*
 * A region of size bytes: data_pct % of its pages hold a pattern, a few
 * more hold a single non-zero byte at their very end (a zero check must
 * look at the whole page), the rest are zero.
 */
static struct src_vm *
src_new(size_t size, unsigned data_pct, uint64_t seed)
{
	struct src_vm *vm = ebb_calloc(1, sizeof(*vm));
	struct ebb_rand rng;

	vm->size = size;
	vm->npages = size / PS;
	vm->nwords = (vm->npages + 63) / 64;
	vm->mem = map(size);
	vm->dirty_standin = ebb_calloc(vm->nwords, sizeof(*vm->dirty_standin));
	vm->running = true;
	vm->seed = seed;
	pthread_mutex_init(&vm->mu, NULL);
	pthread_cond_init(&vm->cv, NULL);
	ebb_rand_seed(&rng, seed);
	for (size_t p = 0; p < vm->npages; p++) {
		uint64_t r = ebb_rand_below(&rng, 1000);

		if (r < data_pct * 10u)
			write_page(vm, p, 0);
		else if (r >= 995)
			vm->mem[p * PS + PS - 1] = 1;
	}
	for (size_t i = 0; i < STATE_LEN; i++)
		vm->state[i] = (uint8_t)(i * 7 + seed);
	return vm;
}

static void
src_writer(struct src_vm *vm, double rate, size_t lo, size_t n, bool sweep)
{
	vm->rate = rate;
	vm->lo = lo;
	vm->n = n;
	vm->sweep = sweep;
	vm->has_writer = true;
	assert_int_equal(pthread_create(&vm->th, NULL, writer_main, vm), 0);
}

static void
src_free(struct src_vm *vm)
{
	if (vm->has_writer) {
		pthread_mutex_lock(&vm->mu);
		vm->stop = true;
		pthread_cond_broadcast(&vm->cv);
		pthread_mutex_unlock(&vm->mu);
		pthread_join(vm->th, NULL);
	}
	munmap(vm->mem, vm->size);
	free(vm->dirty_standin);
	pthread_mutex_destroy(&vm->mu);
	pthread_cond_destroy(&vm->cv);
	free(vm);
}

static int
standin_get_dirty_log(void *arg, uint64_t *bitmap, size_t npages)
{
	struct src_vm *vm = arg;

	assert_int_equal(npages, vm->npages);
	for (size_t i = 0; i < vm->nwords; i++)
		bitmap[i] = atomic_exchange_explicit(&vm->dirty_standin[i], 0,
		    memory_order_acq_rel);
	vm->nget_dirty++;
	return 0;
}

static int
src_pause(void *arg)
{
	struct src_vm *vm = arg;

	pthread_mutex_lock(&vm->mu);
	vm->pause_req = true;
	while (vm->has_writer && !vm->parked)
		pthread_cond_wait(&vm->cv, &vm->mu);
	vm->running = false;
	vm->npause++;
	pthread_mutex_unlock(&vm->mu);
	return 0;
}

static int
src_resume(void *arg)
{
	struct src_vm *vm = arg;

	pthread_mutex_lock(&vm->mu);
	vm->pause_req = false;
	vm->running = true;
	vm->nresume++;
	pthread_cond_broadcast(&vm->cv);
	pthread_mutex_unlock(&vm->mu);
	return 0;
}

static int
src_get_state(void *arg, void **buf, size_t *len)
{
	struct src_vm *vm = arg;

	*buf = ebb_malloc(STATE_LEN);
	memcpy(*buf, vm->state, STATE_LEN);
	*len = STATE_LEN;
	return 0;
}

static int
src_throttle(void *arg, unsigned pct)
{
	struct src_vm *vm = arg;

	pthread_mutex_lock(&vm->mu);
	vm->throttle = pct;
	if (vm->nthrottle < (int)EBB_NITEMS(vm->pcts))
		vm->pcts[vm->nthrottle++] = pct;
	pthread_mutex_unlock(&vm->mu);
	return 0;
}

static const struct mig_send_ops src_ops = {
	.get_dirty = standin_get_dirty_log,
	.pause = src_pause,
	.resume = src_resume,
	.get_state = src_get_state,
	.throttle = src_throttle,
};

static const struct mig_config src_config = {
	.nvcpus = 2,
	.vendor = "AuthenticAMD",
	.nfeatures = 2,
	.features = { 0x178bfbff, 0x2 },
	.json = "{\"name\":\"test-vm\",\"serial\":\"ttyS0\"}",
};

/* ---- the target VM --------------------------------------------------- */

struct dst_vm {
	uint8_t		*mem;
	size_t		 size;
	bool		 preset;	/* mem given before, not mapped here */
	bool		 not_zeroed;	/* do not tell the engine it is zero */
	const char	*vendor;
	int		 start_rc;
	int		 start_fd;	/* >= 0: say "starting", then hang */
	int		 nconfig, nstate, nstart, ndiscard;
	bool		 running;
	uint8_t		 state[STATE_LEN];
	size_t		 state_len;
};

static void
dst_init(struct dst_vm *d)
{
	memset(d, 0, sizeof(*d));
	d->vendor = "AuthenticAMD";
	d->start_fd = -1;
}

static void
dst_fini(struct dst_vm *d)
{
	if (d->mem != NULL && !d->preset)
		munmap(d->mem, d->size);
}

static int
dst_config(void *arg, const struct mig_config *c, void **mem, bool *zeroed,
    struct ebb_err *err)
{
	static const uint64_t allowed[] = { 0xffffffff, 0xff };
	struct dst_vm *d = arg;
	int rc;

	d->nconfig++;
	rc = mig_config_check_cpu(c, d->vendor, allowed, 2, err);
	if (rc < 0)
		return rc;
	if (c->nvcpus != 2 || strcmp(c->json, src_config.json) != 0) {
		ebb_err_set(err, "not the VM expected");
		return -EINVAL;
	}
	if (d->preset) {
		if (c->npages * c->page_size > d->size)
			return -ENOMEM;
	} else {
		d->size = c->npages * c->page_size;
		d->mem = map(d->size);
		*zeroed = !d->not_zeroed;
	}
	*mem = d->mem;
	return 0;
}

static int
dst_state(void *arg, const void *buf, size_t len, struct ebb_err *err)
{
	struct dst_vm *d = arg;

	(void)err;
	d->nstate++;
	assert_true(len <= sizeof(d->state));
	memcpy(d->state, buf, len);
	d->state_len = len;
	return 0;
}

static int
dst_start(void *arg, struct ebb_err *err)
{
	struct dst_vm *d = arg;

	d->nstart++;
	if (d->start_fd >= 0) {
		assert_int_equal(write(d->start_fd, "s", 1), 1);
		sleep_ms(10000);	/* killed meanwhile */
	}
	if (d->start_rc < 0) {
		ebb_err_set(err, "no room to start the VM");
		return d->start_rc;
	}
	d->running = true;
	return 0;
}

static void
dst_discard(void *arg)
{
	struct dst_vm *d = arg;

	d->ndiscard++;
	d->running = false;
}

static const struct mig_recv_ops dst_ops = {
	.config = dst_config,
	.state = dst_state,
	.start = dst_start,
	.discard = dst_discard,
};

/* ---- sockets --------------------------------------------------------- */

static void
unix_pair(int *a, int *b)
{
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	*a = sv[0];
	*b = sv[1];
}

static void
tcp_pair(int *a, int *b)
{
	struct ebb_err err;
	struct pollfd pfd;
	int lfd, port;

	lfd = ebb_tcp_listen("127.0.0.1", 0, &err);
	assert_true(lfd >= 0);
	port = ebb_sock_port(lfd);
	*a = ebb_tcp_connect("127.0.0.1", port, &err);
	assert_true(*a >= 0);
	pfd = (struct pollfd){ .fd = lfd, .events = POLLIN };
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	*b = ebb_accept(lfd);
	assert_true(*b >= 0);
	pfd = (struct pollfd){ .fd = *a, .events = POLLOUT };
	assert_int_equal(poll(&pfd, 1, 5000), 1);
	assert_int_equal(ebb_connect_result(*a), 0);
	close(lfd);
}

/*
 * A relay between sender and receiver that can flip one byte at a given
 * offset of either direction, or cut both connections at an offset of the
 * sender's stream (the receiver's host dying, as the sender sees it).
 */
struct relay {
	int		 s, r;		/* our ends: sender's, receiver's */
	int64_t		 flip_s2r, flip_r2s, cut_s2r;
	uint64_t	 n_s2r, n_r2s;
	const char	*needle;	/* looked for in each chunk s2r */
	uint64_t	 needles;	/* chunks that held it */
	pthread_t	 th;
};

static bool
relay_move(struct relay *rl, int from, int to, uint64_t *count, int64_t flip,
    int64_t cut)
{
	uint8_t buf[65536];
	ssize_t n = read(from, buf, sizeof(buf)), off = 0;

	if (n <= 0) {
		shutdown(to, SHUT_WR);
		return false;
	}
	if (flip >= 0 && (uint64_t)flip >= *count &&
	    (uint64_t)flip < *count + (uint64_t)n)
		buf[flip - (int64_t)*count] ^= 0x20;
	if (rl->needle != NULL && from == rl->s &&
	    memmem(buf, (size_t)n, rl->needle, strlen(rl->needle)) != NULL)
		rl->needles++;
	if (cut >= 0 && *count + (uint64_t)n >= (uint64_t)cut) {
		n = cut - (int64_t)*count;
		cut = -2;
	}
	while (off < n) {
		ssize_t w = send(to, buf + off, (size_t)(n - off),
		    MSG_NOSIGNAL);

		if (w <= 0)
			return false;
		off += w;
	}
	*count += (uint64_t)n;
	if (cut == -2) {
		shutdown(rl->s, SHUT_RDWR);
		shutdown(rl->r, SHUT_RDWR);
		return false;
	}
	return true;
}

static void *
relay_main(void *p)
{
	struct relay *rl = p;
	bool s_open = true, r_open = true;

	while (s_open || r_open) {
		struct pollfd pfd[2] = {
			{ .fd = s_open ? rl->s : -1, .events = POLLIN },
			{ .fd = r_open ? rl->r : -1, .events = POLLIN },
		};

		if (poll(pfd, 2, 10000) <= 0)
			break;
		if (pfd[0].revents && !relay_move(rl, rl->s, rl->r, &rl->n_s2r,
		    rl->flip_s2r, rl->cut_s2r)) {
			s_open = false;
			if (rl->cut_s2r >= 0 &&
			    rl->n_s2r >= (uint64_t)rl->cut_s2r)
				break;
		}
		if (pfd[1].revents && !relay_move(rl, rl->r, rl->s, &rl->n_r2s,
		    rl->flip_r2s, -1))
			r_open = false;
	}
	close(rl->s);
	close(rl->r);
	return NULL;
}

/* ---- one migration --------------------------------------------------- */

struct run {
	struct src_vm		*src;
	struct dst_vm		 dst;
	struct mig_limits	 lim;
	const uint8_t		*rtoken;
	uint64_t		 rid;
	int			 sfd, rfd;	/* the engines' ends */
	bool			 use_relay, use_tcp;
	bool			 encrypt, require_enc;
	bool			 sandbox;	/* both ends confined */
	struct relay		 relay;
	struct mig_sender	*s;
	struct mig_receiver	*r;
	pthread_t		 sth, rth;
	int			 src_rc, dst_rc;
	struct ebb_err		 serr, rerr;
	struct mig_stats	 sst, rst;
};

static void
run_init(struct run *m, struct src_vm *src)
{
	memset(m, 0, sizeof(*m));
	m->src = src;
	dst_init(&m->dst);
	m->lim = mig_limits_default();
	m->lim.downtime_ms = 50;
	m->rtoken = TOKEN;
	m->relay.flip_s2r = m->relay.flip_r2s = m->relay.cut_s2r = -1;
}

static void *
send_main(void *p)
{
	struct run *m = p;

	m->src_rc = mig_send_run(m->s, &m->sst, &m->serr);
	close(m->sfd);	/* as the VMM would: that ends the other's wait */
	return NULL;
}

static void *
recv_main(void *p)
{
	struct run *m = p;

	m->dst_rc = mig_recv_run(m->r, &m->rst, &m->rerr);
	close(m->rfd);
	return NULL;
}

/* The test's callbacks need nothing beyond the engine's own calls. */
static const struct mig_sandbox no_extras;

static void
run_sender_new(struct run *m, int fd)
{
	struct mig_send_params sp = {
		.fd = fd,
		.mem = m->src->mem,
		.mem_size = m->src->size,
		.token = TOKEN,
		.token_len = sizeof(TOKEN) - 1,
		.id = 7,
		.config = &src_config,
		.limits = m->lim,
		.encrypt = m->encrypt,
		.sandbox = m->sandbox ? &no_extras : NULL,
		.ops = &src_ops,
		.arg = m->src,
	};
	struct ebb_err err;

	assert_int_equal(mig_send_new(&m->s, &sp, &err), 0);
}

static void
run_receiver_new(struct run *m, int fd)
{
	struct mig_recv_params rp = {
		.fd = fd,
		.token = m->rtoken,
		.token_len = sizeof(TOKEN) - 1,
		.id = m->rid,
		.io_timeout_ms = m->lim.io_timeout_ms,
		.require_encryption = m->require_enc,
		.sandbox = m->sandbox ? &no_extras : NULL,
		.ops = &dst_ops,
		.arg = &m->dst,
	};
	struct ebb_err err;

	assert_int_equal(mig_recv_new(&m->r, &rp, &err), 0);
}

static void
run_start(struct run *m)
{
	if (m->use_tcp)
		tcp_pair(&m->sfd, &m->rfd);
	else
		unix_pair(&m->sfd, &m->rfd);
	if (m->use_relay) {
		int a, b;

		unix_pair(&a, &m->relay.s);
		unix_pair(&m->relay.r, &b);
		close(m->sfd);
		close(m->rfd);
		m->sfd = a;
		m->rfd = b;
		assert_int_equal(pthread_create(&m->relay.th, NULL, relay_main,
		    &m->relay), 0);
	}
	run_sender_new(m, m->sfd);
	run_receiver_new(m, m->rfd);
	assert_int_equal(pthread_create(&m->rth, NULL, recv_main, m), 0);
	assert_int_equal(pthread_create(&m->sth, NULL, send_main, m), 0);
}

/* Joins both ends (each closed its socket when it returned). */
static void
run_wait(struct run *m)
{
	pthread_join(m->sth, NULL);
	pthread_join(m->rth, NULL);
	if (m->use_relay)
		pthread_join(m->relay.th, NULL);
	mig_send_free(m->s);
	mig_recv_free(m->r);
}

static void
run_fini(struct run *m)
{
	dst_fini(&m->dst);
}

/* The commit rule, seen from both ends after a failed migration. */
static void
assert_source_kept(struct run *m)
{
	assert_true(m->src_rc < 0);
	assert_true(m->src->running);
	assert_int_equal(m->src->npause, m->src->nresume);
	assert_true(m->dst_rc < 0 || m->sst.ack_in_doubt);
	if (m->dst_rc < 0) {
		assert_false(m->dst.running);
		assert_int_equal(m->dst.ndiscard,
		    m->dst.mem != NULL || m->dst.preset ? 1 : 0);
	}
}

static void
assert_migrated(struct run *m)
{
	if (m->src_rc != 0 || m->dst_rc != 0)
		fail_msg("migration failed: source %d (%s), target %d (%s)",
		    m->src_rc, m->serr.msg, m->dst_rc, m->rerr.msg);
	assert_int_equal(m->src->npause, 1);
	assert_int_equal(m->src->nresume, 0);
	assert_false(m->src->running);
	assert_true(m->dst.running);
	assert_int_equal(m->dst.nstart, 1);
	assert_int_equal(m->dst.ndiscard, 0);
	assert_int_equal(m->dst.size, m->src->size);
	/* The target holds the source's memory as it was at the pause. */
	assert_true(memcmp(m->dst.mem, m->src->mem, m->src->size) == 0);
	assert_int_equal(m->dst.state_len, STATE_LEN);
	assert_memory_equal(m->dst.state, m->src->state, STATE_LEN);
	/* Both ends count alike. */
	assert_int_equal(m->sst.bytes, m->rst.bytes);
	assert_int_equal(m->sst.pages, m->rst.pages);
	assert_int_equal(m->sst.zero_pages, m->rst.zero_pages);
	assert_int_equal(m->sst.rounds, m->rst.rounds);
	assert_true(m->sst.pages >= m->src->npages);
	assert_true(m->sst.downtime_us > 0);
	assert_true(m->sst.downtime_us <= m->sst.total_us);
	assert_false(m->sst.ack_in_doubt);
}

static void
print_stats(const char *what, const struct run *m)
{
	const struct mig_stats *s = &m->sst;

	print_message("  %s: %u rounds, %.1f ms total, %.2f ms down, "
	    "%.1f MiB sent for %.0f MiB of memory, %llu pages (%llu zero), "
	    "throttle %u %%, %s\n", what, s->rounds, s->total_us / 1e3,
	    s->downtime_us / 1e3, (double)s->bytes / MiB,
	    (double)m->src->size / MiB, (unsigned long long)s->pages,
	    (unsigned long long)s->zero_pages, s->throttle_pct,
	    s->converged ? "converged" : "forced");
}

/* ---- progress, read from another thread ------------------------------ */

struct watcher {
	struct run	*m;
	pthread_t	 th;
	atomic_bool	 stop;
	int		 phases;	/* bit per phase seen */
	uint64_t	 samples, max_round;
	bool		 backwards;
};

static void *
watch_main(void *p)
{
	struct watcher *w = p;
	uint64_t last = 0;

	while (!atomic_load(&w->stop)) {
		struct mig_progress pr;

		mig_send_progress(w->m->s, &pr);
		w->phases |= 1 << pr.phase;
		if (pr.bytes < last)
			w->backwards = true;
		last = pr.bytes;
		w->max_round = EBB_MAX(w->max_round, pr.round);
		w->samples++;
		sleep_ms(1);
	}
	return NULL;
}

/* ---- the tests ------------------------------------------------------- */

/*
 * 64 MiB, a quarter of it data, and a writer dirtying 5,000 pages/s in a
 * 16 MiB working set while the migration runs.
 */
static void
converge(bool tcp)
{
	struct src_vm *vm = src_new(64 * MiB, 25, tcp ? 11 : 12);
	struct watcher w = { 0 };
	struct mig_progress pr;
	struct run m;

	run_init(&m, vm);
	m.use_tcp = tcp;
	src_writer(vm, 5000, 1024, 4096, false);
	sleep_ms(20);
	run_start(&m);
	w.m = &m;
	assert_int_equal(pthread_create(&w.th, NULL, watch_main, &w), 0);
	pthread_join(m.sth, NULL);
	atomic_store(&w.stop, true);
	pthread_join(w.th, NULL);
	mig_send_progress(m.s, &pr);
	pthread_join(m.rth, NULL);

	assert_migrated(&m);
	print_stats(tcp ? "tcp" : "unix", &m);
	assert_true(vm->writes > 0);
	assert_true(m.sst.converged);
	assert_true(m.sst.rounds >= 2);
	/*
	 * Three quarters of the image are zero: markers, not bytes.  What
	 * goes on the wire is the non-zero pages sent (how many are resent
	 * depends on how fast the machine is against the writer, so that
	 * count is not fixed) plus a little framing, and nothing for zeros.
	 */
	assert_true(m.sst.zero_pages >= vm->npages * 6 / 10);
	assert_true(m.sst.bytes < (m.sst.pages - m.sst.zero_pages) * 4096 *
	    105 / 100 + MiB);
	/* Progress was readable throughout, and ends where stats do. */
	assert_true(w.samples > 0);
	assert_false(w.backwards);
	assert_true(w.phases & (1 << MIG_PHASE_LIVE));
	assert_int_equal(pr.phase, MIG_PHASE_DONE);
	assert_int_equal(pr.bytes, m.sst.bytes);
	assert_int_equal(pr.pages, m.sst.pages);
	assert_int_equal(pr.round + 1, m.sst.rounds);
	assert_true(pr.throughput > 0);

	mig_send_free(m.s);
	mig_recv_free(m.r);
	run_fini(&m);
	src_free(vm);
}

static void
test_converge_unix(void **state)
{
	(void)state;
	converge(false);
}

static void
test_converge_tcp(void **state)
{
	(void)state;
	converge(true);
}

/* 64 MiB of which 1 % is data: zero pages cost a bit each. */
static void
test_zero_markers(void **state)
{
	struct src_vm *vm = src_new(64 * MiB, 1, 3);
	uint64_t zero = 0, data;
	struct run m;

	(void)state;
	for (size_t p = 0; p < vm->npages; p++) {
		uint8_t z[PS] = { 0 };

		zero += memcmp(vm->mem + p * PS, z, PS) == 0;
	}
	data = vm->npages - zero;
	run_init(&m, vm);
	run_start(&m);
	run_wait(&m);
	assert_migrated(&m);
	print_stats("1 % data", &m);
	/* No writer: one round and an empty final pass. */
	assert_int_equal(m.sst.rounds, 2);
	assert_int_equal(m.sst.pages, vm->npages);
	assert_int_equal(m.sst.zero_pages, zero);
	assert_true(m.sst.bytes < data * PS + data * PS / 20 + 64 * 1024);
	assert_true(m.sst.bytes < vm->size / 20);
	run_fini(&m);
	src_free(vm);
}

/* The target refuses the CPU: NACK before any page; the VM never stops. */
static void
test_nack_config(void **state)
{
	struct src_vm *vm = src_new(8 * MiB, 50, 4);
	struct run m;

	(void)state;
	run_init(&m, vm);
	m.dst.vendor = "GenuineIntel";
	run_start(&m);
	run_wait(&m);
	assert_int_equal(m.src_rc, -EREMOTEIO);
	assert_non_null(strstr(m.serr.msg, "vendor"));
	assert_int_equal(m.dst_rc, -ENOTSUP);
	assert_int_equal(vm->npause, 0);
	assert_source_kept(&m);
	assert_int_equal(m.dst.ndiscard, 0);	/* nothing was set up */
	run_fini(&m);
	src_free(vm);
}

/* The target cannot start: the paused source resumes. */
static void
test_nack_start(void **state)
{
	struct src_vm *vm = src_new(8 * MiB, 50, 5);
	struct run m;

	(void)state;
	run_init(&m, vm);
	m.dst.start_rc = -ENOMEM;
	src_writer(vm, 2000, 0, vm->npages, false);
	run_start(&m);
	run_wait(&m);
	assert_int_equal(m.src_rc, -EREMOTEIO);
	assert_non_null(strstr(m.serr.msg, "no room to start"));
	assert_int_equal(m.dst_rc, -ENOMEM);
	assert_int_equal(vm->npause, 1);
	assert_int_equal(vm->nresume, 1);
	assert_false(m.sst.ack_in_doubt);
	assert_int_equal(m.dst.ndiscard, 1);
	assert_source_kept(&m);
	run_fini(&m);
	src_free(vm);
}

/*
 * The wrong token is refused at HELLO: config is never called and the
 * target's memory (handed out in advance here) is never written.
 */
static void
test_wrong_token(void **state)
{
	struct src_vm *vm = src_new(8 * MiB, 50, 6);
	struct run m;

	(void)state;
	for (int pass = 0; pass < 2; pass++) {
		run_init(&m, vm);
		if (pass == 0)
			m.rtoken = WRONG;
		else
			m.rid = 8;	/* expects another migration */
		m.dst.preset = true;
		m.dst.size = vm->size;
		m.dst.mem = map(vm->size);
		memset(m.dst.mem, 0xaa, vm->size);
		run_start(&m);
		run_wait(&m);
		assert_int_equal(m.dst_rc, -EACCES);
		assert_int_equal(m.src_rc, -EREMOTEIO);
		if (pass == 0) {
			assert_non_null(strstr(m.serr.msg,
			    "not authenticated"));
			assert_non_null(strstr(m.serr.msg, "token"));
		} else {
			assert_non_null(strstr(m.serr.msg, "migration id"));
		}
		assert_int_equal(m.dst.nconfig, 0);
		assert_int_equal(m.dst.ndiscard, 0);
		assert_int_equal(vm->npause, 0);
		assert_true(vm->running);
		for (size_t i = 0; i < vm->size; i++)
			if (m.dst.mem[i] != 0xaa)
				fail_msg("target memory written at %zu", i);
		munmap(m.dst.mem, vm->size);
	}
	src_free(vm);
}

static void
cancel(bool from_source)
{
	struct src_vm *vm = src_new(16 * MiB, 100, 7);
	uint64_t t0;
	struct run m;

	run_init(&m, vm);
	m.lim.bandwidth = 8 * MiB;	/* two seconds of work */
	run_start(&m);
	sleep_ms(150);
	t0 = now_ns();
	if (from_source)
		mig_send_cancel(m.s);
	else
		mig_recv_cancel(m.r);
	run_wait(&m);
	assert_true(now_ns() - t0 < 1500000000ull);
	if (from_source) {
		assert_int_equal(m.src_rc, -ECANCELED);
		assert_int_equal(m.dst_rc, -ECANCELED);
		assert_non_null(strstr(m.rerr.msg, "source cancelled"));
	} else {
		assert_int_equal(m.dst_rc, -ECANCELED);
		assert_int_equal(m.src_rc, -EREMOTEIO);
		assert_non_null(strstr(m.serr.msg, "cancelled"));
	}
	assert_int_equal(vm->npause, 0);
	assert_source_kept(&m);
	run_fini(&m);
	src_free(vm);
}

static void
test_cancel_source(void **state)
{
	(void)state;
	cancel(true);
}

static void
test_cancel_target(void **state)
{
	(void)state;
	cancel(false);
}

/*
 * A receiver process SIGKILLed mid-stream, and one killed while it starts
 * the VM (DONE sent, the source paused): the source resumes both times;
 * the second is the window mig_engine.h names, reported as in doubt.
 */
static void
killed(bool in_start)
{
	struct src_vm *vm = src_new(16 * MiB, 100, 8);
	int sv[2], pp[2], status;
	struct mig_progress pr;
	struct run m;
	pid_t pid;

	run_init(&m, vm);
	if (!in_start)
		m.lim.bandwidth = 32 * MiB;
	assert_int_equal(pipe(pp), 0);
	unix_pair(&sv[0], &sv[1]);
	/* Fork while this process has one thread. */
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		close(sv[0]);
		close(pp[0]);
		m.dst.start_fd = pp[1];
		run_receiver_new(&m, sv[1]);
		mig_recv_run(m.r, NULL, NULL);
		_exit(0);
	}
	close(sv[1]);
	close(pp[1]);
	m.sfd = sv[0];
	run_sender_new(&m, m.sfd);
	assert_int_equal(pthread_create(&m.sth, NULL, send_main, &m), 0);
	if (in_start) {
		char c;

		assert_int_equal(read(pp[0], &c, 1), 1);
	} else {
		do {
			sleep_ms(5);
			mig_send_progress(m.s, &pr);
		} while (pr.bytes < 2 * MiB);
	}
	kill(pid, SIGKILL);
	waitpid(pid, &status, 0);
	pthread_join(m.sth, NULL);
	close(pp[0]);
	mig_send_free(m.s);

	assert_true(m.src_rc == -EPIPE || m.src_rc == -ECONNRESET);
	assert_true(vm->running);
	assert_int_equal(vm->npause, vm->nresume);
	assert_int_equal(vm->npause, in_start ? 1 : 0);
	assert_true(m.sst.ack_in_doubt == in_start);
	src_free(vm);
}

static void
test_receiver_killed(void **state)
{
	(void)state;
	killed(false);
}

static void
test_receiver_killed_in_start(void **state)
{
	(void)state;
	killed(true);
}

/*
 * One byte flipped anywhere in the sender's stream: the target never
 * starts, the source always resumes.
 */
static void
test_corrupt_byte(void **state)
{
	struct src_vm *vm = src_new(2 * MiB, 50, 9);
	struct ebb_rand rng;
	uint64_t total;
	struct run m;

	(void)state;
	/* A clean run through the relay gives the stream's length. */
	run_init(&m, vm);
	m.use_relay = true;
	run_start(&m);
	run_wait(&m);
	assert_migrated(&m);
	total = m.relay.n_s2r;
	run_fini(&m);
	vm->npause = 0;
	vm->running = true;

	ebb_rand_seed(&rng, 99);
	for (int i = 0; i < 24; i++) {
		/* HELLO, CONFIG, the first RAM record, DONE, then anywhere. */
		static const int64_t fixed[] = { 0, 5, 9, 30, 63, 64, 70, 100,
		    130, 200, 4000 };
		int64_t off = i < (int)EBB_NITEMS(fixed) ? fixed[i] :
		    i == 11 ? (int64_t)total - 1 :
		    i == 12 ? (int64_t)total - 20 :
		    i == 13 ? (int64_t)total - 50 :
		    (int64_t)ebb_rand_below(&rng, total);

		run_init(&m, vm);
		m.use_relay = true;
		m.relay.flip_s2r = off;
		m.lim.io_timeout_ms = 1000;
		m.lim.ack_timeout_ms = 1000;
		run_start(&m);
		run_wait(&m);
		if (m.src_rc == 0 || m.dst_rc == 0)
			fail_msg("flip at %lld of %llu: source %d, target %d",
			    (long long)off, (unsigned long long)total,
			    m.src_rc, m.dst_rc);
		assert_source_kept(&m);
		assert_int_equal(m.dst.nstart, 0);
		/* Only a NACK nobody can vouch for leaves a doubt. */
		if (m.sst.ack_in_doubt)
			assert_non_null(strstr(m.serr.msg,
			    "not authenticated"));
		run_fini(&m);
	}

	/*
	 * A flipped byte in the ACK: the target runs, the source cannot
	 * believe it and resumes - the in-doubt window, flagged as such.
	 */
	run_init(&m, vm);
	m.use_relay = true;
	m.relay.flip_r2s = 20;
	run_start(&m);
	run_wait(&m);
	assert_int_equal(m.src_rc, -EACCES);
	assert_int_equal(m.dst_rc, 0);
	assert_true(m.sst.ack_in_doubt);
	assert_true(vm->running);
	run_fini(&m);
	src_free(vm);
}

/*
 * Runs a migration set up to fail (short timeouts, the source VM running
 * again): the source keeps its VM and the target never starts one.
 */
static void
run_refused(struct run *m)
{
	m->lim.io_timeout_ms = 1000;
	m->lim.ack_timeout_ms = 1000;
	m->src->npause = 0;
	m->src->running = true;
	run_start(m);
	run_wait(m);
	assert_source_kept(m);
	assert_int_equal(m->dst.nstart, 0);
}

/* Writes `mark` at the start of every page that holds data. */
static void
plant(struct src_vm *vm, const char *mark)
{
	for (size_t p = 0; p < vm->npages; p++) {
		uint8_t *pg = vm->mem + p * PS;

		if (pg[0] != 0)
			memcpy(pg, mark, strlen(mark));
	}
}

/*
 * An encrypted migration: the same memory arrives while the VM writes,
 * and the marker every data page carries crosses the wire only in the
 * run in clear.  A flipped byte still fails it; a target that requires
 * encryption refuses a source that does not, before touching memory.
 */
static void
test_encrypted(void **state)
{
	static const char mark[] = "EBB-PLAINTEXT-MARKER";
	struct src_vm *vm = src_new(16 * MiB, 40, 21);
	struct run m;

	(void)state;
	plant(vm, mark);
	for (int enc = 0; enc < 2; enc++) {
		run_init(&m, vm);
		m.use_relay = true;
		m.relay.needle = mark;
		m.encrypt = enc;
		m.require_enc = enc;
		vm->npause = 0;
		vm->running = true;
		run_start(&m);
		run_wait(&m);
		assert_migrated(&m);
		assert_int_equal(m.sst.encrypted, enc);
		assert_int_equal(m.rst.encrypted, enc);
		print_message("  %s: %.1f MiB on the wire, marker in %llu "
		    "chunks\n", enc ? "encrypted" : "in clear",
		    (double)m.sst.bytes / MiB,
		    (unsigned long long)m.relay.needles);
		if (enc)
			assert_int_equal(m.relay.needles, 0);
		else
			assert_true(m.relay.needles > 0);
		run_fini(&m);
	}

	/* While the VM writes (several rounds), encrypted. */
	run_init(&m, vm);
	m.encrypt = true;
	vm->npause = 0;
	vm->running = true;
	src_writer(vm, 3000, 0, 1024, false);
	run_start(&m);
	run_wait(&m);
	assert_migrated(&m);
	assert_true(m.sst.rounds >= 2);
	print_stats("encrypted, VM writing", &m);
	run_fini(&m);
	src_free(vm);

	vm = src_new(2 * MiB, 50, 22);
	/* Flipped bytes: HELLO's tag, CONFIG, a RAM record, late. */
	static const int64_t offs[] = { 70, 110, 5000, 300000 };
	for (size_t i = 0; i < EBB_NITEMS(offs); i++) {
		run_init(&m, vm);
		m.use_relay = true;
		m.encrypt = true;
		m.relay.flip_s2r = offs[i];
		run_refused(&m);
		run_fini(&m);
	}

	/* The target requires it, the source sends in clear. */
	run_init(&m, vm);
	m.require_enc = true;
	run_refused(&m);
	assert_int_equal(m.dst_rc, -EACCES);
	assert_null(m.dst.mem);
	if (strstr(m.rerr.msg, "requires it") == NULL)
		fail_msg("target: \"%s\"", m.rerr.msg);
	if (strstr(m.serr.msg, "requires it") == NULL)
		fail_msg("source not told why: \"%s\"", m.serr.msg);
	run_fini(&m);
	src_free(vm);
}

/*
 * Both ends run confined by the seccomp filter (mig_sandbox.h): a whole
 * encrypted migration while the VM writes, over TCP, then failures (a
 * flipped byte, a wrong token) whose paths - NACK, discard, resume - must
 * stay inside the filter too.  A call outside it would kill this test.
 */
static void
test_sandboxed(void **state)
{
	struct src_vm *vm = src_new(16 * MiB, 40, 23);
	struct run m;

	(void)state;
	run_init(&m, vm);
	m.use_tcp = true;
	m.encrypt = true;
	m.sandbox = true;
	src_writer(vm, 3000, 0, 1024, false);
	run_start(&m);
	run_wait(&m);
	assert_migrated(&m);
	print_stats("sandboxed, encrypted, tcp", &m);
	run_fini(&m);
	src_free(vm);

	vm = src_new(2 * MiB, 50, 24);
	for (int k = 0; k < 2; k++) {
		run_init(&m, vm);
		m.use_relay = k == 0;
		m.relay.flip_s2r = 5000;
		if (k == 1)
			m.rtoken = WRONG;
		m.sandbox = true;
		run_refused(&m);
		run_fini(&m);
	}
	src_free(vm);
}

/* 16 MiB of data at 40 MB/s: within 30 %. */
static void
test_bandwidth(void **state)
{
	struct src_vm *vm = src_new(16 * MiB, 100, 10);
	double rate;
	struct run m;

	(void)state;
	run_init(&m, vm);
	m.lim.bandwidth = 40000000;
	run_start(&m);
	run_wait(&m);
	assert_migrated(&m);
	rate = (double)m.sst.bytes / (m.sst.total_us / 1e6);
	print_message("  bandwidth: %.1f MB/s for a cap of 40 MB/s\n",
	    rate / 1e6);
	assert_true(rate > 40e6 * 0.7 && rate < 40e6 * 1.3);
	run_fini(&m);
	src_free(vm);
}

/*
 * The writer sweeps 12,000 pages/s (48 MB/s) through memory, the link is
 * capped at 16 MB/s: the engine must throttle, harder each time, until the
 * migration converges.
 */
static void
test_auto_converge(void **state)
{
	struct src_vm *vm = src_new(16 * MiB, 5, 13);
	struct run m;

	(void)state;
	run_init(&m, vm);
	m.lim.bandwidth = 16 * 1000 * 1000;
	m.lim.downtime_ms = 20;
	m.lim.throttle_after = 1;
	m.lim.throttle_initial = 30;
	m.lim.throttle_step = 30;
	m.lim.throttle_max = 90;
	src_writer(vm, 12000, 0, vm->npages, true);
	run_start(&m);
	run_wait(&m);
	assert_migrated(&m);
	print_stats("auto-converge", &m);
	print_message("  throttle calls:");
	for (int i = 0; i < vm->nthrottle; i++)
		print_message(" %u%%", vm->pcts[i]);
	print_message("\n");
	assert_true(vm->nthrottle >= 2);
	for (int i = 1; i < vm->nthrottle; i++)
		assert_true(vm->pcts[i] > vm->pcts[i - 1]);
	assert_int_equal(vm->pcts[0], 30);
	assert_int_equal(m.sst.throttle_pct, vm->pcts[vm->nthrottle - 1]);
	run_fini(&m);
	src_free(vm);
}

/* A VM that never converges (no throttle): forced after max_rounds. */
static void
test_forced(void **state)
{
	struct src_vm *vm = src_new(8 * MiB, 1, 14);
	struct mig_send_ops ops = src_ops;
	struct run m;

	(void)state;
	ops.throttle = NULL;
	run_init(&m, vm);
	m.lim.bandwidth = 8 * MiB;
	m.lim.downtime_ms = 1;
	m.lim.max_rounds = 3;
	src_writer(vm, 20000, 100, 256, false);
	/* No throttle callback: auto-converge is off. */
	{
		struct mig_send_params sp = {
			.mem = vm->mem, .mem_size = vm->size,
			.token = TOKEN, .token_len = sizeof(TOKEN) - 1,
			.config = &src_config, .limits = m.lim, .ops = &ops,
			.arg = vm,
		};
		struct ebb_err err;

		unix_pair(&m.sfd, &m.rfd);
		sp.fd = m.sfd;
		assert_int_equal(mig_send_new(&m.s, &sp, &err), 0);
		run_receiver_new(&m, m.rfd);
		assert_int_equal(pthread_create(&m.rth, NULL, recv_main, &m),
		    0);
		assert_int_equal(pthread_create(&m.sth, NULL, send_main, &m),
		    0);
	}
	run_wait(&m);
	assert_migrated(&m);
	print_stats("forced", &m);
	assert_false(m.sst.converged);
	assert_int_equal(m.sst.rounds, 4);
	assert_int_equal(vm->nthrottle, 0);
	run_fini(&m);
	src_free(vm);
}

static void
test_bad_params(void **state)
{
	struct src_vm *vm = src_new(MiB, 0, 1);
	struct mig_send_params sp = {
		.fd = 0, .mem = vm->mem, .mem_size = vm->size,
		.token = TOKEN, .token_len = sizeof(TOKEN) - 1,
		.config = &src_config, .limits = mig_limits_default(),
		.ops = &src_ops, .arg = vm,
	}, bad;
	struct mig_recv_params rp = {
		.fd = 0, .token = TOKEN, .token_len = sizeof(TOKEN) - 1,
		.io_timeout_ms = 1000, .ops = &dst_ops,
	};
	struct mig_config cfg = src_config;
	struct mig_sender *s;
	struct mig_receiver *r;
	struct ebb_err err;

	(void)state;
	assert_int_equal(mig_send_new(&s, &sp, &err), 0);
	mig_send_free(s);
#define BAD(field, value)						\
	do {								\
		bad = sp;						\
		bad.field = value;					\
		assert_int_equal(mig_send_new(&s, &bad, &err), -EINVAL); \
		assert_null(s);						\
	} while (0)
	BAD(fd, -1);
	BAD(mem, NULL);
	BAD(mem_size, vm->size - 1);
	BAD(mem_size, 0);
	BAD(token_len, 8);
	BAD(limits.downtime_ms, 0);
	BAD(limits.max_rounds, 0);
	BAD(limits.throttle_max, 100);
	BAD(limits.throttle_initial, 0);
	BAD(config, NULL);
	cfg.vendor[0] = '\0';
	BAD(config, &cfg);
	cfg = src_config;
	cfg.nvcpus = 0;
	BAD(config, &cfg);
#undef BAD
	assert_int_equal(mig_recv_new(&r, &rp, &err), 0);
	mig_recv_free(r);
	rp.token_len = 3;
	assert_int_equal(mig_recv_new(&r, &rp, &err), -EINVAL);
	rp.token_len = sizeof(TOKEN) - 1;
	rp.io_timeout_ms = 0;
	assert_int_equal(mig_recv_new(&r, &rp, &err), -EINVAL);
	assert_string_equal(mig_phase_name(MIG_PHASE_COMMIT), "commit");
	src_free(vm);
}

/* ---- measurements (printed, not asserted) ---------------------------- */

struct raw_job {
	int		 fd;
	uint8_t		*buf;
	size_t		 len;
	bool		 sending;
};

static void *
raw_main(void *p)
{
	struct raw_job *j = p;
	size_t off = 0;

	while (off < j->len) {
		size_t n = EBB_MIN(j->len - off, 1u << 20);
		ssize_t got = j->sending ?
		    send(j->fd, j->buf + off, n, MSG_NOSIGNAL) :
		    recv(j->fd, j->buf + off, n, 0);
		struct pollfd pfd = { .fd = j->fd,
		    .events = j->sending ? POLLOUT : POLLIN };

		if (got > 0)
			off += (size_t)got;
		else if (got < 0 && errno == EAGAIN)
			poll(&pfd, 1, 1000);
		else
			break;
	}
	return NULL;
}

/* Plain TCP loopback, no framing, no HMAC, warm buffers: the ceiling. */
static double
measure_raw(struct src_vm *vm, uint8_t *sink)
{
	struct raw_job rj[2];
	pthread_t rt[2];
	uint64_t t0, t;
	int a, b;

	tcp_pair(&a, &b);
	rj[0] = (struct raw_job){ a, vm->mem, vm->size, true };
	rj[1] = (struct raw_job){ b, sink, vm->size, false };
	t0 = now_ns();
	pthread_create(&rt[1], NULL, raw_main, &rj[1]);
	pthread_create(&rt[0], NULL, raw_main, &rj[0]);
	pthread_join(rt[0], NULL);
	pthread_join(rt[1], NULL);
	t = now_ns() - t0;
	close(a);
	close(b);
	return (double)vm->size / (double)t;
}

/*
 * nstreams migrations at once over TCP, each of one of vms; GB/s of guest
 * memory moved, all together.  prefault: the targets' memory is touched
 * before (a VMM that populates its guests' memory up front).
 */
static double
measure_mig(struct src_vm **vms, int nstreams, bool prefault, bool encrypt,
    double *wire)
{
	struct run m[2];
	uint64_t t0, t, bytes = 0, size = 0;

	for (int i = 0; i < nstreams; i++) {
		run_init(&m[i], vms[i]);
		m[i].use_tcp = true;
		m[i].encrypt = encrypt;
		m[i].dst.preset = true;
		m[i].dst.size = vms[i]->size;
		m[i].dst.mem = map(vms[i]->size);
		if (prefault)
			memset(m[i].dst.mem, 0, vms[i]->size);
		vms[i]->npause = 0;
	}
	t0 = now_ns();
	for (int i = 0; i < nstreams; i++)
		run_start(&m[i]);
	for (int i = 0; i < nstreams; i++)
		run_wait(&m[i]);
	t = now_ns() - t0;
	for (int i = 0; i < nstreams; i++) {
		assert_migrated(&m[i]);
		bytes += m[i].sst.bytes;
		size += vms[i]->size;
		munmap(m[i].dst.mem, vms[i]->size);
		run_fini(&m[i]);
	}
	*wire = (double)bytes / (double)t;
	return (double)size / (double)t;
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/*
 * The throughput of a 256 MiB guest, 75 % of its pages non-zero, over TCP
 * loopback: raw TCP, one stream (fresh and pre-faulted target memory),
 * two streams of half the memory each, one encrypted stream.  EBB_MIG_MEASURE_REPS repeats it
 * (this machine is shared and noisy: look at the best and the median).
 */
static void
test_measure(void **state)
{
#if defined(__SANITIZE_ADDRESS__)
	const size_t size = 32 * MiB;	/* sanitizers: correctness only */
#else
	const size_t size = 256 * MiB;
#endif
	const char *env = getenv("EBB_MIG_MEASURE_REPS");
	int reps = env != NULL ? EBB_MAX(1, EBB_MIN(atoi(env), 50)) : 1;
	struct src_vm *vm = src_new(size, 75, 15), *half[2];
	double r[5][50], wire[5][50];
	uint8_t *sink = map(size);
	static const char *const what[] = {
		"raw TCP loopback, no HMAC",
		"one stream, fresh target memory",
		"one stream, pre-faulted target memory",
		"two streams, pre-faulted target memory",
		"one stream, encrypted, pre-faulted",
	};

	(void)state;
	memset(sink, 0, size);
	for (int i = 0; i < 2; i++)
		half[i] = src_new(size / 2, 75, 16 + (uint64_t)i);
	print_message("  measuring: %zu MiB, 75 %% non-zero pages, TCP "
	    "loopback, %ld CPUs, %d run(s)\n", size / MiB,
	    sysconf(_SC_NPROCESSORS_ONLN), reps);
	for (int k = 0; k < reps; k++) {
		r[0][k] = measure_raw(vm, sink);
		wire[0][k] = r[0][k];
		r[1][k] = measure_mig(&vm, 1, false, false, &wire[1][k]);
		r[2][k] = measure_mig(&vm, 1, true, false, &wire[2][k]);
		r[3][k] = measure_mig(half, 2, true, false, &wire[3][k]);
		r[4][k] = measure_mig(&vm, 1, true, true, &wire[4][k]);
	}
	for (int w = 0; w < 5; w++) {
		double med, best;

		qsort(r[w], (size_t)reps, sizeof(double), cmp_double);
		qsort(wire[w], (size_t)reps, sizeof(double), cmp_double);
		med = r[w][reps / 2];
		best = r[w][reps - 1];
		print_message("  %-40s %.2f GB/s of memory (best %.2f), "
		    "%.2f GB/s on the wire\n", what[w], med, best,
		    wire[w][reps / 2]);
	}
	munmap(sink, size);
	for (int i = 0; i < 2; i++)
		src_free(half[i]);
	src_free(vm);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_bad_params),
		cmocka_unit_test(test_converge_unix),
		cmocka_unit_test(test_converge_tcp),
		cmocka_unit_test(test_zero_markers),
		cmocka_unit_test(test_nack_config),
		cmocka_unit_test(test_nack_start),
		cmocka_unit_test(test_wrong_token),
		cmocka_unit_test(test_cancel_source),
		cmocka_unit_test(test_cancel_target),
		cmocka_unit_test(test_receiver_killed),
		cmocka_unit_test(test_receiver_killed_in_start),
		cmocka_unit_test(test_corrupt_byte),
		cmocka_unit_test(test_encrypted),
		cmocka_unit_test(test_sandboxed),
		cmocka_unit_test(test_bandwidth),
		cmocka_unit_test(test_auto_converge),
		cmocka_unit_test(test_forced),
		cmocka_unit_test(test_measure),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
