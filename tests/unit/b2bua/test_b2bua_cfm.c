/*
 * b2bua unit tests of callflow_modifier (manual §5.2.1,
 * docs/callflow_modifier.md) on the calls that are not between two phones,
 * over loopback on the real event loop with plain UDP sockets as phones:
 *
 * - an echo call: the caller's list (the MT side, dir rx) puts its headers
 *   on the 100 (INVITE.TRYING, sent at once), 180 and 200 imsd sends as the
 *   echo, and a code in place of the echo's 200 ends the call; each
 *   modifier applied is counted (b2bua_stats.cfm);
 * - a ring_only callee: its list puts headers on imsd's 180, and a code in
 *   its place ends the call;
 * - an mt_call: the callee's INVITE modifier puts its headers on imsd's
 *   INVITE to the phone, and a code met at the phone's 200 ACKs it and
 *   ends it with a BYE;
 * - multi_sim: the INVITE to each SIM carries that SIM's modifier;
 * - a request inside the call relayed: the caller's UPDATE reaches the
 *   callee with the header of the callee's UPDATE modifier (dir rx), the
 *   callee's own UPDATE goes to the caller without it;
 * - INVITE.OK send_delay: the 2xx to the caller held; a CANCEL meanwhile
 *   gets 200 and cancels nothing, the 2xx follows with the header.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "b2bua/b2bua.h"
#include "b2bua_harness.h"
#include "core/mem.h"
#include "sip/sip_hdr.h"

/* eve and fay call the echo; rob and ron are ring_only callees; bob and
 * nina are called by mt_call; alice calls; sim is a multi_sim subscriber
 * whose two SIMs have their own lists. */
const char *CFG =
    "{'sip_addr': '127.0.0.1:5060', 'domain': 'ims.test', 'timer_t1': 0.05,"
    " 'timer_t2': 0.4, 'echo': 'sip:echo', 'dialog_timeout': 2,"
    " 'ue_db': ["
    "{'imsi': '001010000000001', 'impi': 'alice@ims.test', 'authent_type': 'none',"
    " 'impu': ['sip:alice']},"
    "{'imsi': '001010000000002', 'impi': 'eve@ims.test', 'authent_type': 'none',"
    " 'impu': [{'impu': 'sip:eve', 'callflow_modifier': ["
    "  {'method': 'INVITE.TRYING', 'dir': 'rx',"
    "   'custom_headers': [{'name': 'X-Trying', 'value': 'eve'}]},"
    "  {'method': 'INVITE.RINGING', 'dir': 'rx', 'impu': 'sip:echo@ims.test',"
    "   'custom_headers': [{'name': 'X-Echo', 'value': 'ring'}]},"
    "  {'method': 'INVITE.OK', 'dir': 'rx',"
    "   'custom_headers': [{'name': 'X-Echo', 'value': 'ok'}]}]}]},"
    "{'imsi': '001010000000003', 'impi': 'fay@ims.test', 'authent_type': 'none',"
    " 'impu': [{'impu': 'sip:fay', 'callflow_modifier':"
    "  {'method': 'INVITE.OK', 'dir': 'rx', 'code': 486,"
    "   'custom_headers': [{'name': 'X-Why', 'value': 'echo busy'}]}}]},"
    "{'imsi': '001010000000004', 'impi': 'rob@ims.test', 'authent_type': 'none',"
    " 'impu': [{'impu': 'sip:rob', 'ring_only': true, 'callflow_modifier':"
    "  {'method': 'INVITE.RINGING', 'dir': 'tx',"
    "   'custom_headers': [{'name': 'X-Rob', 'value': 'rings'}]}}]},"
    "{'imsi': '001010000000005', 'impi': 'ron@ims.test', 'authent_type': 'none',"
    " 'impu': [{'impu': 'sip:ron', 'ring_only': true, 'callflow_modifier':"
    "  {'method': 'INVITE.RINGING', 'code': 480}}]},"
    "{'imsi': '001010000000006', 'impi': 'bob@ims.test', 'authent_type': 'none',"
    " 'impu': [{'impu': 'sip:bob', 'callflow_modifier':"
    "  {'method': 'INVITE', 'custom_headers':"
    "   [{'name': 'Alert-Info', 'value': '<urn:alert:service:lab>'}]}}]},"
    "{'imsi': '001010000000007', 'impi': 'nina@ims.test', 'authent_type': 'none',"
    " 'impu': [{'impu': 'sip:nina', 'callflow_modifier':"
    "  {'method': 'INVITE.OK', 'code': 500}}]},"
    "{'imsi': '001010000000009', 'impi': 'sim@ims.test', 'authent_type': 'none',"
    " 'sim_algo': 'xor', 'K': '00112233445566778899aabbccddeeff', 'multi_sim': true,"
    " 'impu': [{'impu': 'sip:sim', 'imei': '35000000000001', 'callflow_modifier':"
    "  {'method': 'INVITE', 'custom_headers': [{'name': 'X-Sim', 'value': '1'}]}}]},"
    "{'imsi': '001010000000009', 'impi': 'sim@ims.test', 'authent_type': 'none',"
    " 'sim_algo': 'xor', 'K': '00112233445566778899aabbccddeeff', 'multi_sim': true,"
    " 'impu': [{'impu': 'sip:sim', 'imei': '35000000000002', 'callflow_modifier':"
    "  {'method': 'INVITE', 'custom_headers': [{'name': 'X-Sim', 'value': '2'}]}}]},"
    "{'imsi': '001010000000010', 'impi': 'uma@ims.test', 'authent_type': 'none',"
    " 'impu': [{'impu': 'sip:uma', 'callflow_modifier':"
    "  {'method': 'UPDATE', 'dir': 'rx',"
    "   'custom_headers': [{'name': 'X-Update', 'value': 'to uma'}]}}]},"
    "{'imsi': '001010000000011', 'impi': 'vic@ims.test', 'authent_type': 'none',"
    " 'impu': [{'impu': 'sip:vic', 'callflow_modifier':"
    "  {'method': 'INVITE.OK', 'send_delay': 0.3,"
    "   'custom_headers': [{'name': 'X-Held', 'value': '1'}]}}]}]}";

/* The INVITE of caller a (registered as a->name) to ruri. */
static void invite_from(struct ue *a, const char *ruri, const char *cid)
{
	char r[4096];

	snprintf(r, sizeof(r),
		 "INVITE %s SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKc%d;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:%s@ims.test>;tag=a1\r\n"
		 "To: <%s>\r\nCall-ID: %s\r\nCSeq: 1 INVITE\r\n"
		 "Contact: <sip:%s@127.0.0.1:%u>\r\n"
		 "Content-Type: application/sdp\r\nContent-Length: %zu\r\n\r\n%s",
		 ruri, a->port, ++T.cseq, a->name, ruri, cid, a->name, a->port,
		 strlen(SDP), SDP);
	ue_send(a, r);
}

/* The state of the call of index idx. */
static enum b2bua_state state_of(uint32_t idx)
{
	struct b2bua_cursor c = {.next = idx};
	struct b2bua_dialog_info di;

	assert_true(b2bua_dialog_next(T.b2b, &c, &di));
	assert_int_equal(di.index, idx);
	return di.state;
}

static void test_echo_answers(void **state)
{
	struct b2bua_stats st;
	struct sip_msg *m;
	struct ue e, f;

	(void)state;
	ue_open(&e, "eve");
	ue_register(&e);
	invite_from(&e, "sip:echo@ims.test", "ec1@t");
	/* INVITE.TRYING: a 100 at once with the modifier's header */
	m = ue_recv(&e);
	assert_int_equal(m->scode, 100);
	assert_string_equal(hdr(m, "X-Trying"), "eve");
	mem_deref(m);
	m = ue_recv_skip(&e);
	assert_int_equal(m->scode, 180);
	assert_string_equal(hdr(m, "X-Echo"), "ring");
	mem_deref(m);
	m = ue_recv_skip(&e);
	assert_int_equal(m->scode, 200);
	assert_string_equal(hdr(m, "X-Echo"), "ok");
	assert_true(m->body.l > 0); /* the echo's SDP still */
	mem_deref(m);
	/* each modifier the b2bua applied is counted (monitor `cscf.cfm`) */
	b2bua_stats_get(T.b2b, &st);
	assert_int_equal(st.cfm, 3);
	/* fay's code in place of the echo's 200: the call ends */
	ue_open(&f, "fay");
	ue_register(&f);
	invite_from(&f, "sip:echo@ims.test", "ec2@t");
	ue_expect_scode(&f, 180);
	m = ue_recv_skip(&f);
	assert_int_equal(m->scode, 486);
	assert_string_equal(hdr(m, "X-Why"), "echo busy");
	mem_deref(m);
	assert_int_equal(state_of(2), B2BUA_STOP);
	b2bua_stats_get(T.b2b, &st);
	assert_int_equal(st.cfm, 4);
	ue_close(&e);
	ue_close(&f);
}

static void test_ring_only(void **state)
{
	struct sip_msg *m;
	struct ue a, rob, ron;

	(void)state;
	ue_open(&a, "alice");
	ue_open(&rob, "rob");
	ue_open(&ron, "ron");
	ue_register(&a);
	ue_register(&rob);
	ue_register(&ron);
	invite_from(&a, "sip:rob@ims.test", "ro1@t");
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 180);
	assert_string_equal(hdr(m, "X-Rob"), "rings");
	mem_deref(m);
	ue_quiet(&rob, 100); /* ring_only: never rung */
	assert_int_equal(state_of(1), B2BUA_RINGING);
	invite_from(&a, "sip:ron@ims.test", "ro2@t");
	ue_expect_scode(&a, 480);
	assert_int_equal(state_of(2), B2BUA_STOP);
	ue_quiet(&ron, 100);
	ue_close(&a);
	ue_close(&rob);
	ue_close(&ron);
}

static void test_mt_call(void **state)
{
	struct b2bua_mt_prm p = {.callee = "sip:bob@ims.test"};
	struct sip_msg *inv, *m;
	uint32_t idx = 0;
	uint16_t scode = 0;
	struct ue b, n;

	(void)state;
	ue_open(&b, "bob");
	ue_open(&n, "nina");
	ue_register(&b);
	ue_register(&n);
	/* bob's INVITE modifier: its header on imsd's INVITE */
	assert_int_equal(b2bua_mt_call(T.b2b, &p, &idx, &scode), 0);
	inv = ue_recv(&b);
	assert_true(inv->req);
	assert_string_equal(hdr(inv, "Alert-Info"), "<urn:alert:service:lab>");
	answer(&b, inv, 486, "Busy Here", "b1", NULL);
	mem_deref(inv);
	/* nina's INVITE.OK code: her 200 ACKed, then a BYE; the call ends */
	p.callee = "sip:nina@ims.test";
	assert_int_equal(b2bua_mt_call(T.b2b, &p, &idx, &scode), 0);
	inv = ue_recv(&n);
	assert_true(inv->req);
	assert_null(hdr(inv, "Alert-Info"));
	answer(&n, inv, 200, "OK", "n1", SDP);
	ue_expect_req(&n, SIP_METHOD_ACK);
	m = ue_recv_skip(&n);
	assert_true(m->req);
	assert_int_equal(m->meth, SIP_METHOD_BYE);
	answer(&n, m, 200, "OK", NULL, NULL);
	mem_deref(m);
	run_once(20);
	assert_int_equal(state_of(idx), B2BUA_STOP);
	mem_deref(inv);
	ue_close(&b);
	ue_close(&n);
}

static void test_multi_sim(void **state)
{
	struct sip_msg *i1, *i2;
	struct ue a, s1, s2;

	(void)state;
	ue_open(&a, "alice");
	ue_open(&s1, "sim");
	ue_open(&s2, "sim");
	ue_register(&a);
	ue_register_imei(&s1, "35000000-000001-0");
	ue_register_imei(&s2, "35000000-000002-0");
	invite_from(&a, "sip:sim@ims.test", "ms@t");
	i1 = ue_recv(&s1);
	i2 = ue_recv(&s2);
	assert_true(i1->req && i2->req);
	assert_string_equal(hdr(i1, "X-Sim"), "1");
	assert_string_equal(hdr(i2, "X-Sim"), "2");
	answer(&s1, i1, 486, "Busy Here", "m1", NULL);
	answer(&s2, i2, 486, "Busy Here", "m2", NULL);
	ue_expect_scode(&a, 486);
	mem_deref(i1);
	mem_deref(i2);
	ue_close(&a);
	ue_close(&s1);
	ue_close(&s2);
}

static void test_update_relayed(void **state)
{
	struct sip_msg *inv, *ok, *m;
	struct ue a, u;

	(void)state;
	ue_open(&a, "alice");
	ue_open(&u, "uma");
	ue_register(&a);
	ue_register(&u);
	invite_from(&a, "sip:uma@ims.test", "up@t");
	inv = ue_recv(&u);
	assert_true(inv->req);
	answer(&u, inv, 200, "OK", "u1", SDP);
	ok = ue_recv_skip(&a);
	assert_int_equal(ok->scode, 200);
	ue_req_caller(&a, ok, "ACK", 1, NULL, NULL);
	ue_expect_req(&u, SIP_METHOD_ACK);
	/* from the caller: received on the MO dialog, uma's list (rx) */
	ue_req_caller(&a, ok, "UPDATE", 2, NULL, NULL);
	m = ue_recv(&u);
	assert_int_equal(m->meth, SIP_METHOD_UPDATE);
	assert_string_equal(hdr(m, "X-Update"), "to uma");
	answer(&u, m, 200, "OK", NULL, NULL);
	mem_deref(m);
	ue_expect_scode(&a, 200);
	/* from the callee: to be sent on the MO dialog (tx): not this one */
	ue_req_callee(&u, inv, "u1", "UPDATE", 1, NULL, NULL);
	m = ue_recv(&a);
	assert_int_equal(m->meth, SIP_METHOD_UPDATE);
	assert_null(hdr(m, "X-Update"));
	mem_deref(m);
	mem_deref(inv);
	mem_deref(ok);
	ue_close(&a);
	ue_close(&u);
}

/* The CANCEL of the last invite_from (its branch, RFC 3261 §9.1). */
static void cancel_from(struct ue *a, const char *ruri, const char *cid)
{
	char r[2048];

	snprintf(r, sizeof(r),
		 "CANCEL %s SIP/2.0\r\n"
		 "Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKc%d;rport\r\n"
		 "Max-Forwards: 70\r\nFrom: <sip:%s@ims.test>;tag=a1\r\n"
		 "To: <%s>\r\nCall-ID: %s\r\nCSeq: 1 CANCEL\r\nContent-Length: 0\r\n\r\n",
		 ruri, a->port, T.cseq, a->name, ruri, cid);
	ue_send(a, r);
}

static void test_ok_held(void **state)
{
	struct sip_msg *inv, *m;
	struct ue a, v;

	(void)state;
	ue_open(&a, "alice");
	ue_open(&v, "vic");
	ue_register(&a);
	ue_register(&v);
	invite_from(&a, "sip:vic@ims.test", "ok@t");
	inv = ue_recv(&v);
	assert_true(inv->req);
	answer(&v, inv, 200, "OK", "v1", SDP);
	run_once(20);
	/* held: the caller's CANCEL is answered first and has no effect */
	cancel_from(&a, "sip:vic@ims.test", "ok@t");
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 200);
	assert_int_equal(sip_msg_cseq(m)->meth, SIP_METHOD_CANCEL);
	mem_deref(m);
	m = ue_recv_skip(&a);
	assert_int_equal(m->scode, 200);
	assert_int_equal(sip_msg_cseq(m)->meth, SIP_METHOD_INVITE);
	assert_string_equal(hdr(m, "X-Held"), "1");
	ue_req_caller(&a, m, "ACK", 1, NULL, NULL);
	ue_expect_req(&v, SIP_METHOD_ACK); /* no CANCEL went to vic */
	mem_deref(m);
	mem_deref(inv);
	ue_close(&a);
	ue_close(&v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_echo_answers, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ring_only, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_mt_call, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_multi_sim, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_update_relayed, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_ok_held, setup, teardown),
	};

	return cmocka_run_group_tests_name("b2bua_cfm", tests, NULL, NULL);
}
