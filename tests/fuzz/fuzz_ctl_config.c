/*
 * fuzz_ctl_config.c - ctl_config_parse() on arbitrary text: the
 * controller's configuration file, host list and power drivers included.
 */
#include <stdlib.h>

#include "ctl_config.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	struct ctl_config c;
	struct ebb_err err;

	ctl_config_defaults(&c);
	(void)ctl_config_parse(text, "fuzz.json", &c, &err);
	ctl_config_free(&c);
	free(text);
	return 0;
}
