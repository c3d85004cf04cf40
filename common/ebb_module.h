/*
 * ebb_module.h - loading an optional part of ebb (a hypervisor driver, the
 * Kafka transport) only when the configuration asks for it.
 *
 * Such parts bring heavy libraries (libvirt brings glib, gnutls, libxml2;
 * librdkafka brings compression and SASL libraries): megabytes of
 * resident memory an agent that does not use them must not pay.  A module
 * resolves ebb's own functions against the program that loads it, so
 * there is one copy of each, and of its state.
 */
#ifndef EBB_MODULE_H
#define EBB_MODULE_H

#include "ebb.h"

/*
 * The symbol `sym` of module `file` (e.g. "ebb-drv-libvirt.so"), loaded
 * once from the first of: $EBB_MODULE_DIR, the running program's
 * directory (a build tree), the directory chosen at build time.  NULL with
 * err saying where it looked, or why the module did not load.
 */
void	*ebb_module_sym(const char *file, const char *sym, struct ebb_err *);

#endif /* EBB_MODULE_H */
