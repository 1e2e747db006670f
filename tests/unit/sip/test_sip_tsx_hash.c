/*
 * Unit tests: what a peer's keys can make a server transaction lookup cost
 * (sip_tsx_match.c, RFC 3261 §17.2.3). The server table hashes the whole
 * matching key (branch, sent-by host and port, method; for RFC 2543 keys
 * Call-ID, CSeq, From tag, top Via, method) under the process's SipHash
 * key, so one branch reused with many sent-by values or methods spreads
 * over the buckets: the chain a lookup walks stays short (measured as
 * entries walked, never as time). Keys that still share a hash value (RFC
 * 2543 requests differing in To tag only) are bounded by
 * SIP_TSX_SAME_KEY_MAX: the next is refused (EMLINK, counted).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "core/mem.h"
#include "sip/sip_tsx_int.h"
#include "test_sip_tsx_harness.h"

/* Far above what 10,000 random keys put in one bucket (a table holds at
 * most one entry per bucket on average; P(a bucket >= 16) ~ 1e-17), far
 * below the 10,000 of one chain per branch. */
#define CHAIN_BOUND 16u

static int setup(void **state)
{
	(void)state;
	h_setup(500, 4000, 5000);
	H.keep_sent = false;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	h_teardown();
	return 0;
}

static const char *req(char *b, size_t size, const char *method, const char *via,
		       const char *totag)
{
	snprintf(b, size,
		 "%s sip:ims.test SIP/2.0\r\n"
		 "Via: %s\r\n"
		 "From: <sip:a@ims.test>;tag=f1\r\nTo: <sip:ims.test>%s%s\r\n"
		 "Call-ID: one-call\r\nCSeq: 1 %s\r\nMax-Forwards: 70\r\n"
		 "Content-Length: 0\r\n\r\n",
		 method, via, totag ? ";tag=" : "", totag ? totag : "", method);
	return b;
}

/* The server-table hash value of a request's key, as the stack computes
 * it. */
static uint64_t key_hv(const char *text)
{
	struct sip_msg *m = NULL;
	struct sip_tsx_key k;
	uint64_t hv;

	assert_int_equal(sip_msg_decode_copy(&m, text, strlen(text), NULL), 0);
	assert_int_equal(sip_tsx_key_req(&k, m), 0);
	hv = sip_tsx_key_hash_server(&k);
	mem_deref(m);
	return hv;
}

enum { NKEYS = 10000 };

static const char *sentby_req(char *b, size_t size, unsigned i)
{
	char via[96];

	/* hosts and ports both vary; the branch never does */
	snprintf(via, sizeof(via), "SIP/2.0/UDP 10.9.%u.%u:%u;branch=z9hG4bKsame", i >> 8,
		 i & 255, 5060 + i % 7);
	return req(b, size, "MESSAGE", via, NULL);
}

/* 10,000 transactions with one branch and different sent-by: each its own
 * transaction, and the chain any of their lookups walks stays bounded,
 * while they are live and once they are finished records. */
static void test_one_branch_sentby(void **state)
{
	char b[512];
	size_t max = 0;

	(void)state;
	for (unsigned i = 0; i < NKEYS; i++)
		assert_int_equal(h_recv(sentby_req(b, sizeof(b), i), false), 0);
	assert_int_equal(H.nev_total, NKEYS);
	assert_int_equal(sip_tsx_stack_count(H.st), NKEYS);
	for (unsigned i = 0; i < NKEYS; i++) {
		size_t n = sip_tsx_chain_len(H.st, key_hv(sentby_req(b, sizeof(b), i)));

		max = n > max ? n : max;
	}
	assert_true(max >= 1);
	assert_true(max <= CHAIN_BOUND);
	/* retransmissions still find their own transaction */
	for (unsigned i = 0; i < NKEYS; i += 101)
		assert_int_equal(h_recv(sentby_req(b, sizeof(b), i), false), 0);
	assert_int_equal(H.nev_total, NKEYS);
	assert_int_equal(sip_tsx_stack_key_refused(H.st), 0);
}

/* The same once the transactions are answered and Completed (finished
 * records, sip_tsx_done.c): retransmissions answered, chains bounded. */
static void test_one_branch_sentby_done(void **state)
{
	char b[512];
	size_t max = 0;

	(void)state;
	H.auto_reply = 202;
	for (unsigned i = 0; i < NKEYS; i++)
		assert_int_equal(h_recv(sentby_req(b, sizeof(b), i), false), 0);
	assert_int_equal(H.nsent_total, NKEYS);
	for (unsigned i = 0; i < NKEYS; i++) {
		size_t n = sip_tsx_chain_len(H.st, key_hv(sentby_req(b, sizeof(b), i)));

		max = n > max ? n : max;
	}
	assert_true(max >= 1 && max <= CHAIN_BOUND);
	for (unsigned i = 0; i < NKEYS; i += 101)
		assert_int_equal(h_recv(sentby_req(b, sizeof(b), i), false), 0);
	assert_int_equal(H.nev_total, NKEYS); /* absorbed, not new */
	assert_int_equal(H.nsent_total, NKEYS + (NKEYS + 100) / 101);
}

/* One branch and one sent-by with 2,000 methods (extension methods are
 * compared as text, §7.1): as many transactions, short chains. */
static void test_one_branch_methods(void **state)
{
	const char *via = "SIP/2.0/UDP ue.ims.test:5060;branch=z9hG4bKsame";
	char b[512], m[16];
	size_t max = 0;

	(void)state;
	for (unsigned i = 0; i < 2000; i++) {
		snprintf(m, sizeof(m), "X%u", i);
		assert_int_equal(h_recv(req(b, sizeof(b), m, via, NULL), false), 0);
	}
	assert_int_equal(H.nev_total, 2000);
	for (unsigned i = 0; i < 2000; i++) {
		size_t n;

		snprintf(m, sizeof(m), "X%u", i);
		n = sip_tsx_chain_len(H.st, key_hv(req(b, sizeof(b), m, via, NULL)));
		max = n > max ? n : max;
	}
	assert_true(max >= 1 && max <= CHAIN_BOUND);
}

/* RFC 2543 keys that differ only in the To tag share a hash value (the
 * ACK of a non-2xx carries a To tag its INVITE had not): the ninth such
 * transaction is refused with EMLINK and counted; a retransmission of one
 * already there is still absorbed and other keys still get through. */
static void test_same_key_bound(void **state)
{
	const char *via = "SIP/2.0/UDP old.ims.test:5060";
	char b[512], tag[16];

	(void)state;
	for (unsigned i = 0; i < SIP_TSX_SAME_KEY_MAX; i++) {
		snprintf(tag, sizeof(tag), "t%u", i);
		assert_int_equal(h_recv(req(b, sizeof(b), "OPTIONS", via, tag), false),
				 0);
	}
	assert_int_equal(H.nev_total, SIP_TSX_SAME_KEY_MAX);
	assert_int_equal(
	    sip_tsx_chain_len(H.st, key_hv(req(b, sizeof(b), "OPTIONS", via, "t0"))),
	    SIP_TSX_SAME_KEY_MAX);
	for (unsigned i = 0; i < 100; i++) {
		snprintf(tag, sizeof(tag), "u%u", i);
		assert_int_equal(h_recv(req(b, sizeof(b), "OPTIONS", via, tag), false),
				 EMLINK);
	}
	assert_int_equal(H.nev_total, SIP_TSX_SAME_KEY_MAX);
	assert_int_equal(sip_tsx_stack_key_refused(H.st), 100);
	assert_int_equal(sip_tsx_stack_count(H.st), SIP_TSX_SAME_KEY_MAX);
	/* a retransmission matches its own transaction */
	assert_int_equal(h_recv(req(b, sizeof(b), "OPTIONS", via, "t3"), false), 0);
	assert_int_equal(H.nev_total, SIP_TSX_SAME_KEY_MAX);
	/* another method, another Via: other keys */
	assert_int_equal(h_recv(req(b, sizeof(b), "MESSAGE", via, "u0"), false), 0);
	assert_int_equal(h_recv(req(b, sizeof(b), "OPTIONS",
				    "SIP/2.0/UDP ue.ims.test;branch=z9hG4bKok", NULL),
				false),
			 0);
	assert_int_equal(H.nev_total, SIP_TSX_SAME_KEY_MAX + 2);
	/* once they end (Timer J), the key takes new transactions again */
	for (unsigned i = 0; i < H.nev && i < SIP_TSX_SAME_KEY_MAX; i++) {
		struct sip_tsx *t = sip_tsx_lookup(H.st, H.ev[i].tsx_id);

		assert_non_null(t);
		assert_int_equal(sip_tsx_reply(t, 200, NULL, NULL), 0);
	}
	h_advance(64 * 500);
	assert_int_equal(h_recv(req(b, sizeof(b), "OPTIONS", via, "u1"), false), 0);
	assert_int_equal(sip_tsx_stack_key_refused(H.st), 100);
}

/* ACK of a non-2xx and CANCEL still reach their INVITE (the hash takes ACK
 * and CANCEL as INVITE), for both key forms. */
static void test_ack_cancel_hash(void **state)
{
	static const char *vias[] = {"SIP/2.0/UDP ue.ims.test:5060;branch=z9hG4bKinv",
				     "SIP/2.0/UDP old.ims.test:5060"};
	char b[512], tag[40];

	(void)state;
	for (unsigned v = 0; v < 2; v++) {
		struct sip_tsx *inv;
		struct sip_msg *m = NULL;

		h_ev_clear();
		assert_int_equal(
		    h_recv(req(b, sizeof(b), "INVITE", vias[v], NULL), false), 0);
		inv = H.last_tsx;
		assert_int_equal(sip_tsx_kind(inv), SIP_TSX_IST);
		req(b, sizeof(b), "CANCEL", vias[v], NULL);
		assert_int_equal(sip_msg_decode_copy(&m, b, strlen(b), NULL), 0);
		assert_ptr_equal(sip_tsx_cancel_match(H.st, m), inv);
		mem_deref(m);
		assert_int_equal(h_recv(b, false), 0);
		assert_ptr_equal(sip_tsx_cancel_target(H.last_tsx), inv);
		assert_int_equal(sip_tsx_reply(inv, 486, NULL, NULL), 0);
		assert_int_equal(sip_tsx_state(inv), SIP_TSX_COMPLETED);
		/* the ACK carries the To tag of the 486 */
		snprintf(tag, sizeof(tag), "%.*s", (int)sip_tsx_to_tag(inv).l,
			 sip_tsx_to_tag(inv).p);
		assert_int_equal(h_recv(req(b, sizeof(b), "ACK", vias[v], tag), false),
				 0);
		assert_int_equal(sip_tsx_state(inv), SIP_TSX_CONFIRMED);
		assert_int_equal(h_ev_count(H_EV_ACK), 0); /* not a stray */
	}
}

#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_one_branch_sentby),	T(test_one_branch_sentby_done),
	    T(test_one_branch_methods), T(test_same_key_bound),
	    T(test_ack_cancel_hash),
	};

	return cmocka_run_group_tests_name("sip_tsx_hash", tests, NULL, NULL);
}
