/*
 * fuzz_agt_config.c - agt_config_parse() on arbitrary text: the agent's
 * configuration file (ebb-agent -c, --check-config).
 */
#include <stdlib.h>

#include "agt_config.h"
#include "fuzz.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	struct agt_config c;
	struct ebb_err err;

	agt_config_defaults(&c);
	(void)agt_config_parse(text, "fuzz.json", &c, &err);
	free(text);
	return 0;
}
