/*
 * ebb_module.c - finding and loading ebb's optional modules.
 *
 * A loaded module stays loaded: its library's one-time state (libvirt's
 * event loop, librdkafka's globals) must not be unmapped under threads
 * that may outlive their user.
 */
#include <dlfcn.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ebb_module.h"

#ifndef EBB_MODULE_DIR
#define EBB_MODULE_DIR "/usr/local/lib/ebb"
#endif

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

void *
ebb_module_sym(const char *file, const char *sym, struct ebb_err *err)
{
	char self[PATH_MAX], path[PATH_MAX + 128], tried[1024] = "";
	const char *dirs[3];
	size_t nd = 0, tl;
	void *h = NULL, *p;

	if (getenv("EBB_MODULE_DIR") != NULL)
		dirs[nd++] = getenv("EBB_MODULE_DIR");
	self_dir(self, sizeof(self));
	if (self[0] != '\0')
		dirs[nd++] = self;
	dirs[nd++] = EBB_MODULE_DIR;
	for (size_t i = 0; i < nd && h == NULL; i++) {
		snprintf(path, sizeof(path), "%s/%s", dirs[i], file);
		if (access(path, F_OK) != 0) {
			tl = strlen(tried);
			snprintf(tried + tl, sizeof(tried) - tl, "%s%.300s",
			    tl ? ", " : "", dirs[i]);
			continue;
		}
		/* dlopen() of a loaded module returns it again. */
		if ((h = dlopen(path, RTLD_NOW | RTLD_LOCAL)) == NULL) {
			ebb_err_set(err, "module %s: %s", file, dlerror());
			return NULL;
		}
	}
	if (h == NULL) {
		ebb_err_set(err, "module %s: not found in %s (set "
		    "EBB_MODULE_DIR to where it is installed)", file, tried);
		return NULL;
	}
	if ((p = dlsym(h, sym)) == NULL) {
		ebb_err_set(err, "module %s: %s has no %s", file, path, sym);
		return NULL;
	}
	return p;
}
