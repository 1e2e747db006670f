/*
 * imsctl — the imsd operator tool.
 *
 * Commands compute what an operator needs when provisioning or debugging
 * authentication: MILENAGE, TUAK and XOR outputs from SIM credentials, and
 * the UE's answer to a Digest AKA challenge. Output is one `name=value` line
 * per result, lower-case hex, so that scripts can read it.
 */
#include <ctype.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_codec.h"
#include "tools/imsctl.h"
#include "tools/imsctl_sms.h"

static const struct imsctl_cmd *const imsctl_cmds[] = {
	&imsctl_cmd_milenage,
	&imsctl_cmd_tuak,
	&imsctl_cmd_xor,
	&imsctl_cmd_aka_response,
};

#define N_CMDS (sizeof(imsctl_cmds) / sizeof(imsctl_cmds[0]))

void imsctl_err(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "imsctl%s%s: ", cmd ? " " : "", cmd ? cmd : "");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static int opt_index(const struct imsctl_opts *o, const char *name)
{
	for (size_t i = 0; i < o->ndefs; i++)
		if (!strcmp(o->defs[i].name, name))
			return (int)i;
	return -1;
}

const char *imsctl_opt(const struct imsctl_opts *o, const char *name)
{
	int i = opt_index(o, name);

	return i >= 0 && o->seen[i] ? o->val[i] : NULL;
}

bool imsctl_flag(const struct imsctl_opts *o, const char *name)
{
	int i = opt_index(o, name);

	return i >= 0 && o->seen[i];
}

int imsctl_need(const struct imsctl_opts *o, const char *name, const char **val)
{
	*val = imsctl_opt(o, name);
	if (!*val) {
		imsctl_err(o->cmd, "missing --%s (see imsctl %s --help)", name, o->cmd);
		return IMSCTL_EXIT_USAGE;
	}
	return 0;
}

int imsctl_hex(const struct imsctl_opts *o, const char *name, uint8_t *out, size_t len1,
	       size_t len2, size_t *got)
{
	const char *s;
	size_t n, sl;
	int err = imsctl_need(o, name, &s);

	if (err)
		return err;
	sl = strlen(s);
	if (sl % 2) {
		imsctl_err(o->cmd, "--%s: odd number of hex digits (%zu)", name, sl);
		return IMSCTL_EXIT_USAGE;
	}
	if (sl != len1 * 2 && (!len2 || sl != len2 * 2)) {
		if (len2)
			imsctl_err(o->cmd, "--%s: expected %zu or %zu hex digits, got %zu", name,
				   len1 * 2, len2 * 2, sl);
		else
			imsctl_err(o->cmd, "--%s: expected %zu hex digits, got %zu", name,
				   len1 * 2, sl);
		return IMSCTL_EXIT_USAGE;
	}
	if (auth_hex_decode(s, sl, out, len2 > len1 ? len2 : len1, &n)) {
		imsctl_err(o->cmd, "--%s: not a hex string: \"%s\"", name, s);
		return IMSCTL_EXIT_USAGE;
	}
	if (got)
		*got = n;
	return 0;
}

int imsctl_uint(const struct imsctl_opts *o, const char *name, unsigned long min,
		unsigned long max, unsigned long *v)
{
	const char *s = imsctl_opt(o, name);
	char *end = NULL;
	unsigned long x;

	if (!s)
		return 0; /* keep the caller's default */
	errno = 0;
	x = strtoul(s, &end, 10);
	if (!isdigit((unsigned char)*s) || errno || *end || x < min || x > max) {
		imsctl_err(o->cmd, "--%s: expected a number from %lu to %lu, got \"%s\"", name,
			   min, max, s);
		return IMSCTL_EXIT_USAGE;
	}
	*v = x;
	return 0;
}

int imsctl_one_of(const struct imsctl_opts *o, const char *a, const char *b)
{
	bool ha = imsctl_opt(o, a) != NULL, hb = imsctl_opt(o, b) != NULL;

	if (ha == hb) {
		imsctl_err(o->cmd, "give exactly one of --%s and --%s", a, b);
		return -1;
	}
	return ha ? 0 : 1;
}

void imsctl_print_hex(const char *name, const uint8_t *v, size_t len)
{
	char buf[AUTH_HEX_SIZE(64)];

	if (len > 64)
		len = 64;
	auth_hex_encode(v, len, buf);
	printf("%s=%s\n", name, buf);
}

static void usage(FILE *f)
{
	fprintf(f, "usage: imsctl COMMAND [options]\n"
		   "       imsctl COMMAND --help\n\n"
		   "Tools for imsd operators. The authentication commands print one\n"
		   "name=value line per result (lower-case hex); sms prints JSON or hex.\n"
		   "Bad input exits with status 2.\n\n"
		   "commands:\n");
	for (size_t i = 0; i < N_CMDS; i++)
		fprintf(f, "  %-13s %s\n", imsctl_cmds[i]->name, imsctl_cmds[i]->summary);
	fprintf(f, "  %-13s %s\n", "sms", "decode/encode SMS over IP bodies (RP, TPDU) as JSON/hex");
	fprintf(f, "  %-13s %s\n", "api", "send messages to imsd's remote API (imsctl api --help)");
	fprintf(f, "\nexample:\n  imsctl milenage --k 465b5ce8b199b49faa5f0a2ee238a6bc \\\n"
		   "    --op cdc202d5123e20f62b6d676ac72cb318 \\\n"
		   "    --rand 23553cbe9637a89d218ae64dae47bf35 --sqn ff9bb4d0b607 --amf b9b9\n");
}

/* "--name value" or "--name=value"; unknown or repeated options are errors. */
static int parse_opts(const struct imsctl_cmd *c, int argc, char **argv,
		      struct imsctl_opts *o)
{
	memset(o, 0, sizeof(*o));
	o->cmd = c->name;
	o->defs = c->defs;
	o->ndefs = c->ndefs;
	for (int i = 0; i < argc; i++) {
		const char *a = argv[i], *eq;
		char name[64];
		size_t nl;
		int k;

		if (strncmp(a, "--", 2) || !a[2]) {
			imsctl_err(c->name, "unexpected argument \"%s\"", a);
			return IMSCTL_EXIT_USAGE;
		}
		eq = strchr(a + 2, '=');
		nl = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (nl >= sizeof(name))
			nl = sizeof(name) - 1;
		memcpy(name, a + 2, nl);
		name[nl] = '\0';
		k = opt_index(o, name);
		if (k < 0) {
			imsctl_err(c->name, "unknown option --%s (see imsctl %s --help)", name,
				   c->name);
			return IMSCTL_EXIT_USAGE;
		}
		if (o->seen[k]) {
			imsctl_err(c->name, "--%s given twice", name);
			return IMSCTL_EXIT_USAGE;
		}
		o->seen[k] = true;
		if (!c->defs[k].has_arg) {
			if (eq) {
				imsctl_err(c->name, "--%s takes no value", name);
				return IMSCTL_EXIT_USAGE;
			}
			continue;
		}
		if (eq) {
			o->val[k] = eq + 1;
		} else if (i + 1 < argc) {
			o->val[k] = argv[++i];
		} else {
			imsctl_err(c->name, "--%s needs a value", name);
			return IMSCTL_EXIT_USAGE;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	struct imsctl_opts o;
	const struct imsctl_cmd *c = NULL;
	int err;

	if (argc < 2) {
		usage(stderr);
		return IMSCTL_EXIT_USAGE;
	}
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		usage(stdout);
		return IMSCTL_EXIT_OK;
	}
	if (!strcmp(argv[1], "sms")) /* subcommands and a positional HEX */
		return imsctl_sms_main(argc - 2, argv + 2);
	if (!strcmp(argv[1], "api"))
		return imsctl_api_main(argc - 2, argv + 2);
	for (size_t i = 0; i < N_CMDS; i++)
		if (!strcmp(argv[1], imsctl_cmds[i]->name))
			c = imsctl_cmds[i];
	if (!c) {
		imsctl_err(NULL, "unknown command \"%s\" (try imsctl --help)", argv[1]);
		return IMSCTL_EXIT_USAGE;
	}
	for (int i = 2; i < argc; i++) {
		if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
			fputs(c->help, stdout);
			return IMSCTL_EXIT_OK;
		}
	}
	err = parse_opts(c, argc - 2, argv + 2, &o);
	if (err)
		return err;
	err = c->run(&o);
	fflush(stdout);
	return err;
}
