/*
 * ebb_log.h - one logging entry point for daemons and tools.  Messages go to
 * stderr with the program name; daemons may later point it at syslog.
 */
#ifndef EBB_LOG_H
#define EBB_LOG_H

#include "ebb.h"

enum ebb_log_level {
	EBB_LOG_ERR,
	EBB_LOG_WARN,
	EBB_LOG_INFO,
	EBB_LOG_DEBUG,
};

void	ebb_log_init(const char *progname, enum ebb_log_level);
void	ebb_log(enum ebb_log_level, const char *, ...) EBB_PRINTF(2, 3);

#define ebb_err_log(...)	ebb_log(EBB_LOG_ERR, __VA_ARGS__)
#define ebb_warn(...)		ebb_log(EBB_LOG_WARN, __VA_ARGS__)
#define ebb_info(...)		ebb_log(EBB_LOG_INFO, __VA_ARGS__)
#define ebb_debug(...)		ebb_log(EBB_LOG_DEBUG, __VA_ARGS__)

#endif /* EBB_LOG_H */
