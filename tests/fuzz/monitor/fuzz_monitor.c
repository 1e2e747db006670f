/*
 * Fuzz target: monitor command lines as they come from stdin (the splitter
 * with its quotes and bounds, then the command table of one instance). The
 * instance reads an HSS and a registrar of three users, with `users` in
 * parts of one user, so that `users X` looks X up as an IMPI and an IMPU
 * and `users` walks the listing part by part; `stats` has no statistics
 * instance and answers so. `log` and `quit` are left out (they would change
 * the log configuration or stop the loop); `log`'s own parser has its fuzz
 * target (fuzz_log_options). Invariants: no crash or over-read; the words
 * are inside the line and at most MONITOR_MAX_ARGS; an answer in parts
 * ends.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/ims_cfg.h"
#include "core/mbuf.h"
#include "hss/hss.h"
#include "loop/loop.h"
#include "monitor/monitor.h"
#include "registrar/registrar.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char USERS[] =
    "{\"sip_addr\": \"127.0.0.1:5060\", \"domain\": \"ims.test\", \"ue_db\": ["
    "{\"imsi\": \"001010000000001\", \"impi\": \"alice@ims.test\", \"pwd\": \"a\","
    " \"impu\": [\"sip:alice\", \"tel:+33100000001\"]},"
    "{\"imsi\": \"001010000000002\", \"multi_sim\": true, \"sim_algo\": \"xor\", \"K\": \"000102030405060708090a0b0c0d0e0f\","
    " \"impu\": [\"sip:sim\"]},"
    "{\"imsi\": \"001010000000002\", \"multi_sim\": true, \"sim_algo\": \"xor\", \"K\": \"000102030405060708090a0b0c0d0e0f\","
    " \"impu\": [\"sip:sim\"]}]}";

/* Built once: the services live for the fuzzer's whole run. */
static struct monitor *mon_make(void)
{
	static struct ims_cfg *cfg;
	static struct hss *hss;
	static struct registrar *reg;
	struct registrar_prm rprm = {0};
	struct monitor_prm mprm = {.users_part = 1};
	struct monitor *mon = NULL;
	json_t *root = json_loads(USERS, 0, NULL);
	char err[256];

	if (!root || loop_init() || ims_cfg_from_json(root, NULL, &cfg, NULL) ||
	    hss_alloc(&hss, cfg, err, sizeof(err)))
		abort();
	json_decref(root);
	rprm.cfg = cfg;
	rprm.hss = hss;
	rprm.host = "127.0.0.1:5060";
	if (registrar_alloc(&reg, &rprm))
		abort();
	mprm.reg = reg;
	mprm.hss = hss;
	if (monitor_alloc(&mon, &mprm))
		abort();
	return mon;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct monitor *mon;
	char line[MONITOR_MAX_LINE + 64], copy[sizeof(line)];
	char *argv[MONITOR_MAX_ARGS];
	struct monitor_ans ans;
	struct mbuf out;
	size_t n = size < sizeof(line) - 1 ? size : sizeof(line) - 1;
	int argc = 0, parts = 0;

	if (!mon)
		mon = mon_make();
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
		if (argc && (!strcmp(argv[0], "log") || !strcmp(argv[0], "quit")))
			return 0;
	}
	mbuf_init(&out, 0);
	(void)monitor_run(mon, line, &out, &ans);
	/* three users in parts of one: at most three more parts */
	while (monitor_ans_next(&ans, &out)) {
		if (++parts > 3)
			abort();
	}
	mbuf_reset(&out);
	return 0;
}
