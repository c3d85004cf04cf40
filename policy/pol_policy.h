/*
 * pol_policy.h - a consolidation policy: what the operator writes in JSON,
 * turned into a validated struct.  Parsing is pure: it takes the file's
 * text, never opens it.
 *
 * A policy file (under examples/policies/) looks like:
 *
 *   {
 *     "name": "lr-mmt-1.2",
 *     "description": "CloudSim's LR-MMT with safety 1.2",
 *     "overload":  { "detector": "lr", "safety": 1.2 },
 *     "selection": { "method": "mmt" },
 *     "placement": { "order": "power" },
 *     "underload": { "enabled": true },
 *     "power":     { "switch_off_empty": true, "reserve_hosts": 0 }
 *   }
 *
 * Every key is optional; what is absent takes the default listed in
 * pol_policy_defaults() (CloudSim's LR-MMT-1.2).  Unknown keys, wrong types
 * and out-of-range values are errors.
 */
#ifndef POL_POLICY_H
#define POL_POLICY_H

#include <stdbool.h>

enum pol_detector {
	POL_DET_THR,	/* static threshold on current utilization */
	POL_DET_IQR,	/* 1 - s * IQR(history) */
	POL_DET_MAD,	/* 1 - s * MAD(history) */
	POL_DET_LR,	/* local regression, s * prediction >= 1 */
	POL_DET_LRR,	/* robust local regression */
	POL_DET_BAND,	/* ours: forecast with confidence, see pol_detect.c */
};

enum pol_selection {
	POL_SEL_MMT,	/* minimum migration time (least RAM) */
	POL_SEL_MC,	/* maximum correlation */
	POL_SEL_RS,	/* random, seeded */
	POL_SEL_MU,	/* minimum utilization */
};

enum pol_host_order {
	POL_ORDER_POWER,	/* PABFD: least power increase */
	POL_ORDER_EFFICIENCY,	/* ours: least power increase per MIPS of
				   headroom left, see pol_place.c */
};

#define POL_NAME_MAX	64
#define POL_DESC_MAX	256

struct pol_policy {
	char	name[POL_NAME_MAX];
	char	description[POL_DESC_MAX];

	struct {
		enum pol_detector detector;
		double	threshold;	 /* THR: overloaded above it (0..1] */
		double	safety;		 /* IQR/MAD/LR/LRR/BAND parameter s */
		double	fallback_threshold; /* THR used while history is short */
		int	min_history;	 /* IQR/MAD: points needed (12) */
		int	window;		 /* LR/LRR/BAND: points fitted (10) */
		double	band_high;	 /* BAND: forecast upper bound target */
		double	confidence;	 /* BAND: z-score on the forecast error */
	} overload;

	struct {
		enum pol_selection method;
		unsigned long long seed; /* RS */
	} selection;

	struct {
		enum pol_host_order order;
		double	max_util;	 /* cap on utilization after placing
					    (1.0 = only the detector decides) */
	} placement;

	struct {
		bool	enabled;
		double	max_util;	 /* only hosts below this are drained
					    (1.0 = CloudSim: every host) */
		bool	exclude_targets; /* hosts receiving VMs this round are
					    not drained in the same round */
		int	max_hosts;	 /* hosts drained per round, 0 = no cap */
	} underload;

	struct {
		bool	switch_off_empty;
		int	reserve_hosts;	 /* empty hosts kept on for bursts */
		int	min_hosts_on;
		int	wake_after_samples; /* an overload wakes a host only
					    once the detector has said so at
					    this many samples in a row (1:
					    at once, as CloudSim) */
	} power;
};

/* Where a validation error was found in the policy text. */
struct pol_policy_error {
	char	file[256];
	int	line;		/* 1-based; 0 when unknown */
	int	column;		/* 1-based; 0 when unknown */
	char	found[128];	/* what was there: `"foo"`, `a string`, `-1` */
	char	allowed[256];	/* what is allowed there */
	char	msg[512];	/* the whole message, formatted as
				   FILE:LINE:COLUMN: error: ... */
};

/* CloudSim's LR-MMT-1.2 with switch-off of empty hosts. */
void	pol_policy_defaults(struct pol_policy *);

/*
 * Parses and validates a policy from its JSON text.  `file` only names the
 * source in messages.  Returns 0, or -EINVAL with *err filled.
 */
int	pol_policy_parse(const char *text, const char *file,
	    struct pol_policy *, struct pol_policy_error *err);

/* Writes the policy back as canonical JSON (caller frees). */
char	*pol_policy_to_json(const struct pol_policy *);

const char *pol_detector_name(enum pol_detector);
const char *pol_selection_name(enum pol_selection);

#endif /* POL_POLICY_H */
