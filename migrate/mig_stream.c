/*
 * mig_stream.c - the migration stream's records, their HMAC chain (and
 * optional encryption), and reading and writing them on a socket.
 * mig_stream.h has the format.
 */
#include <sys/socket.h>
#include <sys/uio.h>

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include "ebb.h"
#include "mig_stream.h"

static const uint8_t mig_magic[8] = {
	0x89, 'E', 'B', 'B', 'M', 'I', 'G', '\n'
};

/* Read-ahead size: many small records per recv(), big payloads bypass it. */
#define MIG_RBUF	(64u << 10)

const char *
mig_rec_name(uint32_t type)
{
	static const char *const names[] = {
		[MIG_REC_HELLO] = "HELLO",
		[MIG_REC_CONFIG] = "CONFIG",
		[MIG_REC_RAM] = "RAM",
		[MIG_REC_ROUND_END] = "ROUND_END",
		[MIG_REC_STATE] = "STATE",
		[MIG_REC_DONE] = "DONE",
		[MIG_REC_ACK] = "ACK",
		[MIG_REC_NACK] = "NACK",
		[MIG_REC_CANCEL] = "CANCEL",
	};

	if (type < EBB_NITEMS(names) && names[type] != NULL)
		return names[type];
	return "unknown";
}

void
mig_put_u32(uint8_t *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

void
mig_put_u64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

uint32_t
mig_get_u32(const uint8_t *p)
{
	uint32_t v = 0;

	for (int i = 3; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

uint64_t
mig_get_u64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 7; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

/* ---- payloads ------------------------------------------------------------ */

static int
bad(struct ebb_err *err, const char *what, size_t len, size_t want)
{
	ebb_err_set(err, "%s record of %zu bytes, want %zu", what, len, want);
	return -EBADMSG;
}

size_t
mig_hello_encode(const struct mig_hello *h, uint8_t *buf)
{
	memcpy(buf, mig_magic, sizeof(mig_magic));
	mig_put_u32(buf + 8, h->version);
	mig_put_u32(buf + 12, h->flags);
	memcpy(buf + 16, h->salt, MIG_SALT_LEN);
	mig_put_u64(buf + 48, h->id);
	return MIG_HELLO_LEN;
}

int
mig_hello_decode(const uint8_t *p, size_t len, struct mig_hello *h,
    struct ebb_err *err)
{
	uint32_t flags;

	if (len != MIG_HELLO_LEN)
		return bad(err, "HELLO", len, MIG_HELLO_LEN);
	if (memcmp(p, mig_magic, sizeof(mig_magic)) != 0) {
		ebb_err_set(err, "not an ebb migration stream (bad magic)");
		return -EBADMSG;
	}
	h->version = mig_get_u32(p + 8);
	if (h->version != MIG_VERSION) {
		ebb_err_set(err, "stream version %u, this side speaks %d",
		    h->version, MIG_VERSION);
		return -EPROTONOSUPPORT;
	}
	if ((flags = mig_get_u32(p + 12)) & ~MIG_HELLO_ENCRYPTED) {
		ebb_err_set(err, "HELLO flags %#x unknown", flags);
		return -EBADMSG;
	}
	h->flags = flags;
	memcpy(h->salt, p + 16, MIG_SALT_LEN);
	h->id = mig_get_u64(p + 48);
	return 0;
}

size_t
mig_config_len(const struct mig_config *c)
{
	return MIG_CONFIG_FIXED_LEN + (size_t)c->nfeatures * 8 +
	    (c->json != NULL ? strlen(c->json) : 0);
}

size_t
mig_config_encode(const struct mig_config *c, uint8_t *buf)
{
	size_t off = MIG_CONFIG_FIXED_LEN, jl;

	mig_put_u64(buf, c->npages);
	mig_put_u32(buf + 8, c->page_size);
	mig_put_u32(buf + 12, c->nvcpus);
	memset(buf + 16, 0, MIG_VENDOR_LEN);
	memcpy(buf + 16, c->vendor, strnlen(c->vendor, MIG_VENDOR_LEN));
	mig_put_u32(buf + 32, c->nfeatures);
	for (uint32_t i = 0; i < c->nfeatures; i++, off += 8)
		mig_put_u64(buf + off, c->features[i]);
	jl = c->json != NULL ? strlen(c->json) : 0;
	if (jl > 0)
		memcpy(buf + off, c->json, jl);
	return off + jl;
}

/*
 * The JSON text is the tail of the record and comes out NUL-terminated:
 * mig_stream_recv() keeps one spare byte after every payload, zeroed.
 */
int
mig_config_decode(const uint8_t *p, size_t len, struct mig_config *c,
    struct ebb_err *err)
{
	size_t off = MIG_CONFIG_FIXED_LEN, jl, vl;

	if (len < MIG_CONFIG_FIXED_LEN) {
		ebb_err_set(err, "CONFIG record of %zu bytes, want >= %d", len,
		    MIG_CONFIG_FIXED_LEN);
		return -EBADMSG;
	}
	memset(c, 0, sizeof(*c));
	c->npages = mig_get_u64(p);
	c->page_size = mig_get_u32(p + 8);
	c->nvcpus = mig_get_u32(p + 12);
	c->nfeatures = mig_get_u32(p + 32);
	if (c->npages == 0 || c->npages > MIG_NPAGES_MAX) {
		ebb_err_set(err, "CONFIG: %llu pages (1 .. %llu)",
		    (unsigned long long)c->npages, MIG_NPAGES_MAX);
		return -EBADMSG;
	}
	if (c->page_size != MIG_PAGE_SIZE) {
		ebb_err_set(err, "CONFIG: page size %u, only %u is spoken",
		    c->page_size, MIG_PAGE_SIZE);
		return -EBADMSG;
	}
	if (c->nvcpus == 0 || c->nvcpus > MIG_VCPUS_MAX) {
		ebb_err_set(err, "CONFIG: %u vCPUs (1 .. %d)", c->nvcpus,
		    MIG_VCPUS_MAX);
		return -EBADMSG;
	}
	/* The vendor is printable ASCII, then NULs to the end of its field. */
	vl = strnlen((const char *)p + 16, MIG_VENDOR_LEN);
	for (size_t i = 0; i < MIG_VENDOR_LEN; i++) {
		uint8_t ch = p[16 + i];

		if (i < vl ? ch < 0x20 || ch > 0x7e : ch != 0) {
			ebb_err_set(err, "CONFIG: bad CPU vendor string");
			return -EBADMSG;
		}
	}
	if (vl == 0) {
		ebb_err_set(err, "CONFIG: empty CPU vendor string");
		return -EBADMSG;
	}
	memcpy(c->vendor, p + 16, vl);
	if (c->nfeatures > MIG_FEATURE_WORDS_MAX ||
	    len < off + (size_t)c->nfeatures * 8) {
		ebb_err_set(err, "CONFIG: %u feature words in %zu bytes "
		    "(at most %d)", c->nfeatures, len, MIG_FEATURE_WORDS_MAX);
		return -EBADMSG;
	}
	for (uint32_t i = 0; i < c->nfeatures; i++, off += 8)
		c->features[i] = mig_get_u64(p + off);
	jl = len - off;
	if (jl > MIG_JSON_MAX || memchr(p + off, 0, jl) != NULL) {
		ebb_err_set(err, "CONFIG: JSON text of %zu bytes, NUL-free "
		    "and at most %u", jl, MIG_JSON_MAX);
		return -EBADMSG;
	}
	c->json = (const char *)p + off;
	return 0;
}

size_t
mig_ram_len(uint32_t count, uint32_t ndata)
{
	return MIG_RAM_FIXED_LEN + (count + 7) / 8 +
	    (size_t)ndata * MIG_PAGE_SIZE;
}

int
mig_ram_decode(const uint8_t *p, size_t len, uint64_t npages,
    struct mig_ram *r, struct ebb_err *err)
{
	size_t maplen;
	uint32_t nzero = 0;

	if (len < MIG_RAM_FIXED_LEN + 1) {
		ebb_err_set(err, "RAM record of %zu bytes is too short", len);
		return -EBADMSG;
	}
	r->start = mig_get_u64(p);
	r->count = mig_get_u32(p + 8);
	if (r->count == 0 || r->count > MIG_RAM_RUN_LIMIT) {
		ebb_err_set(err, "RAM: run of %u pages (1 .. %u)", r->count,
		    MIG_RAM_RUN_LIMIT);
		return -EBADMSG;
	}
	/* start + count, written so that it cannot wrap. */
	if (r->start >= npages || r->count > npages - r->start) {
		ebb_err_set(err, "RAM: pages %llu+%u outside the VM's %llu",
		    (unsigned long long)r->start, r->count,
		    (unsigned long long)npages);
		return -EBADMSG;
	}
	maplen = (r->count + 7) / 8;
	if (len < MIG_RAM_FIXED_LEN + maplen)
		return bad(err, "RAM", len, MIG_RAM_FIXED_LEN + maplen);
	r->zero_map = p + MIG_RAM_FIXED_LEN;
	for (size_t i = 0; i < maplen; i++)
		nzero += (uint32_t)__builtin_popcount(r->zero_map[i]);
	if (r->count % 8 != 0 && r->zero_map[maplen - 1] >> (r->count % 8)) {
		ebb_err_set(err, "RAM: bits set past the run in the zero map");
		return -EBADMSG;
	}
	r->nzero = nzero;
	if (len != mig_ram_len(r->count, r->count - nzero))
		return bad(err, "RAM", len, mig_ram_len(r->count,
		    r->count - nzero));
	r->data = p + MIG_RAM_FIXED_LEN + maplen;
	return 0;
}

size_t
mig_round_end_encode(const struct mig_round_end *e, uint8_t *buf)
{
	mig_put_u32(buf, e->round);
	mig_put_u32(buf + 4, 0);
	mig_put_u64(buf + 8, e->pages);
	mig_put_u64(buf + 16, e->dirty_left);
	return MIG_ROUND_END_LEN;
}

int
mig_round_end_decode(const uint8_t *p, size_t len, struct mig_round_end *e,
    struct ebb_err *err)
{
	if (len != MIG_ROUND_END_LEN)
		return bad(err, "ROUND_END", len, MIG_ROUND_END_LEN);
	if (mig_get_u32(p + 4) != 0) {
		ebb_err_set(err, "ROUND_END: reserved field is not 0");
		return -EBADMSG;
	}
	e->round = mig_get_u32(p);
	e->pages = mig_get_u64(p + 8);
	e->dirty_left = mig_get_u64(p + 16);
	return 0;
}

size_t
mig_done_encode(const struct mig_done *d, uint8_t *buf)
{
	mig_put_u32(buf, d->rounds);
	mig_put_u32(buf + 4, 0);
	mig_put_u64(buf + 8, d->pages);
	return MIG_DONE_LEN;
}

int
mig_done_decode(const uint8_t *p, size_t len, struct mig_done *d,
    struct ebb_err *err)
{
	if (len != MIG_DONE_LEN)
		return bad(err, "DONE", len, MIG_DONE_LEN);
	if (mig_get_u32(p + 4) != 0) {
		ebb_err_set(err, "DONE: reserved field is not 0");
		return -EBADMSG;
	}
	d->rounds = mig_get_u32(p);
	d->pages = mig_get_u64(p + 8);
	return 0;
}

size_t
mig_ack_encode(const struct mig_ack *a, uint8_t *buf)
{
	memcpy(buf, a->done_tag, MIG_TAG_LEN);
	mig_put_u64(buf + MIG_TAG_LEN, a->records);
	return MIG_ACK_LEN;
}

int
mig_ack_decode(const uint8_t *p, size_t len, struct mig_ack *a,
    struct ebb_err *err)
{
	if (len != MIG_ACK_LEN)
		return bad(err, "ACK", len, MIG_ACK_LEN);
	memcpy(a->done_tag, p, MIG_TAG_LEN);
	a->records = mig_get_u64(p + MIG_TAG_LEN);
	return 0;
}

size_t
mig_reason_encode(int code, const char *text, uint8_t *buf)
{
	size_t n = strnlen(text, MIG_REASON_MAX);

	mig_put_u32(buf, (uint32_t)code);
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)text[i];

		buf[4 + i] = ch >= 0x20 && ch <= 0x7e ? ch : '?';
	}
	return 4 + n;
}

/*
 * A reason is shown to operators and written to logs, and an unverified
 * NACK's text comes from anyone on the path: printable ASCII only.
 */
int
mig_reason_decode(const uint8_t *p, size_t len, struct mig_reason *r,
    struct ebb_err *err)
{
	uint32_t code;

	if (len < 4 || len > 4 + MIG_REASON_MAX) {
		ebb_err_set(err, "reason record of %zu bytes (4 .. %d)", len,
		    4 + MIG_REASON_MAX);
		return -EBADMSG;
	}
	code = mig_get_u32(p);
	if (code > 4095) {
		ebb_err_set(err, "reason record with error code %u", code);
		return -EBADMSG;
	}
	r->code = (int)code;
	for (size_t i = 4; i < len; i++) {
		if (p[i] < 0x20 || p[i] > 0x7e) {
			ebb_err_set(err, "reason text is not printable ASCII");
			return -EBADMSG;
		}
		r->text[i - 4] = (char)p[i];
	}
	r->text[len - 4] = '\0';
	return 0;
}

int
mig_config_check_cpu(const struct mig_config *c, const char *vendor,
    const uint64_t *allowed, size_t nallowed, struct ebb_err *err)
{
	if (strcmp(c->vendor, vendor) != 0) {
		ebb_err_set(err, "CPU vendor %s, this host is %s", c->vendor,
		    vendor);
		return -ENOTSUP;
	}
	for (uint32_t w = 0; w < c->nfeatures; w++) {
		uint64_t ok = w < nallowed ? allowed[w] : 0;
		uint64_t missing = c->features[w] & ~ok;

		if (missing != 0) {
			ebb_err_set(err, "CPU feature word %u bit %d is not "
			    "allowed on this host", w,
			    __builtin_ctzll(missing));
			return -ENOTSUP;
		}
	}
	return 0;
}

/* ---- the HMAC chain ---------------------------------------------------- */

static int
derive(const uint8_t *token, size_t token_len, const uint8_t *salt,
    const char *info, uint8_t key[32])
{
	uint8_t ikm[MIG_TOKEN_MAX], s[MIG_SALT_LEN];
	char inf[32];
	EVP_KDF *kdf;
	EVP_KDF_CTX *kctx;
	OSSL_PARAM params[5];
	int ok;

	/* OSSL_PARAM wants non-const buffers; the copies keep ours const. */
	memcpy(ikm, token, token_len);
	memcpy(s, salt, sizeof(s));
	snprintf(inf, sizeof(inf), "%s", info);
	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_KDF_PARAM_DIGEST,
	    "SHA256", 0);
	params[1] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_KEY, ikm,
	    token_len);
	params[2] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, s,
	    sizeof(s));
	params[3] = OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_INFO, inf,
	    strlen(inf));
	params[4] = OSSL_PARAM_construct_end();
	if ((kdf = EVP_KDF_fetch(NULL, "HKDF", NULL)) == NULL)
		return -EIO;
	kctx = EVP_KDF_CTX_new(kdf);
	ok = kctx != NULL && EVP_KDF_derive(kctx, key, 32, params) == 1;
	EVP_KDF_CTX_free(kctx);
	EVP_KDF_free(kdf);
	OPENSSL_cleanse(ikm, sizeof(ikm));
	return ok ? 0 : -EIO;
}

static int
chan_key(struct mig_chan *ch, const uint8_t key[32])
{
	OSSL_PARAM params[2];
	EVP_MAC *mac;
	EVP_MAC_CTX *ctx;

	params[0] = OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST,
	    "SHA256", 0);
	params[1] = OSSL_PARAM_construct_end();
	if ((mac = EVP_MAC_fetch(NULL, "HMAC", NULL)) == NULL)
		return -EIO;
	ctx = EVP_MAC_CTX_new(mac);
	EVP_MAC_free(mac);	/* the context holds its own reference */
	if (ctx == NULL || EVP_MAC_init(ctx, key, 32, params) != 1) {
		EVP_MAC_CTX_free(ctx);
		return -EIO;
	}
	mig_chan_free(ch);
	ch->mac = ctx;
	ch->seq = 0;
	memset(ch->prev, 0, sizeof(ch->prev));
	return 0;
}

/*
 * Derives one key per direction, HKDF info "ebb-migrate v1 s2r" / "...
 * r2s" followed by suffix, and gives each to set().
 */
static int
chan_pair(const uint8_t *token, size_t token_len, const uint8_t *salt,
    const char *suffix, int (*set)(struct mig_chan *, const uint8_t[32]),
    struct mig_chan *s2r, struct mig_chan *r2s)
{
	struct mig_chan *ch[2] = { s2r, r2s };
	static const char *const dir[2] = { "s2r", "r2s" };
	char info[32];
	uint8_t k[32];
	int rc = 0;

	for (int i = 0; rc == 0 && i < 2; i++) {
		snprintf(info, sizeof(info), "ebb-migrate v1 %s%s", dir[i],
		    suffix);
		rc = derive(token, token_len, salt, info, k);
		if (rc == 0)
			rc = set(ch[i], k);
		OPENSSL_cleanse(k, sizeof(k));
	}
	return rc;
}

int
mig_chan_keys(const uint8_t *token, size_t token_len,
    const uint8_t salt[MIG_SALT_LEN], struct mig_chan *s2r,
    struct mig_chan *r2s, struct ebb_err *err)
{
	if (token_len < MIG_TOKEN_MIN || token_len > MIG_TOKEN_MAX) {
		ebb_err_set(err, "migration token of %zu bytes (%d .. %d)",
		    token_len, MIG_TOKEN_MIN, MIG_TOKEN_MAX);
		return -EINVAL;
	}
	if (chan_pair(token, token_len, salt, "", chan_key, s2r, r2s) < 0) {
		ebb_err_set(err, "deriving the migration keys failed "
		    "(OpenSSL HKDF/HMAC)");
		return -EIO;
	}
	return 0;
}

static int
chan_cipher(struct mig_chan *ch, const uint8_t key[32])
{
	EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();

	/* The key now; each record sets its counter block (chan_iv). */
	if (ctx == NULL || EVP_EncryptInit_ex2(ctx, EVP_aes_256_ctr(), key,
	    NULL, NULL) != 1) {
		EVP_CIPHER_CTX_free(ctx);
		return -EIO;
	}
	EVP_CIPHER_CTX_free(ch->enc);
	ch->enc = ctx;
	return 0;
}

int
mig_chan_ciphers(const uint8_t *token, size_t token_len,
    const uint8_t salt[MIG_SALT_LEN], struct mig_chan *s2r,
    struct mig_chan *r2s, struct ebb_err *err)
{
	if (chan_pair(token, token_len, salt, " aes", chan_cipher, s2r,
	    r2s) < 0) {
		ebb_err_set(err, "deriving the migration's encryption keys "
		    "failed (OpenSSL HKDF/AES)");
		return -EIO;
	}
	return 0;
}

void
mig_chan_free(struct mig_chan *ch)
{
	EVP_MAC_CTX_free(ch->mac);
	ch->mac = NULL;
	EVP_CIPHER_CTX_free(ch->enc);
	ch->enc = NULL;
}

/* Starts the key stream of record seq: counter block seq | 0^64. */
static int
chan_iv(struct mig_chan *ch, uint64_t seq)
{
	uint8_t iv[16] = { 0 };

	for (int i = 0; i < 8; i++)
		iv[i] = (uint8_t)(seq >> (56 - 8 * i));
	return EVP_EncryptInit_ex2(ch->enc, NULL, NULL, iv, NULL) == 1 ?
	    0 : -EIO;
}

/* CTR both ways: the key stream XORed over p, in place. */
static int
chan_xor(struct mig_chan *ch, void *p, size_t n)
{
	uint8_t *b = p;

	while (n > 0) {
		int chunk = n > (1u << 30) ? 1 << 30 : (int)n, out = 0;

		if (EVP_EncryptUpdate(ch->enc, b, &out, b, chunk) != 1 ||
		    out != chunk)
			return -EIO;
		b += chunk;
		n -= (size_t)chunk;
	}
	return 0;
}

int
mig_chan_begin(struct mig_chan *ch, uint32_t type, uint32_t len)
{
	uint8_t h[16];

	mig_put_u64(h, ch->seq);
	mig_put_u32(h + 8, type);
	mig_put_u32(h + 12, len);
	/* A NULL key re-initialises HMAC with the key it already holds. */
	if (EVP_MAC_init(ch->mac, NULL, 0, NULL) != 1 ||
	    EVP_MAC_update(ch->mac, h, sizeof(h)) != 1)
		return -EIO;
	return ch->enc != NULL ? chan_iv(ch, ch->seq) : 0;
}

int
mig_chan_update(struct mig_chan *ch, const void *p, size_t n)
{
	if (n > 0 && EVP_MAC_update(ch->mac, p, n) != 1)
		return -EIO;
	return 0;
}

int
mig_chan_seal_update(struct mig_chan *ch, void *p, size_t n)
{
	if (ch->enc != NULL && chan_xor(ch, p, n) < 0)
		return -EIO;
	return mig_chan_update(ch, p, n);
}

static int
chan_final(struct mig_chan *ch, uint8_t tag[MIG_TAG_LEN])
{
	size_t n = 0;

	if (EVP_MAC_update(ch->mac, ch->prev, MIG_TAG_LEN) != 1 ||
	    EVP_MAC_final(ch->mac, tag, &n, MIG_TAG_LEN) != 1 ||
	    n != MIG_TAG_LEN)
		return -EIO;
	return 0;
}

int
mig_chan_end(struct mig_chan *ch, uint8_t tag[MIG_TAG_LEN])
{
	return chan_final(ch, tag);
}

void
mig_chan_advance(struct mig_chan *ch, const uint8_t tag[MIG_TAG_LEN])
{
	memcpy(ch->prev, tag, MIG_TAG_LEN);
	ch->seq++;
}

int
mig_chan_seal(struct mig_chan *ch, uint32_t type, const void *payload,
    uint32_t len, uint8_t tag[MIG_TAG_LEN])
{
	int rc;

	if (ch->enc != NULL)
		return -EINVAL;
	if ((rc = mig_chan_begin(ch, type, len)) < 0 ||
	    (rc = mig_chan_update(ch, payload, len)) < 0 ||
	    (rc = chan_final(ch, tag)) < 0)
		return rc;
	mig_chan_advance(ch, tag);
	return 0;
}

int
mig_chan_verify(struct mig_chan *ch, uint32_t type, const void *payload,
    uint32_t len, const uint8_t tag[MIG_TAG_LEN])
{
	uint8_t want[MIG_TAG_LEN];
	int rc;

	if ((rc = mig_chan_begin(ch, type, len)) < 0 ||
	    (rc = mig_chan_update(ch, payload, len)) < 0 ||
	    (rc = chan_final(ch, want)) < 0)
		return rc;
	if (CRYPTO_memcmp(want, tag, MIG_TAG_LEN) != 0)
		return -EACCES;
	mig_chan_advance(ch, tag);
	return 0;
}

int
mig_chan_open(struct mig_chan *ch, uint32_t type, void *payload,
    uint32_t len, const uint8_t tag[MIG_TAG_LEN])
{
	uint64_t seq = ch->seq;
	int rc;

	/* Authenticated first: not a byte of a forged record is decrypted. */
	if ((rc = mig_chan_verify(ch, type, payload, len, tag)) < 0)
		return rc;
	if (ch->enc != NULL && (chan_iv(ch, seq) < 0 ||
	    chan_xor(ch, payload, len) < 0))
		return -EIO;
	return 0;
}

/* ---- records over a socket ----------------------------------------------- */

int
mig_stream_init(struct mig_stream *st, int fd, bool sender,
    const uint8_t *token, size_t token_len, int cancel_fd, int timeout_ms,
    struct ebb_err *err)
{
	memset(st, 0, sizeof(*st));
	if (token_len < MIG_TOKEN_MIN || token_len > MIG_TOKEN_MAX) {
		ebb_err_set(err, "migration token of %zu bytes (%d .. %d)",
		    token_len, MIG_TOKEN_MIN, MIG_TOKEN_MAX);
		return -EINVAL;
	}
	st->fd = fd;
	st->sender = sender;
	st->cancel_fd = cancel_fd;
	st->timeout_ms = timeout_ms;
	memcpy(st->token, token, token_len);
	st->token_len = token_len;
	st->rbuf = ebb_malloc(MIG_RBUF);
	return 0;
}

void
mig_stream_fini(struct mig_stream *st)
{
	mig_chan_free(&st->tx);
	mig_chan_free(&st->rx);
	OPENSSL_cleanse(st->token, sizeof(st->token));
	if (st->buf != NULL)
		OPENSSL_cleanse(st->buf, st->cap);
	if (st->wbuf != NULL)
		OPENSSL_cleanse(st->wbuf, st->wcap);
	free(st->buf);
	free(st->wbuf);
	free(st->rbuf);
	st->buf = st->wbuf = st->rbuf = NULL;
}

/*
 * Waits until fd has events or the job is cancelled.  0, -ETIMEDOUT,
 * -ECANCELED or -errno.
 */
static int
wait_fd(struct mig_stream *st, short events, int timeout_ms)
{
	struct pollfd pfd[2] = {
		{ .fd = st->fd, .events = events },
		{ .fd = st->cancel_fd, .events = POLLIN },
	};
	int n;

	n = poll(pfd, st->cancel_fd >= 0 ? 2 : 1, timeout_ms);
	if (n < 0)
		return errno == EINTR ? 0 : -errno;
	if (st->cancel_fd >= 0 && (pfd[1].revents & POLLIN))
		return -ECANCELED;
	if (n == 0)
		return -ETIMEDOUT;
	return 0;
}

int
mig_stream_write(struct mig_stream *st, uint32_t type, const void *payload,
    uint32_t len, const uint8_t tag[MIG_TAG_LEN], struct ebb_err *err)
{
	uint8_t hdr[MIG_HDR_LEN], t[MIG_TAG_LEN];
	struct iovec iov[3];
	struct msghdr msg = { .msg_iov = iov, .msg_iovlen = 3 };
	size_t total = MIG_HDR_LEN + (size_t)len + MIG_TAG_LEN, left = total;
	int rc;

	/* After a record went out in part, anything more would be garbage. */
	if (st->wbroken) {
		ebb_err_set(err, "sending %s: stream already failed",
		    mig_rec_name(type));
		return -EPIPE;
	}
	mig_put_u32(hdr, type);
	mig_put_u32(hdr + 4, len);
	memcpy(t, tag, MIG_TAG_LEN);
	iov[0] = (struct iovec){ hdr, MIG_HDR_LEN };
	/* sendmsg() does not write through iov_base; the cast is its API. */
	iov[1] = (struct iovec){ (void *)(uintptr_t)payload, len };
	iov[2] = (struct iovec){ t, MIG_TAG_LEN };
	while (left > 0) {
		ssize_t n = sendmsg(st->fd, &msg, MSG_DONTWAIT | MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
			/*
			 * A cancel stops us before a record, not inside one:
			 * a record cut short would leave the peer nothing to
			 * read but garbage, where a whole one lets a CANCEL
			 * follow.  Finishing it takes a socket drain, not a
			 * pacing delay.
			 */
			int cfd = st->cancel_fd;

			if (left < total)
				st->cancel_fd = -1;
			rc = wait_fd(st, POLLOUT, st->timeout_ms);
			st->cancel_fd = cfd;
			if (rc < 0)
				goto fail;
			continue;
		}
		if (n < 0) {
			rc = -errno;
			goto fail;
		}
		st->bytes_out += (uint64_t)n;
		left -= (size_t)n;
		/* Step past what went out. */
		while (msg.msg_iovlen > 0 &&
		    (size_t)n >= msg.msg_iov->iov_len) {
			n -= (ssize_t)msg.msg_iov->iov_len;
			msg.msg_iov++;
			msg.msg_iovlen--;
		}
		if (msg.msg_iovlen > 0) {
			uint8_t *b = msg.msg_iov->iov_base;

			msg.msg_iov->iov_base = b + n;
			msg.msg_iov->iov_len -= (size_t)n;
		}
	}
	if (st->tx.mac != NULL)
		mig_chan_advance(&st->tx, tag);
	return 0;
fail:
	/* A record cut short leaves the peer mid-record for good; one not
	   begun (a cancel while waiting) does not. */
	if (left < total)
		st->wbroken = true;
	if (rc == -ETIMEDOUT)
		ebb_err_set(err, "sending %s: peer stopped reading for %d ms",
		    mig_rec_name(type), st->timeout_ms);
	else if (rc == -ECANCELED)
		ebb_err_set(err, "cancelled");
	else
		ebb_err_set(err, "sending %s: %s", mig_rec_name(type),
		    strerror(-rc));
	return rc;
}

int
mig_stream_send(struct mig_stream *st, uint32_t type, const void *payload,
    uint32_t len, struct ebb_err *err)
{
	uint8_t tag[MIG_TAG_LEN] = { 0 };
	void *out = (void *)(uintptr_t)payload;

	if (st->tx.enc != NULL && len > 0) {
		/* Encrypted in a copy: the caller's payload is const. */
		if (st->wcap < len) {
			if (st->wbuf != NULL)
				OPENSSL_cleanse(st->wbuf, st->wcap);
			free(st->wbuf);
			st->wbuf = ebb_malloc(len);
			st->wcap = len;
		}
		memcpy(st->wbuf, payload, len);
		out = st->wbuf;
	}
	if (st->tx.mac != NULL &&
	    (mig_chan_begin(&st->tx, type, len) < 0 ||
	    mig_chan_seal_update(&st->tx, out, len) < 0 ||
	    mig_chan_end(&st->tx, tag) < 0)) {
		ebb_err_set(err, "HMAC or encryption failed (OpenSSL)");
		return -EIO;
	}
	return mig_stream_write(st, type, out, len, tag, err);
}

int
mig_stream_hello(struct mig_stream *st, uint64_t id, struct ebb_err *err)
{
	struct mig_hello h = { .version = MIG_VERSION, .id = id,
		.flags = st->encrypt ? MIG_HELLO_ENCRYPTED : 0 };
	uint8_t buf[MIG_HELLO_LEN];
	int rc;

	if (RAND_bytes(h.salt, sizeof(h.salt)) != 1) {
		ebb_err_set(err, "no random salt (OpenSSL RAND_bytes)");
		return -EIO;
	}
	rc = mig_chan_keys(st->token, st->token_len, h.salt, &st->tx, &st->rx,
	    err);
	if (rc < 0)
		return rc;
	mig_hello_encode(&h, buf);
	/* HELLO goes in clear: it carries the salt and says what follows. */
	if ((rc = mig_stream_send(st, MIG_REC_HELLO, buf, sizeof(buf),
	    err)) < 0 || !st->encrypt)
		return rc;
	return mig_chan_ciphers(st->token, st->token_len, h.salt, &st->tx,
	    &st->rx, err);
}

/* Reads exactly n bytes, through the read-ahead buffer. */
static int
read_exact(struct mig_stream *st, void *dst, size_t n)
{
	uint8_t *d = dst;

	while (n > 0) {
		size_t have = st->rend - st->rpos, take;
		void *to;
		size_t room;
		ssize_t r;
		int rc;

		if (have > 0) {
			take = EBB_MIN(have, n);
			memcpy(d, st->rbuf + st->rpos, take);
			st->rpos += take;
			d += take;
			n -= take;
			continue;
		}
		if (st->eof)
			return -ECONNRESET;
		/* A big read goes straight to its destination. */
		if (n >= MIG_RBUF) {
			to = d;
			room = n;
		} else {
			st->rpos = st->rend = 0;
			to = st->rbuf;
			room = MIG_RBUF;
		}
		r = recv(st->fd, to, room, MSG_DONTWAIT);
		if (r > 0) {
			st->bytes_in += (uint64_t)r;
			if (to == d) {
				d += r;
				n -= (size_t)r;
			} else {
				st->rend = (size_t)r;
			}
			continue;
		}
		if (r == 0) {
			st->eof = true;
			return -ECONNRESET;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return -errno;
		if ((rc = wait_fd(st, POLLIN, st->timeout_ms)) < 0)
			return rc;
	}
	return 0;
}

/* The payload bound of each type this end may receive; 0: not accepted. */
static uint32_t
max_len(const struct mig_stream *st, uint32_t type, uint32_t *min)
{
	*min = 0;
	if (st->sender) {
		switch (type) {
		case MIG_REC_ACK:
			*min = MIG_ACK_LEN;
			return MIG_ACK_LEN;
		case MIG_REC_NACK:
			*min = 4;
			return 4 + MIG_REASON_MAX;
		default:
			return 0;
		}
	}
	switch (type) {
	case MIG_REC_HELLO:
		*min = MIG_HELLO_LEN;
		return MIG_HELLO_LEN;
	case MIG_REC_CONFIG:
		*min = MIG_CONFIG_FIXED_LEN;
		return MIG_CONFIG_FIXED_LEN + 8 * MIG_FEATURE_WORDS_MAX +
		    MIG_JSON_MAX;
	case MIG_REC_RAM:
		*min = MIG_RAM_FIXED_LEN + 1;
		return MIG_RECORD_MAX;
	case MIG_REC_ROUND_END:
		*min = MIG_ROUND_END_LEN;
		return MIG_ROUND_END_LEN;
	case MIG_REC_STATE:
		*min = 1;
		return MIG_RECORD_MAX;
	case MIG_REC_DONE:
		*min = MIG_DONE_LEN;
		return MIG_DONE_LEN;
	case MIG_REC_CANCEL:
		*min = 4;
		return 4 + MIG_REASON_MAX;
	default:
		return 0;
	}
}

static int
recv_fail(struct mig_stream *st, int rc, const char *what, struct ebb_err *err)
{
	st->broken = true;
	if (rc == -ECONNRESET)
		ebb_err_set(err, "stream ended %s (after %llu records)", what,
		    (unsigned long long)st->rx.seq);
	else if (rc == -ETIMEDOUT)
		ebb_err_set(err, "peer silent for %d ms %s", st->timeout_ms,
		    what);
	else if (rc == -ECANCELED)
		ebb_err_set(err, "cancelled");
	else
		ebb_err_set(err, "reading %s: %s", what, strerror(-rc));
	return rc;
}

int
mig_stream_recv(struct mig_stream *st, struct mig_record *rec,
    struct ebb_err *err)
{
	uint8_t hdr[MIG_HDR_LEN], tag[MIG_TAG_LEN];
	uint32_t type, len, lo, hi;
	bool first = !st->sender && st->rx.mac == NULL;
	struct mig_hello hello;
	int rc;

	memset(rec, 0, sizeof(*rec));
	if (st->broken) {
		ebb_err_set(err, "stream already failed");
		return -EBADMSG;
	}
	if (st->sender && st->rx.mac == NULL) {
		ebb_err_set(err, "no answer can be read before HELLO is sent");
		return -EPROTO;
	}
	if ((rc = read_exact(st, hdr, sizeof(hdr))) < 0)
		return recv_fail(st, rc, "between records", err);
	type = mig_get_u32(hdr);
	len = mig_get_u32(hdr + 4);
	if (first && type != MIG_REC_HELLO) {
		st->broken = true;
		ebb_err_set(err, "first record is %s (type %u), not HELLO",
		    mig_rec_name(type), type);
		return -EBADMSG;
	}
	/* Bounded by its type before a byte of payload is read or stored. */
	if ((hi = max_len(st, type, &lo)) == 0) {
		st->broken = true;
		ebb_err_set(err, "record #%llu: type %u (%s) is not accepted "
		    "here", (unsigned long long)st->rx.seq, type,
		    mig_rec_name(type));
		return -EBADMSG;
	}
	if (len < lo || len > hi) {
		st->broken = true;
		ebb_err_set(err, "record #%llu: %s of %u bytes (%u .. %u)",
		    (unsigned long long)st->rx.seq, mig_rec_name(type), len, lo,
		    hi);
		return -EBADMSG;
	}
	if (st->cap < (size_t)len + 1) {
		st->cap = (size_t)len + 1;
		st->buf = ebb_realloc(st->buf, st->cap);
	}
	if ((rc = read_exact(st, st->buf, len)) < 0 ||
	    (rc = read_exact(st, tag, sizeof(tag))) < 0)
		return recv_fail(st, rc, "inside a record (truncated)", err);
	st->buf[len] = 0;	/* CONFIG's JSON tail becomes a C string */
	rec->type = type;
	rec->len = len;
	rec->payload = st->buf;

	if (first) {
		/* Magic and version first: their errors say more than a tag. */
		if ((rc = mig_hello_decode(st->buf, len, &hello, err)) < 0) {
			st->broken = true;
			return rc;
		}
		rc = mig_chan_keys(st->token, st->token_len, hello.salt,
		    &st->rx, &st->tx, err);
		if (rc < 0) {
			st->broken = true;
			return rc;
		}
	}
	rc = mig_chan_open(&st->rx, type, st->buf, len, tag);
	if (rc < 0) {
		st->broken = true;
		if (first) {
			/* Our r2s key is not the sender's: answer untagged. */
			mig_chan_free(&st->tx);
			ebb_err_set(err, "HELLO not authenticated: wrong "
			    "migration token (or a corrupted stream)");
		} else {
			ebb_err_set(err, "record #%llu (%s, %u bytes) failed "
			    "authentication: corrupted, reordered, replayed or "
			    "injected", (unsigned long long)st->rx.seq,
			    mig_rec_name(type), len);
		}
		return rc == -EACCES ? -EACCES : -EIO;
	}
	if (first && (hello.flags & MIG_HELLO_ENCRYPTED)) {
		if ((rc = mig_chan_ciphers(st->token, st->token_len,
		    hello.salt, &st->rx, &st->tx, err)) < 0) {
			st->broken = true;
			return rc;
		}
	} else if (first && st->encrypt) {
		/* Authentic, so the sender's choice, not a stripped flag. */
		st->broken = true;
		ebb_err_set(err, "the sender does not encrypt the stream and "
		    "this receiver requires it");
		return -EACCES;
	}
	return 0;
}

bool
mig_stream_readable(struct mig_stream *st)
{
	struct pollfd pfd = { .fd = st->fd, .events = POLLIN };

	if (st->rend > st->rpos || st->eof)
		return true;
	return poll(&pfd, 1, 0) > 0;
}

bool
mig_stream_encrypted(const struct mig_stream *st)
{
	/* Both directions get their cipher together, after HELLO. */
	return st->rx.enc != NULL;
}
