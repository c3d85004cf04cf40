/*
 * agt_driver.c - finding a hypervisor driver: each is a module,
 * ebb-drv-NAME.so, loaded only when the configuration names it.
 *
 * A module exports `agt_drv_NAME` (struct agt_driver_ops, with '-' in NAME
 * spelt '_') and resolves ebb's own functions against the agent that
 * loads it.  Modules are looked for in $EBB_MODULE_DIR, then beside the
 * running program (a build tree), then in the directory chosen at build
 * time (EBB_MODULE_DIR, e.g. /usr/local/lib/ebb).  A loaded module stays
 * loaded: a driver's threads may outlive nothing, but libvirt's own
 * one-time state must not be unmapped under it.
 */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agt_driver.h"

#ifndef EBB_MODULE_DIR
#define EBB_MODULE_DIR "/usr/local/lib/ebb"
#endif

static const char *const names[] = { "libvirt" };

static bool
known(const char *name)
{
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(names[i], name) == 0)
			return true;
	return false;
}

/* The directory the running program is in, or "" if unknown. */
static void
self_dir(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	char *slash;

	if (n <= 0) {
		buf[0] = '\0';
		return;
	}
	buf[n] = '\0';
	if ((slash = strrchr(buf, '/')) != NULL)
		*slash = '\0';
	else
		buf[0] = '\0';
}

const struct agt_driver_ops *
agt_driver_load(const char *name, struct ebb_err *err)
{
	char self[PATH_MAX], path[PATH_MAX + 64], sym[64], tried[1024] = "";
	size_t tl;
	const char *dirs[3];
	const struct agt_driver_ops *ops;
	void *h = NULL;
	size_t nd = 0;

	if (!known(name)) {
		ebb_err_set(err, "no hypervisor driver \"%s\" (there are: %s)",
		    name, agt_driver_names());
		return NULL;
	}
	if (getenv("EBB_MODULE_DIR") != NULL)
		dirs[nd++] = getenv("EBB_MODULE_DIR");
	self_dir(self, sizeof(self));
	if (self[0] != '\0')
		dirs[nd++] = self;
	dirs[nd++] = EBB_MODULE_DIR;
	for (size_t i = 0; i < nd && h == NULL; i++) {
		snprintf(path, sizeof(path), "%s/ebb-drv-%s.so", dirs[i], name);
		if (access(path, F_OK) != 0) {
			tl = strlen(tried);
			snprintf(tried + tl, sizeof(tried) - tl, "%s%.300s",
			    tl ? ", " : "", dirs[i]);
			continue;
		}
		if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
			ebb_err_set(err, "hypervisor driver %s: %s", name,
			    dlerror());
			return NULL;
		}
	}
	if (h == NULL) {
		ebb_err_set(err, "hypervisor driver %s: no ebb-drv-%s.so in %s "
		    "(set EBB_MODULE_DIR to where it is installed)", name, name,
		    tried);
		return NULL;
	}
	snprintf(sym, sizeof(sym), "agt_drv_%s", name);
	for (char *p = sym; *p; p++)
		if (*p == '-')
			*p = '_';
	if ((ops = dlsym(h, sym)) == NULL) {
		ebb_err_set(err, "hypervisor driver %s: %s has no %s", name,
		    path, sym);
		return NULL;
	}
	return ops;
}

const char *
agt_driver_names(void)
{
	return "libvirt";
}

const char *
agt_vm_state_name(enum agt_vm_state s)
{
	switch (s) {
	case AGT_VM_RUNNING:	return "running";
	case AGT_VM_PAUSED:	return "paused";
	case AGT_VM_SHUTOFF:	return "shutoff";
	case AGT_VM_CRASHED:	return "crashed";
	case AGT_VM_OTHER:	break;
	}
	return "other";
}
