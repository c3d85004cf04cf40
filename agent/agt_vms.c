/*
 * agt_vms.c - VMs through the hypervisor driver: listing and utilization,
 * vCPU confinement for core parking, and the controller's VM commands.
 *
 * A VM's utilization is the CPU time its threads used over the wall time
 * between two listings, divided by its vCPUs: the fraction of what it was
 * given, the same quantity the traces and the policies speak of.
 *
 * A migration command is answered when the migration ends, not when it
 * starts: the controller journals the outcome it is told, and "started"
 * is not an outcome.  While it runs, reports carry its progress.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "agt_agent.h"
#include "agt_vms.h"
#include "ebb_log.h"

static struct agt_vm *
vm_find(struct agt_vms *vs, const char *id)
{
	for (int i = 0; i < vs->n; i++)
		if (strcmp(vs->vm[i].info.id, id) == 0)
			return &vs->vm[i];
	return NULL;
}

static struct agt_vm *
vm_add(struct agt_vms *vs, const char *id)
{
	struct agt_vm *v;

	if (vs->n == vs->cap) {
		vs->cap = vs->cap ? vs->cap * 2 : 16;
		vs->vm = ebb_reallocarray(vs->vm, (size_t)vs->cap,
		    sizeof(*vs->vm));
	}
	v = &vs->vm[vs->n++];
	memset(v, 0, sizeof(*v));
	snprintf(v->info.id, sizeof(v->info.id), "%s", id);
	return v;
}

static void
vm_drop(struct agt_vms *vs, struct agt_vm *v)
{
	json_decref(v->mig_cmd);
	*v = vs->vm[--vs->n];
}

int
agt_vms_open(struct agt *a, struct ebb_err *err)
{
	struct agt_vms *vs = &a->vms;
	const struct agt_driver_ops *ops;
	json_error_t jerr;
	json_t *conf;
	int rc;

	vs->efd = -1;
	if (strcmp(a->cfg.hypervisor, "none") == 0)
		return 0;
	if ((ops = agt_driver_load(a->cfg.hypervisor, err)) == NULL)
		return -ENOTSUP;
	if ((conf = json_loads(a->cfg.hypervisor_conf, 0, &jerr)) == NULL) {
		ebb_err_set(err, "hypervisor: %s", jerr.text);
		return -EINVAL;
	}
	rc = ops->open(&vs->drv, conf, err);
	json_decref(conf);
	if (rc != 0)
		return rc;
	vs->efd = ops->event_fd ? ops->event_fd(vs->drv) : -1;
	vs->describe = ops->describe ? ops->describe(vs->drv) : NULL;
	return 0;
}

void
agt_vms_close(struct agt *a)
{
	struct agt_vms *vs = &a->vms;

	if (vs->drv != NULL)
		vs->drv->ops->close(vs->drv);
	vs->drv = NULL;
	while (vs->n > 0)
		vm_drop(vs, &vs->vm[0]);
	free(vs->vm);
	vs->vm = NULL;
	vs->cap = 0;
	json_decref(vs->describe);
	vs->describe = NULL;
	vs->efd = -1;
}

static bool
pinning(const struct agt *a)
{
	return a->cfg.park_enabled && a->cfg.actuator == AGT_ACT_AFFINITY &&
	    a->vms.drv != NULL && a->vms.drv->ops->pin != NULL;
}

static void
pin(struct agt *a, struct agt_vm *v)
{
	struct agt_vms *vs = &a->vms;
	struct ebb_err err;
	int rc;

	if (v->pinned || v->info.state != AGT_VM_RUNNING || !pinning(a))
		return;
	rc = vs->drv->ops->pin(vs->drv, v->info.id, &a->unparked, &err);
	if (rc == 0) {
		v->pinned = true;
		return;
	}
	/* A VM that just went away is not an actuator failure. */
	if (rc != -ENOENT && !vs->pin_broken) {
		ebb_err_log("core parking: confining %s: %s; parking "
		    "decisions are still made and reported", v->info.id,
		    err.msg);
		vs->pin_broken = true;
	}
}

void
agt_vms_repin(struct agt *a)
{
	for (int i = 0; i < a->vms.n; i++) {
		a->vms.vm[i].pinned = false;
		pin(a, &a->vms.vm[i]);
	}
}

/* Utilization over the time since the VM's previous listing. */
static void
update_util(struct agt_vm *v, const struct agt_vm_info *now, double t)
{
	double dt = t - v->sampled_at;

	if (v->sampled_at > 0 && dt > 0.05 && now->cpu_ns >= v->info.cpu_ns &&
	    now->vcpus > 0 && now->state == AGT_VM_RUNNING) {
		double used = (double)(now->cpu_ns - v->info.cpu_ns) / 1e9;

		v->util = fmin(fmax(used / (dt * now->vcpus), 0), 1);
		for (int k = 0; k < now->nvcpu_ns && k < v->info.nvcpu_ns;
		    k++)
			v->vcpu_util[k] = now->vcpu_ns[k] >= v->info.vcpu_ns[k] ?
			    fmin((double)(now->vcpu_ns[k] - v->info.vcpu_ns[k]) /
			    1e9 / dt, 1) : 0;
		v->have_util = true;
	} else if (now->state != AGT_VM_RUNNING) {
		v->util = 0;
		memset(v->vcpu_util, 0, sizeof(v->vcpu_util));
	}
	v->sampled_at = t;
}

/*
 * Lists the VMs.  With `timed`, the listing also advances utilization
 * (the sampling tick); an event-driven listing only learns what exists,
 * so a burst of events cannot shorten the measuring interval to nothing.
 */
static int
relist(struct agt *a, bool timed)
{
	struct agt_vms *vs = &a->vms;
	struct agt_vm_info *info = NULL;
	struct ebb_err err;
	double t = ebb_monoclock();
	int n = 0, rc;

	if (vs->drv == NULL)
		return 0;
	if ((rc = vs->drv->ops->list(vs->drv, &info, &n, &err)) != 0) {
		if (!vs->list_broken)
			ebb_warn("listing VMs: %s", err.msg);
		vs->list_broken = true;
		return rc;
	}
	if (vs->list_broken)
		ebb_info("listing VMs works again");
	vs->list_broken = false;
	for (int i = 0; i < vs->n; i++)
		vs->vm[i].seen = false;
	for (int i = 0; i < n; i++) {
		struct agt_vm *v = vm_find(vs, info[i].id);
		bool was_running;

		if (v == NULL)
			v = vm_add(vs, info[i].id);
		was_running = v->info.state == AGT_VM_RUNNING;
		v->seen = true;
		if (timed || v->sampled_at == 0)
			update_util(v, &info[i], t);
		else {
			/* Keep the old times: the next tick measures from
			 * them. */
			uint64_t cpu = v->info.cpu_ns;
			uint64_t vcpu[AGT_VM_VCPUS_MAX];
			int nv = v->info.nvcpu_ns;

			memcpy(vcpu, v->info.vcpu_ns, sizeof(vcpu));
			v->info = info[i];
			v->info.cpu_ns = cpu;
			v->info.nvcpu_ns = nv;
			memcpy(v->info.vcpu_ns, vcpu, sizeof(vcpu));
			if (info[i].state != AGT_VM_RUNNING)
				v->util = 0;
			goto pinned;
		}
		v->info = info[i];
pinned:
		if (!was_running || v->info.state != AGT_VM_RUNNING)
			v->pinned = false;
		pin(a, v);
	}
	free(info);
	/* Gone VMs go, but not one whose migration result is still owed. */
	for (int i = vs->n - 1; i >= 0; i--)
		if (!vs->vm[i].seen && !vs->vm[i].mig)
			vm_drop(vs, &vs->vm[i]);
	return 0;
}

static void
poll_progress(struct agt *a)
{
	struct agt_vms *vs = &a->vms;
	struct ebb_err err;

	if (vs->drv->ops->migrate_progress == NULL)
		return;
	for (int i = 0; i < vs->n; i++) {
		struct agt_vm *v = &vs->vm[i];

		if (v->mig && vs->drv->ops->migrate_progress(vs->drv,
		    v->info.id, &v->mig_progress, &err) != 0)
			ebb_debug("migration of %s: progress: %s", v->info.id,
			    err.msg);
	}
}

void
agt_vms_sample(struct agt *a)
{
	if (a->vms.drv == NULL)
		return;
	relist(a, true);
	poll_progress(a);
}

static json_t *
progress_json(const struct agt_mig_progress *p)
{
	return json_pack("{s:f, s:I, s:I, s:I, s:I, s:I, s:f}",
	    "elapsed_s", p->elapsed_s,
	    "data_total", (json_int_t)p->data_total,
	    "data_done", (json_int_t)p->data_done,
	    "data_remaining", (json_int_t)p->data_remaining,
	    "dirty_pps", (json_int_t)p->mem_dirty_rate,
	    "iteration", (json_int_t)p->iteration,
	    "downtime_ms", p->downtime_ms);
}

double
agt_vms_busy(const struct agt *a)
{
	double used = 0;
	int ncpu = a->host.ncpu_online > 0 ? a->host.ncpu_online : 1;

	for (int i = 0; i < a->vms.n; i++)
		if (a->vms.vm[i].seen)
			used += a->vms.vm[i].util * a->vms.vm[i].info.vcpus;
	return fmin(used / ncpu, 1);
}

json_t *
agt_vms_json(const struct agt *a)
{
	const struct agt_vms *vs = &a->vms;
	json_t *arr = json_array();

	for (int i = 0; i < vs->n; i++) {
		const struct agt_vm *v = &vs->vm[i];
		json_t *vcpu, *o;

		if (!v->seen)
			continue;
		vcpu = json_array();
		for (int k = 0; k < v->info.nvcpu_ns; k++)
			json_array_append_new(vcpu,
			    json_real(v->vcpu_util[k]));
		o = json_pack("{s:s, s:s, s:i, s:f, s:o, s:I, s:b}",
		    "id", v->info.id,
		    "state", agt_vm_state_name(v->info.state),
		    "vcpus", v->info.vcpus,
		    "cpu", v->util,
		    "vcpu", vcpu,
		    "mem_mb", (json_int_t)(v->info.mem_kb / 1024),
		    "migrating", v->mig || v->info.migrating);
		if (v->mig)
			json_object_set_new(o, "migration",
			    progress_json(&v->mig_progress));
		json_array_append_new(arr, o);
	}
	return arr;
}

/* ---- events -------------------------------------------------------------- */

static void
mig_done(struct agt *a, const struct agt_drv_event *ev)
{
	struct agt_vm *v = vm_find(&a->vms, ev->vm);
	json_t *stats = progress_json(&ev->stats);

	if (ev->ok) {
		a->vms.migrations_out++;
		ebb_info("migration of %s done: %.1f s, downtime %.0f ms",
		    ev->vm, ev->stats.elapsed_s, ev->stats.downtime_ms);
	} else {
		a->vms.migrations_failed++;
		ebb_warn("migration of %s failed: %s", ev->vm, ev->error);
	}
	if (v == NULL || !v->mig) {
		/* Not ours (an operator's virsh migrate): nothing owed. */
		json_decref(stats);
		return;
	}
	if (v->mig_cmd != NULL)
		agt_reply(a, v->mig_cmd, ev->ok, ev->ok ? NULL : ev->error,
		    stats);
	else
		json_decref(stats);	/* asked on a lost connection */
	json_decref(v->mig_cmd);
	v->mig_cmd = NULL;
	v->mig = false;
}

void
agt_vms_event(struct agt *a)
{
	struct agt_vms *vs = &a->vms;
	struct agt_drv_event ev;
	bool changed = false;
	int rc;

	if (vs->drv == NULL)
		return;
	while ((rc = vs->drv->ops->next_event(vs->drv, &ev)) > 0) {
		if (ev.kind == AGT_DRV_MIG_DONE)
			mig_done(a, &ev);
		changed = true;
	}
	if (rc < 0)
		ebb_warn("hypervisor driver events: %s", strerror(-rc));
	if (!changed)
		return;
	/* A VM came, went or changed: the controller learns it now. */
	relist(a, false);
	for (int i = vs->n - 1; i >= 0; i--)
		if (!vs->vm[i].seen && !vs->vm[i].mig)
			vm_drop(vs, &vs->vm[i]);
	agt_report_now(a);
}

void
agt_vms_conn_lost(struct agt *a)
{
	for (int i = 0; i < a->vms.n; i++) {
		json_decref(a->vms.vm[i].mig_cmd);
		a->vms.vm[i].mig_cmd = NULL;
	}
}

/* ---- commands ------------------------------------------------------------- */

static const char *
str_arg(json_t *m, const char *key)
{
	json_t *v = json_object_get(m, key);

	return json_is_string(v) && json_string_length(v) > 0 ?
	    json_string_value(v) : NULL;
}

static void
cmd_migrate(struct agt *a, json_t *m, json_t *cmd)
{
	struct agt_vms *vs = &a->vms;
	struct agt_mig_req req = { 0 };
	struct agt_vm *v;
	struct ebb_err err;
	json_t *x;
	char why[sizeof(err.msg) + 64];

	req.vm = str_arg(m, "vm");
	req.peer = str_arg(m, "peer");
	req.addr = str_arg(m, "addr");
	req.token = str_arg(m, "token");
	if (req.vm == NULL || req.peer == NULL) {
		agt_reply(a, cmd, false, "migrate: needs \"vm\" and \"peer\" "
		    "(the target host's hypervisor address)", NULL);
		return;
	}
	if ((x = json_object_get(m, "downtime_ms")) && json_is_number(x))
		req.downtime_ms = json_number_value(x);
	if ((x = json_object_get(m, "bandwidth_mib")) && json_is_integer(x) &&
	    json_integer_value(x) > 0)
		req.bandwidth_mib = (uint64_t)json_integer_value(x);
	req.auto_converge = json_is_true(json_object_get(m, "auto_converge"));

	if ((v = vm_find(vs, req.vm)) != NULL && v->mig) {
		agt_reply(a, cmd, false, "migrate: this VM is already "
		    "migrating", NULL);
		return;
	}
	if (vs->drv->ops->migrate(vs->drv, &req, &err) != 0) {
		snprintf(why, sizeof(why), "migrate %s: %s", req.vm, err.msg);
		agt_reply(a, cmd, false, why, NULL);
		return;
	}
	if (v == NULL)
		v = vm_add(vs, req.vm);
	v->mig = true;
	v->mig_cmd = json_incref(cmd);
	v->mig_started = ebb_monoclock();
	memset(&v->mig_progress, 0, sizeof(v->mig_progress));
	ebb_info("migrating %s to %s%s%s", req.vm, req.peer,
	    req.addr ? " via " : "", req.addr ? req.addr : "");
}

bool
agt_vms_command(struct agt *a, const char *op, json_t *m, json_t *cmd)
{
	struct agt_vms *vs = &a->vms;
	const char *vm = str_arg(m, "vm");
	struct ebb_err err;
	char why[sizeof(err.msg) + 64];
	int rc;

	if (strcmp(op, "start") != 0 && strcmp(op, "stop") != 0 &&
	    strcmp(op, "migrate") != 0 && strcmp(op, "abort") != 0 &&
	    strcmp(op, "accept") != 0)
		return false;
	if (vs->drv == NULL) {
		snprintf(why, sizeof(why), "%s: no hypervisor driver is "
		    "configured on this host (hypervisor.driver is \"%s\")", op,
		    a->cfg.hypervisor);
		agt_reply(a, cmd, false, why, NULL);
		return true;
	}
	if (strcmp(op, "accept") == 0) {
		/* Drivers whose source connects to the target's hypervisor
		 * (libvirt peer-to-peer) need nothing prepared. */
		agt_reply(a, cmd, true, NULL, NULL);
		return true;
	}
	if (vm == NULL) {
		snprintf(why, sizeof(why), "%s: needs \"vm\"", op);
		agt_reply(a, cmd, false, why, NULL);
		return true;
	}
	if (strcmp(op, "migrate") == 0) {
		cmd_migrate(a, m, cmd);
		return true;
	}
	if (strcmp(op, "start") == 0)
		rc = vs->drv->ops->start(vs->drv, vm, &err);
	else if (strcmp(op, "stop") == 0)
		rc = vs->drv->ops->stop(vs->drv, vm,
		    json_is_true(json_object_get(m, "force")), &err);
	else
		rc = vs->drv->ops->migrate_abort(vs->drv, vm, &err);
	if (rc != 0) {
		snprintf(why, sizeof(why), "%s %s: %s", op, vm, err.msg);
		agt_reply(a, cmd, false, why, NULL);
		return true;
	}
	agt_reply(a, cmd, true, NULL, NULL);
	return true;
}
