/*
 * fuzz_policy.c - pol_policy_parse() on arbitrary text: an operator's
 * policy file, and the controller's --policy.  Whatever it accepts must
 * write back as JSON that parses again to the same policy.
 */
#include <stdlib.h>

#include "fuzz.h"
#include "pol_policy.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size), *json;
	struct pol_policy p, q;
	struct pol_policy_error err;

	if (pol_policy_parse(text, "fuzz.json", &p, &err) == 0) {
		json = pol_policy_to_json(&p);
		if (pol_policy_parse(json, "canonical.json", &q, &err) != 0)
			abort();	/* our own output must parse */
		free(json);
	}
	free(text);
	return 0;
}
