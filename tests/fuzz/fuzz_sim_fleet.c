/*
 * fuzz_sim_fleet.c - sim_fleet_parse() on arbitrary text: a fleet
 * description (examples/fleets/, ebb simulate --fleet).
 */
#include <stdlib.h>

#include "fuzz.h"
#include "sim.h"

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *text = fuzz_text(data, size);
	struct sim_fleet_spec spec;
	struct ebb_err err;

	(void)sim_fleet_parse(text, "fuzz.json", &spec, &err);
	free(text);
	return 0;
}
