/*
 * test_mig_fuzz.c - the receiver against streams it should refuse.
 *
 * A valid stream is built here record by record with mig_stream.h's
 * encoders and chain (not with the engine's sender), then cut, tampered
 * with or mutated and fed to a receiver over a socketpair.  Mutations come
 * in two kinds: raw ones keep the original tags (every one must fail
 * authentication or framing), re-signed ones recompute the chain with the
 * right token (so the receiver's field checks and ordering rules are what
 * stands between the mutation and the VM).  In every case the receiver
 * must not crash (ASan/UBSan builds check the memory side), must refuse
 * with a NACK and discard what it set up, or complete - and then hold
 * exactly the memory and state the stream describes, which an independent
 * decoder here works out.
 */
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ebb.h"
#include "ebb_rand.h"
#include "mig_engine.h"
#include "mig_stream.h"

#define PS		MIG_PAGE_SIZE
#define NPAGES		32		/* the VM in the stream */
#define CAP_PAGES	64		/* what the target accepts */
#define ITERATIONS	5000

static const uint8_t TOKEN[] = "fuzz-token-0123456789abcdef";
static const uint8_t WRONG[] = "fuzz-token-0123456789abcdeF";

/* ---- records and streams ----------------------------------------------- */

struct rec {
	uint32_t	 type;
	uint32_t	 len;
	uint8_t		*payload;
	uint8_t		 tag[MIG_TAG_LEN];
};

struct recs {
	struct rec	*v;
	size_t		 n;
	uint8_t		 salt[MIG_SALT_LEN];
};

static void
recs_add(struct recs *rs, uint32_t type, const void *p, size_t len)
{
	struct rec *r;

	rs->v = ebb_reallocarray(rs->v, rs->n + 1, sizeof(*rs->v));
	r = &rs->v[rs->n++];
	memset(r, 0, sizeof(*r));
	r->type = type;
	r->len = (uint32_t)len;
	r->payload = ebb_malloc(len);
	memcpy(r->payload, p, len);
}

/* Inserts at position at a copy of record k, tag included. */
static void
recs_dup(struct recs *rs, size_t k, size_t at)
{
	struct rec t;

	recs_add(rs, rs->v[k].type, rs->v[k].payload, rs->v[k].len);
	memcpy(rs->v[rs->n - 1].tag, rs->v[k].tag, MIG_TAG_LEN);
	t = rs->v[rs->n - 1];
	memmove(&rs->v[at + 1], &rs->v[at], (rs->n - 1 - at) * sizeof(t));
	rs->v[at] = t;
}

static void
recs_del(struct recs *rs, size_t k)
{
	free(rs->v[k].payload);
	memmove(&rs->v[k], &rs->v[k + 1], (rs->n - k - 1) * sizeof(rs->v[0]));
	rs->n--;
}

static void
recs_swap(struct recs *rs, size_t i, size_t j)
{
	struct rec t = rs->v[i];

	rs->v[i] = rs->v[j];
	rs->v[j] = t;
}

static void
recs_free(struct recs *rs)
{
	for (size_t i = 0; i < rs->n; i++)
		free(rs->v[i].payload);
	free(rs->v);
	rs->v = NULL;
	rs->n = 0;
}

static void
recs_copy(struct recs *dst, const struct recs *src)
{
	memset(dst, 0, sizeof(*dst));
	memcpy(dst->salt, src->salt, MIG_SALT_LEN);
	for (size_t i = 0; i < src->n; i++) {
		recs_add(dst, src->v[i].type, src->v[i].payload,
		    src->v[i].len);
		memcpy(dst->v[dst->n - 1].tag, src->v[i].tag, MIG_TAG_LEN);
	}
}

/* Tags every record anew, as a sender holding the token would. */
static void
recs_sign(struct recs *rs, const uint8_t *token)
{
	struct mig_chan s2r = { 0 }, r2s = { 0 };
	struct ebb_err err;

	assert_int_equal(mig_chan_keys(token, sizeof(TOKEN) - 1, rs->salt, &s2r,
	    &r2s, &err), 0);
	for (size_t i = 0; i < rs->n; i++)
		assert_int_equal(mig_chan_seal(&s2r, rs->v[i].type,
		    rs->v[i].payload, rs->v[i].len, rs->v[i].tag), 0);
	mig_chan_free(&s2r);
	mig_chan_free(&r2s);
}

static uint8_t *
recs_bytes(const struct recs *rs, size_t *lenp)
{
	size_t len = 0, off = 0;
	uint8_t *b;

	for (size_t i = 0; i < rs->n; i++)
		len += MIG_HDR_LEN + rs->v[i].len + MIG_TAG_LEN;
	b = ebb_malloc(len + 1);
	for (size_t i = 0; i < rs->n; i++) {
		mig_put_u32(b + off, rs->v[i].type);
		mig_put_u32(b + off + 4, rs->v[i].len);
		memcpy(b + off + 8, rs->v[i].payload, rs->v[i].len);
		memcpy(b + off + 8 + rs->v[i].len, rs->v[i].tag, MIG_TAG_LEN);
		off += MIG_HDR_LEN + rs->v[i].len + MIG_TAG_LEN;
	}
	*lenp = len;
	return b;
}

static void
fill_page(uint8_t *p, unsigned seed)
{
	for (size_t i = 0; i < PS; i++)
		p[i] = (uint8_t)(seed * 31 + i * 7 + (i >> 8));
}

static void
add_ram(struct recs *rs, uint64_t start, uint32_t count, const uint8_t *mem)
{
	static uint8_t buf[MIG_RAM_FIXED_LEN + 8 + NPAGES * PS];
	static const uint8_t zero[PS];
	size_t off = MIG_RAM_FIXED_LEN + (count + 7) / 8;

	mig_put_u64(buf, start);
	mig_put_u32(buf + 8, count);
	memset(buf + MIG_RAM_FIXED_LEN, 0, (count + 7) / 8);
	for (uint32_t i = 0; i < count; i++) {
		const uint8_t *pg = mem + (start + i) * PS;

		if (memcmp(pg, zero, PS) == 0) {
			buf[MIG_RAM_FIXED_LEN + i / 8] |=
			    (uint8_t)(1 << (i % 8));
			continue;
		}
		memcpy(buf + off, pg, PS);
		off += PS;
	}
	recs_add(rs, MIG_REC_RAM, buf, off);
}

static const struct mig_config fuzz_config = {
	.npages = NPAGES,
	.page_size = PS,
	.nvcpus = 2,
	.vendor = "AuthenticAMD",
	.nfeatures = 2,
	.features = { 0xff, 0x1 },
	.json = "{\"name\":\"fuzz\"}",
};

/*
 * The valid stream the mutations start from: a 32-page VM, 12 of them
 * data, in a round 0 of three runs and a final round that re-sends pages
 * (one of which has become zero), the state, DONE.  image receives what
 * the target must end up holding.
 */
static void
build_valid(struct recs *rs, uint8_t *image, uint8_t *state, size_t *state_len)
{
	uint8_t buf[MIG_CONFIG_FIXED_LEN + 8 * MIG_FEATURE_WORDS_MAX + 256];
	struct mig_hello h = { .version = MIG_VERSION, .id = 7 };
	struct mig_round_end e;
	struct mig_done d;
	size_t n;

	memset(rs, 0, sizeof(*rs));
	memset(rs->salt, 0x5a, MIG_SALT_LEN);
	memcpy(h.salt, rs->salt, MIG_SALT_LEN);
	memset(image, 0, NPAGES * PS);
	for (unsigned p = 0; p < NPAGES; p++)
		if (p % 3 == 0 || p == 7)
			fill_page(image + p * PS, p);

	n = mig_hello_encode(&h, buf);
	recs_add(rs, MIG_REC_HELLO, buf, n);
	n = mig_config_encode(&fuzz_config, buf);
	recs_add(rs, MIG_REC_CONFIG, buf, n);
	add_ram(rs, 0, 8, image);
	add_ram(rs, 8, 16, image);
	add_ram(rs, 24, 8, image);
	e = (struct mig_round_end){ 0, NPAGES, 3 };
	n = mig_round_end_encode(&e, buf);
	recs_add(rs, MIG_REC_ROUND_END, buf, n);
	/* The final pass: page 5 written, 20-21 written, 6 zeroed. */
	fill_page(image + 5 * PS, 500);
	fill_page(image + 20 * PS, 2000);
	fill_page(image + 21 * PS, 2100);
	memset(image + 6 * PS, 0, PS);
	add_ram(rs, 5, 2, image);
	add_ram(rs, 20, 2, image);
	e = (struct mig_round_end){ 1, 4, 0 };
	n = mig_round_end_encode(&e, buf);
	recs_add(rs, MIG_REC_ROUND_END, buf, n);
	*state_len = 200;
	for (size_t i = 0; i < *state_len; i++)
		state[i] = (uint8_t)(i ^ 0x3c);
	recs_add(rs, MIG_REC_STATE, state, *state_len);
	d = (struct mig_done){ 2, NPAGES + 4 };
	n = mig_done_encode(&d, buf);
	recs_add(rs, MIG_REC_DONE, buf, n);
	recs_sign(rs, TOKEN);
}

/* ---- the target ------------------------------------------------------- */

struct target {
	uint8_t		 mem[CAP_PAGES * PS];
	bool		 zeroed;	/* tell the engine it is */
	int		 nconfig_ok, nstart, ndiscard;
	bool		 running;
	uint64_t	 npages;
	uint8_t		*state;
	size_t		 state_len;
};

static int
t_config(void *arg, const struct mig_config *c, void **mem, bool *zeroed,
    struct ebb_err *err)
{
	static const uint64_t allowed[] = { 0xff, 0xff };
	struct target *t = arg;
	int rc;

	if ((rc = mig_config_check_cpu(c, "AuthenticAMD", allowed, 2,
	    err)) < 0)
		return rc;
	if (c->npages > CAP_PAGES) {
		ebb_err_set(err, "VM too big");
		return -ENOMEM;
	}
	t->npages = c->npages;
	t->nconfig_ok++;
	*mem = t->mem;
	*zeroed = t->zeroed;
	return 0;
}

static int
t_state(void *arg, const void *buf, size_t len, struct ebb_err *err)
{
	struct target *t = arg;

	(void)err;
	free(t->state);
	t->state = ebb_malloc(len);
	memcpy(t->state, buf, len);
	t->state_len = len;
	return 0;
}

static int
t_start(void *arg, struct ebb_err *err)
{
	struct target *t = arg;

	(void)err;
	t->nstart++;
	t->running = true;
	return 0;
}

static void
t_discard(void *arg)
{
	struct target *t = arg;

	t->ndiscard++;
	t->running = false;
}

static const struct mig_recv_ops t_ops = {
	.config = t_config,
	.state = t_state,
	.start = t_start,
	.discard = t_discard,
};

/* ---- feeding a receiver ----------------------------------------------- */

struct feeder {
	int		 fd;
	const uint8_t	*bytes;
	size_t		 len;
	uint8_t		 reply[4096];
	size_t		 nreply;
};

static void *
feed_main(void *p)
{
	struct feeder *f = p;
	size_t off = 0;
	ssize_t n;

	while (off < f->len) {
		n = send(f->fd, f->bytes + off, f->len - off, MSG_NOSIGNAL);
		if (n <= 0)
			break;	/* the receiver gave up and hung up */
		off += (size_t)n;
	}
	shutdown(f->fd, SHUT_WR);
	while ((n = read(f->fd, f->reply + f->nreply,
	    sizeof(f->reply) - f->nreply)) > 0)
		f->nreply += (size_t)n;
	return NULL;
}

struct outcome {
	int		 rc;
	struct ebb_err	 err;
	uint32_t	 reply;		/* type of the record sent back, or 0 */
};

static void
feed(struct target *t, const uint8_t *token, const uint8_t *bytes,
    size_t len, struct outcome *o)
{
	struct mig_recv_params rp = {
		.token = token, .token_len = sizeof(TOKEN) - 1,
		.io_timeout_ms = 5000, .ops = &t_ops, .arg = t,
	};
	struct feeder f = { .bytes = bytes, .len = len };
	struct mig_receiver *r;
	struct ebb_err err;
	pthread_t th;
	int sv[2];

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    sv), 0);
	f.fd = sv[0];
	rp.fd = sv[1];
	assert_int_equal(mig_recv_new(&r, &rp, &err), 0);
	assert_int_equal(pthread_create(&th, NULL, feed_main, &f), 0);
	o->rc = mig_recv_run(r, NULL, &o->err);
	mig_recv_free(r);
	close(sv[1]);
	pthread_join(th, NULL);
	close(sv[0]);
	o->reply = f.nreply >= MIG_HDR_LEN ? mig_get_u32(f.reply) : 0;
}

static void
target_reset(struct target *t, bool zeroed)
{
	free(t->state);
	memset(t, 0, sizeof(*t));
	t->zeroed = zeroed;
	if (!zeroed)	/* then the engine must write zero pages itself */
		memset(t->mem, 0xee, sizeof(t->mem));
}

/*
 * The independent decoder: what memory and state a stream describes, read
 * up to its first DONE.  Only consulted for streams the receiver accepted.
 */
static void
oracle(const uint8_t *b, size_t len, uint8_t *mem, uint8_t **state,
    size_t *state_len)
{
	size_t off = 0;

	memset(mem, 0, CAP_PAGES * PS);
	while (off + MIG_HDR_LEN <= len) {
		uint32_t type = mig_get_u32(b + off);
		uint32_t n = mig_get_u32(b + off + 4);
		const uint8_t *p = b + off + MIG_HDR_LEN;

		if (type == MIG_REC_RAM) {
			uint64_t start = mig_get_u64(p);
			uint32_t count = mig_get_u32(p + 8);
			const uint8_t *map = p + 12;
			const uint8_t *data = map + (count + 7) / 8;

			for (uint32_t i = 0; i < count; i++) {
				uint8_t *dst = mem + (start + i) * PS;

				if (map[i / 8] & (1 << (i % 8))) {
					memset(dst, 0, PS);
				} else {
					memcpy(dst, data, PS);
					data += PS;
				}
			}
		} else if (type == MIG_REC_STATE) {
			*state = (uint8_t *)(uintptr_t)p;
			*state_len = n;
		} else if (type == MIG_REC_DONE) {
			return;
		}
		off += MIG_HDR_LEN + n + MIG_TAG_LEN;
	}
	fail_msg("an accepted stream without DONE");
}

/* The rules every outcome obeys; true if it completed. */
static bool
check(struct target *t, const struct outcome *o, const uint8_t *bytes,
    size_t len)
{
	if (o->rc == 0) {
		static uint8_t want[CAP_PAGES * PS];
		uint8_t *state = NULL;
		size_t state_len = 0;

		assert_int_equal(o->reply, MIG_REC_ACK);
		assert_true(t->running);
		assert_int_equal(t->nstart, 1);
		assert_int_equal(t->ndiscard, 0);
		oracle(bytes, len, want, &state, &state_len);
		assert_memory_equal(t->mem, want, t->npages * PS);
		assert_int_equal(t->state_len, state_len);
		assert_memory_equal(t->state, state, state_len);
		return true;
	}
	assert_true(o->rc < 0);
	assert_int_not_equal(o->reply, MIG_REC_ACK);
	assert_false(t->running);
	assert_int_equal(t->ndiscard, t->nconfig_ok > 0 ? 1 : 0);
	/* A refusal is explained (the peer hung up: nobody to tell). */
	assert_true(o->err.msg[0] != '\0');
	if (o->rc != -ECONNRESET && o->rc != -EPIPE)
		assert_int_equal(o->reply, MIG_REC_NACK);
	return false;
}

/* ---- fixtures ---------------------------------------------------------- */

struct fx {
	struct recs	 valid;
	uint8_t		 image[NPAGES * PS];
	uint8_t		 state[256];
	size_t		 state_len;
	uint8_t		*bytes;
	size_t		 len;
	struct target	 t;
};

static int
setup(void **state)
{
	struct fx *fx = ebb_calloc(1, sizeof(*fx));

	build_valid(&fx->valid, fx->image, fx->state, &fx->state_len);
	fx->bytes = recs_bytes(&fx->valid, &fx->len);
	*state = fx;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *fx = *state;

	recs_free(&fx->valid);
	free(fx->bytes);
	free(fx->t.state);
	free(fx);
	return 0;
}

/* Feeds a record list (re-signed unless raw) and checks the outcome. */
static int
feed_recs(struct fx *fx, struct recs *rs, bool resign, bool zeroed)
{
	struct outcome o;
	uint8_t *b;
	size_t len;

	if (resign)
		recs_sign(rs, TOKEN);
	b = recs_bytes(rs, &len);
	target_reset(&fx->t, zeroed);
	feed(&fx->t, TOKEN, b, len, &o);
	check(&fx->t, &o, b, len);
	free(b);
	return o.rc;
}

/* ---- the tests -------------------------------------------------------- */

static void
test_valid(void **state)
{
	struct fx *fx = *state;
	struct outcome o;

	for (int z = 0; z < 2; z++) {
		target_reset(&fx->t, z);
		feed(&fx->t, TOKEN, fx->bytes, fx->len, &o);
		if (o.rc != 0)
			fail_msg("valid stream refused: %s", o.err.msg);
		assert_true(check(&fx->t, &o, fx->bytes, fx->len));
		assert_memory_equal(fx->t.mem, fx->image, NPAGES * PS);
		assert_memory_equal(fx->t.state, fx->state, fx->state_len);
	}
}

/* Another token: refused at HELLO, config never asked, memory untouched. */
static void
test_wrong_token(void **state)
{
	struct fx *fx = *state;
	struct outcome o;

	target_reset(&fx->t, false);
	feed(&fx->t, WRONG, fx->bytes, fx->len, &o);
	assert_int_equal(o.rc, -EACCES);
	assert_int_equal(o.reply, MIG_REC_NACK);
	assert_int_equal(fx->t.nconfig_ok, 0);
	for (size_t i = 0; i < sizeof(fx->t.mem); i++)
		assert_int_equal(fx->t.mem[i], 0xee);
}

/* Cut at every record boundary, next to each, and at random places. */
static void
test_truncated(void **state)
{
	struct fx *fx = *state;
	struct ebb_rand rng;
	struct outcome o;
	size_t off = 0, cuts[400], ncuts = 0;

	for (size_t i = 0; i < fx->valid.n; i++) {
		cuts[ncuts++] = off;
		cuts[ncuts++] = off + 1;
		cuts[ncuts++] = off + MIG_HDR_LEN;
		off += MIG_HDR_LEN + fx->valid.v[i].len + MIG_TAG_LEN;
		cuts[ncuts++] = off - 1;
	}
	ebb_rand_seed(&rng, 5);
	while (ncuts < EBB_NITEMS(cuts))
		cuts[ncuts++] = (size_t)ebb_rand_below(&rng, fx->len);
	for (size_t i = 0; i < ncuts; i++) {
		target_reset(&fx->t, i % 2);
		feed(&fx->t, TOKEN, fx->bytes, cuts[i], &o);
		assert_false(check(&fx->t, &o, fx->bytes, cuts[i]));
		assert_int_equal(o.rc, -ECONNRESET);
	}
}

/* Dropped, replayed, reordered and injected records, tags kept. */
static void
test_tampered(void **state)
{
	struct fx *fx = *state;
	size_t last = fx->valid.n - 1;
	struct recs rs, other;

	for (size_t k = 1; k <= last; k++) {
		/* Dropped: the next record's check fails (or DONE is gone). */
		recs_copy(&rs, &fx->valid);
		recs_del(&rs, k);
		assert_int_equal(feed_recs(fx, &rs, false, true),
		    k == last ? -ECONNRESET : -EACCES);
		recs_free(&rs);
		/* Replayed right after itself (after DONE nothing is read). */
		recs_copy(&rs, &fx->valid);
		recs_dup(&rs, k, k + 1);
		assert_int_equal(feed_recs(fx, &rs, false, true),
		    k == last ? 0 : -EACCES);
		recs_free(&rs);
		/* Swapped with the next. */
		if (k < last) {
			recs_copy(&rs, &fx->valid);
			recs_swap(&rs, k, k + 1);
			assert_int_equal(feed_recs(fx, &rs, false, true),
			    -EACCES);
			recs_free(&rs);
		}
	}
	/* A record tagged under another token, slipped in its place. */
	recs_copy(&other, &fx->valid);
	recs_sign(&other, WRONG);
	recs_copy(&rs, &fx->valid);
	memcpy(rs.v[4].tag, other.v[4].tag, MIG_TAG_LEN);
	assert_int_equal(feed_recs(fx, &rs, false, true), -EACCES);
	recs_free(&rs);
	recs_free(&other);
}

/*
 * Well authenticated, wrong in meaning: refused by the receiver's rules.
 * The valid stream: 0 HELLO, 1 CONFIG, 2-4 RAM, 5 ROUND_END 0, 6-7 RAM,
 * 8 ROUND_END 1, 9 STATE, 10 DONE.
 */
static void
test_semantics(void **state)
{
	struct fx *fx = *state;
	struct recs rs;
	uint8_t b[64];

	assert_int_equal(fx->valid.n, 11);
#define CASE(want, ...)							\
	do {								\
		recs_copy(&rs, &fx->valid);				\
		__VA_ARGS__;						\
		assert_int_equal(feed_recs(fx, &rs, true, true), want);	\
		recs_free(&rs);						\
	} while (0)
	/* Every page must come at least once: drop the last run of round 0
	   and make the counts agree. */
	CASE(-EPROTO, {
		struct mig_round_end e = { 0, 24, 3 };
		struct mig_done d = { 2, 28 };

		recs_del(&rs, 4);
		mig_round_end_encode(&e, rs.v[4].payload);
		mig_done_encode(&d, rs.v[rs.n - 1].payload);
	});
	/* ROUND_END with the wrong round or count; DONE's totals. */
	CASE(-EPROTO, rs.v[5].payload[0] = 1);
	CASE(-EPROTO, rs.v[5].payload[8] ^= 1);
	CASE(-EPROTO, rs.v[10].payload[0] = 3);
	CASE(-EPROTO, rs.v[10].payload[8] ^= 1);
	/* STATE inside a round, DONE without STATE, STATE twice, RAM after
	   STATE, CONFIG or HELLO again, RAM before CONFIG. */
	CASE(-EPROTO, recs_swap(&rs, 8, 9));
	CASE(-EPROTO, recs_del(&rs, 9));
	CASE(-EPROTO, recs_dup(&rs, 9, 10));
	CASE(-EPROTO, recs_dup(&rs, 7, 10));
	CASE(-EPROTO, recs_dup(&rs, 1, 2));
	CASE(-EPROTO, recs_dup(&rs, 0, 2));
	CASE(-EPROTO, recs_swap(&rs, 1, 2));
	/* A run past the VM's end. */
	CASE(-EBADMSG, mig_put_u64(rs.v[4].payload, NPAGES - 4));
	/* The CPU or the size refused by the target. */
	CASE(-ENOTSUP, memcpy(rs.v[1].payload + 16, "GenuineIntel", 12));
	CASE(-ENOTSUP, rs.v[1].payload[37] |= 1);
	CASE(-ENOMEM, mig_put_u64(rs.v[1].payload, CAP_PAGES + 1));
	/* The sender cancels. */
	CASE(-ECANCELED, {
		size_t l = mig_reason_encode(ECANCELED, "operator", b);

		recs_add(&rs, MIG_REC_CANCEL, b, l);
		recs_swap(&rs, 6, rs.n - 1);
	});
	/* A way-back type from the sender. */
	CASE(-EBADMSG, rs.v[5].type = MIG_REC_ACK);
#undef CASE
}

static const uint64_t interesting[] = {
	0, 1, 2, 7, 8, 12, 13, 31, 32, 33, 63, 64, 255, 4095, 4096, 4097,
	NPAGES - 1, NPAGES, CAP_PAGES, CAP_PAGES + 1, 0x7fffffff, 0x80000000,
	0xffffffff, 0x100000000ull, MIG_RECORD_MAX, MIG_RECORD_MAX + 1,
	UINT64_MAX, UINT64_MAX - 1, 1ull << 63,
};

static uint64_t
pick_value(struct ebb_rand *rng)
{
	if (ebb_rand_below(rng, 4) == 0)
		return ebb_rand_next(rng);
	return interesting[ebb_rand_below(rng, EBB_NITEMS(interesting))];
}

/* One structural mutation of a record list (to be re-signed). */
static void
mutate_recs(struct recs *rs, struct ebb_rand *rng)
{
	size_t k = (size_t)ebb_rand_below(rng, rs->n);
	struct rec *r = &rs->v[k];

	switch (ebb_rand_below(rng, 9)) {
	case 0:		/* flip bits in a payload */
		for (int i = 0, n = 1 + (int)ebb_rand_below(rng, 3);
		    i < n && r->len > 0; i++)
			r->payload[ebb_rand_below(rng, r->len)] ^=
			    (uint8_t)(1u << ebb_rand_below(rng, 8));
		break;
	case 1: {	/* an interesting value at an aligned offset */
		uint64_t v = pick_value(rng);
		size_t off;

		if (r->len < 4)
			break;
		off = (size_t)ebb_rand_below(rng, r->len / 4) * 4;
		if (off + 8 <= r->len && ebb_rand_below(rng, 2))
			mig_put_u64(r->payload + off, v);
		else
			mig_put_u32(r->payload + off, (uint32_t)v);
		break;
	}
	case 2:		/* another type */
		r->type = ebb_rand_below(rng, 4) == 0 ?
		    (uint32_t)ebb_rand_next(rng) :
		    (uint32_t)ebb_rand_below(rng, 12);
		break;
	case 3: {	/* shorter or longer payload */
		uint32_t len = ebb_rand_below(rng, 2) && r->len > 0 ?
		    (uint32_t)ebb_rand_below(rng, r->len) :
		    r->len + 1 + (uint32_t)ebb_rand_below(rng, 5000);

		r->payload = ebb_realloc(r->payload, len);
		for (uint32_t i = r->len; i < len; i++)
			r->payload[i] = (uint8_t)ebb_rand_next(rng);
		r->len = len;
		break;
	}
	case 4:		/* dropped */
		if (rs->n > 1)
			recs_del(rs, k);
		break;
	case 5:		/* duplicated, somewhere */
		recs_dup(rs, k, (size_t)ebb_rand_below(rng, rs->n + 1));
		break;
	case 6:		/* swapped with another */
		recs_swap(rs, k, (size_t)ebb_rand_below(rng, rs->n));
		break;
	case 7: {	/* a new record of random type and bytes */
		uint8_t buf[80];
		size_t len = (size_t)ebb_rand_below(rng, sizeof(buf));

		for (size_t i = 0; i < len; i++)
			buf[i] = (uint8_t)ebb_rand_next(rng);
		recs_add(rs, 1 + (uint32_t)ebb_rand_below(rng, 9), buf, len);
		recs_swap(rs, k, rs->n - 1);
		break;
	}
	default: {	/* a RAM run's start and count at the edges */
		for (size_t i = 0; i < rs->n; i++) {
			if (rs->v[i].type != MIG_REC_RAM || rs->v[i].len < 12 ||
			    ebb_rand_below(rng, 2))
				continue;
			if (ebb_rand_below(rng, 2))
				mig_put_u64(rs->v[i].payload, pick_value(rng));
			else
				mig_put_u32(rs->v[i].payload + 8,
				    (uint32_t)pick_value(rng));
			break;
		}
		break;
	}
	}
}

/* One raw mutation of the stream's bytes (tags as they were). */
static uint8_t *
mutate_bytes(const uint8_t *src, size_t len, size_t *outlen,
    struct ebb_rand *rng)
{
	uint8_t *b = ebb_malloc(len + 256);
	size_t n = len;

	memcpy(b, src, len);
	switch (ebb_rand_below(rng, 4)) {
	case 0:		/* a few flipped bytes anywhere */
		for (int i = 0, k = 1 + (int)ebb_rand_below(rng, 4); i < k;
		    i++)
			b[ebb_rand_below(rng, n)] ^=
			    (uint8_t)(1 + ebb_rand_below(rng, 255));
		break;
	case 1:		/* cut anywhere */
		n = (size_t)ebb_rand_below(rng, len);
		break;
	case 2: {	/* a header's length or type overwritten */
		size_t off = 0, target = (size_t)ebb_rand_below(rng, 11);

		for (size_t i = 0; i < target && off + 8 < n; i++)
			off += MIG_HDR_LEN + mig_get_u32(b + off + 4) +
			    MIG_TAG_LEN;
		if (off + 8 <= n)
			mig_put_u32(b + off + (ebb_rand_below(rng, 2) ? 4 : 0),
			    (uint32_t)pick_value(rng));
		break;
	}
	default: {	/* garbage inserted */
		size_t at = (size_t)ebb_rand_below(rng, n),
		    k = 1 + (size_t)ebb_rand_below(rng, 200);

		memmove(b + at + k, b + at, n - at);
		for (size_t i = 0; i < k; i++)
			b[at + i] = (uint8_t)ebb_rand_next(rng);
		n += k;
		break;
	}
	}
	*outlen = n;
	return b;
}

static void
test_fuzz(void **state)
{
	struct fx *fx = *state;
	struct ebb_rand rng;
	int accepted = 0, by_rc[5] = { 0 };
	static const int codes[] = { EACCES, EBADMSG, EPROTO, ECONNRESET };

	ebb_rand_seed(&rng, 20251126);
	for (int it = 0; it < ITERATIONS; it++) {
		struct outcome o;
		uint8_t *b;
		size_t len;

		if (ebb_rand_below(&rng, 10) < 4) {
			b = mutate_bytes(fx->bytes, fx->len, &len, &rng);
		} else {
			struct recs rs;

			recs_copy(&rs, &fx->valid);
			for (int m = 0, k = 1 + (int)ebb_rand_below(&rng, 3);
			    m < k; m++)
				mutate_recs(&rs, &rng);
			recs_sign(&rs, TOKEN);
			b = recs_bytes(&rs, &len);
			recs_free(&rs);
		}
		target_reset(&fx->t, it % 2);
		feed(&fx->t, TOKEN, b, len, &o);
		if (check(&fx->t, &o, b, len)) {
			accepted++;
		} else {
			size_t c = 0;

			while (c < EBB_NITEMS(codes) && -o.rc != codes[c])
				c++;
			by_rc[c]++;
		}
		free(b);
	}
	print_message("  %d mutated streams: %d completed (as the stream "
	    "said), refused: %d auth, %d malformed, %d out of order, "
	    "%d truncated, %d other\n", ITERATIONS, accepted, by_rc[0],
	    by_rc[1], by_rc[2], by_rc[3], by_rc[4]);
	/* Mutations that keep a stream meaningful exist, but are rare. */
	assert_true(accepted < ITERATIONS / 4);
	assert_true(by_rc[0] > 0 && by_rc[1] > 0 && by_rc[2] > 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_wrong_token),
		cmocka_unit_test(test_truncated),
		cmocka_unit_test(test_tampered),
		cmocka_unit_test(test_semantics),
		cmocka_unit_test(test_fuzz),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
