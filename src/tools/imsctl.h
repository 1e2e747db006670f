/*
 * imsctl — shared pieces of the operator tool: a small option parser and
 * strict input validation. Every user error prints one clear line on stderr
 * and makes the command exit with IMSCTL_EXIT_USAGE.
 */
#ifndef TOOLS_IMSCTL_H
#define TOOLS_IMSCTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define IMSCTL_EXIT_OK 0
#define IMSCTL_EXIT_FAIL 1  /* the computation says no (bad MAC) */
#define IMSCTL_EXIT_USAGE 2 /* bad command line or input */

/* One accepted option of a command. */
struct imsctl_optdef {
	const char *name; /* without the leading "--" */
	bool has_arg;
};

#define IMSCTL_OPT_MAX 32

/* Parsed options: values borrowed from argv. */
struct imsctl_opts {
	const char *cmd;
	const struct imsctl_optdef *defs;
	size_t ndefs;
	const char *val[IMSCTL_OPT_MAX];
	bool seen[IMSCTL_OPT_MAX];
};

struct imsctl_cmd {
	const char *name;
	const char *summary;
	const char *help;
	const struct imsctl_optdef *defs;
	size_t ndefs;
	int (*run)(struct imsctl_opts *o);
};

extern const struct imsctl_cmd imsctl_cmd_milenage;
extern const struct imsctl_cmd imsctl_cmd_tuak;
extern const struct imsctl_cmd imsctl_cmd_xor;
extern const struct imsctl_cmd imsctl_cmd_aka_response;

void imsctl_err(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* NULL if the option was not given. */
const char *imsctl_opt(const struct imsctl_opts *o, const char *name);
bool imsctl_flag(const struct imsctl_opts *o, const char *name);
/* Require the option; 0 or IMSCTL_EXIT_USAGE (error printed). */
int imsctl_need(const struct imsctl_opts *o, const char *name, const char **val);
/* Hex of one of two byte lengths (len2 0 = only len1). */
int imsctl_hex(const struct imsctl_opts *o, const char *name, uint8_t *out, size_t len1,
	       size_t len2, size_t *got);
/* Unsigned decimal in [min, max]. */
int imsctl_uint(const struct imsctl_opts *o, const char *name, unsigned long min,
		unsigned long max, unsigned long *v);
/* Exactly one of two options given: returns 0 (first), 1 (second) or -1. */
int imsctl_one_of(const struct imsctl_opts *o, const char *a, const char *b);
void imsctl_print_hex(const char *name, const uint8_t *v, size_t len);
/* `imsctl api ...` (imsctl_api.c): a remote API client with positional
 * arguments, so it parses its own. */
int imsctl_api_main(int argc, char **argv);



struct aka_cred;
/*
 * Read SIM credentials for `algo` from the options (--k, --op/--opc,
 * --top/--topc, TUAK lengths, XOR --res-len, and --amf when want_amf) and
 * derive OPc/TOPc. 0 or IMSCTL_EXIT_USAGE.
 */
int imsctl_cred_parse(const struct imsctl_opts *o, int algo, struct aka_cred *c,
		      bool want_amf);
#endif
