/*
 * cmd_policy.c - `ebb policy`: check policy files, or show one as the
 * policy ebb would run, every default filled in.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "ebb.h"
#include "ebb_cli.h"
#include "pol_policy.h"

static void
policy_usage(FILE *f)
{
	fprintf(f,
	    "usage: ebb policy check FILE...\n"
	    "       ebb policy show FILE\n"
	    "\n"
	    "  check   validate each FILE; print \"FILE: ok\" for a valid one,\n"
	    "          the first error of an invalid one\n"
	    "  show    print FILE as canonical JSON, every default filled in\n"
	    "\n"
	    "Exit status: 0 if every FILE is valid, 2 if one is invalid or\n"
	    "unreadable, or on bad usage.\n");
}

static bool
is_help(const char *arg)
{
	return strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0;
}

/*
 * Reads and validates one policy file; on failure says why on stderr.
 * Returns 0 or -errno (-EINVAL: the file is not a valid policy).
 */
static int
policy_load(const char *path, struct pol_policy *pol)
{
	struct pol_policy_error perr;
	struct ebb_err eerr;
	struct stat st;
	size_t len;
	char *text;
	int rc;

	/* fopen() opens a directory; reading it fails with a vaguer EIO. */
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		fprintf(stderr, "%s: cannot read: %s\n", path,
		    strerror(EISDIR));
		return -EISDIR;
	}
	if ((rc = ebb_read_file(path, &text, &len, &eerr)) < 0) {
		fprintf(stderr, "%s: cannot read: %s\n", path, strerror(-rc));
		return rc;
	}
	/* The parser sees a C string; a NUL would hide what follows it. */
	if (strlen(text) != len) {
		fprintf(stderr, "%s: error: NUL byte at offset %zu, allowed "
		    "JSON text\n", path, strlen(text));
		free(text);
		return -EINVAL;
	}
	rc = pol_policy_parse(text, path, pol, &perr);
	free(text);
	if (rc < 0)
		fprintf(stderr, "%s\n", perr.msg);
	return rc;
}

/*
 * Splits argv[1..] into options and files: the only option is --help; a
 * "--" ends options.  Returns the index of the first file, or -1 after
 * printing usage (want_help set when it was asked for).
 */
static int
policy_args(int argc, char **argv, bool *want_help)
{
	int i;

	*want_help = false;
	for (i = 1; i < argc && argv[i][0] == '-' && argv[i][1] != '\0'; i++) {
		if (strcmp(argv[i], "--") == 0)
			return i + 1;
		if (is_help(argv[i])) {
			*want_help = true;
			return -1;
		}
		fprintf(stderr, "ebb policy %s: unknown option '%s'\n",
		    argv[0], argv[i]);
		return -1;
	}
	return i;
}

static int
policy_check(int argc, char **argv)
{
	struct pol_policy pol;
	bool help;
	int i, status = EBB_EXIT_OK;

	if ((i = policy_args(argc, argv, &help)) < 0 || i >= argc) {
		policy_usage(help ? stdout : stderr);
		return help ? EBB_EXIT_OK : EBB_EXIT_USAGE;
	}
	for (; i < argc; i++) {
		if (policy_load(argv[i], &pol) < 0)
			status = EBB_EXIT_USAGE;
		else
			printf("%s: ok\n", argv[i]);
	}
	return status;
}

static int
policy_show(int argc, char **argv)
{
	struct pol_policy pol;
	char *json;
	bool help;
	int i;

	if ((i = policy_args(argc, argv, &help)) < 0 || i != argc - 1) {
		policy_usage(help ? stdout : stderr);
		return help ? EBB_EXIT_OK : EBB_EXIT_USAGE;
	}
	if (policy_load(argv[i], &pol) < 0)
		return EBB_EXIT_USAGE;
	if ((json = pol_policy_to_json(&pol)) == NULL) {
		fprintf(stderr, "%s: cannot write the policy as JSON\n",
		    argv[i]);
		return EBB_EXIT_FAIL;
	}
	printf("%s\n", json);
	free(json);
	return EBB_EXIT_OK;
}

int
ebb_cmd_policy(int argc, char **argv)
{
	if (argc < 2) {
		policy_usage(stderr);
		return EBB_EXIT_USAGE;
	}
	if (is_help(argv[1]) || strcmp(argv[1], "help") == 0) {
		policy_usage(stdout);
		return EBB_EXIT_OK;
	}
	if (strcmp(argv[1], "check") == 0)
		return policy_check(argc - 1, argv + 1);
	if (strcmp(argv[1], "show") == 0)
		return policy_show(argc - 1, argv + 1);
	fprintf(stderr, "ebb policy: unknown subcommand '%s'\n", argv[1]);
	policy_usage(stderr);
	return EBB_EXIT_USAGE;
}
