/*
 * monitor: the command line splitter, command execution on an instance
 * (help, unknown commands, bounds), `users` made from what the registrar
 * and the HSS expose — whole, in parts, one user, a dropped listing — and
 * `stats` from a stats instance; two instances answer each from their own
 * services, also through two consoles on pipes on the loop at once. The
 * console on a terminal and an output left unread are tested over the wire
 * (tests/integ/test_monitor.py); the users' binding lines with a real
 * registration in tests/unit/registrar (test_users_output).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "config/ims_cfg.h"
#include "core/mbuf.h"
#include "core/mem.h"
#include "cscf/cscf.h"
#include "hss/hss.h"
#include "loop/loop.h"
#include "monitor/monitor.h"
#include "monitor/monitor_console.h"
#include "registrar/registrar.h"
#include "stats/stats.h"

#define K "465b5ce8b199b49faa5f0a2ee238a6bc"

/* Five users; the last two share an IMSI and an IMPU (multi_sim). */
static const char *USERS =
    "{'sip_addr': '127.0.0.1:5060', 'domain': 'ims.test', 'ue_db': ["
    "{'imsi': '001010000000001', 'impi': 'alice@ims.test', 'K': '" K "', 'opc': '" K "',"
    " 'impu': ['sip:alice', 'tel:+33100000001']},"
    "{'imsi': '001010000000002', 'impi': 'bob@ims.test', 'pwd': 'y', 'impu': "
    "['sip:bob']},"
    "{'imsi': '001010000000003', 'impi': 'carol@ims.test', 'pwd': 'x', 'impu': "
    "['sip:carol']},"
    "{'imsi': '001010000000005', 'multi_sim': true, 'sim_algo': 'xor', 'K': '" K "',"
    " 'impu': [{'impu': 'sip:sim', 'imei': '35000000-000001-0'}]},"
    "{'imsi': '001010000000005', 'multi_sim': true, 'sim_algo': 'xor', 'K': '" K "',"
    " 'impu': [{'impu': 'sip:sim', 'imei': '35000000-000002-0'}]}"
    "]}";

struct svc {
	struct ims_cfg *cfg;
	struct hss *hss;
	struct registrar *reg;
};

static void svc_start(struct svc *s, const char *json)
{
	struct registrar_prm prm = {0};
	char *text = strdup(json), err[256];
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	json_error_t je;
	json_t *root;

	assert_non_null(text);
	for (char *p = text; *p; p++) {
		if (*p == '\'')
			*p = '"';
	}
	root = json_loads(text, 0, &je);
	free(text);
	assert_non_null(root);
	if (ims_cfg_from_json(root, NULL, &s->cfg, &d))
		fail_msg("config: %s", err);
	json_decref(root);
	if (hss_alloc(&s->hss, s->cfg, err, sizeof(err)))
		fail_msg("hss: %s", err);
	prm.cfg = s->cfg;
	prm.hss = s->hss;
	prm.host = "127.0.0.1:5060";
	assert_int_equal(registrar_alloc(&s->reg, &prm), 0);
}

static void svc_stop(struct svc *s)
{
	s->reg = mem_deref(s->reg);
	s->hss = mem_deref(s->hss);
	ims_cfg_free(s->cfg);
}

static int setup(void **state)
{
	(void)state;
	return loop_init();
}

static int teardown(void **state)
{
	(void)state;
	loop_close();
	return 0;
}

/* The whole answer to line (the caller frees it) and the result in *rc. */
static char *run(struct monitor *mon, const char *line, int *rc)
{
	struct mbuf out;
	char *text;

	mbuf_init(&out, 0);
	*rc = monitor_exec(mon, line, &out);
	text = strdup(mbuf_str(&out));
	mbuf_reset(&out);
	assert_non_null(text);
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

static int quits;

static void quit_h(void *arg)
{
	(void)arg;
	quits++;
}

/* Without services: the built-in commands, the bounds, and `users` and
 * `stats` telling that what they read is not running. */
static void test_exec(void **state)
{
	struct monitor_prm prm = {.quit_h = quit_h};
	struct monitor *mon = NULL;
	char line[MONITOR_MAX_LINE + 16], *out;
	int rc;

	(void)state;
	assert_int_equal(monitor_alloc(&mon, &prm), 0);
	out = run(mon, "frobnicate", &rc);
	assert_int_equal(rc, EINVAL);
	assert_string_equal(out,
			    "Unknown command: frobnicate (type 'help' for the list)\n");
	free(out);
	out = run(mon, "help \"open", &rc);
	assert_int_equal(rc, EBADMSG);
	assert_string_equal(out, "Error: unterminated quoted argument\n");
	free(out);
	line[0] = '\0';
	for (int i = 0; i < MONITOR_MAX_ARGS + 1; i++) /* one word too many */
		strcat(line, "w ");
	out = run(mon, line, &rc);
	assert_int_equal(rc, ENOSPC);
	assert_non_null(strstr(out, "too many arguments"));
	free(out);
	out = run(mon, "", &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "");
	free(out);
	memset(line, 'x', MONITOR_MAX_LINE + 8); /* over the reader's bound */
	line[MONITOR_MAX_LINE + 8] = '\0';
	out = run(mon, line, &rc);
	assert_int_equal(rc, E2BIG);
	assert_non_null(strstr(out, "too long"));
	free(out);
	/* help: every command of the one table, in name order */
	out = run(mon, "help", &rc);
	assert_int_equal(rc, 0);
	assert_true(strncmp(out, "Available commands:\n  dialog ", 28) == 0);
	assert_true(strstr(out, "\n  dialog_set ") < strstr(out, "\n  help ") &&
		    strstr(out, "\n  help ") < strstr(out, "\n  ipsec ") &&
		    strstr(out, "\n  ipsec ") < strstr(out, "\n  log ") &&
		    strstr(out, "\n  log ") < strstr(out, "\n  quit ") &&
		    strstr(out, "\n  quit ") < strstr(out, "\n  stats ") &&
		    strstr(out, "\n  stats ") < strstr(out, "\n  users "));
	free(out);
	out = run(mon, "help users", &rc);
	assert_int_equal(rc, 0);
	assert_true(strncmp(out, "users [IMPI|IMPU]\n  list the user database", 41) == 0);
	free(out);
	out = run(mon, "help nosuch", &rc);
	assert_int_equal(rc, EINVAL);
	assert_string_equal(out, "Unknown command: nosuch\n");
	free(out);
	out = run(mon, "users", &rc);
	assert_int_equal(rc, ENODEV);
	assert_string_equal(out, "Error: the registrar is not running\n");
	free(out);
	out = run(mon, "stats", &rc);
	assert_int_equal(rc, ENODEV);
	assert_string_equal(out, "Error: statistics are not running\n");
	free(out);
	out = run(mon, "ipsec", &rc);
	assert_int_equal(rc, ENODEV);
	assert_string_equal(out, "Error: IPsec is not running\n");
	free(out);
	out = run(mon, "help ipsec", &rc);
	assert_int_equal(rc, 0);
	assert_true(strncmp(out, "ipsec [keys]\n", 13) == 0);
	free(out);
	out = run(mon, "quit", &rc);
	assert_int_equal(rc, 0);
	assert_int_equal(quits, 1);
	free(out);
	monitor_free(mon);
}

static const char *const ALICE = "alice@ims.test  imsi=001010000000001  not registered\n"
				 "  impu: sip:alice@ims.test tel:+33100000001\n";

/* `users`: whole, in parts of two users, one user, multi_sim, errors. */
static void test_users(void **state)
{
	struct svc s = {0};
	struct monitor_prm prm = {0};
	struct monitor *mon = NULL;
	struct monitor_ans ans;
	struct mbuf part;
	char *whole, *out;
	size_t nparts = 0, off = 0;
	int rc;

	(void)state;
	svc_start(&s, USERS);
	prm.reg = s.reg;
	prm.hss = s.hss;
	assert_int_equal(monitor_alloc(&mon, &prm), 0);
	whole = run(mon, "users", &rc);
	assert_int_equal(rc, 0);
	assert_true(strncmp(whole, ALICE, strlen(ALICE)) == 0);
	assert_non_null(strstr(whole, "\n-  imsi=001010000000005  not registered\n"
				      "  impu: sip:sim@ims.test\n"));
	assert_non_null(strstr(whole, "\n5 user(s), 0 registered, 0 binding(s)\n"));
	monitor_free(mon);

	/* the same text in parts: 2 + 2 + 1 users and the summary */
	prm.users_part = 2;
	assert_int_equal(monitor_alloc(&mon, &prm), 0);
	mbuf_init(&part, 0);
	assert_int_equal(monitor_run(mon, "users", &part, &ans), 0);
	do {
		assert_true(part.end > 0);
		assert_memory_equal(part.buf, whole + off, part.end);
		off += part.end;
		nparts++;
		mbuf_clear(&part);
	} while (monitor_ans_next(&ans, &part) || part.end);
	assert_int_equal(nparts, 3);
	assert_int_equal(off, strlen(whole));
	assert_null(ans.more_h);
	/* a listing dropped half way frees what it held (ASan: no leak) */
	assert_int_equal(monitor_run(mon, "users", &part, &ans), 0);
	assert_non_null(ans.more_h);
	monitor_ans_drop(&ans);
	assert_null(ans.more_h);
	mbuf_reset(&part);

	out = run(mon, "users tel:+33100000001", &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, ALICE);
	free(out);
	out = run(mon, "users alice@ims.test", &rc);
	assert_string_equal(out, ALICE);
	free(out);
	out = run(mon, "users sip:sim@ims.test", &rc); /* both multi_sim entries */
	assert_int_equal(rc, 0);
	assert_non_null(strstr(out, "imsi=001010000000005"));
	assert_non_null(
	    strstr(strstr(out, "imsi=001010000000005") + 1, "imsi=001010000000005"));
	free(out);
	out = run(mon, "users nobody@x", &rc);
	assert_int_equal(rc, ENOENT);
	assert_string_equal(out, "Error: unknown user 'nobody@x'\n");
	free(out);
	out = run(mon, "users a b", &rc);
	assert_int_equal(rc, EINVAL);
	assert_string_equal(out, "Error: usage: users [IMPI|IMPU]\n");
	free(out);
	free(whole);
	monitor_free(mon);
	svc_stop(&s);
}

/* Two instances, two registrars: each answers from its own. */
static void test_instances(void **state)
{
	struct svc a = {0}, b = {0};
	struct monitor_prm pa = {0}, pb = {0};
	struct monitor *ma = NULL, *mb = NULL;
	char *out;
	int rc;

	(void)state;
	svc_start(&a, USERS);
	svc_start(&b, "{'sip_addr': '127.0.0.1:5060', 'domain': 'other.test', 'ue_db': ["
		      "{'imsi': '001010000000009', 'impi': 'zed@other.test', 'pwd': 'x',"
		      " 'impu': ['sip:zed']}]}");
	pa.reg = a.reg;
	pa.hss = a.hss;
	pb.reg = b.reg;
	pb.hss = b.hss;
	assert_int_equal(monitor_alloc(&ma, &pa), 0);
	assert_int_equal(monitor_alloc(&mb, &pb), 0);
	out = run(mb, "users", &rc);
	assert_int_equal(rc, 0);
	assert_string_equal(out, "zed@other.test  imsi=001010000000009  not registered\n"
				 "  impu: sip:zed@other.test\n"
				 "1 user(s), 0 registered, 0 binding(s)\n");
	free(out);
	out = run(ma, "users", &rc);
	assert_non_null(strstr(out, "5 user(s)"));
	assert_null(strstr(out, "zed"));
	free(out);
	monitor_free(ma);
	monitor_free(mb);
	svc_stop(&a);
	svc_stop(&b);
}

/* Quits asked for by the consoles; the loop stops once both asked. */
static int console_quits;

static void console_quit_h(void *arg)
{
	(void)arg;
	if (++console_quits == 2)
		loop_stop();
}

static void watchdog_h(void *arg)
{
	*(bool *)arg = true;
	loop_stop();
}

/* All that a pipe holds now (its writer closed). */
static char *pipe_drain(int fd)
{
	struct mbuf mb;
	char buf[4096], *text;
	ssize_t n;

	mbuf_init(&mb, 0);
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		assert_int_equal(mbuf_write(&mb, buf, (size_t)n), 0);
	text = strdup(mbuf_str(&mb));
	mbuf_reset(&mb);
	assert_non_null(text);
	return text;
}

/* Two consoles on pipes, each a client of its own instance over its own
 * registrar, on the loop at once: `users` in parts of one user goes out
 * whole and in order, then the next line (`quit`) runs. */
static void test_consoles(void **state)
{
	static const char cmds[] = "users\nhelp quit\nquit\n";
	struct svc a = {0}, b = {0};
	struct monitor_prm pa = {.users_part = 1, .quit_h = console_quit_h};
	struct monitor_prm pb = pa;
	struct monitor *ma = NULL, *mb = NULL;
	struct monitor_console *ca = NULL, *cb = NULL;
	struct monitor_console_prm cp = {0};
	struct loop_timer *dog = loop_timer_alloc();
	int ina[2], outa[2], inb[2], outb[2];
	char *whole_a, *whole_b, *out;
	size_t len;
	bool hung = false;
	int rc;

	(void)state;
	assert_non_null(dog);
	svc_start(&a, USERS);
	svc_start(&b, "{'sip_addr': '127.0.0.1:5060', 'domain': 'other.test', 'ue_db': ["
		      "{'imsi': '001010000000009', 'impi': 'zed@other.test', 'pwd': 'x',"
		      " 'impu': ['sip:zed']}]}");
	pa.reg = a.reg;
	pa.hss = a.hss;
	pb.reg = b.reg;
	pb.hss = b.hss;
	assert_int_equal(monitor_alloc(&ma, &pa), 0);
	assert_int_equal(monitor_alloc(&mb, &pb), 0);
	whole_a = run(ma, "users", &rc);
	whole_b = run(mb, "users", &rc);
	assert_true(pipe(ina) == 0 && pipe(outa) == 0 && pipe(inb) == 0 &&
		    pipe(outb) == 0);
	len = strlen(cmds);
	assert_true(write(ina[1], cmds, len) == (ssize_t)len);
	assert_true(write(inb[1], cmds, len) == (ssize_t)len);
	cp.mon = ma;
	cp.in_fd = ina[0];
	cp.out_fd = outa[1];
	assert_int_equal(monitor_console_alloc(&ca, &cp), 0);
	cp.mon = mb;
	cp.in_fd = inb[0];
	cp.out_fd = outb[1];
	assert_int_equal(monitor_console_alloc(&cb, &cp), 0);
	loop_timer_start(dog, 10000, watchdog_h, &hung);
	assert_int_equal(loop_run(), 0);
	assert_false(hung);
	assert_int_equal(console_quits, 2);
	monitor_console_free(ca);
	monitor_console_free(cb);
	close(outa[1]);
	close(outb[1]);
	out = pipe_drain(outa[0]);
	assert_true(strncmp(out, whole_a, strlen(whole_a)) == 0);
	assert_string_equal(out + strlen(whole_a),
			    "quit\n  Stop the program and exit.\n");
	free(out);
	out = pipe_drain(outb[0]);
	assert_true(strncmp(out, whole_b, strlen(whole_b)) == 0);
	assert_non_null(strstr(whole_b, "zed@other.test"));
	free(out);
	close(ina[0]);
	close(ina[1]);
	close(outa[0]);
	close(inb[0]);
	close(inb[1]);
	close(outb[0]);
	free(whole_a);
	free(whole_b);
	loop_timer_free(dog);
	monitor_free(ma);
	monitor_free(mb);
	svc_stop(&a);
	svc_stop(&b);
}

static uint64_t field(const char *out, const char *name)
{
	char key[64];
	const char *p;

	snprintf(key, sizeof(key), "\n%s: ", name);
	p = strstr(out, key);
	assert_non_null(p);
	return strtoull(p + strlen(key), NULL, 10);
}

/* `stats` and `stats trim`: the lines of docs/monitor.md, in order. */
static void test_stats(void **state)
{
	static const char *const names[] = {"uptime",
					    "interval",
					    "cpu.user",
					    "cpu.system",
					    "cpu.total",
					    "cpu_time.user",
					    "cpu_time.system",
					    "counters.sip.rx_req",
					    "counters.loop.naps",
					    "allocator",
					    "rss",
					    "heap_in_use",
					    "heap_free",
					    "heap_arena",
					    "heap_age",
					    "heap_trims",
					    "heap_trim_released",
					    "sip.tsx_server",
					    "sip.tsx_client",
					    "cscf.bad_event",
					    "cscf.cfm",
					    "registrar.users",
					    "registrar.bindings",
					    "registrar.subscriptions",
					    "registrar.challenges",
					    "registrar.locked",
					    "registrar.mem"};
	struct svc s = {0};
	struct stats_prm sp = {0};
	struct stats *st = NULL;
	struct cscf_prm cp = {0};
	struct cscf *cscf = NULL;
	struct monitor_prm prm = {0};
	struct monitor *mon = NULL;
	const char *prev;
	char *out;
	int rc;

	(void)state;
	svc_start(&s, USERS);
	cp.hss = s.hss;
	cp.reg = s.reg;
	assert_int_equal(cscf_alloc(&cscf, &cp), 0);
	sp.reg = s.reg;
	sp.cscf = cscf;
	assert_int_equal(stats_alloc(&st, &sp), 0);
	prm.stats = st;
	assert_int_equal(monitor_alloc(&mon, &prm), 0);
	out = run(mon, "stats", &rc);
	assert_int_equal(rc, 0);
	assert_true(strncmp(out, "instance_id: ", 13) == 0);
	prev = out;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		char key[64];
		const char *p;

		snprintf(key, sizeof(key), "\n%s: ", names[i]);
		p = strstr(out, key);
		if (!p)
			fail_msg("no line %s in:\n%s", names[i], out);
		assert_true(p > prev);
		prev = p;
	}
	assert_null(strstr(out, "store.")); /* no state file */
	assert_true(field(out, "rss") > 0);
	assert_int_equal(field(out, "registrar.users"), 0);
	assert_int_equal(field(out, "cscf.cfm"), 0); /* counted: tests/unit/cscf, b2bua_cfm */
	assert_true(field(out, "registrar.mem") > 0);
	assert_string_equal(prev + strcspn(prev + 1, "\n") + 2, "");
	free(out);
	out = run(mon, "stats trim", &rc);
	assert_int_equal(rc, 0);
	assert_true(strncmp(out, "rss_before: ", 12) == 0);
	assert_non_null(strstr(out, "\nrss_released: "));
	assert_non_null(strstr(out, "\ntrim_time: "));
	free(out);
	out = run(mon, "stats everything", &rc);
	assert_int_equal(rc, EINVAL);
	assert_string_equal(out, "Error: usage: stats [trim]\n");
	free(out);
	monitor_free(mon);
	stats_free(st);
	mem_deref(cscf);
	svc_stop(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_split),    cmocka_unit_test(test_exec),
	    cmocka_unit_test(test_users),    cmocka_unit_test(test_instances),
	    cmocka_unit_test(test_consoles), cmocka_unit_test(test_stats),
	};

	return cmocka_run_group_tests_name("monitor", tests, setup, teardown);
}
