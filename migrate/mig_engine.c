/*
 * mig_engine.c - the pre-copy engine: the sender's rounds, convergence,
 * auto-converge, pacing and commit; the receiver's checks and commit.
 * mig_engine.h has the contract, mig_stream.h the format.
 */
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <errno.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <openssl/crypto.h>

#include "ebb.h"
#include "mig_engine.h"
#include "mig_stream.h"

/*
 * Pages per RAM record the sender makes: 1 MiB of data at most.  Big
 * enough that the per-record cost (header, tag, syscalls) is noise, small
 * enough that the receiver, which can act on a record only once all of it
 * is in and verified, is kept busy: measured on loopback, 64 and 256
 * pages do alike, 1024 about 15 % worse.
 */
#define MIG_SEND_RUN		256u
/*
 * Under a bandwidth cap a record holds at most this long a share of the
 * link: the receiver never waits long for the next one (its timeout is
 * for a dead sender, not a slow link), and a NACK is noticed in time.
 */
#define MIG_RECORD_NS		100000000ull
/* How often, at most, the sender looks for a NACK between records. */
#define MIG_PEEK_NS		2000000ull
/* A round with fewer data pages says little about the link's speed. */
#define MIG_TP_MIN_PAGES	16
/* Pacing forgives at most this much idle time (no bursts after a lull). */
#define MIG_PACE_SLACK_NS	100000000ull
/* How long a failing side waits to tell the other why, and to be heard. */
#define MIG_GOODBYE_MS		1000

struct mig_limits
mig_limits_default(void)
{
	return (struct mig_limits){
		.downtime_ms = 300,
		.bandwidth = 0,
		.max_rounds = 30,
		.io_timeout_ms = 10000,
		.ack_timeout_ms = 10000,
		.throttle_after = 2,
		.throttle_initial = 20,
		.throttle_step = 10,
		.throttle_max = 99,
	};
}

const char *
mig_phase_name(enum mig_phase ph)
{
	switch (ph) {
	case MIG_PHASE_SETUP:	return "setup";
	case MIG_PHASE_LIVE:	return "live";
	case MIG_PHASE_PAUSED:	return "paused";
	case MIG_PHASE_COMMIT:	return "commit";
	case MIG_PHASE_DONE:	return "done";
	case MIG_PHASE_FAILED:	return "failed";
	}
	return "unknown";
}

/* ---- shared by both ends ------------------------------------------------- */

/* Progress, written by the run thread and read by anyone. */
struct prog {
	atomic_int	phase;
	atomic_uint	round;
	atomic_uint	throttle_pct;
	_Atomic uint64_t bytes, pages, zero_pages, dirty_pages, dirty_rate,
			throughput, expected_downtime_ms;
};

#define SET(p, f, v)	\
	atomic_store_explicit(&(p)->f, (v), memory_order_relaxed)
#define GET(p, f)	atomic_load_explicit(&(p)->f, memory_order_relaxed)

static void
prog_read(struct prog *p, struct mig_progress *out)
{
	out->phase = (enum mig_phase)GET(p, phase);
	out->round = GET(p, round);
	out->bytes = GET(p, bytes);
	out->pages = GET(p, pages);
	out->zero_pages = GET(p, zero_pages);
	out->dirty_pages = GET(p, dirty_pages);
	out->dirty_rate = GET(p, dirty_rate);
	out->throughput = GET(p, throughput);
	out->expected_downtime_ms = GET(p, expected_downtime_ms);
	out->throttle_pct = GET(p, throttle_pct);
}

static uint64_t
now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static bool
page_is_zero(const uint8_t *p)
{
	for (size_t i = 0; i < MIG_PAGE_SIZE; i += 64) {
		uint64_t w[8], acc = 0;

		memcpy(w, p + i, sizeof(w));	/* any alignment, no aliasing */
		for (int j = 0; j < 8; j++)
			acc |= w[j];
		if (acc != 0)
			return false;
	}
	return true;
}

/* The first bit at or after from that is set (or clear), or n. */
static uint64_t
next_bit(const uint64_t *map, uint64_t n, uint64_t from, bool set)
{
	while (from < n) {
		uint64_t w = set ? map[from / 64] : ~map[from / 64];

		w &= ~0ull << (from % 64);
		if (w != 0)
			return EBB_MIN(from / 64 * 64 +
			    (uint64_t)__builtin_ctzll(w), n);
		from = (from / 64 + 1) * 64;
	}
	return n;
}

static uint64_t
popcount(const uint64_t *map, size_t nwords)
{
	uint64_t n = 0;

	for (size_t i = 0; i < nwords; i++)
		n += (uint64_t)__builtin_popcountll(map[i]);
	return n;
}

static int
new_cancel_fd(struct ebb_err *err)
{
	int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK), e = errno;

	if (fd >= 0)
		return fd;
	ebb_err_set(err, "eventfd: %s", strerror(e));
	return -e;
}

static void
signal_cancel(atomic_bool *flag, int fd)
{
	uint64_t one = 1;
	ssize_t n;

	atomic_store(flag, true);
	n = write(fd, &one, sizeof(one));	/* async-signal-safe */
	(void)n;
}

/* ---- sender ------------------------------------------------------------ */

struct mig_sender {
	struct mig_send_params	 p;
	struct mig_config	 config;
	char			*json;		/* config.json, owned */
	struct mig_stream	 st;
	int			 cancel_fd;
	atomic_bool		 cancelled;
	bool			 ran;
	uint64_t		 npages;
	size_t			 nwords;
	uint64_t		*dirty, *tmp;	/* bitmaps, npages bits */
	uint8_t			*rec;		/* one RAM record */
	uint32_t		 run_max;	/* pages in one */
	uint64_t		 next_peek;	/* time to look for a NACK */
	/* Pacing: bytes released since pace_t0. */
	uint64_t		 pace_t0, pace_bytes;
	/* The current round. */
	uint64_t		 rpages, rdata;
	/* Totals. */
	uint64_t		 pages, zero_pages;
	unsigned		 pct;		/* throttle applied */
	bool			 paused;
	struct prog		 prog;
};

static int
check_limits(const struct mig_limits *l, struct ebb_err *err)
{
	if (l->downtime_ms == 0 || l->max_rounds == 0 ||
	    l->io_timeout_ms == 0 || l->ack_timeout_ms == 0 ||
	    l->io_timeout_ms > INT32_MAX || l->ack_timeout_ms > INT32_MAX) {
		ebb_err_set(err, "migration limits: downtime, rounds and "
		    "timeouts must be positive");
		return -EINVAL;
	}
	if (l->throttle_max > 99 || l->throttle_initial > l->throttle_max ||
	    l->throttle_initial == 0 || l->throttle_after == 0) {
		ebb_err_set(err, "migration limits: throttle 1 <= initial <= "
		    "max <= 99 %%, after >= 1 round");
		return -EINVAL;
	}
	return 0;
}

int
mig_send_new(struct mig_sender **sp, const struct mig_send_params *p,
    struct ebb_err *err)
{
	struct mig_sender *s;
	struct mig_config c;
	uint8_t *buf;
	int rc;

	*sp = NULL;
	if (p->fd < 0 || p->mem == NULL || p->config == NULL ||
	    p->ops == NULL || p->ops->get_dirty == NULL ||
	    p->ops->pause == NULL || p->ops->resume == NULL ||
	    p->ops->get_state == NULL) {
		ebb_err_set(err, "migration sender: fd, memory, config and "
		    "the get_dirty, pause, resume, get_state callbacks are "
		    "needed");
		return -EINVAL;
	}
	if (p->mem_size == 0 || p->mem_size % MIG_PAGE_SIZE != 0 ||
	    p->mem_size / MIG_PAGE_SIZE > MIG_NPAGES_MAX) {
		ebb_err_set(err, "guest memory of %zu bytes: a positive "
		    "multiple of %u, at most %llu pages", p->mem_size,
		    MIG_PAGE_SIZE, MIG_NPAGES_MAX);
		return -EINVAL;
	}
	if ((rc = check_limits(&p->limits, err)) < 0)
		return rc;
	if (p->config->json != NULL && strlen(p->config->json) > MIG_JSON_MAX) {
		ebb_err_set(err, "VM config JSON longer than %u bytes",
		    MIG_JSON_MAX);
		return -EINVAL;
	}
	if (p->config->nfeatures > MIG_FEATURE_WORDS_MAX) {
		ebb_err_set(err, "%u CPU feature words, at most %d",
		    p->config->nfeatures, MIG_FEATURE_WORDS_MAX);
		return -EINVAL;
	}

	/* The receiver's own decoder is the check of what we will send. */
	c = *p->config;
	c.npages = p->mem_size / MIG_PAGE_SIZE;
	c.page_size = MIG_PAGE_SIZE;
	buf = ebb_malloc(mig_config_len(&c) + 1);
	rc = mig_config_decode(buf, mig_config_encode(&c, buf), &c, err);
	free(buf);
	if (rc < 0)
		return -EINVAL;

	s = ebb_calloc(1, sizeof(*s));
	s->p = *p;
	s->p.token = NULL;		/* the stream keeps its own copy */
	s->p.config = &s->config;
	s->config = *p->config;
	s->config.npages = c.npages;
	s->config.page_size = MIG_PAGE_SIZE;
	s->json = ebb_strdup(p->config->json != NULL ? p->config->json : "");
	s->config.json = s->json;
	s->npages = c.npages;
	s->nwords = (size_t)((s->npages + 63) / 64);
	if ((s->cancel_fd = new_cancel_fd(err)) < 0) {
		rc = s->cancel_fd;
		free(s->json);
		free(s);
		return rc;
	}
	rc = mig_stream_init(&s->st, p->fd, true, p->token, p->token_len,
	    s->cancel_fd, (int)p->limits.io_timeout_ms, err);
	if (rc < 0) {
		mig_send_free(s);
		return rc;
	}
	s->st.encrypt = p->encrypt;
	s->dirty = ebb_calloc(s->nwords, sizeof(uint64_t));
	s->tmp = ebb_calloc(s->nwords, sizeof(uint64_t));
	s->rec = ebb_malloc(mig_ram_len(MIG_SEND_RUN, MIG_SEND_RUN));
	s->run_max = MIG_SEND_RUN;
	if (p->limits.bandwidth != 0)
		s->run_max = (uint32_t)EBB_MAX(1, EBB_MIN(MIG_SEND_RUN,
		    p->limits.bandwidth / (1000000000ull / MIG_RECORD_NS) /
		    MIG_PAGE_SIZE));
	*sp = s;
	return 0;
}

void
mig_send_free(struct mig_sender *s)
{
	if (s == NULL)
		return;
	mig_stream_fini(&s->st);
	if (s->cancel_fd >= 0)
		close(s->cancel_fd);
	free(s->dirty);
	free(s->tmp);
	free(s->rec);
	free(s->json);
	free(s);
}

void
mig_send_cancel(struct mig_sender *s)
{
	signal_cancel(&s->cancelled, s->cancel_fd);
}

void
mig_send_progress(struct mig_sender *s, struct mig_progress *out)
{
	prog_read(&s->prog, out);
}

/*
 * The token bucket: a record goes out once the bytes before it have had
 * their time at the configured rate.  Sleeps watch the cancel eventfd.
 */
static int
pace(struct mig_sender *s, size_t n)
{
	uint64_t bw = s->p.limits.bandwidth, now, due;

	if (bw == 0)
		return 0;
	now = now_ns();
	due = s->pace_t0 + (uint64_t)((double)s->pace_bytes * 1e9 / (double)bw);
	if (now > due + MIG_PACE_SLACK_NS) {
		s->pace_t0 = now;
		s->pace_bytes = 0;
		due = now;
	}
	while (now < due) {
		struct pollfd pfd = { .fd = s->cancel_fd, .events = POLLIN };
		struct timespec ts = {
			.tv_sec = (time_t)((due - now) / 1000000000ull),
			.tv_nsec = (long)((due - now) % 1000000000ull),
		};

		if (ppoll(&pfd, 1, &ts, NULL) > 0)
			return -ECANCELED;
		now = now_ns();
	}
	s->pace_bytes += n;
	return 0;
}

/*
 * The error for an answer that is not a good ACK: rc is what
 * mig_stream_recv() said of it (0, or -EACCES for an unverified record).
 */
static int
refusal(const struct mig_record *rec, int rc, struct ebb_err *err)
{
	struct mig_reason why;
	struct ebb_err e2;

	if (rec->type == MIG_REC_ACK) {
		ebb_err_set(err, "target sent ACK before DONE");
		return -EPROTO;
	}
	if (mig_reason_decode(rec->payload, rec->len, &why, &e2) < 0) {
		ebb_err_set(err, "target refused (malformed NACK: %s)", e2.msg);
		return -EREMOTEIO;
	}
	/* An unauthenticated NACK is believed: failing is always safe. */
	ebb_err_set(err, "target refused%s: %s (%s)",
	    rc < 0 ? " (NACK not authenticated)" : "", why.text,
	    strerror(why.code));
	return -EREMOTEIO;
}

/*
 * Reads what the receiver said while we were sending: before DONE that
 * can only be a NACK, or the end of the connection.
 */
static int
peer_spoke(struct mig_sender *s, struct ebb_err *err)
{
	struct mig_record rec;
	int rc;

	s->st.timeout_ms = MIG_GOODBYE_MS;
	rc = mig_stream_recv(&s->st, &rec, err);
	if (rc < 0 && !(rc == -EACCES && rec.type == MIG_REC_NACK)) {
		if (rc == -ECONNRESET)
			ebb_err_set(err, "target closed the connection");
		return rc;
	}
	return refusal(&rec, rc, err);
}

/*
 * A write failed because the target hung up: if it said why first, that
 * is the error to report.
 */
static int
write_failed(struct mig_sender *s, int rc, struct ebb_err *err)
{
	if ((rc == -EPIPE || rc == -ECONNRESET) &&
	    mig_stream_readable(&s->st)) {
		struct ebb_err e2;
		int r2 = peer_spoke(s, &e2);

		if (r2 == -EREMOTEIO) {
			*err = e2;
			return r2;
		}
	}
	return rc;
}

/*
 * Checks, between two records, whether to go on: not cancelled, no NACK.
 * force: look for a NACK now, not only every MIG_PEEK_NS.
 */
static int
may_continue(struct mig_sender *s, bool force, struct ebb_err *err)
{
	uint64_t now;

	if (atomic_load(&s->cancelled)) {
		ebb_err_set(err, "cancelled");
		return -ECANCELED;
	}
	/* poll() is a syscall; a run of one-page records needs few. */
	if ((now = now_ns()) < s->next_peek && !force)
		return 0;
	s->next_peek = now + MIG_PEEK_NS;
	if (mig_stream_readable(&s->st))
		return peer_spoke(s, err);
	return 0;
}

static void
count_bytes(struct mig_sender *s)
{
	SET(&s->prog, bytes, s->st.bytes_out);
	SET(&s->prog, pages, s->pages);
	SET(&s->prog, zero_pages, s->zero_pages);
}

/*
 * Sends pages start .. start + count - 1 as one RAM record.  Each page is
 * copied into the record before it is tagged: the guest may write it
 * meanwhile, and the receiver must get the very bytes the tag covers.  A
 * page written after get_dirty() cleared its bit is dirty again and goes
 * in a later round, so any snapshot of it is good enough for now.
 */
static int
send_run(struct mig_sender *s, uint64_t start, uint32_t count,
    struct ebb_err *err)
{
	const uint8_t *mem = (const uint8_t *)s->p.mem + start * MIG_PAGE_SIZE;
	uint8_t *map = s->rec + MIG_RAM_FIXED_LEN, *out, tag[MIG_TAG_LEN];
	uint8_t zero[(MIG_RAM_RUN_LIMIT + 7) / 8];
	size_t maplen = (count + 7) / 8, len;
	uint32_t nzero = 0;
	int rc;

	if ((rc = may_continue(s, false, err)) < 0)
		return rc;
	memset(map, 0, maplen);
	for (uint32_t i = 0; i < count; i++) {
		if (page_is_zero(mem + (size_t)i * MIG_PAGE_SIZE)) {
			map[i / 8] |= (uint8_t)(1u << (i % 8));
			nzero++;
		}
	}
	len = mig_ram_len(count, count - nzero);
	/* Paced before it is tagged: a cancel here leaves the chain as is. */
	if ((rc = pace(s, MIG_HDR_LEN + len + MIG_TAG_LEN)) < 0) {
		ebb_err_set(err, "cancelled");
		return rc;
	}
	mig_put_u64(s->rec, start);
	mig_put_u32(s->rec + 8, count);
	out = map + maplen;
	/* The record's map may be encrypted in place: loop over a copy. */
	memcpy(zero, map, maplen);
	rc = mig_chan_begin(&s->st.tx, MIG_REC_RAM, (uint32_t)len);
	if (rc == 0)
		rc = mig_chan_seal_update(&s->st.tx, s->rec, MIG_RAM_FIXED_LEN +
		    maplen);
	for (uint32_t i = 0; rc == 0 && i < count; i++) {
		if (zero[i / 8] & (1u << (i % 8)))
			continue;
		memcpy(out, mem + (size_t)i * MIG_PAGE_SIZE, MIG_PAGE_SIZE);
		rc = mig_chan_seal_update(&s->st.tx, out, MIG_PAGE_SIZE);
		out += MIG_PAGE_SIZE;
	}
	if (rc == 0)
		rc = mig_chan_end(&s->st.tx, tag);
	if (rc < 0) {
		ebb_err_set(err, "HMAC or encryption failed (OpenSSL)");
		return -EIO;
	}
	rc = mig_stream_write(&s->st, MIG_REC_RAM, s->rec, (uint32_t)len, tag,
	    err);
	if (rc < 0)
		return write_failed(s, rc, err);
	s->rpages += count;
	s->rdata += count - nzero;
	s->pages += count;
	s->zero_pages += nzero;
	count_bytes(s);
	return 0;
}

/* Sends every page whose bit is set in map, in runs. */
static int
send_set(struct mig_sender *s, const uint64_t *map, struct ebb_err *err)
{
	uint64_t n = s->npages, pfn = next_bit(map, n, 0, true), end;
	int rc;

	while (pfn < n) {
		end = next_bit(map, n, pfn, false);
		while (pfn < end) {
			uint32_t c = (uint32_t)EBB_MIN(end - pfn,
			    (uint64_t)s->run_max);

			if ((rc = send_run(s, pfn, c, err)) < 0)
				return rc;
			pfn += c;
		}
		pfn = next_bit(map, n, end, true);
	}
	return 0;
}

static int
get_dirty(struct mig_sender *s, uint64_t *map, struct ebb_err *err)
{
	int rc;

	memset(map, 0, s->nwords * sizeof(uint64_t));
	if ((rc = s->p.ops->get_dirty(s->p.arg, map, (size_t)s->npages)) < 0) {
		ebb_err_set(err, "reading the dirty log: %s", strerror(-rc));
		return rc;
	}
	/* Bits past the last page mean nothing; they must not be sent. */
	if (s->npages % 64 != 0)
		map[s->nwords - 1] &= (1ull << (s->npages % 64)) - 1;
	return 0;
}

static int
send_round_end(struct mig_sender *s, uint32_t round, uint64_t left,
    struct ebb_err *err)
{
	struct mig_round_end e = { round, s->rpages, left };
	uint8_t buf[MIG_ROUND_END_LEN];
	int rc;

	mig_round_end_encode(&e, buf);
	rc = mig_stream_send(&s->st, MIG_REC_ROUND_END, buf, sizeof(buf), err);
	s->rpages = s->rdata = 0;
	count_bytes(s);
	return rc < 0 ? write_failed(s, rc, err) : 0;
}

static int
throttle(struct mig_sender *s, unsigned pct, struct ebb_err *err)
{
	int rc = s->p.ops->throttle(s->p.arg, pct);

	if (rc < 0) {
		ebb_err_set(err, "throttling the vCPUs to %u %%: %s", pct,
		    strerror(-rc));
		return rc;
	}
	s->pct = pct;
	SET(&s->prog, throttle_pct, pct);
	return 0;
}

/*
 * Waits for the target's answer to DONE; 0 only for a genuine ACK.
 * *doubt: the target may be running the VM although we got no ACK.
 */
static int
wait_ack(struct mig_sender *s, bool *doubt, struct ebb_err *err)
{
	struct mig_record rec;
	struct mig_ack ack;
	int rc;

	*doubt = true;
	s->st.timeout_ms = (int)s->p.limits.ack_timeout_ms;
	rc = mig_stream_recv(&s->st, &rec, err);
	if (rc == 0 && rec.type == MIG_REC_ACK) {
		if ((rc = mig_ack_decode(rec.payload, rec.len, &ack, err)) < 0)
			return rc;
		/* It must answer this very stream, up to its DONE. */
		if (CRYPTO_memcmp(ack.done_tag, s->st.tx.prev,
		    MIG_TAG_LEN) != 0 || ack.records != s->st.tx.seq) {
			ebb_err_set(err, "ACK answers another stream (%llu "
			    "records, we sent %llu)",
			    (unsigned long long)ack.records,
			    (unsigned long long)s->st.tx.seq);
			return -EACCES;
		}
		*doubt = false;
		return 0;
	}
	if (rec.type == MIG_REC_NACK && (rc == 0 || rc == -EACCES)) {
		/* A target discards the VM before it says NACK. */
		*doubt = rc < 0;
		return refusal(&rec, rc, err);
	}
	if (rc == -ETIMEDOUT)
		ebb_err_set(err, "no ACK from the target within %u ms",
		    s->p.limits.ack_timeout_ms);
	else if (rc == -ECONNRESET)
		ebb_err_set(err, "connection lost while waiting for ACK");
	return rc;
}

/* What is left to send at the link's speed, in ms (rounded up). */
static uint64_t
expected_ms(uint64_t pages, uint64_t throughput)
{
	double ms = (double)pages * MIG_PAGE_SIZE * 1000.0 /
	    (double)throughput;

	return (uint64_t)ms + (ms > (double)(uint64_t)ms);
}

/*
 * The sender's failure path: un-throttle and resume the VM first (it is
 * the guest's pause that is costly), then tell the target why.  Until
 * DONE is sent the target cannot start, so the order is safe.
 */
static void
send_fail(struct mig_sender *s, int rc, bool done_sent, struct ebb_err *err)
{
	struct ebb_err e2;
	uint8_t buf[4 + MIG_REASON_MAX];
	size_t n;
	int r2;

	SET(&s->prog, phase, MIG_PHASE_FAILED);
	if (s->pct > 0 && s->p.ops->throttle != NULL)
		s->p.ops->throttle(s->p.arg, 0);
	if (s->paused && (r2 = s->p.ops->resume(s->p.arg)) < 0) {
		size_t l = strlen(err->msg);

		snprintf(err->msg + l, sizeof(err->msg) - l,
		    "; resuming the VM failed too: %s", strerror(-r2));
	}
	if (done_sent || rc == -EREMOTEIO || rc == -EPIPE ||
	    rc == -ECONNRESET || rc == -ETIMEDOUT || s->st.tx.mac == NULL)
		return;
	/* The cancel eventfd stays readable: give the goodbye its chance. */
	n = mig_reason_encode(-rc, err->msg, buf);
	s->st.cancel_fd = -1;
	s->st.timeout_ms = MIG_GOODBYE_MS;
	mig_stream_send(&s->st, MIG_REC_CANCEL, buf, (uint32_t)n, &e2);
}

int
mig_send_run(struct mig_sender *s, struct mig_stats *stats,
    struct ebb_err *err)
{
	const struct mig_limits *l = &s->p.limits;
	struct ebb_err e_local;
	uint64_t t0 = now_ns(), t_pause = 0, t_get, tp = 0, rate = 0;
	uint64_t ndirty = 0, exp_ms = 0;
	uint32_t round = 0, outrun = 0;
	unsigned pct_max = 0;
	bool extra = false, converged = false, done_sent = false, doubt = false;
	void *state = NULL;
	size_t state_len = 0, n;
	uint8_t *buf, small[64];
	struct mig_done done;
	int rc;

	if (err == NULL)
		err = &e_local;
	if (s->ran) {
		ebb_err_set(err, "a migration sender runs once");
		return -EINVAL;
	}
	s->ran = true;

	SET(&s->prog, phase, MIG_PHASE_SETUP);
	if (s->p.sandbox != NULL &&
	    (rc = mig_sandbox_enter(s->p.sandbox, err)) < 0)
		goto fail;
	if ((rc = mig_stream_hello(&s->st, s->p.id, err)) < 0)
		goto fail;
	buf = ebb_malloc(mig_config_len(&s->config));
	n = mig_config_encode(&s->config, buf);
	rc = mig_stream_send(&s->st, MIG_REC_CONFIG, buf, (uint32_t)n, err);
	free(buf);
	if (rc < 0)
		goto fail;

	/* Starts the log: every write after this is in a later dirty set. */
	if ((rc = get_dirty(s, s->tmp, err)) < 0)
		goto fail;
	t_get = now_ns();
	memset(s->dirty, 0xff, s->nwords * sizeof(uint64_t));
	if (s->npages % 64 != 0)
		s->dirty[s->nwords - 1] = (1ull << (s->npages % 64)) - 1;

	SET(&s->prog, phase, MIG_PHASE_LIVE);
	for (;;) {
		uint64_t t_start = now_ns(), b0 = s->st.bytes_out, prev = t_get;
		uint64_t rdata, dt;

		SET(&s->prog, round, round);
		if ((rc = send_set(s, s->dirty, err)) < 0)
			goto fail;
		rdata = s->rdata;
		if ((rc = get_dirty(s, s->dirty, err)) < 0)
			goto fail;
		t_get = now_ns();
		ndirty = popcount(s->dirty, s->nwords);

		/*
		 * The link's speed is what this round achieved (a round of
		 * mostly zero pages measures our zero scan, not the link),
		 * never more than the cap: pacing lets a short round burst.
		 */
		dt = EBB_MAX(t_get - t_start, 1);
		if (rdata >= MIG_TP_MIN_PAGES || tp == 0)
			tp = (uint64_t)((double)(s->st.bytes_out - b0) * 1e9 /
			    (double)dt);
		if (l->bandwidth != 0 && tp > l->bandwidth)
			tp = l->bandwidth;
		tp = EBB_MAX(tp, 1);
		rate = (uint64_t)((double)ndirty * MIG_PAGE_SIZE * 1e9 /
		    (double)EBB_MAX(t_get - prev, 1));
		exp_ms = expected_ms(ndirty, tp);
		SET(&s->prog, dirty_pages, ndirty);
		SET(&s->prog, dirty_rate, rate);
		SET(&s->prog, throughput, tp);
		SET(&s->prog, expected_downtime_ms, exp_ms);
		if ((rc = send_round_end(s, round, ndirty, err)) < 0)
			goto fail;
		round++;

		if (exp_ms <= l->downtime_ms) {
			/*
			 * Sending these pages live takes ndirty/tp, during
			 * which the VM dirties rate/tp * ndirty pages: one
			 * more pass shrinks the pause iff rate < tp.  Once.
			 */
			if (!extra && ndirty > 0 && rate < tp &&
			    round < l->max_rounds) {
				extra = true;
				continue;
			}
			converged = true;
			break;
		}
		if (round >= l->max_rounds)
			break;
		/* Auto-converge: the VM outruns the link, slow it down. */
		outrun = rate > tp ? outrun + 1 : 0;
		if (s->p.ops->throttle != NULL && outrun >= l->throttle_after &&
		    s->pct < l->throttle_max) {
			unsigned pct = s->pct == 0 ? l->throttle_initial :
			    EBB_MIN(s->pct + l->throttle_step, l->throttle_max);

			if ((rc = throttle(s, pct, err)) < 0)
				goto fail;
			pct_max = EBB_MAX(pct_max, pct);
			outrun = 0;
		}
	}

	/* The final pass: the last dirty set, then the state, paused. */
	if ((rc = may_continue(s, true, err)) < 0)
		goto fail;	/* never pause for a target that said no */
	SET(&s->prog, phase, MIG_PHASE_PAUSED);
	s->paused = true;
	if ((rc = s->p.ops->pause(s->p.arg)) < 0) {
		ebb_err_set(err, "pausing the VM: %s", strerror(-rc));
		goto fail;
	}
	t_pause = now_ns();
	if ((rc = get_dirty(s, s->tmp, err)) < 0)
		goto fail;
	for (size_t i = 0; i < s->nwords; i++)
		s->dirty[i] |= s->tmp[i];
	SET(&s->prog, round, round);
	SET(&s->prog, dirty_pages, popcount(s->dirty, s->nwords));
	if ((rc = send_set(s, s->dirty, err)) < 0 ||
	    (rc = send_round_end(s, round, 0, err)) < 0)
		goto fail;
	round++;
	if ((rc = s->p.ops->get_state(s->p.arg, &state, &state_len)) < 0) {
		ebb_err_set(err, "getting the VM's state: %s", strerror(-rc));
		goto fail;
	}
	if (state_len == 0 || state_len > MIG_RECORD_MAX) {
		ebb_err_set(err, "VM state of %zu bytes (1 .. %u)", state_len,
		    MIG_RECORD_MAX);
		free(state);
		rc = -EMSGSIZE;
		goto fail;
	}
	rc = mig_stream_send(&s->st, MIG_REC_STATE, state, (uint32_t)state_len,
	    err);
	free(state);
	if (rc < 0) {
		rc = write_failed(s, rc, err);
		goto fail;
	}
	done = (struct mig_done){ .rounds = round, .pages = s->pages };
	n = mig_done_encode(&done, small);
	if ((rc = mig_stream_send(&s->st, MIG_REC_DONE, small, (uint32_t)n,
	    err)) < 0) {
		rc = write_failed(s, rc, err);
		goto fail;
	}
	done_sent = true;
	count_bytes(s);
	SET(&s->prog, phase, MIG_PHASE_COMMIT);
	if ((rc = wait_ack(s, &doubt, err)) < 0)
		goto fail;
	SET(&s->prog, phase, MIG_PHASE_DONE);
	goto out;

fail:
	send_fail(s, rc, done_sent, err);
out:
	if (stats != NULL) {
		uint64_t t1 = now_ns();

		*stats = (struct mig_stats){
			.total_us = (t1 - t0) / 1000,
			.downtime_us = t_pause != 0 ? (t1 - t_pause) / 1000 : 0,
			.bytes = s->st.bytes_out,
			.pages = s->pages,
			.zero_pages = s->zero_pages,
			.rounds = round,
			.throttle_pct = pct_max,
			.converged = converged,
			.ack_in_doubt = done_sent && doubt && rc < 0,
			.encrypted = mig_stream_encrypted(&s->st),
		};
	}
	return rc;
}

/* ---- receiver ---------------------------------------------------------- */

struct mig_receiver {
	struct mig_recv_params	 p;
	struct mig_stream	 st;
	int			 cancel_fd;
	atomic_bool		 cancelled;
	bool			 ran;
	bool			 configured;	/* discard on error */
	bool			 zeroed;	/* memory reads as zero */
	uint8_t			*mem;
	uint64_t		 npages, nseen;
	uint64_t		*seen;		/* pages received once */
	uint32_t		 round;		/* the round under way */
	uint64_t		 rpages;	/* its pages so far */
	uint64_t		 pages, zero_pages;
	bool			 have_state;
	struct prog		 prog;
};

int
mig_recv_new(struct mig_receiver **rp, const struct mig_recv_params *p,
    struct ebb_err *err)
{
	struct mig_receiver *r;
	int rc;

	*rp = NULL;
	if (p->fd < 0 || p->ops == NULL || p->ops->config == NULL ||
	    p->ops->state == NULL || p->ops->start == NULL ||
	    p->ops->discard == NULL || p->io_timeout_ms == 0 ||
	    p->io_timeout_ms > INT32_MAX) {
		ebb_err_set(err, "migration receiver: fd, a timeout and the "
		    "config, state, start, discard callbacks are needed");
		return -EINVAL;
	}
	r = ebb_calloc(1, sizeof(*r));
	r->p = *p;
	if ((r->cancel_fd = new_cancel_fd(err)) < 0) {
		rc = r->cancel_fd;
		free(r);
		return rc;
	}
	rc = mig_stream_init(&r->st, p->fd, false, p->token, p->token_len,
	    r->cancel_fd, (int)p->io_timeout_ms, err);
	if (rc < 0) {
		mig_recv_free(r);
		return rc;
	}
	r->st.encrypt = p->require_encryption;
	*rp = r;
	return 0;
}

void
mig_recv_free(struct mig_receiver *r)
{
	if (r == NULL)
		return;
	mig_stream_fini(&r->st);
	if (r->cancel_fd >= 0)
		close(r->cancel_fd);
	free(r->seen);
	free(r);
}

void
mig_recv_cancel(struct mig_receiver *r)
{
	signal_cancel(&r->cancelled, r->cancel_fd);
}

void
mig_recv_progress(struct mig_receiver *r, struct mig_progress *out)
{
	prog_read(&r->prog, out);
}

static int
unexpected(const struct mig_record *rec, const char *where,
    struct ebb_err *err)
{
	ebb_err_set(err, "unexpected %s record %s", mig_rec_name(rec->type),
	    where);
	return -EPROTO;
}

static int
recv_config(struct mig_receiver *r, const struct mig_record *rec,
    struct ebb_err *err)
{
	struct mig_config c;
	void *mem = NULL;
	int rc;

	if (rec->type != MIG_REC_CONFIG)
		return unexpected(rec, "where CONFIG belongs", err);
	if ((rc = mig_config_decode(rec->payload, rec->len, &c, err)) < 0)
		return rc;
	if ((rc = r->p.ops->config(r->p.arg, &c, &mem, &r->zeroed, err)) < 0)
		return rc;
	r->configured = true;
	if (mem == NULL) {
		ebb_err_set(err, "the VM's memory was not provided");
		return -EINVAL;
	}
	r->mem = mem;
	r->npages = c.npages;
	r->seen = ebb_calloc((size_t)((c.npages + 63) / 64), sizeof(uint64_t));
	return 0;
}

/*
 * Writes a verified RAM run into the VM's memory.  A zero page is written
 * only if it is not zero already, and not even read when the memory is
 * known to be zero and the page was never sent: touching fresh memory
 * costs a page fault, and writing it costs a page.
 */
static int
recv_ram(struct mig_receiver *r, const struct mig_record *rec,
    struct ebb_err *err)
{
	struct mig_ram ram;
	const uint8_t *src;
	int rc;

	if ((rc = mig_ram_decode(rec->payload, rec->len, r->npages, &ram,
	    err)) < 0)
		return rc;
	src = ram.data;
	for (uint32_t i = 0; i < ram.count; i++) {
		uint64_t pfn = ram.start + i;
		uint8_t *dst = r->mem + pfn * MIG_PAGE_SIZE;
		bool seen = r->seen[pfn / 64] & (1ull << (pfn % 64));

		if (ram.zero_map[i / 8] & (1u << (i % 8))) {
			if ((seen || !r->zeroed) && !page_is_zero(dst))
				memset(dst, 0, MIG_PAGE_SIZE);
		} else {
			memcpy(dst, src, MIG_PAGE_SIZE);
			src += MIG_PAGE_SIZE;
		}
		if (!seen) {
			r->seen[pfn / 64] |= 1ull << (pfn % 64);
			r->nseen++;
		}
	}
	r->rpages += ram.count;
	r->pages += ram.count;
	r->zero_pages += ram.nzero;
	SET(&r->prog, pages, r->pages);
	SET(&r->prog, zero_pages, r->zero_pages);
	SET(&r->prog, bytes, r->st.bytes_in);
	return 0;
}

static int
recv_round_end(struct mig_receiver *r, const struct mig_record *rec,
    struct ebb_err *err)
{
	struct mig_round_end e;
	int rc;

	if ((rc = mig_round_end_decode(rec->payload, rec->len, &e, err)) < 0)
		return rc;
	if (e.round != r->round || e.pages != r->rpages) {
		ebb_err_set(err, "ROUND_END of round %u with %llu pages, we "
		    "are in round %u and got %llu", e.round,
		    (unsigned long long)e.pages, r->round,
		    (unsigned long long)r->rpages);
		return -EPROTO;
	}
	if (r->round == UINT32_MAX) {
		ebb_err_set(err, "too many rounds");
		return -EPROTO;
	}
	r->round++;
	r->rpages = 0;
	SET(&r->prog, round, r->round);
	SET(&r->prog, dirty_pages, e.dirty_left);
	return 0;
}

static int
recv_state(struct mig_receiver *r, const struct mig_record *rec,
    struct ebb_err *err)
{
	/* State follows a closed round: the final pass is complete. */
	if (r->have_state || r->round == 0 || r->rpages != 0)
		return unexpected(rec, r->have_state ? "after STATE" :
		    "inside a round", err);
	r->have_state = true;
	SET(&r->prog, phase, MIG_PHASE_PAUSED);
	return r->p.ops->state(r->p.arg, rec->payload, rec->len, err);
}

static int
recv_done(struct mig_receiver *r, const struct mig_record *rec,
    struct ebb_err *err)
{
	struct mig_done d;
	int rc;

	if (!r->have_state)
		return unexpected(rec, "before STATE", err);
	if ((rc = mig_done_decode(rec->payload, rec->len, &d, err)) < 0)
		return rc;
	if (d.rounds != r->round || d.pages != r->pages) {
		ebb_err_set(err, "DONE says %u rounds and %llu pages, we got "
		    "%u and %llu", d.rounds, (unsigned long long)d.pages,
		    r->round, (unsigned long long)r->pages);
		return -EPROTO;
	}
	if (r->nseen != r->npages) {
		ebb_err_set(err, "DONE with %llu of %llu pages never sent",
		    (unsigned long long)(r->npages - r->nseen),
		    (unsigned long long)r->npages);
		return -EPROTO;
	}
	return 0;
}

/*
 * The receiver's failure path.  Discard first, NACK after: once the
 * sender reads the NACK it resumes, and by then no copy may run here.
 * Then linger until the sender has read it and hung up, so that our close
 * does not reset the connection under the NACK.
 */
static void
recv_fail(struct mig_receiver *r, int rc, struct ebb_err *err)
{
	uint8_t buf[4 + MIG_REASON_MAX];
	struct ebb_err e2;
	uint64_t until;
	size_t n;

	SET(&r->prog, phase, MIG_PHASE_FAILED);
	if (r->configured)
		r->p.ops->discard(r->p.arg);
	if (rc == -ECONNRESET || rc == -EPIPE)
		return;
	n = mig_reason_encode(-rc, err->msg, buf);
	r->st.cancel_fd = -1;
	r->st.timeout_ms = MIG_GOODBYE_MS;
	if (mig_stream_send(&r->st, MIG_REC_NACK, buf, (uint32_t)n, &e2) < 0)
		return;
	shutdown(r->p.fd, SHUT_WR);
	until = now_ns() + MIG_GOODBYE_MS * 1000000ull;
	for (uint64_t t = now_ns(); t < until; t = now_ns()) {
		struct pollfd pfd[2] = {
			{ .fd = r->p.fd, .events = POLLIN },
			{ .fd = r->cancel_fd, .events = POLLIN },
		};
		ssize_t got;

		if (poll(pfd, 2, (int)((until - t) / 1000000 + 1)) <= 0 ||
		    (pfd[1].revents & POLLIN))
			return;
		got = recv(r->p.fd, r->st.rbuf, 65536, MSG_DONTWAIT);
		if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR))
			return;
	}
}

int
mig_recv_run(struct mig_receiver *r, struct mig_stats *stats,
    struct ebb_err *err)
{
	struct ebb_err e_local;
	struct mig_record rec;
	struct mig_hello h;
	struct mig_reason why;
	struct mig_ack ack;
	uint8_t buf[MIG_ACK_LEN];
	uint64_t t0 = now_ns();
	int rc;

	if (err == NULL)
		err = &e_local;
	if (r->ran) {
		ebb_err_set(err, "a migration receiver runs once");
		return -EINVAL;
	}
	r->ran = true;
	SET(&r->prog, phase, MIG_PHASE_SETUP);
	if (r->p.sandbox != NULL &&
	    (rc = mig_sandbox_enter(r->p.sandbox, err)) < 0)
		goto fail;

	/* HELLO: the stream checks magic, version and our token. */
	if ((rc = mig_stream_recv(&r->st, &rec, err)) < 0)
		goto fail;
	if ((rc = mig_hello_decode(rec.payload, rec.len, &h, err)) < 0)
		goto fail;
	if (r->p.id != 0 && h.id != r->p.id) {
		ebb_err_set(err, "migration id %llu, expected %llu",
		    (unsigned long long)h.id, (unsigned long long)r->p.id);
		rc = -EACCES;
		goto fail;
	}
	if ((rc = mig_stream_recv(&r->st, &rec, err)) < 0 ||
	    (rc = recv_config(r, &rec, err)) < 0)
		goto fail;

	SET(&r->prog, phase, MIG_PHASE_LIVE);
	for (;;) {
		if ((rc = mig_stream_recv(&r->st, &rec, err)) < 0)
			goto fail;
		switch (rec.type) {
		case MIG_REC_RAM:
			rc = r->have_state ?
			    unexpected(&rec, "after STATE", err) :
			    recv_ram(r, &rec, err);
			break;
		case MIG_REC_ROUND_END:
			rc = r->have_state ?
			    unexpected(&rec, "after STATE", err) :
			    recv_round_end(r, &rec, err);
			break;
		case MIG_REC_STATE:
			rc = recv_state(r, &rec, err);
			break;
		case MIG_REC_DONE:
			rc = recv_done(r, &rec, err);
			break;
		case MIG_REC_CANCEL:
			rc = mig_reason_decode(rec.payload, rec.len, &why, err);
			if (rc == 0) {
				ebb_err_set(err, "the source cancelled: %s",
				    why.text);
				rc = -ECANCELED;
			}
			break;
		default:
			rc = unexpected(&rec, "after CONFIG", err);
			break;
		}
		if (rc < 0)
			goto fail;
		if (rec.type == MIG_REC_DONE)
			break;
	}

	/* Commit: run the VM, then say so. */
	SET(&r->prog, phase, MIG_PHASE_COMMIT);
	if ((rc = r->p.ops->start(r->p.arg, err)) < 0)
		goto fail;
	memcpy(ack.done_tag, r->st.rx.prev, MIG_TAG_LEN);
	ack.records = r->st.rx.seq;
	mig_ack_encode(&ack, buf);
	if ((rc = mig_stream_send(&r->st, MIG_REC_ACK, buf, sizeof(buf),
	    err)) < 0) {
		/*
		 * The sender will not hear that we run, so it will resume:
		 * stop ours.  (Had the ACK left in full, it is delivered
		 * unless the link dies now: the case mig_engine.h names.)
		 */
		r->p.ops->discard(r->p.arg);
		SET(&r->prog, phase, MIG_PHASE_FAILED);
		goto out;
	}
	SET(&r->prog, bytes, r->st.bytes_in);
	SET(&r->prog, phase, MIG_PHASE_DONE);
	goto out;

fail:
	recv_fail(r, rc, err);
out:
	if (stats != NULL)
		*stats = (struct mig_stats){
			.total_us = (now_ns() - t0) / 1000,
			.bytes = r->st.bytes_in,
			.pages = r->pages,
			.zero_pages = r->zero_pages,
			.rounds = r->round,
			.encrypted = mig_stream_encrypted(&r->st),
		};
	return rc;
}
