/*
 * pol_fleet.c - fleet bookkeeping shared by the policy, the simulator and
 * the controller: membership, capacity accounting, host history.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "ebb.h"
#include "pol_fleet.h"

const char *
pol_host_state_name(enum pol_host_state s)
{
	static const char *names[] = {
		[POL_HOST_ON] = "on",
		[POL_HOST_DRAINING] = "draining",
		[POL_HOST_EMPTY] = "empty",
		[POL_HOST_POWERING_OFF] = "powering-off",
		[POL_HOST_OFF] = "off",
		[POL_HOST_POWERING_ON] = "powering-on",
		[POL_HOST_UNKNOWN] = "unknown",
		[POL_HOST_FAILED] = "failed",
		[POL_HOST_MAINTENANCE] = "maintenance",
	};

	if ((unsigned)s >= EBB_NITEMS(names))
		return "invalid";
	return names[s];
}

void
pol_fleet_init(struct pol_fleet *f)
{
	memset(f, 0, sizeof(*f));
	f->interval_s = 300.0;
	f->src_share = 0.9;
	f->dst_share = 0.1;
}

void
pol_fleet_free(struct pol_fleet *f)
{
	for (int i = 0; i < f->nhosts; i++)
		free(f->hosts[i].slots);
	free(f->hosts);
	free(f->vms);
	f->hosts = NULL;
	f->vms = NULL;
	f->nhosts = f->nvms = 0;
}

void
pol_fleet_copy(struct pol_fleet *dst, const struct pol_fleet *src)
{
	*dst = *src;
	dst->hosts = ebb_reallocarray(NULL, EBB_MAX(src->nhosts, 1),
	    sizeof(*dst->hosts));
	dst->vms = ebb_reallocarray(NULL, EBB_MAX(src->nvms, 1),
	    sizeof(*dst->vms));
	/* memcpy's pointers must be valid even for 0 bytes. */
	if (src->nvms > 0)
		memcpy(dst->vms, src->vms, src->nvms * sizeof(*src->vms));
	for (int i = 0; i < src->nhosts; i++) {
		const struct pol_host *s = &src->hosts[i];
		struct pol_host *d = &dst->hosts[i];

		*d = *s;
		d->cslots = EBB_MAX(s->nslots, 4);
		d->slots = ebb_reallocarray(NULL, d->cslots, sizeof(*d->slots));
		if (s->nslots > 0)
			memcpy(d->slots, s->slots, s->nslots * sizeof(*s->slots));
	}
}

int
pol_host_find(const struct pol_host *h, int vm)
{
	for (int i = 0; i < h->nslots; i++)
		if (h->slots[i].vm == vm)
			return i;
	return -1;
}

/* A vCPU asks for at most one core of this host. */
static double
capped_per_pe(const struct pol_host *h, const struct pol_vm *v)
{
	double per = EBB_MAX(v->req_mips, v->reserve_mips) / v->pes;

	return per > h->pe_mips ? h->pe_mips : per;
}

void
pol_host_realloc(struct pol_fleet *f, int hi)
{
	struct pol_host *h = &f->hosts[hi];
	double cap = pol_host_mips(h), required = 0, load = 0;

	h->ram_used = h->bw_used = 0;
	for (int i = 0; i < h->nslots; i++) {
		const struct pol_slot *s = &h->slots[i];
		const struct pol_vm *v = &f->vms[s->vm];
		double want = capped_per_pe(h, v) * v->pes;

		required += s->incoming ? want * f->dst_share : want;
		h->ram_used += v->ram_use_mb;
		h->bw_used += v->bw_use;
	}

	if (required <= cap) {
		/*
		 * Everything fits.  Admission subtracts the full request of a
		 * VM migrating out even though it only gets src_share of it:
		 * the copy's cost is on the host, not free for newcomers.
		 */
		for (int i = 0; i < h->nslots; i++) {
			struct pol_slot *s = &h->slots[i];
			const struct pol_vm *v = &f->vms[s->vm];
			double want = capped_per_pe(h, v) * v->pes;

			if (s->incoming)
				s->alloc = want * f->dst_share;
			else if (v->migrating)
				s->alloc = want * f->src_share;
			else
				s->alloc = want;
		}
		h->avail_mips = cap - required;
	} else {
		/*
		 * Over-subscribed: every vCPU gets the same fraction of what it
		 * asked, in whole MIPS, and nothing is left for admission.
		 */
		double scale = cap / required;

		for (int i = 0; i < h->nslots; i++) {
			struct pol_slot *s = &h->slots[i];
			const struct pol_vm *v = &f->vms[s->vm];
			double per = capped_per_pe(h, v) * scale;

			if (s->incoming)
				per *= f->dst_share;
			else if (v->migrating)
				per *= f->src_share;
			s->alloc = floor(per) * v->pes;
		}
		h->avail_mips = 0;
	}

	for (int i = 0; i < h->nslots; i++) {
		const struct pol_slot *s = &h->slots[i];

		load += s->alloc;
		if (s->incoming)
			load += s->alloc * f->src_share / f->dst_share;
	}
	h->load_mips = load;
}

void
pol_host_add(struct pol_fleet *f, int hi, int vm, bool incoming)
{
	struct pol_host *h = &f->hosts[hi];

	if (h->nslots == h->cslots) {
		h->cslots = h->cslots ? h->cslots * 2 : 4;
		h->slots = ebb_reallocarray(h->slots, h->cslots,
		    sizeof(*h->slots));
	}
	h->slots[h->nslots++] = (struct pol_slot){ .vm = vm,
		.incoming = incoming };
	pol_host_realloc(f, hi);
}

void
pol_host_remove(struct pol_fleet *f, int hi, int vm)
{
	struct pol_host *h = &f->hosts[hi];
	int i = pol_host_find(h, vm);

	if (i < 0)
		return;
	/* Keep the order: selection breaks ties by list position. */
	memmove(&h->slots[i], &h->slots[i + 1],
	    (h->nslots - i - 1) * sizeof(*h->slots));
	h->nslots--;
	pol_host_realloc(f, hi);
}

double
pol_host_req_util(const struct pol_fleet *f, int hi)
{
	const struct pol_host *h = &f->hosts[hi];
	double req = 0;

	for (int i = 0; i < h->nslots; i++)
		req += f->vms[h->slots[i].vm].req_mips;
	return req / pol_host_mips(h);
}

void
pol_host_history_add(const struct pol_fleet *f, int hi, int vm, double *sum,
    int *n)
{
	const struct pol_vm *v = &f->vms[vm];
	double scale = v->mips * v->pes / pol_host_mips(&f->hosts[hi]);

	for (int k = 0; k < v->nhist; k++)
		sum[k] += v->hist[k] * scale;
	*n = EBB_MAX(*n, v->nhist);
}

int
pol_host_history_sum(const struct pol_fleet *f, int hi, double *sum)
{
	const struct pol_host *h = &f->hosts[hi];
	int n = 0;

	for (int k = 0; k < POL_HIST_MAX; k++)
		sum[k] = 0;
	for (int i = 0; i < h->nslots; i++)
		pol_host_history_add(f, hi, h->slots[i].vm, sum, &n);
	return n;
}

int
pol_host_history(const struct pol_fleet *f, int hi, double *out)
{
	int n = pol_host_history_sum(f, hi, out);

	while (n > 0 && out[n - 1] == 0)
		n--;
	return n;
}

