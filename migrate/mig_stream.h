/*
 * mig_stream.h - the live-migration stream: its records, their payloads,
 * and the HMAC chain that authenticates them.
 *
 * A stream is a sequence of records, sender -> receiver, answered by one
 * record receiver -> sender at the end (ACK) or on failure (NACK):
 *
 *	u32 type | u32 len | payload[len] | tag[32]
 *
 * Every integer on the wire is little-endian.  The tag of record number
 * seq (0 for the first record of each direction) is
 *
 *	HMAC-SHA256(key, u64 seq | u32 type | u32 len | payload | prev)
 *
 * where prev is the tag of the previous record in the same direction (32
 * zero bytes for the first).  The keys come from the per-migration token:
 * HKDF-SHA256(ikm = token, salt = the HELLO's salt, info = "ebb-migrate v1
 * s2r" or "... r2s"), one key per direction so that a record cannot be
 * reflected back to its sender.  The chain makes a flipped byte, a
 * reordered, dropped, replayed or injected record fail the check of the
 * record it touches, and a receiver holding another token fails the very
 * first record (HELLO), before any payload is acted on.  Tags are compared
 * in constant time.  The token must be fresh per migration: it is the only
 * thing that tells this migration's stream from an old one.
 *
 * Encryption is the sender's choice, told by HELLO's flag ENCRYPTED (HELLO
 * itself is in clear, and tagged, so the flag cannot be stripped without
 * the token): every later payload, both ways, is then AES-256-CTR
 * ciphertext and the tags above are computed over it (encrypt-then-MAC;
 * the header stays in clear, as the receiver bounds a record by its type
 * and length before reading it).  The keys come from the same HKDF with
 * info "ebb-migrate v1 s2r aes" / "... r2s aes"; a record's counter block
 * is its seq (u64, big-endian) then 64 zero bits, so no two records of a
 * direction share a key stream (a record is at most 2^20 blocks).  A
 * receiver may require it: a HELLO without the flag is then refused.
 *
 * Payloads (byte offsets; "u64" etc. little-endian; fixed sizes in []):
 *
 *   HELLO [56]	0 magic[8] "\x89EBBMIG\n", 8 u32 version (1),
 *		12 u32 flags (bit 0: ENCRYPTED; the others 0), 16 salt[32],
 *		48 u64 migration id
 *   CONFIG	0 u64 npages, 8 u32 page size (4096), 12 u32 vcpus,
 *		16 vendor[16] (printable ASCII, NUL-padded), 32 u32 nfeat,
 *		36 u64 features[nfeat] (nfeat <= 32), then the JSON text
 *		(no NUL, <= 64 KiB) to the end of the record
 *   RAM	0 u64 start PFN, 8 u32 count (>= 1), 12 zero bitmap of
 *		(count + 7) / 8 bytes (bit i set: page start+i is all
 *		zero and not sent; unused high bits 0), then the 4096 bytes
 *		of each page whose bit is clear, in PFN order
 *   ROUND_END [24]	0 u32 round, 4 u32 reserved (0), 8 u64 pages
 *		sent in the round, 16 u64 dirty pages left
 *   STATE	the VMM's opaque device + vCPU state, 1 byte .. 16 MiB
 *   DONE [16]	0 u32 rounds, 4 u32 reserved (0), 8 u64 pages sent
 *   ACK [40]	0 tag[32] of the DONE it answers, 32 u64 records received
 *   NACK	0 u32 errno, 4 the reason (printable ASCII, <= 400 bytes)
 *   CANCEL	as NACK, sender -> receiver
 *
 * A record's payload is at most MIG_RECORD_MAX bytes; each type has its
 * own tighter bound, checked from the header before the payload is read.
 */
#ifndef MIG_STREAM_H
#define MIG_STREAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ebb.h"

#define MIG_VERSION		1
#define MIG_PAGE_SIZE		4096u
#define MIG_HDR_LEN		8
#define MIG_TAG_LEN		32
#define MIG_SALT_LEN		32
#define MIG_RECORD_MAX		(16u << 20)	/* payload bytes */
#define MIG_TOKEN_MIN		16		/* bytes: 128 bits of secret */
#define MIG_TOKEN_MAX		256
#define MIG_VENDOR_LEN		16
#define MIG_FEATURE_WORDS_MAX	32
#define MIG_JSON_MAX		(64u << 10)
#define MIG_REASON_MAX		400
#define MIG_VCPUS_MAX		4096
#define MIG_NPAGES_MAX		(1ull << 36)	/* 256 TiB of 4 KiB pages */

#define MIG_HELLO_LEN		56
#define MIG_CONFIG_FIXED_LEN	36
#define MIG_RAM_FIXED_LEN	12
#define MIG_ROUND_END_LEN	24
#define MIG_DONE_LEN		16
#define MIG_ACK_LEN		40

/* Pages in one RAM record: what fits MIG_RECORD_MAX with its bitmap. */
#define MIG_RAM_RUN_LIMIT	4095u

enum mig_rec_type {
	MIG_REC_HELLO = 1,
	MIG_REC_CONFIG,
	MIG_REC_RAM,
	MIG_REC_ROUND_END,
	MIG_REC_STATE,
	MIG_REC_DONE,
	MIG_REC_ACK,
	MIG_REC_NACK,
	MIG_REC_CANCEL,
};

/* "HELLO", ..., or "unknown". */
const char	*mig_rec_name(uint32_t type);

/* ---- payloads ------------------------------------------------------------ */

#define MIG_HELLO_ENCRYPTED	0x1u

struct mig_hello {
	uint32_t	version;
	uint32_t	flags;		/* MIG_HELLO_* */
	uint8_t		salt[MIG_SALT_LEN];
	uint64_t	id;		/* given by the controller */
};

struct mig_config {
	uint64_t	 npages;
	uint32_t	 page_size;
	uint32_t	 nvcpus;
	char		 vendor[MIG_VENDOR_LEN + 1];	/* CPUID's vendor */
	uint32_t	 nfeatures;	/* words used in features[] */
	uint64_t	 features[MIG_FEATURE_WORDS_MAX];
	/*
	 * The rest of the VM's configuration, NUL-terminated JSON (or "").
	 * Decoded, it points into the record buffer: valid until the next
	 * record is read.
	 */
	const char	*json;
};

/* A decoded RAM record: pointers into the record's payload. */
struct mig_ram {
	uint64_t	 start;		/* first PFN */
	uint32_t	 count;		/* pages start .. start + count - 1 */
	uint32_t	 nzero;		/* of which sent as zero markers */
	const uint8_t	*zero_map;	/* bit i: page start + i is zero */
	const uint8_t	*data;		/* (count - nzero) pages, in order */
};

struct mig_round_end {
	uint32_t	round;
	uint64_t	pages;
	uint64_t	dirty_left;
};

struct mig_done {
	uint32_t	rounds;
	uint64_t	pages;
};

struct mig_ack {
	uint8_t		done_tag[MIG_TAG_LEN];
	uint64_t	records;	/* sender's records, DONE included */
};

/* NACK and CANCEL. */
struct mig_reason {
	int		code;		/* a positive errno */
	char		text[MIG_REASON_MAX + 1];
};

/*
 * Encoders write the payload into buf, which must hold the length that
 * mig_config_len() or the fixed MIG_*_LEN gives; they return that length.
 * Decoders check every field before filling the struct and return 0, or
 * -EBADMSG with the reason in err.
 */
size_t	mig_hello_encode(const struct mig_hello *, uint8_t *buf);
int	mig_hello_decode(const uint8_t *, size_t, struct mig_hello *,
	    struct ebb_err *);
size_t	mig_config_len(const struct mig_config *);
size_t	mig_config_encode(const struct mig_config *, uint8_t *buf);
int	mig_config_decode(const uint8_t *, size_t, struct mig_config *,
	    struct ebb_err *);
/* npages: the VM's size from CONFIG; the run must lie inside it. */
int	mig_ram_decode(const uint8_t *, size_t, uint64_t npages,
	    struct mig_ram *, struct ebb_err *);
/* A RAM payload's length for count pages of which ndata carry bytes. */
size_t	mig_ram_len(uint32_t count, uint32_t ndata);
size_t	mig_round_end_encode(const struct mig_round_end *, uint8_t *buf);
int	mig_round_end_decode(const uint8_t *, size_t, struct mig_round_end *,
	    struct ebb_err *);
size_t	mig_done_encode(const struct mig_done *, uint8_t *buf);
int	mig_done_decode(const uint8_t *, size_t, struct mig_done *,
	    struct ebb_err *);
size_t	mig_ack_encode(const struct mig_ack *, uint8_t *buf);
int	mig_ack_decode(const uint8_t *, size_t, struct mig_ack *,
	    struct ebb_err *);
/* buf holds 4 + MIG_REASON_MAX bytes; text is cut and made printable. */
size_t	mig_reason_encode(int code, const char *text, uint8_t *buf);
int	mig_reason_decode(const uint8_t *, size_t, struct mig_reason *,
	    struct ebb_err *);

/* Little-endian field access, for the engine's RAM records. */
void		mig_put_u32(uint8_t *, uint32_t);
void		mig_put_u64(uint8_t *, uint64_t);
uint32_t	mig_get_u32(const uint8_t *);
uint64_t	mig_get_u64(const uint8_t *);

/*
 * The receiver's CPU check, for its CONFIG callback: 0 when the stream's
 * vendor equals vendor and every feature bit it sets is in allowed[]
 * (nallowed words; missing words allow nothing), else -ENOTSUP naming the
 * first missing bit.
 */
int	mig_config_check_cpu(const struct mig_config *, const char *vendor,
	    const uint64_t *allowed, size_t nallowed, struct ebb_err *);

/* ---- the HMAC chain ---------------------------------------------------- */

/* One direction's authentication (and encryption) state. */
struct mig_chan {
	void		*mac;		/* keyed EVP_MAC_CTX; NULL: no key */
	void		*enc;		/* keyed EVP_CIPHER_CTX, AES-256-CTR;
					   NULL: payloads in clear */
	uint64_t	 seq;		/* number of the next record */
	uint8_t		 prev[MIG_TAG_LEN];
};

/*
 * Derives both directions' keys from token and salt: s2r authenticates
 * sender -> receiver, r2s the way back.  0, -EINVAL (token length) or -EIO.
 */
int	mig_chan_keys(const uint8_t *token, size_t token_len,
	    const uint8_t salt[MIG_SALT_LEN], struct mig_chan *s2r,
	    struct mig_chan *r2s, struct ebb_err *);
/*
 * After mig_chan_keys: derives both directions' encryption keys, so that
 * mig_chan_seal_update encrypts and mig_chan_open decrypts.  0 or -EIO.
 */
int	mig_chan_ciphers(const uint8_t *token, size_t token_len,
	    const uint8_t salt[MIG_SALT_LEN], struct mig_chan *s2r,
	    struct mig_chan *r2s, struct ebb_err *);
void	mig_chan_free(struct mig_chan *);

/*
 * Tags one record incrementally: begin with its type and length, feed
 * exactly len payload bytes, end with the tag.  The engine feeds a RAM
 * record page by page as it copies it.  The chain moves on only with
 * mig_chan_advance(), once the record is out: a record never sent (a
 * cancel while pacing) must not count.
 */
int	mig_chan_begin(struct mig_chan *, uint32_t type, uint32_t len);
int	mig_chan_update(struct mig_chan *, const void *, size_t);
/*
 * update for payload bytes on their way out: encrypts them in place first
 * when the chain encrypts.  The record must be sent from that buffer.
 */
int	mig_chan_seal_update(struct mig_chan *, void *, size_t);
int	mig_chan_end(struct mig_chan *, uint8_t tag[MIG_TAG_LEN]);
void	mig_chan_advance(struct mig_chan *, const uint8_t tag[MIG_TAG_LEN]);
/* begin + update + end + advance in one call; not for a chain that
   encrypts (-EINVAL: the payload is const). */
int	mig_chan_seal(struct mig_chan *, uint32_t type, const void *payload,
	    uint32_t len, uint8_t tag[MIG_TAG_LEN]);
/*
 * Checks a received record's tag (constant time) and advances the chain
 * only if it matches.  0 or -EACCES.
 */
int	mig_chan_verify(struct mig_chan *, uint32_t type, const void *payload,
	    uint32_t len, const uint8_t tag[MIG_TAG_LEN]);
/* verify, then, on a chain that encrypts, decrypts payload in place. */
int	mig_chan_open(struct mig_chan *, uint32_t type, void *payload,
	    uint32_t len, const uint8_t tag[MIG_TAG_LEN]);

/* ---- records over a socket ----------------------------------------------- */

/*
 * One end of a migration connection: a stream socket (blocking or not: all
 * I/O here is MSG_DONTWAIT plus poll), the token, and the chains.  Every
 * wait also watches cancel_fd (readable: give up with -ECANCELED) and
 * gives up after timeout_ms without progress (-ETIMEDOUT).
 */
struct mig_stream {
	int		 fd;
	int		 cancel_fd;	/* -1: none */
	int		 timeout_ms;
	bool		 sender;
	bool		 encrypt;	/* sender: encrypt (set before HELLO);
					   receiver: refuse a stream that
					   does not */
	bool		 broken;	/* a read failed: read no more */
	bool		 wbroken;	/* a write failed: send no more */
	uint8_t		 token[MIG_TOKEN_MAX];
	size_t		 token_len;
	struct mig_chan	 tx, rx;	/* tx.prev: the last tag sent */
	/* The last record received: payload + 1 byte for a NUL. */
	uint8_t		*buf;
	size_t		 cap;
	/* mig_stream_send's copy of a payload to encrypt. */
	uint8_t		*wbuf;
	size_t		 wcap;
	/* Read-ahead, so that small records do not cost a syscall each. */
	uint8_t		*rbuf;
	size_t		 rpos, rend;
	bool		 eof;
	uint64_t	 bytes_in, bytes_out;
};

/* A received record; payload points into the stream's buffer. */
struct mig_record {
	uint32_t	 type;
	uint32_t	 len;
	const uint8_t	*payload;
};

int	mig_stream_init(struct mig_stream *, int fd, bool sender,
	    const uint8_t *token, size_t token_len, int cancel_fd,
	    int timeout_ms, struct ebb_err *);
/* Wipes the token and keys; does not close fd. */
void	mig_stream_fini(struct mig_stream *);

/*
 * Sender: picks a random salt, derives the keys and sends HELLO, with the
 * flag ENCRYPTED when st->encrypt is set.
 */
int	mig_stream_hello(struct mig_stream *, uint64_t id, struct ebb_err *);

/*
 * Sends one record (tagged with the tx chain, or with zeros when there is
 * no key yet: a receiver refusing a HELLO it could not authenticate).
 */
int	mig_stream_send(struct mig_stream *, uint32_t type, const void *payload,
	    uint32_t len, struct ebb_err *);
/*
 * Sends a record whose tag the caller computed on st->tx with
 * mig_chan_begin/seal_update/end; the chain advances once it is out in
 * full.
 */
int	mig_stream_write(struct mig_stream *, uint32_t type,
	    const void *payload, uint32_t len, const uint8_t tag[MIG_TAG_LEN],
	    struct ebb_err *);

/*
 * Receives one record of a type this end may receive, bounded by its
 * type before the payload is read, authenticated and, on an encrypted
 * stream, decrypted.  On a receiver the first record must be HELLO: its
 * salt gives the keys, then its tag is checked; st->encrypt refuses one
 * without the flag ENCRYPTED (-EACCES).  Returns 0, -EBADMSG (framing), -EACCES (tag; rec still holds
 * the unverified record, for a diagnostic only), -EPROTONOSUPPORT,
 * -ECONNRESET (end of stream), -ETIMEDOUT, -ECANCELED or -errno.
 */
int	mig_stream_recv(struct mig_stream *, struct mig_record *,
	    struct ebb_err *);

/* True when the peer sent something (or closed) that is not read yet. */
bool	mig_stream_readable(struct mig_stream *);

/* Whether this stream's payloads are encrypted (known once HELLO is). */
bool	mig_stream_encrypted(const struct mig_stream *);

#endif /* MIG_STREAM_H */
