/*
 * Fuzz target: monitor command lines as they come from stdin (the splitter
 * with its quotes and bounds, then the command table). Only commands that
 * change nothing outside the process run: `help` and a test command that
 * echoes its words; `log` and `quit` are left out (they would change the
 * log configuration or stop the loop), `log`'s own parser has its fuzz
 * target (fuzz_log_options). Invariants: no crash or over-read; the words
 * are inside the line and at most MONITOR_MAX_ARGS.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/mbuf.h"
#include "monitor/monitor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int words_h(int argc, char **argv, struct mbuf *out, void *arg)
{
	(void)arg;
	for (int i = 0; i < argc; i++)
		mbuf_printf(out, "[%s]", argv[i]);
	return 0;
}

static const struct monitor_cmd words_cmd[] = {
    {"words", "[WORD...]", "print the words", "words [WORD...]\n", words_h, NULL},
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	char line[MONITOR_MAX_LINE + 64], copy[sizeof(line)];
	char *argv[MONITOR_MAX_ARGS];
	struct mbuf out;
	size_t n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
	int argc = 0;

	if (!ready) {
		if (monitor_init() || monitor_cmds_register(words_cmd, 1))
			abort();
		ready = true;
	}
	memcpy(line, data, n);
	line[n] = '\0';
	memcpy(copy, line, n + 1);
	if (!monitor_split(copy, argv, MONITOR_MAX_ARGS, &argc)) {
		if (argc < 0 || argc > MONITOR_MAX_ARGS)
			abort();
		for (int i = 0; i < argc; i++) {
			if (argv[i] < copy || argv[i] > copy + n)
				abort();
		}
		/* only commands without effects outside the process */
		if (argc && strcmp(argv[0], "help") && strcmp(argv[0], "words"))
			return 0;
	}
	mbuf_init(&out, 0);
	(void)monitor_exec(line, &out);
	mbuf_reset(&out);
	return 0;
}
