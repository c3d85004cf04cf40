/*
 * test_mig_stream.c - the migration stream format: every payload's encoder
 * and decoder (and each refusal), the HMAC chain (against an independent
 * HKDF + HMAC computation, and against tampering of every kind), and
 * records over a socketpair: the token check at HELLO, bounds checked from
 * the header before any payload is read, truncation, timeout, cancel.
 */
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/kdf.h>

#include "ebb.h"
#include "mig_stream.h"

static const uint8_t TOKEN[] = "0123456789abcdef-token";	/* 22 bytes */
static const uint8_t OTHER[] = "0123456789abcdef-tokeN";

static struct mig_config
sample_config(void)
{
	struct mig_config c = {
		.npages = 1000,
		.page_size = MIG_PAGE_SIZE,
		.nvcpus = 4,
		.vendor = "AuthenticAMD",
		.nfeatures = 3,
		.features = { 0x1, 0xffff0000ffff0000ull, 1ull << 63 },
		.json = "{\"name\":\"vm1\",\"serial\":true}",
	};

	return c;
}

/* ---- payloads ------------------------------------------------------------ */

static void
test_names(void **state)
{
	(void)state;
	assert_string_equal(mig_rec_name(MIG_REC_HELLO), "HELLO");
	assert_string_equal(mig_rec_name(MIG_REC_CANCEL), "CANCEL");
	assert_string_equal(mig_rec_name(0), "unknown");
	assert_string_equal(mig_rec_name(10), "unknown");
	assert_string_equal(mig_rec_name(UINT32_MAX), "unknown");
}

static void
test_hello(void **state)
{
	struct mig_hello h = { .version = MIG_VERSION,
	    .id = 0x1122334455667788 }, d;
	struct ebb_err err;
	uint8_t buf[MIG_HELLO_LEN];

	(void)state;
	for (int i = 0; i < MIG_SALT_LEN; i++)
		h.salt[i] = (uint8_t)i;
	assert_int_equal(mig_hello_encode(&h, buf), MIG_HELLO_LEN);
	/* The layout mig_stream.h promises, byte for byte. */
	assert_memory_equal(buf, "\x89" "EBBMIG\n", 8);
	assert_int_equal(buf[8], 1);
	assert_int_equal(buf[48], 0x88);
	assert_int_equal(buf[55], 0x11);
	assert_int_equal(mig_hello_decode(buf, sizeof(buf), &d, &err), 0);
	assert_int_equal(d.id, h.id);
	assert_memory_equal(d.salt, h.salt, MIG_SALT_LEN);

	assert_int_equal(mig_hello_decode(buf, sizeof(buf) - 1, &d, &err),
	    -EBADMSG);
	buf[2] ^= 1;
	assert_int_equal(mig_hello_decode(buf, sizeof(buf), &d, &err),
	    -EBADMSG);
	assert_non_null(strstr(err.msg, "magic"));
	buf[2] ^= 1;
	buf[8] = 2;
	assert_int_equal(mig_hello_decode(buf, sizeof(buf), &d, &err),
	    -EPROTONOSUPPORT);
	assert_non_null(strstr(err.msg, "version 2"));
	buf[8] = 1;
	buf[13] = 1;
	assert_int_equal(mig_hello_decode(buf, sizeof(buf), &d, &err),
	    -EBADMSG);
	buf[13] = 0;
	assert_int_equal(d.flags, 0);
	h.flags = MIG_HELLO_ENCRYPTED;
	assert_int_equal(mig_hello_encode(&h, buf), MIG_HELLO_LEN);
	assert_int_equal(buf[12], 1);
	assert_int_equal(mig_hello_decode(buf, sizeof(buf), &d, &err), 0);
	assert_int_equal(d.flags, MIG_HELLO_ENCRYPTED);
	buf[12] = 3;
	assert_int_equal(mig_hello_decode(buf, sizeof(buf), &d, &err),
	    -EBADMSG);
	assert_non_null(strstr(err.msg, "flags 0x3 unknown"));
}

static void
test_config(void **state)
{
	struct mig_config c = sample_config(), d;
	struct ebb_err err;
	uint8_t buf[MIG_CONFIG_FIXED_LEN + 8 * MIG_FEATURE_WORDS_MAX +
	    MIG_JSON_MAX + 16];
	size_t n;

	(void)state;
	n = mig_config_encode(&c, buf);
	assert_int_equal(n, mig_config_len(&c));
	buf[n] = 0;	/* as mig_stream_recv() leaves it */
	assert_int_equal(mig_config_decode(buf, n, &d, &err), 0);
	assert_int_equal(d.npages, 1000);
	assert_int_equal(d.nvcpus, 4);
	assert_string_equal(d.vendor, "AuthenticAMD");
	assert_int_equal(d.nfeatures, 3);
	assert_memory_equal(d.features, c.features, 3 * 8);
	assert_string_equal(d.json, c.json);

	/* No JSON at all is fine. */
	c.json = NULL;
	n = mig_config_encode(&c, buf);
	buf[n] = 0;
	assert_int_equal(mig_config_decode(buf, n, &d, &err), 0);
	assert_string_equal(d.json, "");

#define REFUSE(mutate)							\
	do {								\
		struct mig_config x = sample_config();			\
		size_t len = mig_config_encode(&x, buf);		\
		mutate;							\
		buf[len] = 0;						\
		assert_int_equal(mig_config_decode(buf, len, &d, &err),	\
		    -EBADMSG);						\
	} while (0)
	REFUSE(len = MIG_CONFIG_FIXED_LEN - 1);
	REFUSE(mig_put_u64(buf, 0));
	REFUSE(mig_put_u64(buf, MIG_NPAGES_MAX + 1));
	REFUSE(mig_put_u64(buf, UINT64_MAX));
	REFUSE(mig_put_u32(buf + 8, 8192));
	REFUSE(mig_put_u32(buf + 8, 0));
	REFUSE(mig_put_u32(buf + 12, 0));
	REFUSE(mig_put_u32(buf + 12, MIG_VCPUS_MAX + 1));
	REFUSE(buf[16] = 0);			/* empty vendor */
	REFUSE(buf[17] = 0x07);			/* not printable */
	REFUSE(buf[17] = 0x80);
	REFUSE(buf[30] = 'x');			/* text after the NUL */
	REFUSE(mig_put_u32(buf + 32, MIG_FEATURE_WORDS_MAX + 1));
	REFUSE(mig_put_u32(buf + 32, 4000));	/* more words than bytes */
	REFUSE(mig_put_u32(buf + 32, UINT32_MAX));
	REFUSE(buf[len - 3] = 0);		/* a NUL inside the JSON */
	REFUSE(len = MIG_CONFIG_FIXED_LEN + 2 * 8);	/* words cut */
#undef REFUSE
	/* JSON longer than MIG_JSON_MAX. */
	n = MIG_CONFIG_FIXED_LEN + 3 * 8 + MIG_JSON_MAX + 1;
	memset(buf + MIG_CONFIG_FIXED_LEN + 3 * 8, ' ', MIG_JSON_MAX + 1);
	buf[n] = 0;
	assert_int_equal(mig_config_decode(buf, n, &d, &err), -EBADMSG);
	assert_int_equal(mig_config_decode(buf, n - 1, &d, &err), 0);
}

/* A RAM payload for pages start.., zero[i] telling which are zero. */
static size_t
make_ram(uint8_t *buf, uint64_t start, uint32_t count, const bool *zero)
{
	size_t maplen = (count + 7) / 8, off = MIG_RAM_FIXED_LEN + maplen;

	mig_put_u64(buf, start);
	mig_put_u32(buf + 8, count);
	memset(buf + MIG_RAM_FIXED_LEN, 0, maplen);
	for (uint32_t i = 0; i < count; i++) {
		if (zero[i]) {
			buf[MIG_RAM_FIXED_LEN + i / 8] |=
			    (uint8_t)(1 << (i % 8));
			continue;
		}
		memset(buf + off, (int)(start + i + 1), MIG_PAGE_SIZE);
		off += MIG_PAGE_SIZE;
	}
	return off;
}

static void
test_ram(void **state)
{
	static uint8_t buf[MIG_RAM_FIXED_LEN + 2 + 11 * MIG_PAGE_SIZE + 64];
	bool zero[11] = { 1, 0, 0, 1, 1, 1, 0, 1, 1, 0, 1 };
	struct mig_ram r;
	struct ebb_err err;
	size_t n;

	(void)state;
	n = make_ram(buf, 20, 11, zero);
	assert_int_equal(n, mig_ram_len(11, 4));
	assert_int_equal(mig_ram_decode(buf, n, 31, &r, &err), 0);
	assert_int_equal(r.start, 20);
	assert_int_equal(r.count, 11);
	assert_int_equal(r.nzero, 7);
	assert_int_equal(r.data[0], 22);		/* page 21 */
	assert_int_equal(r.data[3 * MIG_PAGE_SIZE], 30);	/* page 29 */

	/* The run must end inside the VM. */
	assert_int_equal(mig_ram_decode(buf, n, 30, &r, &err), -EBADMSG);
	assert_non_null(strstr(err.msg, "outside"));
	/* Lengths: one byte off either way, or the fixed part only. */
	assert_int_equal(mig_ram_decode(buf, n - 1, 31, &r, &err), -EBADMSG);
	assert_int_equal(mig_ram_decode(buf, n + 1, 31, &r, &err), -EBADMSG);
	assert_int_equal(mig_ram_decode(buf, MIG_RAM_FIXED_LEN, 31, &r, &err),
	    -EBADMSG);
	assert_int_equal(mig_ram_decode(buf, MIG_RAM_FIXED_LEN + 1, 31, &r,
	    &err), -EBADMSG);
	/* A bit past the run's end in the map. */
	buf[MIG_RAM_FIXED_LEN + 1] |= 0x80;
	assert_int_equal(mig_ram_decode(buf, n, 31, &r, &err), -EBADMSG);
	buf[MIG_RAM_FIXED_LEN + 1] &= 0x7f;
	/* A data page turned into a zero marker: the length gives it away. */
	buf[MIG_RAM_FIXED_LEN] |= 0x02;
	assert_int_equal(mig_ram_decode(buf, n, 31, &r, &err), -EBADMSG);
	buf[MIG_RAM_FIXED_LEN] &= (uint8_t)~0x02;
	/* count 0, count over the limit, start + count wrapping around. */
	mig_put_u32(buf + 8, 0);
	assert_int_equal(mig_ram_decode(buf, n, 31, &r, &err), -EBADMSG);
	mig_put_u32(buf + 8, MIG_RAM_RUN_LIMIT + 1);
	assert_int_equal(mig_ram_decode(buf, n, UINT64_MAX, &r, &err),
	    -EBADMSG);
	mig_put_u32(buf + 8, 11);
	mig_put_u64(buf, UINT64_MAX - 3);
	assert_int_equal(mig_ram_decode(buf, n, UINT64_MAX, &r, &err),
	    -EBADMSG);
	mig_put_u64(buf, 20);
	assert_int_equal(mig_ram_decode(buf, n, 31, &r, &err), 0);

	/* All zero: the map alone. */
	memset(zero, 1, sizeof(zero));
	n = make_ram(buf, 0, 11, zero);
	assert_int_equal(n, MIG_RAM_FIXED_LEN + 2);
	assert_int_equal(mig_ram_decode(buf, n, 11, &r, &err), 0);
	assert_int_equal(r.nzero, 11);
	/* The largest run still fits a record. */
	assert_true(mig_ram_len(MIG_RAM_RUN_LIMIT, MIG_RAM_RUN_LIMIT) <=
	    MIG_RECORD_MAX);
	assert_true(mig_ram_len(MIG_RAM_RUN_LIMIT + 1, MIG_RAM_RUN_LIMIT + 1) >
	    MIG_RECORD_MAX);
}

static void
test_small_records(void **state)
{
	struct mig_round_end e = { 7, 12345, 99 }, e2;
	struct mig_done d = { 8, 1ull << 40 }, d2;
	struct mig_ack a = { .records = 77 }, a2;
	struct ebb_err err;
	uint8_t buf[64];

	(void)state;
	assert_int_equal(mig_round_end_encode(&e, buf), MIG_ROUND_END_LEN);
	assert_int_equal(mig_round_end_decode(buf, MIG_ROUND_END_LEN, &e2,
	    &err), 0);
	assert_int_equal(e2.round, 7);
	assert_int_equal(e2.pages, 12345);
	assert_int_equal(e2.dirty_left, 99);
	assert_int_equal(mig_round_end_decode(buf, MIG_ROUND_END_LEN - 1, &e2,
	    &err), -EBADMSG);
	buf[5] = 1;
	assert_int_equal(mig_round_end_decode(buf, MIG_ROUND_END_LEN, &e2,
	    &err), -EBADMSG);

	assert_int_equal(mig_done_encode(&d, buf), MIG_DONE_LEN);
	assert_int_equal(mig_done_decode(buf, MIG_DONE_LEN, &d2, &err), 0);
	assert_int_equal(d2.rounds, 8);
	assert_int_equal(d2.pages, 1ull << 40);
	assert_int_equal(mig_done_decode(buf, MIG_DONE_LEN + 1, &d2, &err),
	    -EBADMSG);
	buf[7] = 1;
	assert_int_equal(mig_done_decode(buf, MIG_DONE_LEN, &d2, &err),
	    -EBADMSG);

	memset(a.done_tag, 0xab, MIG_TAG_LEN);
	assert_int_equal(mig_ack_encode(&a, buf), MIG_ACK_LEN);
	assert_int_equal(mig_ack_decode(buf, MIG_ACK_LEN, &a2, &err), 0);
	assert_memory_equal(a2.done_tag, a.done_tag, MIG_TAG_LEN);
	assert_int_equal(a2.records, 77);
	assert_int_equal(mig_ack_decode(buf, 8, &a2, &err), -EBADMSG);
}

static void
test_reason(void **state)
{
	uint8_t buf[4 + MIG_REASON_MAX + 8];
	char longtext[1000];
	struct mig_reason r;
	struct ebb_err err;
	size_t n;

	(void)state;
	n = mig_reason_encode(EACCES, "bad\ttoken\x01!", buf);
	assert_int_equal(mig_reason_decode(buf, n, &r, &err), 0);
	assert_int_equal(r.code, EACCES);
	assert_string_equal(r.text, "bad?token?!");	/* made printable */
	memset(longtext, 'x', sizeof(longtext) - 1);
	longtext[sizeof(longtext) - 1] = 0;
	n = mig_reason_encode(1, longtext, buf);
	assert_int_equal(n, 4 + MIG_REASON_MAX);
	assert_int_equal(mig_reason_decode(buf, n, &r, &err), 0);
	assert_int_equal(strlen(r.text), MIG_REASON_MAX);

	assert_int_equal(mig_reason_decode(buf, 3, &r, &err), -EBADMSG);
	assert_int_equal(mig_reason_decode(buf, n + 1, &r, &err), -EBADMSG);
	buf[10] = '\n';
	assert_int_equal(mig_reason_decode(buf, n, &r, &err), -EBADMSG);
	mig_put_u32(buf, 100000);
	assert_int_equal(mig_reason_decode(buf, 4, &r, &err), -EBADMSG);
	mig_put_u32(buf, 0);
	assert_int_equal(mig_reason_decode(buf, 4, &r, &err), 0);
	assert_string_equal(r.text, "");
}

static void
test_check_cpu(void **state)
{
	struct mig_config c = sample_config();
	uint64_t all[3] = { ~0ull, ~0ull, ~0ull };
	uint64_t some[3] = { ~0ull, 0xffff0000ffff0000ull, 0 };
	struct ebb_err err;

	(void)state;
	assert_int_equal(mig_config_check_cpu(&c, "AuthenticAMD", all, 3, &err),
	    0);
	assert_int_equal(mig_config_check_cpu(&c, "GenuineIntel", all, 3, &err),
	    -ENOTSUP);
	assert_non_null(strstr(err.msg, "vendor"));
	assert_int_equal(mig_config_check_cpu(&c, "AuthenticAMD", some, 3,
	    &err), -ENOTSUP);
	assert_non_null(strstr(err.msg, "word 2 bit 63"));
	/* Words the host does not list allow nothing. */
	assert_int_equal(mig_config_check_cpu(&c, "AuthenticAMD", all, 2, &err),
	    -ENOTSUP);
	c.nfeatures = 2;
	assert_int_equal(mig_config_check_cpu(&c, "AuthenticAMD", all, 2, &err),
	    0);
}

/* ---- the HMAC chain ---------------------------------------------------- */

struct chain {
	struct mig_chan s2r, r2s;
};

static void
chain_open(struct chain *c, const uint8_t *token, size_t len, uint8_t salt)
{
	uint8_t s[MIG_SALT_LEN];
	struct ebb_err err;

	memset(c, 0, sizeof(*c));
	memset(s, salt, sizeof(s));
	assert_int_equal(mig_chan_keys(token, len, s, &c->s2r, &c->r2s, &err),
	    0);
}

static void
chain_close(struct chain *c)
{
	mig_chan_free(&c->s2r);
	mig_chan_free(&c->r2s);
}

/* HKDF-SHA256 of the test token, as mig_stream.h describes it. */
static void
hkdf(const char *info, const uint8_t salt[MIG_SALT_LEN], uint8_t key[32])
{
	EVP_PKEY_CTX *k = EVP_PKEY_CTX_new_id(EVP_PKEY_HKDF, NULL);
	size_t kl = 32;

	assert_non_null(k);
	assert_int_equal(EVP_PKEY_derive_init(k), 1);
	assert_int_equal(EVP_PKEY_CTX_set_hkdf_md(k, EVP_sha256()), 1);
	assert_int_equal(EVP_PKEY_CTX_set1_hkdf_salt(k, salt, MIG_SALT_LEN),
	    1);
	assert_int_equal(EVP_PKEY_CTX_set1_hkdf_key(k, TOKEN,
	    sizeof(TOKEN) - 1), 1);
	assert_int_equal(EVP_PKEY_CTX_add1_hkdf_info(k,
	    (const unsigned char *)info, (int)strlen(info)), 1);
	assert_int_equal(EVP_PKEY_derive(k, key, &kl), 1);
	EVP_PKEY_CTX_free(k);
}

/*
 * The first tag, computed from mig_stream.h's description with OpenSSL's
 * HKDF and one-shot HMAC, equals the library's.
 */
static void
test_chain_independent(void **state)
{
	uint8_t salt[MIG_SALT_LEN], key[32], msg[16 + 5 + MIG_TAG_LEN] = { 0 },
	    want[32], got[MIG_TAG_LEN];
	unsigned int wl = 0;
	struct chain c;

	(void)state;
	memset(salt, 7, sizeof(salt));
	hkdf("ebb-migrate v1 s2r", salt, key);

	/* seq 0 | type | len | payload "hello" | 32 zero bytes */
	mig_put_u64(msg, 0);
	mig_put_u32(msg + 8, MIG_REC_STATE);
	mig_put_u32(msg + 12, 5);
	memcpy(msg + 16, "hello", 5);
	assert_non_null(HMAC(EVP_sha256(), key, 32, msg, sizeof(msg), want,
	    &wl));

	chain_open(&c, TOKEN, sizeof(TOKEN) - 1, 7);
	assert_int_equal(mig_chan_seal(&c.s2r, MIG_REC_STATE, "hello", 5, got),
	    0);
	assert_memory_equal(got, want, 32);

	/* The second tag chains the first. */
	mig_put_u64(msg, 1);
	memcpy(msg + 21, got, MIG_TAG_LEN);
	assert_non_null(HMAC(EVP_sha256(), key, 32, msg, sizeof(msg), want,
	    &wl));
	assert_int_equal(mig_chan_seal(&c.s2r, MIG_REC_STATE, "hello", 5, got),
	    0);
	assert_memory_equal(got, want, 32);
	chain_close(&c);
}

/*
 * An encrypted record, computed from mig_stream.h's description with
 * OpenSSL's one-shot AES-256-CTR and HMAC: ciphertext and tag equal the
 * library's, and the receiving chain gives the plaintext back.
 */
static void
test_chain_encrypt_independent(void **state)
{
	static const char text[] = "a page of guest memory, in clear";
	uint8_t salt[MIG_SALT_LEN], ekey[32], mkey[32], iv[16] = { 0 };
	uint8_t want_ct[sizeof(text)], ct[sizeof(text)], msg[16 +
	    sizeof(text) + MIG_TAG_LEN], want[32], got[MIG_TAG_LEN];
	unsigned int wl = 0;
	struct chain tx, rx;
	struct ebb_err err;
	EVP_CIPHER_CTX *c;
	int n = 0;

	(void)state;
	memset(salt, 9, sizeof(salt));
	hkdf("ebb-migrate v1 s2r aes", salt, ekey);
	hkdf("ebb-migrate v1 s2r", salt, mkey);
	chain_open(&tx, TOKEN, sizeof(TOKEN) - 1, 9);
	chain_open(&rx, TOKEN, sizeof(TOKEN) - 1, 9);
	assert_int_equal(mig_chan_ciphers(TOKEN, sizeof(TOKEN) - 1, salt,
	    &tx.s2r, &tx.r2s, &err), 0);
	assert_int_equal(mig_chan_ciphers(TOKEN, sizeof(TOKEN) - 1, salt,
	    &rx.s2r, &rx.r2s, &err), 0);
	/* A const payload cannot be encrypted in place. */
	assert_int_equal(mig_chan_seal(&tx.s2r, MIG_REC_STATE, "x", 1, got),
	    -EINVAL);

	for (uint64_t seq = 0; seq < 2; seq++) {
		/* Counter block: seq, big-endian, then 64 zero bits. */
		iv[7] = (uint8_t)seq;
		assert_non_null(c = EVP_CIPHER_CTX_new());
		assert_int_equal(EVP_EncryptInit_ex(c, EVP_aes_256_ctr(), NULL,
		    ekey, iv), 1);
		assert_int_equal(EVP_EncryptUpdate(c, want_ct, &n,
		    (const uint8_t *)text, sizeof(text)), 1);
		EVP_CIPHER_CTX_free(c);
		/* Tagged over the ciphertext, chained as in clear. */
		mig_put_u64(msg, seq);
		mig_put_u32(msg + 8, MIG_REC_STATE);
		mig_put_u32(msg + 12, sizeof(text));
		memcpy(msg + 16, want_ct, sizeof(text));
		if (seq == 0)
			memset(msg + 16 + sizeof(text), 0, MIG_TAG_LEN);
		else
			memcpy(msg + 16 + sizeof(text), got, MIG_TAG_LEN);
		assert_non_null(HMAC(EVP_sha256(), mkey, 32, msg, sizeof(msg),
		    want, &wl));

		memcpy(ct, text, sizeof(text));
		assert_int_equal(mig_chan_begin(&tx.s2r, MIG_REC_STATE,
		    sizeof(text)), 0);
		/* In two pieces, as the engine feeds a RAM record. */
		assert_int_equal(mig_chan_seal_update(&tx.s2r, ct, 5), 0);
		assert_int_equal(mig_chan_seal_update(&tx.s2r, ct + 5,
		    sizeof(text) - 5), 0);
		assert_int_equal(mig_chan_end(&tx.s2r, got), 0);
		mig_chan_advance(&tx.s2r, got);
		assert_memory_equal(ct, want_ct, sizeof(text));
		assert_memory_equal(got, want, MIG_TAG_LEN);

		/* A flipped bit of ciphertext: refused, nothing decrypted. */
		ct[3] ^= 0x10;
		assert_int_equal(mig_chan_open(&rx.s2r, MIG_REC_STATE, ct,
		    sizeof(text), got), -EACCES);
		assert_int_equal(ct[3], want_ct[3] ^ 0x10);
		ct[3] ^= 0x10;
		assert_int_equal(mig_chan_open(&rx.s2r, MIG_REC_STATE, ct,
		    sizeof(text), got), 0);
		assert_memory_equal(ct, text, sizeof(text));
	}
	chain_close(&tx);
	chain_close(&rx);
}

static void
test_chain_tamper(void **state)
{
	struct chain tx, rx, other;
	uint8_t tags[6][MIG_TAG_LEN], t[MIG_TAG_LEN];
	char payload[6][16];

	(void)state;
	chain_open(&tx, TOKEN, sizeof(TOKEN) - 1, 1);
	chain_open(&rx, TOKEN, sizeof(TOKEN) - 1, 1);
	for (int i = 0; i < 6; i++) {
		snprintf(payload[i], sizeof(payload[i]), "record %d", i);
		assert_int_equal(mig_chan_seal(&tx.s2r, MIG_REC_RAM, payload[i],
		    8, tags[i]), 0);
	}
	/* Incremental tagging gives the same tag as one call. */
	chain_open(&other, TOKEN, sizeof(TOKEN) - 1, 1);
	assert_int_equal(mig_chan_begin(&other.s2r, MIG_REC_RAM, 8), 0);
	assert_int_equal(mig_chan_update(&other.s2r, "reco", 4), 0);
	assert_int_equal(mig_chan_update(&other.s2r, "rd 0", 4), 0);
	assert_int_equal(mig_chan_end(&other.s2r, t), 0);
	assert_memory_equal(t, tags[0], MIG_TAG_LEN);
	chain_close(&other);

	assert_int_equal(mig_chan_verify(&rx.s2r, MIG_REC_RAM, payload[0], 8,
	    tags[0]), 0);
	/* A flipped payload bit, another type, another length, a bad tag. */
	payload[1][3] ^= 4;
	assert_int_equal(mig_chan_verify(&rx.s2r, MIG_REC_RAM, payload[1], 8,
	    tags[1]), -EACCES);
	payload[1][3] ^= 4;
	assert_int_equal(mig_chan_verify(&rx.s2r, MIG_REC_STATE, payload[1], 8,
	    tags[1]), -EACCES);
	assert_int_equal(mig_chan_verify(&rx.s2r, MIG_REC_RAM, payload[1], 7,
	    tags[1]), -EACCES);
	tags[1][31] ^= 1;
	assert_int_equal(mig_chan_verify(&rx.s2r, MIG_REC_RAM, payload[1], 8,
	    tags[1]), -EACCES);
	tags[1][31] ^= 1;
	/* Dropped (2 instead of 1), replayed (0 again): refused... */
	assert_int_equal(mig_chan_verify(&rx.s2r, MIG_REC_RAM, payload[2], 8,
	    tags[2]), -EACCES);
	assert_int_equal(mig_chan_verify(&rx.s2r, MIG_REC_RAM, payload[0], 8,
	    tags[0]), -EACCES);
	/* ...and a failed check did not move the chain. */
	assert_int_equal(mig_chan_verify(&rx.s2r, MIG_REC_RAM, payload[1], 8,
	    tags[1]), 0);
	/* Reordered: 3 before 2. */
	assert_int_equal(mig_chan_verify(&rx.s2r, MIG_REC_RAM, payload[3], 8,
	    tags[3]), -EACCES);
	assert_int_equal(mig_chan_verify(&rx.s2r, MIG_REC_RAM, payload[2], 8,
	    tags[2]), 0);
	/* The same record under the way-back key, another token, another
	   salt: injected, never accepted. */
	chain_open(&other, TOKEN, sizeof(TOKEN) - 1, 1);
	for (int i = 0; i < 3; i++)
		assert_int_equal(mig_chan_seal(&other.r2s, MIG_REC_RAM,
		    payload[i], 8, t), 0);
	assert_int_equal(mig_chan_seal(&other.r2s, MIG_REC_RAM, payload[3], 8,
	    t), 0);
	assert_int_equal(mig_chan_verify(&rx.s2r, MIG_REC_RAM, payload[3], 8,
	    t), -EACCES);
	chain_close(&other);
	chain_open(&other, OTHER, sizeof(OTHER) - 1, 1);
	for (int i = 0; i < 4; i++)
		assert_int_equal(mig_chan_seal(&other.s2r, MIG_REC_RAM,
		    payload[i], 8, t), 0);
	assert_int_equal(mig_chan_verify(&rx.s2r, MIG_REC_RAM, payload[3], 8,
	    t), -EACCES);
	chain_close(&other);
	chain_open(&other, TOKEN, sizeof(TOKEN) - 1, 2);
	for (int i = 0; i < 4; i++)
		assert_int_equal(mig_chan_seal(&other.s2r, MIG_REC_RAM,
		    payload[i], 8, t), 0);
	assert_int_equal(mig_chan_verify(&rx.s2r, MIG_REC_RAM, payload[3], 8,
	    t), -EACCES);
	chain_close(&other);
	assert_int_equal(mig_chan_verify(&rx.s2r, MIG_REC_RAM, payload[3], 8,
	    tags[3]), 0);

	chain_close(&tx);
	chain_close(&rx);
}

static void
test_chain_token_len(void **state)
{
	uint8_t salt[MIG_SALT_LEN] = { 0 }, big[MIG_TOKEN_MAX + 1] = { 0 };
	struct mig_chan a = { 0 }, b = { 0 };
	struct ebb_err err;

	(void)state;
	assert_int_equal(mig_chan_keys(TOKEN, MIG_TOKEN_MIN - 1, salt, &a, &b,
	    &err), -EINVAL);
	assert_int_equal(mig_chan_keys(big, sizeof(big), salt, &a, &b, &err),
	    -EINVAL);
	assert_int_equal(mig_chan_keys(big, MIG_TOKEN_MAX, salt, &a, &b, &err),
	    0);
	mig_chan_free(&a);
	mig_chan_free(&b);
}

/* ---- records over a socketpair -------------------------------------- */

struct pair {
	int		 sv[2];		/* [0] sender, [1] receiver */
	struct mig_stream tx, rx;
	struct ebb_err	 err;
};

static void
pair_open(struct pair *p, const uint8_t *rtoken, int timeout_ms)
{
	memset(p, 0, sizeof(*p));
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0,
	    p->sv), 0);
	assert_int_equal(mig_stream_init(&p->tx, p->sv[0], true, TOKEN,
	    sizeof(TOKEN) - 1, -1, timeout_ms, &p->err), 0);
	assert_int_equal(mig_stream_init(&p->rx, p->sv[1], false, rtoken,
	    sizeof(TOKEN) - 1, -1, timeout_ms, &p->err), 0);
}

static void
pair_close(struct pair *p)
{
	mig_stream_fini(&p->tx);
	mig_stream_fini(&p->rx);
	close(p->sv[0]);
	close(p->sv[1]);
}

static void
raw(int fd, uint32_t type, uint32_t len, const void *payload, size_t n)
{
	uint8_t hdr[8];

	mig_put_u32(hdr, type);
	mig_put_u32(hdr + 4, len);
	assert_int_equal(write(fd, hdr, 8), 8);
	if (n > 0)
		assert_int_equal(write(fd, payload, n), (ssize_t)n);
}

static void
test_stream_roundtrip(void **state)
{
	struct pair p;
	struct mig_record rec;
	struct mig_hello h;
	uint8_t ack[MIG_ACK_LEN] = { 0 };

	(void)state;
	pair_open(&p, TOKEN, 2000);
	assert_int_equal(mig_stream_hello(&p.tx, 42, &p.err), 0);
	assert_int_equal(mig_stream_send(&p.tx, MIG_REC_STATE, "abc", 3,
	    &p.err), 0);
	assert_int_equal(mig_stream_recv(&p.rx, &rec, &p.err), 0);
	assert_int_equal(rec.type, MIG_REC_HELLO);
	assert_int_equal(mig_hello_decode(rec.payload, rec.len, &h, &p.err), 0);
	assert_int_equal(h.id, 42);
	assert_int_equal(mig_stream_recv(&p.rx, &rec, &p.err), 0);
	assert_int_equal(rec.type, MIG_REC_STATE);
	assert_int_equal(rec.len, 3);
	assert_memory_equal(rec.payload, "abc", 3);
	assert_int_equal(rec.payload[3], 0);

	/* The way back, keyed separately. */
	assert_int_equal(mig_stream_send(&p.rx, MIG_REC_ACK, ack, sizeof(ack),
	    &p.err), 0);
	assert_true(mig_stream_readable(&p.tx));
	assert_int_equal(mig_stream_recv(&p.tx, &rec, &p.err), 0);
	assert_int_equal(rec.type, MIG_REC_ACK);
	assert_false(mig_stream_readable(&p.tx));
	assert_int_equal(p.tx.bytes_out, p.rx.bytes_in);
	assert_int_equal(p.tx.bytes_out, (8 + 56 + 32) + (8 + 3 + 32));
	pair_close(&p);
}

static void
test_stream_wrong_token(void **state)
{
	struct pair p;
	struct mig_record rec;
	uint8_t nack[64];
	size_t n;

	(void)state;
	pair_open(&p, OTHER, 2000);
	assert_int_equal(mig_stream_hello(&p.tx, 1, &p.err), 0);
	assert_int_equal(mig_stream_recv(&p.rx, &rec, &p.err), -EACCES);
	assert_non_null(strstr(p.err.msg, "wrong migration token"));
	/* Nothing more is read from a stream that failed. */
	assert_int_equal(mig_stream_recv(&p.rx, &rec, &p.err), -EBADMSG);
	/* Its NACK goes untagged, and the sender sees it is not genuine. */
	n = mig_reason_encode(EACCES, "no", nack);
	assert_int_equal(mig_stream_send(&p.rx, MIG_REC_NACK, nack,
	    (uint32_t)n, &p.err), 0);
	assert_int_equal(mig_stream_recv(&p.tx, &rec, &p.err), -EACCES);
	assert_int_equal(rec.type, MIG_REC_NACK);
	assert_int_equal(rec.len, n);
	pair_close(&p);
}

/* Moves what is in fd `from` (the sender's stream) to fd `to`. */
static size_t
relay(int from, int to, uint8_t *buf, size_t cap, bool flip_last_payload)
{
	ssize_t n = recv(from, buf, cap, MSG_DONTWAIT);

	assert_true(n > 0);
	if (flip_last_payload)
		buf[n - MIG_TAG_LEN - 1] ^= 1;
	assert_int_equal(write(to, buf, (size_t)n), n);
	return (size_t)n;
}

static bool
holds(const uint8_t *buf, size_t n, const char *s)
{
	size_t l = strlen(s);

	for (size_t i = 0; i + l <= n; i++)
		if (memcmp(buf + i, s, l) == 0)
			return true;
	return false;
}

/*
 * An encrypted stream: the sender's choice, followed by a receiver that
 * does not require it and demanded by one that does.  What crosses the
 * wire holds no plaintext; a flipped bit fails authentication; a
 * receiver that requires encryption refuses a sender that does not.
 */
static void
test_stream_encrypted(void **state)
{
	static const char secret[] = "SECRET-GUEST-PAGE: 4f1c2d9e";
	uint8_t wire[4096], ack[MIG_ACK_LEN] = { 0 };
	struct pair p, q;
	struct mig_record rec;
	size_t n;

	(void)state;
	for (int require = 0; require < 2; require++) {
		/* p: sender -> test; q: test -> receiver (q.tx unused). */
		pair_open(&p, TOKEN, 2000);
		pair_open(&q, TOKEN, 2000);
		p.tx.encrypt = true;
		q.rx.encrypt = require;
		assert_int_equal(mig_stream_hello(&p.tx, 7, &p.err), 0);
		assert_true(mig_stream_encrypted(&p.tx));
		assert_int_equal(mig_stream_send(&p.tx, MIG_REC_STATE, secret,
		    sizeof(secret) - 1, &p.err), 0);
		n = relay(p.sv[1], q.sv[0], wire, sizeof(wire), false);
		assert_int_equal(n, (8 + 56 + 32) + (8 + sizeof(secret) - 1 +
		    32));
		assert_false(holds(wire, n, "SECRET"));
		assert_true(holds(wire, n, "EBBMIG"));	/* HELLO in clear */
		assert_int_equal(mig_stream_recv(&q.rx, &rec, &q.err), 0);
		assert_int_equal(rec.type, MIG_REC_HELLO);
		assert_true(mig_stream_encrypted(&q.rx));
		assert_int_equal(mig_stream_recv(&q.rx, &rec, &q.err), 0);
		assert_int_equal(rec.type, MIG_REC_STATE);
		assert_memory_equal(rec.payload, secret, sizeof(secret) - 1);
		assert_int_equal(rec.payload[rec.len], 0);

		/* The answer is encrypted too (r2s), and read back. */
		memcpy(ack, "ACK-SECRET", 10);
		assert_int_equal(mig_stream_send(&q.rx, MIG_REC_ACK, ack,
		    sizeof(ack), &q.err), 0);
		n = relay(q.sv[0], p.sv[1], wire, sizeof(wire), false);
		assert_false(holds(wire, n, "ACK-SECRET"));
		assert_int_equal(mig_stream_recv(&p.tx, &rec, &p.err), 0);
		assert_int_equal(rec.type, MIG_REC_ACK);
		assert_memory_equal(rec.payload, "ACK-SECRET", 10);

		/* One flipped bit of ciphertext. */
		assert_int_equal(mig_stream_send(&p.tx, MIG_REC_STATE, secret,
		    sizeof(secret) - 1, &p.err), 0);
		relay(p.sv[1], q.sv[0], wire, sizeof(wire), true);
		assert_int_equal(mig_stream_recv(&q.rx, &rec, &q.err),
		    -EACCES);
		assert_non_null(strstr(q.err.msg, "failed authentication"));
		pair_close(&p);
		pair_close(&q);
	}

	/* A receiver that requires encryption, a sender that does not. */
	pair_open(&p, TOKEN, 2000);
	p.rx.encrypt = true;
	assert_int_equal(mig_stream_hello(&p.tx, 8, &p.err), 0);
	assert_false(mig_stream_encrypted(&p.tx));
	assert_int_equal(mig_stream_recv(&p.rx, &rec, &p.err), -EACCES);
	assert_non_null(strstr(p.err.msg, "does not encrypt the stream and "
	    "this receiver requires it"));
	assert_false(mig_stream_encrypted(&p.rx));
	pair_close(&p);
}

static void
test_stream_refusals(void **state)
{
	struct pair p;
	struct mig_record rec;
	uint8_t junk[64] = { 0 };
	struct timespec t0, t1;

	(void)state;
	/* The first record must be HELLO. */
	pair_open(&p, TOKEN, 2000);
	raw(p.sv[0], MIG_REC_CONFIG, 40, junk, 40);
	assert_int_equal(mig_stream_recv(&p.rx, &rec, &p.err), -EBADMSG);
	assert_non_null(strstr(p.err.msg, "not HELLO"));
	pair_close(&p);

	/* A HELLO of the wrong size is refused from its header. */
	pair_open(&p, TOKEN, 2000);
	raw(p.sv[0], MIG_REC_HELLO, 57, NULL, 0);
	assert_int_equal(mig_stream_recv(&p.rx, &rec, &p.err), -EBADMSG);
	pair_close(&p);

	/*
	 * After HELLO: an unknown type, a way-back type, and lengths over
	 * the bounds are refused at once, without waiting for (or
	 * allocating) the payload the header announces.
	 */
	const uint32_t bad[][2] = {
		{ 0, 10 }, { 10, 10 }, { UINT32_MAX, 0 },
		{ MIG_REC_ACK, MIG_ACK_LEN }, { MIG_REC_NACK, 8 },
		{ MIG_REC_HELLO, MIG_HELLO_LEN + 1 },
		{ MIG_REC_RAM, MIG_RECORD_MAX + 1 },
		{ MIG_REC_RAM, UINT32_MAX },
		{ MIG_REC_RAM, 12 }, { MIG_REC_STATE, 0 },
		{ MIG_REC_STATE, MIG_RECORD_MAX + 1 },
		{ MIG_REC_CONFIG, 35 }, { MIG_REC_CONFIG, 1u << 30 },
		{ MIG_REC_ROUND_END, 23 }, { MIG_REC_DONE, 17 },
		{ MIG_REC_CANCEL, 3 },
		{ MIG_REC_CANCEL, 4 + MIG_REASON_MAX + 1 },
	};
	for (size_t i = 0; i < EBB_NITEMS(bad); i++) {
		pair_open(&p, TOKEN, 5000);
		assert_int_equal(mig_stream_hello(&p.tx, 1, &p.err), 0);
		assert_int_equal(mig_stream_recv(&p.rx, &rec, &p.err), 0);
		raw(p.sv[0], bad[i][0], bad[i][1], NULL, 0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(mig_stream_recv(&p.rx, &rec, &p.err),
		    -EBADMSG);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		assert_true(t1.tv_sec - t0.tv_sec < 2);
		assert_true(p.rx.cap < 4096);	/* nothing big allocated */
		pair_close(&p);
	}

	/* The sender accepts only ACK and NACK. */
	pair_open(&p, TOKEN, 2000);
	assert_int_equal(mig_stream_hello(&p.tx, 1, &p.err), 0);
	raw(p.sv[1], MIG_REC_RAM, 13, junk, 13);
	assert_int_equal(mig_stream_recv(&p.tx, &rec, &p.err), -EBADMSG);
	pair_close(&p);
}

static void
test_stream_truncated_timeout_cancel(void **state)
{
	struct pair p;
	struct mig_record rec;
	uint8_t junk[64] = { 0 };
	int efd;
	uint64_t one = 1;

	(void)state;
	/* The end of the stream inside a record, and between records. */
	pair_open(&p, TOKEN, 2000);
	assert_int_equal(mig_stream_hello(&p.tx, 1, &p.err), 0);
	raw(p.sv[0], MIG_REC_STATE, 100, junk, 50);
	shutdown(p.sv[0], SHUT_WR);
	assert_int_equal(mig_stream_recv(&p.rx, &rec, &p.err), 0);
	assert_int_equal(mig_stream_recv(&p.rx, &rec, &p.err), -ECONNRESET);
	assert_non_null(strstr(p.err.msg, "truncated"));
	pair_close(&p);

	pair_open(&p, TOKEN, 2000);
	assert_int_equal(mig_stream_hello(&p.tx, 1, &p.err), 0);
	shutdown(p.sv[0], SHUT_WR);
	assert_int_equal(mig_stream_recv(&p.rx, &rec, &p.err), 0);
	assert_int_equal(mig_stream_recv(&p.rx, &rec, &p.err), -ECONNRESET);
	pair_close(&p);

	/* A silent peer. */
	pair_open(&p, TOKEN, 100);
	assert_int_equal(mig_stream_recv(&p.rx, &rec, &p.err), -ETIMEDOUT);
	pair_close(&p);

	/* Cancelled while waiting. */
	efd = eventfd(0, EFD_CLOEXEC);
	assert_true(efd >= 0);
	pair_open(&p, TOKEN, 5000);
	p.rx.cancel_fd = efd;
	assert_int_equal(write(efd, &one, 8), 8);
	assert_int_equal(mig_stream_recv(&p.rx, &rec, &p.err), -ECANCELED);
	pair_close(&p);
	close(efd);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_names),
		cmocka_unit_test(test_hello),
		cmocka_unit_test(test_config),
		cmocka_unit_test(test_ram),
		cmocka_unit_test(test_small_records),
		cmocka_unit_test(test_reason),
		cmocka_unit_test(test_check_cpu),
		cmocka_unit_test(test_chain_independent),
		cmocka_unit_test(test_chain_encrypt_independent),
		cmocka_unit_test(test_chain_tamper),
		cmocka_unit_test(test_chain_token_len),
		cmocka_unit_test(test_stream_roundtrip),
		cmocka_unit_test(test_stream_wrong_token),
		cmocka_unit_test(test_stream_encrypted),
		cmocka_unit_test(test_stream_refusals),
		cmocka_unit_test(test_stream_truncated_timeout_cancel),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
