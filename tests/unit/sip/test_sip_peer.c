/*
 * Unit tests: sip/sip_peer — proven destinations (address and port, expiry,
 * the table's bound) and the byte budget of unproven ones (per IPv4
 * address, per IPv6 /64, burst then rate).
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "sip/sip_peer.h"

static struct sockaddr_storage sa(const char *ip, uint16_t port)
{
	struct sockaddr_storage ss;

	memset(&ss, 0, sizeof(ss));
	if (strchr(ip, ':')) {
		struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;

		in6->sin6_family = AF_INET6;
		in6->sin6_port = htons(port);
		assert_int_equal(inet_pton(AF_INET6, ip, &in6->sin6_addr), 1);
	} else {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;

		in->sin_family = AF_INET;
		in->sin_port = htons(port);
		assert_int_equal(inet_pton(AF_INET, ip, &in->sin_addr), 1);
	}
	return ss;
}

#define SA(ss) ((const struct sockaddr *)&(ss))

static void test_proof(void **state)
{
	struct sip_peers *p;
	struct sockaddr_storage a = sa("192.0.2.1", 5060), b = sa("192.0.2.1", 5061),
				c = sa("2001:db8::1", 5060), u;
	struct sip_peers_stats st;

	(void)state;
	assert_int_equal(sip_peers_alloc(&p), 0);
	assert_false(sip_peers_proven(p, SA(a), 1000));
	sip_peers_prove(p, SA(a), 1000);
	assert_true(sip_peers_proven(p, SA(a), 1000));
	assert_false(sip_peers_proven(p, SA(b), 1000)); /* another port */
	sip_peers_prove(p, SA(c), 1000);
	assert_true(sip_peers_proven(p, SA(c), 2000));
	/* an hour unrenewed, then gone; renewed, it lasts again */
	assert_true(sip_peers_proven(p, SA(a), 1000 + SIP_PEER_PROOF_TTL_S * 1000ull));
	assert_false(sip_peers_proven(p, SA(a), 2000 + SIP_PEER_PROOF_TTL_S * 1000ull));
	sip_peers_prove(p, SA(a), 2000 + SIP_PEER_PROOF_TTL_S * 1000ull);
	assert_true(sip_peers_proven(p, SA(a), 3000 + SIP_PEER_PROOF_TTL_S * 1000ull));
	/* other families are never proven, and cost no budget */
	memset(&u, 0, sizeof(u));
	u.ss_family = AF_UNIX;
	sip_peers_prove(p, SA(u), 1000);
	assert_false(sip_peers_proven(p, SA(u), 1000));
	assert_true(sip_peers_budget_take(p, SA(u), 1u << 30, 1000));
	sip_peers_stats_get(p, &st);
	assert_int_equal(st.proofs, 3);
	sip_peers_free(p);
}

/* Far more addresses than the table holds: bounded, the newest kept. */
static void test_proof_table_bounded(void **state)
{
	struct sip_peers *p;
	size_t n = (size_t)SIP_PEER_PROOF_SETS * 4 * 4, kept = 0;

	(void)state;
	assert_int_equal(sip_peers_alloc(&p), 0);
	for (size_t i = 0; i < n; i++) {
		struct sockaddr_storage a = sa("10.0.0.0", (uint16_t)(i & 0xffff));
		struct sockaddr_in *in = (struct sockaddr_in *)&a;

		in->sin_addr.s_addr = htonl(0x0a000000u + (uint32_t)(i >> 16));
		sip_peers_prove(p, SA(a), 1000 + i);
	}
	for (size_t i = n - 1000; i < n; i++) {
		struct sockaddr_storage a = sa("10.0.0.0", (uint16_t)(i & 0xffff));
		struct sockaddr_in *in = (struct sockaddr_in *)&a;

		in->sin_addr.s_addr = htonl(0x0a000000u + (uint32_t)(i >> 16));
		kept += sip_peers_proven(p, SA(a), 1000 + n);
	}
	assert_true(kept >= 990); /* the latest 1,000 of 262,144: nearly all */
	assert_true(sip_peers_mem() < 4u << 20);
	sip_peers_free(p);
}

static void test_budget(void **state)
{
	struct sip_peers *p;
	struct sockaddr_storage a = sa("192.0.2.1", 5060), a2 = sa("192.0.2.1", 7000),
				b = sa("192.0.2.2", 5060), v6a = sa("2001:db8:1:2::1", 5060),
				v6b = sa("2001:db8:1:2:ffff::9", 6000),
				v6c = sa("2001:db8:1:3::1", 5060);
	struct sip_peers_stats st;

	(void)state;
	assert_int_equal(sip_peers_alloc(&p), 0);
	assert_true(sip_peers_budget_take(p, SA(a), SIP_PEER_BUDGET_BURST - 100, 0));
	/* the same IP from another port shares the bucket; another IP does not */
	assert_false(sip_peers_budget_take(p, SA(a2), 101, 0));
	assert_true(sip_peers_budget_take(p, SA(a2), 100, 0));
	assert_true(sip_peers_budget_take(p, SA(b), SIP_PEER_BUDGET_BURST, 0));
	/* refilled at the rate, never above the burst */
	assert_false(sip_peers_budget_take(p, SA(a), 1, 0));
	assert_true(sip_peers_budget_take(p, SA(a), SIP_PEER_BUDGET_RATE / 2, 500));
	assert_false(sip_peers_budget_take(p, SA(a), SIP_PEER_BUDGET_RATE / 2, 500));
	assert_false(sip_peers_budget_take(p, SA(a), SIP_PEER_BUDGET_BURST + 1, 3600000));
	assert_true(sip_peers_budget_take(p, SA(a), SIP_PEER_BUDGET_BURST, 3600000));
	/* IPv6: one bucket per /64 */
	assert_true(sip_peers_budget_take(p, SA(v6a), SIP_PEER_BUDGET_BURST, 0));
	assert_false(sip_peers_budget_take(p, SA(v6b), 1, 0));
	assert_true(sip_peers_budget_take(p, SA(v6c), 1, 0));
	sip_peers_stats_get(p, &st);
	assert_int_equal(st.unproven, 7);
	assert_int_equal(st.refused, 5);
	sip_peers_free(p);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_proof),
	    cmocka_unit_test(test_proof_table_bounded),
	    cmocka_unit_test(test_budget),
	};

	return cmocka_run_group_tests_name("sip_peer", tests, NULL, NULL);
}
