/*
 * ctl_policy.c - the controller's policy: loaded from the file the
 * configuration names, replaceable at run time through the API.
 */
#include <errno.h>
#include <stdlib.h>

#include "ctl.h"

int
ctl_policy_load(const struct ctl_config *cfg, struct pol_policy *out,
    struct ebb_err *err)
{
	struct pol_policy_error perr;
	struct pol_policy p;
	char *text;

	pol_policy_defaults(&p);
	if (cfg->policy[0] != '\0') {
		int rc;

		if ((rc = ebb_read_file(cfg->policy, &text, NULL, err)) != 0)
			return rc;
		rc = pol_policy_parse(text, cfg->policy, &p, &perr);
		free(text);
		if (rc != 0) {
			ebb_err_set(err, "%s", perr.msg);
			return -EINVAL;
		}
	}
	if (out != NULL)
		*out = p;
	return 0;
}
