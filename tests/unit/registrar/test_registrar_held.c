/* Unit tests: answers held until their state is committed
 * (registrar_held.c), on real server transactions (the transaction layer's
 * test harness, with its fake clock and send log): while a REGISTER's 200
 * waits for its commit the request's retransmissions are absorbed by the
 * transaction, and the 200 finds its transaction again by id. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>
#include <sqlite3.h>

#include "config/ims_cfg.h"
#include "core/mem.h"
#include "hss/hss.h"
#include "loop/loop.h"
#include "registrar/registrar.h"
#include "sip/test_sip_tsx_harness.h"
#include "store/store.h"

static const char *CFG = "{'sip_addr': '127.0.0.1:5060', 'domain': 'ims.test', 'ue_db': "
			 "[{'imsi': '001010000000004', 'impi': 'dave@ims.test', "
			 "'authent_type': 'none', 'impu': ['sip:dave']}]}";

static struct {
	struct ims_cfg *cfg;
	struct hss *hss;
	struct registrar *reg;
	struct store *st;
	char dir[64];
} R;

static int fake_request(struct sip_stack *stack, const struct sip_stack_req_prm *prm,
			void *arg)
{
	(void)stack;
	(void)prm;
	(void)arg;
	return 0;
}

static uint64_t fake_now(void *arg)
{
	(void)arg;
	return H.now;
}

/* What registrar_app_start plugs in, on the harness's transactions. */
static struct sip_tsx *tsx_find(struct sip_stack *stack, uint64_t id, void *arg)
{
	(void)stack;
	(void)arg;
	return sip_tsx_lookup(H.st, id);
}

static int setup(void **state)
{
	/* the reply is the default one: sip_tsx_reply on the real transaction */
	static const struct registrar_ops ops = {
	    .request = fake_request, .now_ms = fake_now, .tsx_find = tsx_find};
	struct registrar_prm prm = {.ops = &ops, .host = "127.0.0.1:5060"};
	char text[512], path[128], note[256], err[256];
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	json_error_t je;
	json_t *root;

	(void)state;
	memset(&R, 0, sizeof(R));
	h_setup(500, 4000, 5000);
	snprintf(text, sizeof(text), "%s", CFG);
	for (char *p = text; *p; p++) {
		if (*p == '\'')
			*p = '"';
	}
	root = json_loads(text, 0, &je);
	assert_non_null(root);
	assert_int_equal(ims_cfg_from_json(root, NULL, &R.cfg, &d), 0);
	json_decref(root);
	assert_int_equal(hss_alloc(&R.hss, R.cfg, err, sizeof(err)), 0);
	prm.cfg = R.cfg;
	prm.hss = R.hss;
	assert_int_equal(registrar_alloc(&R.reg, &prm), 0);
	snprintf(R.dir, sizeof(R.dir), "/tmp/imsd-regheld-XXXXXX");
	assert_non_null(mkdtemp(R.dir));
	snprintf(path, sizeof(path), "%s/ims.state", R.dir);
	assert_int_equal(store_open(&R.st, path, note, sizeof(note), err, sizeof(err)),
			 0);
	assert_int_equal(registrar_store_attach(R.reg, R.st, err, sizeof(err)), 0);
	return 0;
}

static int teardown(void **state)
{
	char cmd[128];

	(void)state;
	R.reg = mem_deref(R.reg);
	R.st = mem_deref(R.st);
	R.hss = mem_deref(R.hss);
	ims_cfg_free(R.cfg);
	h_teardown();
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", R.dir);
	assert_int_equal(system(cmd), 0);
	return 0;
}

/* A REGISTER of dave's contact, fed to the stack as a datagram. */
static void reg_recv(unsigned cseq, const char *branch)
{
	char buf[1024];

	snprintf(buf, sizeof(buf),
		 "REGISTER sip:ims.test SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bK%s\r\n"
		 "From: <sip:dave@ims.test>;tag=f1\r\n"
		 "To: <sip:dave@ims.test>\r\n"
		 "Call-ID: held-1@ue\r\n"
		 "CSeq: %u REGISTER\r\n"
		 "Max-Forwards: 70\r\n"
		 "Contact: <sip:dave@127.0.0.1:5070>\r\n"
		 "Content-Length: 0\r\n\r\n",
		 branch, cseq);
	assert_int_equal(h_recv(buf, false), 0);
}

/* The new transaction's request to the registrar, as the stack does. */
static void reg_deliver(void)
{
	struct net_flow src;

	memset(&src, 0, sizeof(src));
	assert_int_equal(net_addr_parse_str(&src.peer, "127.0.0.1", 5070), 0);
	registrar_register_h(NULL, H.last_tsx, sip_tsx_req(H.last_tsx), &src, R.reg);
}

static void test_retransmission_absorbed_while_held(void **state)
{
	(void)state;
	reg_recv(1, "held1");
	assert_int_equal(h_ev_count(H_EV_REQ), 1);
	reg_deliver();
	assert_int_equal(h_sent_count("SIP/2.0"), 0); /* held */
	assert_int_equal(sip_tsx_state(H.last_tsx), SIP_TSX_TRYING);
	/* the UE sends it again: absorbed, neither answered nor processed */
	reg_recv(1, "held1");
	reg_recv(1, "held1");
	assert_int_equal(h_ev_count(H_EV_REQ), 1);
	assert_int_equal(h_sent_count("SIP/2.0"), 0);
	/* the commit releases the one 200 */
	assert_int_equal(registrar_store_flush(R.reg), 0);
	assert_int_equal(h_sent_count("SIP/2.0 200 OK"), 1);
	assert_int_equal(h_sent_count("SIP/2.0"), 1);
	/* from then on a retransmission gets that 200 again (Completed) */
	reg_recv(1, "held1");
	assert_int_equal(h_sent_count("SIP/2.0 200 OK"), 2);
	assert_int_equal(h_ev_count(H_EV_REQ), 1);
	assert_int_equal(registrar_binding_count(R.reg), 1);
}

static void test_transaction_gone_while_held(void **state)
{
	struct registrar_store_stats ss;

	(void)state;
	reg_recv(1, "gone1");
	reg_deliver();
	assert_int_equal(h_sent_count("SIP/2.0"), 0);
	sip_tsx_terminate(H.last_tsx); /* e.g. the stack gave up on it */
	assert_int_equal(registrar_store_flush(R.reg), 0);
	assert_int_equal(h_sent_count("SIP/2.0"), 0);
	/* the change is written all the same */
	assert_true(registrar_store_stats(R.reg, &ss));
	assert_true(ss.commits == 1 && !ss.pending && !ss.failures);
	assert_int_equal(registrar_binding_count(R.reg), 1);
}

/* Freed with an answer held (imsd stopping): written, then answered on
 * its transaction, which the stack still has. */
/* A user added at run time (hss_users_add, the API's users_add) is beyond
 * the tables the state file sized at start: they grow, so its REGISTER's
 * 200 is held for its commit as a configured user's, and its binding is in
 * the file. */
static void test_added_user_written(void **state)
{
	char err[256], buf[1024];
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	struct registrar_store_stats ss;
	struct ims_cfg *set = NULL;
	sqlite3_stmt *q = NULL;
	json_t *v;

	(void)state;
	v = json_loads("[{\"imsi\": \"001010000000005\", \"impi\": \"erin@ims.test\","
		       " \"authent_type\": \"none\", \"impu\": [\"sip:erin\"]}]",
		       0, NULL);
	assert_non_null(v);
	assert_int_equal(ims_cfg_ue_from_json(R.cfg, v, &set, &d), 0);
	json_decref(v);
	assert_int_equal(hss_users_add(R.hss, set, err, sizeof(err)), 0);
	snprintf(buf, sizeof(buf),
		 "REGISTER sip:ims.test SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKerin1\r\n"
		 "From: <sip:erin@ims.test>;tag=f1\r\nTo: <sip:erin@ims.test>\r\n"
		 "Call-ID: erin-1@ue\r\nCSeq: 1 REGISTER\r\nMax-Forwards: 70\r\n"
		 "Contact: <sip:erin@127.0.0.1:5070>\r\nContent-Length: 0\r\n\r\n");
	assert_int_equal(h_recv(buf, false), 0);
	reg_deliver();
	assert_int_equal(h_sent_count("SIP/2.0"), 0); /* held for its commit */
	assert_int_equal(registrar_store_flush(R.reg), 0);
	assert_int_equal(h_sent_count("SIP/2.0 200 OK"), 1);
	assert_true(registrar_store_stats(R.reg, &ss));
	assert_true(ss.commits == 1 && !ss.pending && !ss.failures);
	assert_int_equal(sqlite3_prepare_v2(store_db(R.st),
					    "SELECT count(*) FROM reg_binding WHERE contact LIKE "
					    "'%erin@127.0.0.1:5070%'",
					    -1, &q, NULL),
			 SQLITE_OK);
	assert_int_equal(sqlite3_step(q), SQLITE_ROW);
	assert_int_equal(sqlite3_column_int(q, 0), 1);
	sqlite3_finalize(q);
}

static void test_answer_sent_when_freed(void **state)
{
	(void)state;
	reg_recv(1, "free1");
	reg_deliver();
	assert_int_equal(h_sent_count("SIP/2.0"), 0);
	R.reg = mem_deref(R.reg);
	assert_int_equal(h_sent_count("SIP/2.0 200 OK"), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_retransmission_absorbed_while_held,
					    setup, teardown),
	    cmocka_unit_test_setup_teardown(test_transaction_gone_while_held, setup,
					    teardown),
	    cmocka_unit_test_setup_teardown(test_answer_sent_when_freed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_added_user_written, setup, teardown),
	};

	int rc;

	if (loop_init()) /* the registrar's timers are the loop's */
		return 1;
	rc = cmocka_run_group_tests_name("registrar_held", tests, NULL, NULL);
	loop_close();
	return rc;
}
