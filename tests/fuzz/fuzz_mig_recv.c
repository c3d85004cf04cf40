/*
 * fuzz_mig_recv.c - the migration receiver (mig_recv_run) reading a stream
 * from a socketpair.
 *
 * Byte 0 picks the mode:
 *  - even: the rest goes to the receiver as it is, tags and all.  A
 *    stranger without the token: everything must die at HELLO's tag or
 *    at the framing before it.
 *  - odd: the rest is a list of untagged records, u32 type | u32 len |
 *    payload (len cut to what is left), which this file tags with the
 *    right token and chain, taking the salt from the first record if it
 *    is long enough to be a HELLO, and encrypts those after it when that
 *    HELLO's flags ask for it.  A sender holding the token (or a
 *    bug in ours): what stands between the bytes and the VM is then the
 *    receiver's field checks and ordering rules, which is what fuzzing
 *    is for.
 * A writer thread feeds the socket so that inputs of any size fit; the
 * receiver's answers (ACK or NACK) are read and dropped by the thread
 * once it is done writing.  The VM is at most 64 pages.
 */
#include <sys/socket.h>

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz.h"
#include "mig_engine.h"
#include "mig_stream.h"

#define FUZZ_MAX_PAGES	64

static const uint8_t fuzz_token[] = "fuzz-token-0123456789abcdef";

struct fuzz_vm {
	uint8_t	*mem;
	size_t	 size;
	bool	 started;
	unsigned state_sum;
};

static int
vm_config(void *arg, const struct mig_config *c, void **mem, bool *zeroed,
    struct ebb_err *err)
{
	struct fuzz_vm *vm = arg;

	if (c->npages == 0 || c->npages > FUZZ_MAX_PAGES) {
		ebb_err_set(err, "fuzz: %llu pages", (unsigned long long)
		    c->npages);
		return -ENOMEM;
	}
	free(vm->mem);
	vm->size = c->npages * c->page_size;
	vm->mem = calloc(1, vm->size);
	*mem = vm->mem;
	*zeroed = true;
	return 0;
}

static int
vm_state(void *arg, const void *buf, size_t len, struct ebb_err *err)
{
	struct fuzz_vm *vm = arg;

	(void)err;
	/* Touch every byte, so that ASan checks the whole length. */
	for (size_t i = 0; i < len; i++)
		vm->state_sum += ((const uint8_t *)buf)[i];
	return 0;
}

static int
vm_start(void *arg, struct ebb_err *err)
{
	struct fuzz_vm *vm = arg;

	(void)err;
	vm->started = true;
	return 0;
}

static void
vm_discard(void *arg)
{
	struct fuzz_vm *vm = arg;

	free(vm->mem);
	vm->mem = NULL;
	vm->started = false;
}

static const struct mig_recv_ops vm_ops = {
	.config = vm_config, .state = vm_state, .start = vm_start,
	.discard = vm_discard,
};

struct feed {
	int		 fd;
	const uint8_t	*p;
	size_t		 n;
};

static void *
feed_run(void *arg)
{
	struct feed *f = arg;
	char junk[4096];

	while (f->n > 0) {
		ssize_t w = send(f->fd, f->p, f->n, MSG_NOSIGNAL);

		if (w <= 0)
			break;		/* the receiver gave up */
		f->p += w;
		f->n -= (size_t)w;
	}
	shutdown(f->fd, SHUT_WR);
	while (recv(f->fd, junk, sizeof(junk), 0) > 0)
		;
	return NULL;
}

/* Tags the untagged records of in[0..n) into a new stream (caller frees). */
static uint8_t *
sign_records(const uint8_t *in, size_t n, size_t *outlen)
{
	uint8_t salt[MIG_SALT_LEN] = { 0 }, *out, *o, *tag;
	struct mig_chan s2r = { 0 }, r2s = { 0 };
	struct ebb_err err;
	bool encrypt = false, first = true;

	/* Each record grows by its tag; an 8-byte header may be invented. */
	out = o = ebb_malloc(n + (n / 8 + 1) * (MIG_HDR_LEN + MIG_TAG_LEN));
	if (n >= MIG_HDR_LEN + 48) {
		memcpy(salt, in + MIG_HDR_LEN + 16, MIG_SALT_LEN);
		encrypt = mig_get_u32(in + MIG_HDR_LEN + 12) &
		    MIG_HELLO_ENCRYPTED;
	}
	if (mig_chan_keys(fuzz_token, sizeof(fuzz_token) - 1, salt, &s2r,
	    &r2s, &err) < 0)
		abort();
	while (n >= MIG_HDR_LEN) {
		uint32_t type = mig_get_u32(in), len = mig_get_u32(in + 4);

		in += MIG_HDR_LEN;
		n -= MIG_HDR_LEN;
		if (len > n)
			len = (uint32_t)n;
		mig_put_u32(o, type);
		mig_put_u32(o + 4, len);
		memcpy(o + MIG_HDR_LEN, in, len);
		/* HELLO in clear; what follows it encrypted if it says so. */
		tag = o + MIG_HDR_LEN + len;
		if (mig_chan_begin(&s2r, type, len) < 0 ||
		    mig_chan_seal_update(&s2r, o + MIG_HDR_LEN, len) < 0 ||
		    mig_chan_end(&s2r, tag) < 0)
			abort();
		mig_chan_advance(&s2r, tag);
		if (first && encrypt && mig_chan_ciphers(fuzz_token,
		    sizeof(fuzz_token) - 1, salt, &s2r, &r2s, &err) < 0)
			abort();
		first = false;
		o += MIG_HDR_LEN + len + MIG_TAG_LEN;
		in += len;
		n -= len;
	}
	mig_chan_free(&s2r);
	mig_chan_free(&r2s);
	*outlen = (size_t)(o - out);
	return out;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fuzz_vm vm = { 0 };
	struct mig_recv_params p = {
		.token = fuzz_token, .token_len = sizeof(fuzz_token) - 1,
		.id = 0, .io_timeout_ms = 2000, .ops = &vm_ops, .arg = &vm,
	};
	struct mig_receiver *r;
	struct mig_stats st;
	struct ebb_err err;
	struct feed f;
	pthread_t th;
	uint8_t *signed_buf = NULL;
	int sv[2];

	if (size == 0)
		return 0;
	if (data[0] & 1) {
		signed_buf = sign_records(data + 1, size - 1, &f.n);
		f.p = signed_buf;
	} else {
		f.p = data + 1;
		f.n = size - 1;
	}
	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
		abort();
	f.fd = sv[1];
	p.fd = sv[0];
	if (pthread_create(&th, NULL, feed_run, &f) != 0)
		abort();
	if (mig_recv_new(&r, &p, &err) < 0)
		abort();
	if (mig_recv_run(r, &st, &err) == 0 && !vm.started)
		abort();	/* success without a running VM */
	mig_recv_free(r);
	/* Unblocks a writer the receiver stopped reading. */
	shutdown(sv[0], SHUT_RDWR);
	pthread_join(th, NULL);
	close(sv[0]);
	close(sv[1]);
	free(vm.mem);
	free(signed_buf);
	return 0;
}
