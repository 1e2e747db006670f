/*
 * monitor: the command line splitter and command execution (the decoder of
 * what arrives on stdin), without the event loop.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/mbuf.h"
#include "monitor/monitor.h"

static int echo_h(int argc, char **argv, struct mbuf *out, void *arg)
{
	(void)arg;
	for (int i = 0; i < argc; i++)
		mbuf_printf(out, "[%s]", argv[i]);
	mbuf_write_str(out, "\n");
	return 0;
}

/* A long answer in three parts (monitor_more). */
static int parts_left, parts_cancelled;

static bool part_h(struct mbuf *out, void *arg)
{
	(void)arg;
	if (!out) {
		parts_cancelled++;
		return false;
	}
	mbuf_printf(out, "part %d\n", 3 - --parts_left);
	return parts_left > 0;
}

static int parts_h(int argc, char **argv, struct mbuf *out, void *arg)
{
	(void)argc;
	(void)argv;
	(void)arg;
	parts_left = 2;
	mbuf_write_str(out, "part 1\n");
	monitor_more(part_h, NULL);
	return 0;
}

static const struct monitor_cmd echo_cmd[] = {
    {"echo", "[WORD...]", "print the words", "echo [WORD...]\n", echo_h, NULL},
    {"parts", NULL, "a long answer", NULL, parts_h, NULL},
};

static int setup(void **state)
{
	static bool done;

	(void)state;
	if (!done) {
		assert_int_equal(monitor_init(), 0);
		assert_int_equal(monitor_cmds_register(echo_cmd, 2), 0);
		done = true;
	}
	return 0;
}

/* Runs line; returns its answer (static buffer) and the result in *rc. */
static const char *run(const char *line, int *rc)
{
	static char text[8192];
	struct mbuf out;

	mbuf_init(&out, 0);
	*rc = monitor_exec(line, &out);
	assert_true(out.end < sizeof(text));
	if (out.end)
		memcpy(text, out.buf, out.end);
	text[out.end] = '\0';
	mbuf_reset(&out);
	return text;
}

static void test_split(void **state)
{
	char line[128], *argv[MONITOR_MAX_ARGS];
	int argc = -1;

	(void)state;
	strcpy(line, "  users \t sip:a@b\r\n");
	assert_int_equal(monitor_split(line, argv, MONITOR_MAX_ARGS, &argc), 0);
	assert_int_equal(argc, 2);
	assert_string_equal(argv[0], "users");
	assert_string_equal(argv[1], "sip:a@b");
	strcpy(line, "log \"sip.level=debug, all.max_size=0\" x");
	assert_int_equal(monitor_split(line, argv, MONITOR_MAX_ARGS, &argc), 0);
	assert_int_equal(argc, 3);
	assert_string_equal(argv[1], "sip.level=debug, all.max_size=0");
	assert_string_equal(argv[2], "x");
	strcpy(line, "\"\"");
	assert_int_equal(monitor_split(line, argv, MONITOR_MAX_ARGS, &argc), 0);
	assert_int_equal(argc, 1);
	assert_string_equal(argv[0], "");
	strcpy(line, "   ");
	assert_int_equal(monitor_split(line, argv, MONITOR_MAX_ARGS, &argc), 0);
	assert_int_equal(argc, 0);
	strcpy(line, "say \"unterminated");
	assert_int_equal(monitor_split(line, argv, MONITOR_MAX_ARGS, &argc), EBADMSG);
	strcpy(line, "a b c");
	assert_int_equal(monitor_split(line, argv, 2, &argc), ENOSPC);
	strcpy(line, "a b");
	assert_int_equal(monitor_split(line, argv, 2, &argc), 0);
	assert_int_equal(argc, 2);
}

static void test_exec(void **state)
{
	char line[MONITOR_MAX_LINE + 16];
	const char *out;
	int rc;

	(void)state;
	out = run("echo a \"b c\"", &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "[echo][a][b c]\n");
	out = run("frobnicate", &rc);
	assert_int_equal(rc, EINVAL);
	assert_non_null(strstr(out, "Unknown command: frobnicate"));
	out = run("echo \"open", &rc);
	assert_int_not_equal(rc, 0);
	assert_non_null(strstr(out, "unterminated"));
	/* 33 words: one too many */
	line[0] = '\0';
	for (int i = 0; i < MONITOR_MAX_ARGS + 1; i++)
		strcat(line, "w ");
	out = run(line, &rc);
	assert_int_not_equal(rc, 0);
	assert_non_null(strstr(out, "too many arguments"));
	out = run("", &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "");
	out = run("help echo", &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "echo [WORD...]"));
	out = run("help", &rc);
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "echo"));
	assert_non_null(strstr(out, "quit"));
	/* a line longer than the reader's bound is refused with a message */
	memset(line, 'x', MONITOR_MAX_LINE + 8);
	line[MONITOR_MAX_LINE + 8] = '\0';
	out = run(line, &rc);
	assert_int_equal(rc, E2BIG);
	assert_non_null(strstr(out, "too long"));
	/* monitor_exec gives the whole of an answer made in parts, and leaves
	 * alone one still going out to the console */
	monitor_more(part_h, NULL);
	out = run("parts", &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "part 1\npart 2\npart 3\n");
	assert_int_equal(parts_cancelled, 0);
	monitor_close(); /* drops the console's answer: part_h(NULL) */
	assert_int_equal(parts_cancelled, 1);
	/* the same name twice cannot be registered */
	assert_int_equal(monitor_cmds_register(echo_cmd, 1), EEXIST);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup(test_split, setup),
	    cmocka_unit_test_setup(test_exec, setup),
	};

	return cmocka_run_group_tests_name("monitor", tests, NULL, NULL);
}
