/*
 * Fuzz target: log_options_apply (manual §5.2 log_options), the string the
 * monitor's `log` command and the remote API pass straight through.
 *
 * Besides "no crash, no leak", it checks two properties: a rejected string
 * changes nothing, and an accepted one is reproduced exactly by
 * log_options_print (print, apply the print to the defaults, print again:
 * same text). The log runs without a file, so file=cut and file.rotate=now
 * are rejected and nothing is written to disk.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mbuf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char *defaults;

static char *current(void)
{
	struct mbuf mb;
	char *s;

	mbuf_init(&mb, 0);
	if (log_options_print(&mb) || !mbuf_str(&mb))
		abort();
	s = strdup(mbuf_str(&mb));
	mbuf_reset(&mb);
	if (!s)
		abort();
	return s;
}

static void once(void)
{
	struct log_prm prm = {0};
	char err[256];

	if (defaults)
		return;
	if (log_init(&prm, err, sizeof(err)))
		abort();
	defaults = current();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char err[512], *opts, *before, *after, *again;
	struct mbuf state;

	once();
	opts = malloc(size + 1);
	if (!opts)
		return 0;
	memcpy(opts, data, size);
	opts[size] = '\0';
	before = current();
	if (log_options_apply(opts, err, sizeof(err)) != 0) {
		after = current();
		if (strcmp(before, after) != 0 || !*err)
			abort(); /* a bad string must change nothing, and say why */
		free(after);
		goto out;
	}
	after = current();
	if (log_options_apply(defaults, err, sizeof(err)) != 0 ||
	    log_options_apply(after, err, sizeof(err)) != 0)
		abort();
	again = current();
	if (strcmp(after, again) != 0)
		abort();
	mbuf_init(&state, 0);
	if (log_state_print(&state))
		abort();
	mbuf_reset(&state);
	free(again);
	free(after);
out:
	if (log_options_apply(defaults, err, sizeof(err)) != 0)
		abort();
	free(before);
	free(opts);
	return 0;
}
