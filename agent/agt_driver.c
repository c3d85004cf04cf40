/*
 * agt_driver.c - the table of hypervisor drivers compiled into ebb-agent.
 */
#include <string.h>

#include "agt_driver.h"

static const struct agt_driver_ops *const drivers[] = {
	&agt_drv_libvirt,
};

const struct agt_driver_ops *
agt_driver_find(const char *name)
{
	for (size_t i = 0; i < sizeof(drivers) / sizeof(drivers[0]); i++)
		if (strcmp(drivers[i]->name, name) == 0)
			return drivers[i];
	return NULL;
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
