/* Unit tests for the fast paths of the sip codec: the hashed header-name
 * table, next links and counts, the memchr splitter, single-pass parameter
 * picking, and the own IPv4/IPv6 validators (checked against inet_pton). */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/mbuf.h"
#include "core/mem.h"
#include "sip/sip_build.h"
#include "sip/sip_hdr.h"
#include "sip/sip_msg.h"
#include "sip/sip_uri.h"

/* Every known name, in any case, maps to its id; near misses do not. */
static void test_name_table(void **state)
{
	(void)state;
	for (int id = 1; id < SIP_HDR_COUNT; id++) {
		const char *n = sip_hdr_name((enum sip_hdr_id)id);
		char up[64], lo[64];
		size_t l = strlen(n);

		assert_true(l > 1 && l < sizeof(up));
		for (size_t i = 0; i <= l; i++) {
			up[i] = (char)(n[i] >= 'a' && n[i] <= 'z' ? n[i] - 32 : n[i]);
			lo[i] = (char)(n[i] >= 'A' && n[i] <= 'Z' ? n[i] + 32 : n[i]);
		}
		assert_int_equal(sip_hdr_id_from_name((struct pl){n, l}), id);
		assert_int_equal(sip_hdr_id_from_name((struct pl){up, l}), id);
		assert_int_equal(sip_hdr_id_from_name((struct pl){lo, l}), id);
		/* one byte shorter, one byte changed, a control byte for '-' */
		if (l > 2) /* "T" is the compact To */
			assert_int_not_equal(sip_hdr_id_from_name((struct pl){n, l - 1}),
					     id);
		lo[l - 1] = lo[l - 1] == 'x' ? 'y' : 'x';
		assert_int_not_equal(sip_hdr_id_from_name((struct pl){lo, l}), id);
		char *dash = strchr(up, '-');
		if (dash) {
			*dash = '\r';
			assert_int_equal(sip_hdr_id_from_name((struct pl){up, l}),
					 SIP_HDR_OTHER);
		}
	}
	assert_int_equal(sip_hdr_id_from_name(PL("v")), SIP_HDR_VIA);
	assert_int_equal(sip_hdr_id_from_name(PL("I")), SIP_HDR_CALL_ID);
	assert_int_equal(sip_hdr_id_from_name(PL("X-Foo")), SIP_HDR_OTHER);
	assert_int_equal(sip_hdr_id_from_name(PL("")), SIP_HDR_OTHER);
	assert_int_equal(sip_hdr_id_from_name(PL("1")), SIP_HDR_OTHER);
}

static const char many[] =
    "OPTIONS sip:a@b SIP/2.0\r\n"
    "Via: SIP/2.0/UDP h1;branch=z9hG4bK1, SIP/2.0/UDP h2;branch=z9hG4bK2\r\n"
    "X-A: 1\r\n"
    "Route: <sip:r1;lr>\r\n"
    "x-b: 2\r\n"
    "Contact: \"a, b\" <sip:c@d;x=\"1,2\">;p=\"q,r\", <sip:e@f>\r\n"
    "Allow: INVITE , ACK,,BYE\r\n"
    "Supported: <a,b>,c\r\n"
    "X-a: 3\r\n"
    "v: SIP/2.0/UDP h3;branch=z9hG4bK3\r\n"
    "Call-ID: x\r\nCSeq: 1 OPTIONS\r\nFrom: <sip:a@b>;tag=1\r\nTo: <sip:a@b>\r\n"
    "\r\n";

static void test_links_and_split(void **state)
{
	struct sip_msg *msg;
	const struct sip_hdr *h;

	(void)state;
	assert_int_equal(sip_msg_decode_copy(&msg, many, sizeof(many) - 1, NULL), 0);
	assert_int_equal(sip_msg_hdr_count(msg, SIP_HDR_VIA), 3);
	assert_int_equal(sip_msg_hdr_lines(msg, SIP_HDR_VIA), 2);
	h = sip_msg_hdr(msg, SIP_HDR_VIA);
	h = sip_msg_hdr_next(msg, h);
	assert_true(pl_eq_str(h->val, "SIP/2.0/UDP h2;branch=z9hG4bK2"));
	h = sip_msg_hdr_next(msg, h);
	assert_true(pl_eq_str(h->val, "SIP/2.0/UDP h3;branch=z9hG4bK3"));
	assert_null(sip_msg_hdr_next(msg, h));
	/* unknown headers: the chain is shared, names are compared */
	h = sip_msg_hdr_name(msg, PL("x-a"));
	assert_non_null(h);
	assert_true(pl_eq_str(h->val, "1"));
	h = sip_msg_hdr_next(msg, h);
	assert_true(pl_eq_str(h->val, "3"));
	assert_null(sip_msg_hdr_next(msg, h));
	assert_int_equal(sip_msg_hdr_count(msg, SIP_HDR_OTHER), 2);
	/* an entry of another message is not followed */
	assert_null(
	    sip_msg_hdr_next(msg, &(struct sip_hdr){.id = SIP_HDR_VIA, .next = 0}));
	/* quoted and bracketed commas do not split; empty values are kept */
	assert_int_equal(sip_msg_hdr_count(msg, SIP_HDR_CONTACT), 2);
	h = sip_msg_hdr(msg, SIP_HDR_CONTACT);
	assert_true(pl_eq_str(h->val, "\"a, b\" <sip:c@d;x=\"1,2\">;p=\"q,r\""));
	assert_int_equal(sip_msg_hdr_count(msg, SIP_HDR_ALLOW), 4);
	h = sip_msg_hdr(msg, SIP_HDR_ALLOW);
	assert_true(pl_eq_str(h->val, "INVITE"));
	h = sip_msg_hdr_next(msg, sip_msg_hdr_next(msg, h));
	assert_int_equal(h->val.l, 0);
	assert_int_equal(sip_msg_hdr_count(msg, SIP_HDR_SUPPORTED), 2);
	assert_true(pl_eq_str(sip_msg_hdr(msg, SIP_HDR_SUPPORTED)->val, "<a,b>"));
	mem_deref(msg);
}

/* More entries than fit inside the message object move to the heap. */
static void test_many_entries(void **state)
{
	struct mbuf mb;
	struct sip_msg *msg;
	const struct sip_hdr *h;
	size_t n = 0;

	(void)state;
	mbuf_init(&mb, 0);
	assert_int_equal(mbuf_printf(&mb, "OPTIONS sip:a@b SIP/2.0\r\nAllow: A0"), 0);
	for (int i = 1; i < 200; i++)
		assert_int_equal(mbuf_printf(&mb, ",A%d", i), 0);
	assert_int_equal(mbuf_printf(&mb, "\r\nVia: SIP/2.0/UDP h\r\n\r\n"), 0);
	assert_int_equal(sip_msg_decode_copy(&msg, mb.buf, mb.end, NULL), 0);
	assert_int_equal(msg->hdrc, 201);
	assert_int_equal(sip_msg_hdr_count(msg, SIP_HDR_ALLOW), 200);
	for (h = sip_msg_hdr(msg, SIP_HDR_ALLOW); h; h = sip_msg_hdr_next(msg, h)) {
		char want[8];

		snprintf(want, sizeof(want), "A%zu", n++);
		assert_true(pl_eq_str(h->val, want));
	}
	assert_int_equal(n, 200);
	assert_non_null(sip_msg_hdr(msg, SIP_HDR_VIA));
	mem_deref(msg);
	mbuf_reset(&mb);
}

static void test_params_single_pass(void **state)
{
	struct sip_secmech sm;
	struct sip_via via;
	struct sip_addr a;
	struct sip_auth au;

	(void)state;
	/* the first occurrence counts, as sip_param_get finds it */
	assert_int_equal(
	    sip_secmech_decode(&sm, PL("ipsec-3gpp;ALG=a;alg=b;SPI-C=7;spi-c=x;"
				       "q=0.5;q=2;mod = trans")),
	    0);
	assert_true(pl_eq_str(sm.alg, "a"));
	assert_true(sm.spi_c_set && sm.spi_c == 7);
	assert_true(sm.q_set && sm.q1000 == 500);
	assert_true(pl_eq_str(sm.mod, "trans"));
	assert_false(sm.port_c_set);
	assert_int_equal(sip_secmech_decode(&sm, PL("ipsec-3gpp;spi-s=4294967296")),
			 EBADMSG);
	assert_int_equal(sip_secmech_decode(&sm, PL("ipsec-3gpp;q=1.5")), EBADMSG);
	assert_int_equal(sip_secmech_decode(&sm, PL("ipsec-3gpp;port-s=\"5\"")), 0);
	assert_int_equal(sm.port_s, 5);
	/* Via: each occurrence is checked, the last one wins */
	assert_int_equal(
	    sip_via_decode(&via, PL("SIP/2.0/UDP h;branch=a;BRANCH=b;rport")), 0);
	assert_true(pl_eq_str(via.branch, "b"));
	assert_true(via.rport && !via.rport_val);
	assert_int_equal(sip_via_decode(&via, PL("SIP/2.0/UDP h;branch;branch=b")),
			 EBADMSG);
	assert_int_equal(sip_via_decode(&via, PL("SIP/2.0/UDP h;received=2001:db8::1")),
			 0);
	assert_int_equal(sip_via_decode(&via, PL("SIP/2.0/UDP h;maddr=[::1]")), 0);
	/* addresses: the first tag counts and needs a value */
	assert_int_equal(sip_addr_decode(&a, PL("<sip:a@b>;Tag=1;tag")), 0);
	assert_true(pl_eq_str(a.tag, "1"));
	assert_true(pl_eq_str(a.params, ";Tag=1;tag"));
	assert_int_equal(sip_addr_decode(&a, PL("<sip:a@b>;tag=\"\"")), EBADMSG);
	/* credentials: fields filled in the scan, the first wins */
	assert_int_equal(sip_auth_decode(&au, PL("Digest REALM=\"r1\", realm=r2, "
						 "Integrity-Protected=yes,nc=01, x=y")),
			 0);
	assert_true(pl_eq_str(au.realm, "r1"));
	assert_true(pl_eq_str(au.integrity_protected, "yes"));
	assert_true(pl_eq_str(au.nc, "01"));
	assert_null(au.username.p);
	assert_int_equal(sip_auth_param_get(&au, "x", &(struct pl){0}), 0);
}

static void test_forward_map(void **state)
{
	static const char inv[] = "INVITE sip:b@c SIP/2.0\r\n"
				  "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
				  "Route: <sip:r1;lr>, <sip:r2;lr>\r\n"
				  "Call-ID: x\r\nl: 3\r\n\r\nabc";
	struct sip_msg *msg, *other;
	struct mbuf mb;
	const struct sip_hdr *r1;

	(void)state;
	assert_int_equal(sip_msg_decode_copy(&msg, inv, sizeof(inv) - 1, NULL), 0);
	assert_int_equal(sip_msg_decode_copy(&other, inv, sizeof(inv) - 1, NULL), 0);
	r1 = sip_msg_hdr(msg, SIP_HDR_ROUTE);
	struct sip_edit ed[] = {
	    {.op = SIP_EDIT_REMOVE, .hdr = sip_msg_hdr(other, SIP_HDR_CALL_ID)},
	    {.op = SIP_EDIT_ADD, .hdr = NULL, .name = PL("X-End"), .val = PL("1")},
	    {.op = SIP_EDIT_REPLACE,
	     .hdr = sip_msg_hdr_next(msg, r1),
	     .val = PL("<sip:n>")},
	    {.op = SIP_EDIT_ADD, .hdr = r1, .name = PL("X-Before"), .val = PL("2")},
	};
	struct sip_fwd_prm fp = {.ruri = PL("sip:new@d"),
				 .editv = ed,
				 .editc = 4,
				 .body_set = true,
				 .body = PL("0123456789")};

	mbuf_init(&mb, 0);
	assert_int_equal(sip_msg_forward(&mb, msg, &fp), 0);
	assert_int_equal(mb.end, strlen(mbuf_str(&mb)));
	assert_string_equal(mbuf_str(&mb), "INVITE sip:new@d SIP/2.0\r\n"
					   "Via: SIP/2.0/UDP h;branch=z9hG4bK1\r\n"
					   "X-Before: 2\r\n"
					   "Route: <sip:r1;lr>, <sip:n>\r\n"
					   "Call-ID: x\r\n"
					   "X-End: 1\r\n"
					   "Content-Length: 10\r\n\r\n0123456789");
	mbuf_reset(&mb);
	/* a cap below the size estimate but above the output still works */
	mbuf_init(&mb, sizeof(inv) + 8);
	assert_int_equal(sip_msg_forward(&mb, msg, &(struct sip_fwd_prm){0}), 0);
	assert_int_equal(mb.end, sizeof(inv) - 1);
	mbuf_reset(&mb);
	mbuf_init(&mb, 20);
	assert_int_equal(sip_msg_forward(&mb, msg, &(struct sip_fwd_prm){0}), ENOSPC);
	mbuf_reset(&mb);
	mem_deref(other);
	mem_deref(msg);
}

/* The one-pass sip/sips/tel URI checks keep the grammar of the parts. */
static void test_uri_one_pass(void **state)
{
	struct sip_uri u;
	struct mbuf mb;

	(void)state;
	assert_int_equal(sip_uri_decode(&u, PL("sip:a@host.example.:5060;x=%41;lr?h=1")),
			 0);
	assert_true(pl_eq_str(u.host, "host.example."));
	assert_int_equal(u.host_type, SIP_HOST_NAME);
	assert_int_equal(u.port, 5060);
	assert_true(pl_eq_str(u.params, ";x=%41;lr"));
	assert_true(pl_eq_str(u.headers, "h=1"));
	assert_int_equal(sip_uri_decode(&u, PL("sip:192.0.2.1;transport=tcp")), 0);
	assert_int_equal(u.host_type, SIP_HOST_IPV4);
	assert_int_equal(sip_uri_decode(&u, PL("sip:1.2.3.4.5")), EBADMSG);
	assert_int_equal(sip_uri_decode(&u, PL("sip:12-3.4")), 0);
	assert_int_equal(u.host_type, SIP_HOST_NAME);
	assert_int_equal(sip_uri_decode(&u, PL("sip:[2001:db8::1]:5061;lr")), 0);
	assert_true(pl_eq_str(u.host, "2001:db8::1"));
	assert_int_equal(u.port, 5061);
	/* each of these breaks one rule of one part */
	static const char *const bad[] = {
	    "sip:-a.b",	  "sip:a..b",	  "sip:.a",	  "sip:a.-b",	"sip:a_b",
	    "sip:a:",	  "sip:a:123456", "sip:a:5x",	  "sip:a;",	"sip:a;;x",
	    "sip:a;=1",	  "sip:a;x==1",	  "sip:a;x=1=2",  "sip:a;x=%4", "sip:a;x=%4g",
	    "sip:a;x=\"", "sip:a?",	  "sip:a b",	  "sip:[::1",	"sip:[::1]x",
	    "sip:u@",	  "sip:@h",	  "tel:+1;x=%zz", "tel:+1?x=1", "tel:+1;",
	    "tel:12",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		assert_int_equal(sip_uri_decode(&u, pl_from_str(bad[i])), EBADMSG);
	assert_int_equal(sip_uri_decode(&u, PL("tel:+1-555;phone-context=x;isub=%41")),
			 0);
	assert_true(pl_eq_str(u.params, ";phone-context=x;isub=%41"));
	assert_int_equal(sip_uri_decode(&u, PL("tel:7042;phone-context=example.com")), 0);
	/* too many parameters: E2BIG, unless a byte is bad anyway */
	mbuf_init(&mb, 0);
	assert_int_equal(mbuf_printf(&mb, "sip:a"), 0);
	for (unsigned i = 0; i <= SIP_MAX_PARAMS; i++)
		assert_int_equal(mbuf_printf(&mb, ";p%u", i), 0);
	assert_int_equal(sip_uri_decode(&u, (struct pl){(char *)mb.buf, mb.end}), E2BIG);
	assert_int_equal(mbuf_write(&mb, "?a=<", 4), 0);
	assert_int_equal(sip_uri_decode(&u, (struct pl){(char *)mb.buf, mb.end}),
			 EBADMSG);
	mbuf_reset(&mb);
}

/* Quoted strings: 16-byte steps and the byte-wise tail agree. */
static void test_quoted_long(void **state)
{
	struct sip_addr a;

	(void)state;
	assert_int_equal(
	    sip_addr_decode(&a,
			    PL("\"0123456789abcdef\tGHIJ\\\"KLMN\r\n "
			       "\xc3\xa9\xc3\xa9 \\\x01 end of a long name\" <sip:a@b>")),
	    0);
	assert_int_equal(a.dname.l, 56);
	assert_true(a.dname_quoted);
	/* a control byte, DEL, or a bare end, early or late */
	assert_int_equal(
	    sip_addr_decode(&a, PL("\"0123456789abcdef0123\x01\" <sip:a@b>")), EBADMSG);
	assert_int_equal(sip_addr_decode(&a, PL("\"01\x7f\" <sip:a@b>")), EBADMSG);
	assert_int_equal(
	    sip_addr_decode(&a, PL("\"0123456789abcdef0123456789\x7f\" <sip:a@b>")),
	    EBADMSG);
	assert_int_equal(
	    sip_addr_decode(&a, PL("\"0123456789abcdef0123456789 <sip:a@b>")), EBADMSG);
	assert_int_equal(sip_addr_decode(&a, PL("\"0123456789abcdef01234\\")), EBADMSG);
}

/* A pseudo-random walk over the bytes IP literals are made of. */
static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return rnd_state >> 8;
}

static void test_ip_vs_inet_pton(void **state)
{
	static const char *const fixed[] = {
	    "::",
	    "::1",
	    "1::",
	    ":",
	    ":::",
	    "1:::2",
	    "1:2:3:4:5:6:7:8",
	    "1:2:3:4:5:6:7::8",
	    "1:2:3:4:5:6:7::",
	    "::1:2:3:4:5:6:7",
	    "2001:db8:::192.0.2.1",
	    "::ffff:1.2.3.4",
	    "1:2:3:4:5:6:1.2.3.4",
	    "1:2:3:4:5:6:7:1.2.3.4",
	    "::1.2.3.04",
	    "::1.2.3",
	    "12345::",
	    "1:",
	    ":1",
	    "fe80::1%eth0",
	    "[::1]",
	    "0.0.0.0",
	    "255.255.255.255",
	    "256.1.1.1",
	    "1.2.3.4.",
	    "1..2.3",
	    "01.2.3.4",
	    "1.2.3.4.5",
	    "",
	    "1.2.3.4 ",
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(fixed) / sizeof(fixed[0]); i++) {
		struct in6_addr a6;
		struct in_addr a4;
		struct pl pl = pl_from_str(fixed[i]);

		assert_int_equal(sip_ipv6_ok(pl),
				 inet_pton(AF_INET6, fixed[i], &a6) == 1);
		assert_int_equal(sip_ipv4_ok(pl.p, pl.p + pl.l),
				 inet_pton(AF_INET, fixed[i], &a4) == 1);
	}
	for (int n = 0; n < 200000; n++) {
		static const char alpha[] = "0123456789abcdefABCDEF::::..x";
		static const char digits[] = "0123456789.....25";
		size_t len = rnd() % 24;
		struct in6_addr a6;
		struct in_addr a4;
		bool v4 = n & 1;

		for (size_t i = 0; i < len; i++)
			buf[i] = v4 ? digits[rnd() % (sizeof(digits) - 1)]
				    : alpha[rnd() % (sizeof(alpha) - 1)];
		buf[len] = '\0';
		if (v4)
			assert_int_equal(sip_ipv4_ok(buf, buf + len),
					 inet_pton(AF_INET, buf, &a4) == 1);
		else
			assert_int_equal(sip_ipv6_ok((struct pl){buf, len}),
					 inet_pton(AF_INET6, buf, &a6) == 1);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_name_table),
	    cmocka_unit_test(test_links_and_split),
	    cmocka_unit_test(test_many_entries),
	    cmocka_unit_test(test_params_single_pass),
	    cmocka_unit_test(test_ip_vs_inet_pton),
	    cmocka_unit_test(test_forward_map),
	    cmocka_unit_test(test_uri_one_pass),
	    cmocka_unit_test(test_quoted_long),
	};

	return cmocka_run_group_tests_name("sip_fast", tests, NULL, NULL);
}
