/*
 * mig_engine.h - pre-copy live migration over one stream socket, sender
 * and receiver, generic over who owns the guest's memory and vCPUs.
 *
 * The sender copies all of memory while the VM runs (round 0), then, round
 * after round, the pages dirtied meanwhile, until what is left would go in
 * less than the allowed downtime at the throughput measured (plus one more
 * live pass when the VM dirties slower than the link, which shrinks the
 * last set; after max_rounds it stops anyway); then it pauses the VM, sends
 * the last dirty pages and the device + vCPU state, and waits for the
 * target's ACK.  A VM that dirties faster than the link is throttled
 * (auto-converge); a bandwidth cap is kept by pacing records.
 * The commit rule (DESIGN.md, "States that must never be wrong"): the
 * sender returns 0 only on an authenticated ACK, i.e. once the target runs
 * the VM; on any failure before that it resumes the VM if it had paused it,
 * so there is always exactly one running copy.
 *
 * One window no two-party protocol closes: the target started and its ACK
 * was lost (the link died at that instant).  The sender then resumes after
 * ack_timeout_ms and both copies run; mig_stats.ack_in_doubt tells the
 * caller that this migration ended in that window, so that the controller,
 * which journals every migration, can make one of the copies stop.
 *
 * Threads: mig_*_run() blocks and is meant for a worker thread; cancel and
 * progress may be called from any thread (cancel also from a signal
 * handler) while it runs.  The callbacks are called from the run thread.
 */
#ifndef MIG_ENGINE_H
#define MIG_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ebb.h"
#include "mig_sandbox.h"
#include "mig_stream.h"

struct mig_limits {
	uint32_t	downtime_ms;	/* the longest pause wanted */
	uint64_t	bandwidth;	/* bytes/s on the wire, 0: unlimited */
	uint32_t	max_rounds;	/* live rounds (round 0 included)
					   before the final pass is forced */
	uint32_t	io_timeout_ms;	/* peer stuck this long: fail */
	uint32_t	ack_timeout_ms;	/* DONE sent -> ACK */
	/* Auto-converge: after throttle_after rounds in a row in which the
	   VM dirtied memory faster than the link carried it, throttle to
	   throttle_initial %, then throttle_step % more each time, up to
	   throttle_max %.  Needs ops->throttle. */
	uint32_t	throttle_after;
	uint32_t	throttle_initial;
	uint32_t	throttle_step;
	uint32_t	throttle_max;
};

/*
 * 300 ms downtime, unlimited bandwidth, 30 rounds, 10 s timeouts,
 * throttle after 2 rounds at 20 % + 10 % up to 99 % (QEMU's numbers).
 */
struct mig_limits	mig_limits_default(void);

enum mig_phase {
	MIG_PHASE_SETUP,	/* HELLO, CONFIG */
	MIG_PHASE_LIVE,		/* rounds while the VM runs */
	MIG_PHASE_PAUSED,	/* the final pass */
	MIG_PHASE_COMMIT,	/* DONE sent, waiting for the target */
	MIG_PHASE_DONE,
	MIG_PHASE_FAILED,
};

const char	*mig_phase_name(enum mig_phase);

/* A snapshot of a running migration (each field read atomically). */
struct mig_progress {
	enum mig_phase	phase;
	uint32_t	round;
	uint64_t	bytes;		/* on the wire so far */
	uint64_t	pages;		/* sent / applied, zero ones too */
	uint64_t	zero_pages;
	uint64_t	dirty_pages;	/* in the last dirty set */
	uint64_t	dirty_rate;	/* bytes/s the VM dirties (sender) */
	uint64_t	throughput;	/* bytes/s the link carries (sender) */
	uint64_t	expected_downtime_ms;
	uint32_t	throttle_pct;
};

struct mig_stats {
	uint64_t	total_us;	/* sender: HELLO -> ACK */
	uint64_t	downtime_us;	/* sender: pause -> ACK (0: no pause) */
	uint64_t	bytes;		/* sent / received */
	uint64_t	pages;		/* zero pages and re-sends included */
	uint64_t	zero_pages;
	uint32_t	rounds;		/* final pass included */
	uint32_t	throttle_pct;	/* the highest applied */
	bool		converged;	/* false: forced by max_rounds */
	bool		ack_in_doubt;	/* DONE went out, no ACK came back */
	bool		encrypted;	/* the payloads were (mig_stream.h) */
};

/* ---- sender ------------------------------------------------------------ */

struct mig_send_ops {
	/*
	 * Fills bitmap (npages bits, LSB first in 64-bit words) with the pages
	 * written since the previous call, and clears that log: the VMM does
	 * it with KVM_GET_DIRTY_LOG.  The first call starts the log.
	 */
	int	(*get_dirty)(void *arg, uint64_t *bitmap, size_t npages);
	/* Stop / restart the vCPUs. */
	int	(*pause)(void *arg);
	int	(*resume)(void *arg);
	/* The paused VM's device + vCPU state in *buf (malloc'd; the engine
	   frees it), 1 byte .. MIG_RECORD_MAX. */
	int	(*get_state)(void *arg, void **buf, size_t *len);
	/* Optional: slow the vCPUs, taking pct % of their time away (0:
	   full speed again, which a failed migration always ends with).
	   NULL disables auto-converge. */
	int	(*throttle)(void *arg, unsigned pct);
};

struct mig_send_params {
	int			 fd;		/* connected stream socket */
	const void		*mem;		/* guest memory */
	size_t			 mem_size;	/* n * MIG_PAGE_SIZE */
	const uint8_t		*token;		/* the per-migration secret */
	size_t			 token_len;
	uint64_t		 id;		/* the migration's id */
	/* vCPUs, CPU vendor and features, JSON; npages and page_size are
	   taken from mem_size. */
	const struct mig_config	*config;
	struct mig_limits	 limits;
	bool			 encrypt;	/* AES-256-CTR under the
						   HMAC chain (mig_stream.h) */
	/* Non-NULL: mig_send_run() confines its thread with it first
	   (mig_sandbox.h), the callbacks' needs listed; kept by the caller
	   until then. */
	const struct mig_sandbox *sandbox;
	const struct mig_send_ops *ops;
	void			*arg;
};

struct mig_sender;

int	mig_send_new(struct mig_sender **, const struct mig_send_params *,
	    struct ebb_err *);
/*
 * Runs the migration.  0: the target acknowledged that it runs the VM
 * (the source may destroy its copy, which stays paused).  Otherwise
 * -errno with the reason in err, and the VM resumed if it was paused:
 * -EREMOTEIO (the target refused: NACK), -ECANCELED, -ETIMEDOUT,
 * -ECONNRESET/-EPIPE (connection lost), -EACCES (the answer failed
 * authentication), -EPROTO, or a callback's error.  stats, if not NULL,
 * is filled either way.  Call once.
 */
int	mig_send_run(struct mig_sender *, struct mig_stats *, struct ebb_err *);
void	mig_send_cancel(struct mig_sender *);
void	mig_send_progress(struct mig_sender *, struct mig_progress *);
void	mig_send_free(struct mig_sender *);

/* ---- receiver ---------------------------------------------------------- */

struct mig_recv_ops {
	/*
	 * Checks the VM's configuration (CPU vendor and features: see
	 * mig_config_check_cpu) and provides its memory: *mem, at least
	 * npages * page_size bytes, writable.  Setting *zeroed promises that
	 * it reads as zero (a fresh anonymous mapping): zero pages are then
	 * not touched at all until they are sent again, which spares the
	 * target a page fault and a page for each.  The refusal's reason goes
	 * to err and to the sender.
	 */
	int	(*config)(void *arg, const struct mig_config *, void **mem,
		    bool *zeroed, struct ebb_err *);
	/* Loads the device + vCPU state (buf is valid during the call). */
	int	(*state)(void *arg, const void *buf, size_t len,
		    struct ebb_err *);
	/* Runs the VM; 0 only if it runs. */
	int	(*start)(void *arg, struct ebb_err *);
	/* Drops everything config, state and start set up: afterwards no
	   copy of the VM runs here.  Called on any failure after config
	   accepted, including an ACK that could not be sent. */
	void	(*discard)(void *arg);
};

struct mig_recv_params {
	int			 fd;
	const uint8_t		*token;
	size_t			 token_len;
	uint64_t		 id;		/* expected id, 0: any */
	uint32_t		 io_timeout_ms;	/* sender silent: fail */
	bool			 require_encryption; /* refuse a stream
						   in clear */
	/* As the sender's: confines mig_recv_run()'s thread before it
	   reads a byte of the stream. */
	const struct mig_sandbox *sandbox;
	const struct mig_recv_ops *ops;
	void			*arg;
};

struct mig_receiver;

int	mig_recv_new(struct mig_receiver **, const struct mig_recv_params *,
	    struct ebb_err *);
/*
 * Receives one migration.  0: the VM was started and ACK sent.  On any
 * error: discard was called if config had accepted the VM, a NACK with the
 * reason was sent (when the connection still allows), and -errno is
 * returned with the reason in err: -EACCES (authentication: wrong token,
 * corrupted or tampered stream), -EBADMSG (malformed), -EPROTO (records
 * out of order), -ECONNRESET (stream ended early), -ETIMEDOUT,
 * -ECANCELED (ours or the sender's), or a callback's error.
 */
int	mig_recv_run(struct mig_receiver *, struct mig_stats *,
	    struct ebb_err *);
void	mig_recv_cancel(struct mig_receiver *);
void	mig_recv_progress(struct mig_receiver *, struct mig_progress *);
void	mig_recv_free(struct mig_receiver *);

#endif /* MIG_ENGINE_H */
