/*
 * agt_driver.c - finding a hypervisor driver: each is a module,
 * ebb-drv-NAME.so, loaded only when the configuration names it.
 *
 * A module exports `agt_drv_NAME` (struct agt_driver_ops, with '-' in NAME
 * spelt '_'); common/ebb_module.c says where modules are looked for.
 */
#include <stdio.h>
#include <string.h>

#include "agt_driver.h"
#include "ebb_module.h"

static const char *const names[] = { "libvirt" };

const struct agt_driver_ops *
agt_driver_load(const char *name, struct ebb_err *err)
{
	char file[64], sym[64];
	bool known = false;

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		known |= strcmp(names[i], name) == 0;
	if (!known) {
		ebb_err_set(err, "no hypervisor driver \"%s\" (there are: %s)",
		    name, agt_driver_names());
		return NULL;
	}
	snprintf(file, sizeof(file), "ebb-drv-%s.so", name);
	snprintf(sym, sizeof(sym), "agt_drv_%s", name);
	for (char *p = sym; *p; p++)
		if (*p == '-')
			*p = '_';
	return ebb_module_sym(file, sym, err);
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
