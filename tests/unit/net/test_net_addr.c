/* Unit tests: net/addr — parsing, printing, comparing. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "net/net_addr.h"

static void check_parse(const char *in, uint16_t dport, int af, const char *printed)
{
	struct net_addr a;
	char buf[NET_ADDR_STRLEN];

	assert_int_equal(net_addr_parse_str(&a, in, dport), 0);
	assert_int_equal(net_addr_af(&a), af);
	assert_string_equal(net_addr_print(&a, buf, sizeof(buf)), printed);
}

static void test_parse_good(void **state)
{
	(void)state;
	check_parse("1.2.3.4", 5060, AF_INET, "1.2.3.4:5060");
	check_parse("1.2.3.4:5062", 5060, AF_INET, "1.2.3.4:5062");
	check_parse("127.0.0.1:0", 5060, AF_INET, "127.0.0.1:0");
	check_parse("255.255.255.255:65535", 1, AF_INET, "255.255.255.255:65535");
	check_parse("[::1]", 5060, AF_INET6, "[::1]:5060");
	check_parse("[::1]:5070", 5060, AF_INET6, "[::1]:5070");
	check_parse("::1", 5060, AF_INET6, "[::1]:5060");
	check_parse("2001:db8::10", 5061, AF_INET6, "[2001:db8::10]:5061");
	check_parse("[2001:DB8:0:0:0:0:0:1]:1", 5060, AF_INET6, "[2001:db8::1]:1");
	check_parse("::ffff:10.0.0.1", 5060, AF_INET6, "[::ffff:10.0.0.1]:5060");
	check_parse("[fe80::1%7]:5060", 5060, AF_INET6, "[fe80::1%7]:5060");
	check_parse("fe80::1%lo", 5060, AF_INET6, "[fe80::1%1]:5060");
	check_parse("0.0.0.0", 5060, AF_INET, "0.0.0.0:5060");
	check_parse("::", 5060, AF_INET6, "[::]:5060");
}

static void test_parse_bad(void **state)
{
	static const char *const bad[] = {
	    "",
	    ":",
	    ":5060",
	    "1.2.3.4:",
	    "1.2.3.4:65536",
	    "1.2.3.4:123456",
	    "1.2.3.4:-1",
	    "1.2.3.4:50a",
	    "1.2.3.4: 5060",
	    " 1.2.3.4",
	    "1.2.3.4 ",
	    "1.2.3",
	    "1.2.3.4.5",
	    "256.1.1.1",
	    "01.2.3.4x",
	    "host.example.com",
	    "example.com:5060",
	    "localhost",
	    "[::1",
	    "::1]",
	    "[::1]:",
	    "[::1]5060",
	    "[::1]:65536",
	    "[1.2.3.4]",
	    "[1.2.3.4]:5060",
	    "[]",
	    "[]:5060",
	    "::1::2",
	    ":::",
	    "1:2:3:4:5:6:7:8:9",
	    "fe80::1%",
	    "fe80::1%nosuchif0",
	    "[::1]:5060:1",
	    "1.2.3.4:5060:1",
	    "1234567890123456789012345678901234567890123456789012345678901234567890123456"
	    "7890",
	};
	struct net_addr a;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (net_addr_parse_str(&a, bad[i], 5060) != EBADMSG)
			fail_msg("accepted \"%s\"", bad[i]);
	}
	assert_int_equal(net_addr_parse_str(&a, NULL, 5060), EBADMSG);
	assert_int_equal(net_addr_parse(&a, (struct pl){NULL, 0}, 5060), EBADMSG);
	/* An embedded NUL must not let a prefix through. */
	assert_int_equal(net_addr_parse(&a, (struct pl){"1.2.3.4\0:99", 11}, 5060),
			 EBADMSG);
	/* A view is not NUL-terminated: only its bytes count. */
	assert_int_equal(net_addr_parse(&a, (struct pl){"10.0.0.1:5060x", 13}, 1), 0);
	assert_int_equal(net_addr_port(&a), 5060);
}

static void test_print_host_and_small_buffers(void **state)
{
	struct net_addr a;
	char buf[NET_ADDR_STRLEN], tiny[6];

	(void)state;
	assert_int_equal(net_addr_parse_str(&a, "[2001:db8::5]:5080", 0), 0);
	assert_string_equal(net_addr_print_host(&a, buf, sizeof(buf)), "[2001:db8::5]");
	assert_string_equal(net_addr_print(&a, tiny, sizeof(tiny)), "[2001");
	assert_int_equal(net_addr_parse_str(&a, "10.1.2.3", 5060), 0);
	assert_string_equal(net_addr_print_host(&a, buf, sizeof(buf)), "10.1.2.3");
	net_addr_init(&a, 0);
	assert_false(net_addr_isset(&a));
	assert_string_equal(net_addr_print(&a, buf, sizeof(buf)), "?");
	assert_int_equal(net_addr_len(&a), 0);
}

static void test_compare(void **state)
{
	struct net_addr a, b, c, d, e;

	(void)state;
	assert_int_equal(net_addr_parse_str(&a, "10.0.0.1:5060", 0), 0);
	assert_int_equal(net_addr_parse_str(&b, "10.0.0.1", 5060), 0);
	assert_int_equal(net_addr_parse_str(&c, "10.0.0.1:5061", 0), 0);
	assert_int_equal(net_addr_parse_str(&d, "[::1]:5060", 0), 0);
	assert_int_equal(net_addr_parse_str(&e, "::1", 5060), 0);
	assert_true(net_addr_eq(&a, &b));
	assert_false(net_addr_eq(&a, &c));
	assert_true(net_addr_eq_ip(&a, &c));
	assert_true(net_addr_cmp(&a, &c) < 0);
	assert_true(net_addr_cmp(&c, &a) > 0);
	assert_false(net_addr_eq(&a, &d));
	assert_false(net_addr_eq_ip(&a, &d));
	assert_true(net_addr_eq(&d, &e));
	assert_int_equal(net_addr_hash_ip(&a), net_addr_hash_ip(&c));
	net_addr_set_port(&e, 9);
	assert_int_equal(net_addr_port(&e), 9);
	assert_false(net_addr_eq(&d, &e));
	assert_true(net_addr_eq_ip(&d, &e));
	assert_false(net_addr_is_any(&a));
	net_addr_init(&e, AF_INET6);
	assert_true(net_addr_is_any(&e));
}

/* Connection limits count a peer: an IPv4 address, an IPv6 /64 (issue 19,
 * finding 6: one host holds a whole /64). */
static void test_same_peer(void **state)
{
	struct net_addr a, b, c, d, e, f;

	(void)state;
	assert_int_equal(net_addr_parse_str(&a, "[2001:db8:1:2::1]:5060", 0), 0);
	assert_int_equal(net_addr_parse_str(&b, "[2001:db8:1:2:ffff:ffff:ffff:ffff]:9", 0), 0);
	assert_int_equal(net_addr_parse_str(&c, "[2001:db8:1:3::1]:5060", 0), 0);
	assert_int_equal(net_addr_parse_str(&d, "10.0.0.1:5060", 0), 0);
	assert_int_equal(net_addr_parse_str(&e, "10.0.0.2:5060", 0), 0);
	assert_int_equal(net_addr_parse_str(&f, "10.0.0.1:7", 0), 0);
	assert_true(net_addr_same_peer(&a, &b)); /* same /64 */
	assert_false(net_addr_eq_ip(&a, &b));
	assert_int_equal(net_addr_hash_peer(&a), net_addr_hash_peer(&b));
	assert_false(net_addr_same_peer(&a, &c)); /* next /64 */
	assert_false(net_addr_same_peer(&d, &e)); /* IPv4: the address */
	assert_true(net_addr_same_peer(&d, &f));
	assert_int_equal(net_addr_hash_peer(&d), net_addr_hash_peer(&f));
	assert_false(net_addr_same_peer(&a, &d));
	/* an IPv4 address never matches the IPv6 /64 that starts alike */
	assert_int_equal(net_addr_parse_str(&c, "[a00:1::]:1", 0), 0);
	assert_false(net_addr_same_peer(&c, &d));
}

static void test_from_sa(void **state)
{
	struct sockaddr_in in = {.sin_family = AF_INET, .sin_port = htons(7)};
	struct sockaddr_un_like {
		sa_family_t fam;
		char path[20];
	} un = {.fam = AF_UNIX};
	struct net_addr a;

	(void)state;
	in.sin_addr.s_addr = htonl(0x7f000001);
	assert_int_equal(net_addr_from_sa(&a, (struct sockaddr *)&in, sizeof(in)), 0);
	assert_int_equal(net_addr_port(&a), 7);
	assert_int_equal(net_addr_from_sa(&a, (struct sockaddr *)&in, 4), EAFNOSUPPORT);
	assert_int_equal(net_addr_from_sa(&a, (struct sockaddr *)&un, sizeof(un)),
			 EAFNOSUPPORT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_good),
	    cmocka_unit_test(test_parse_bad),
	    cmocka_unit_test(test_print_host_and_small_buffers),
	    cmocka_unit_test(test_compare),
	    cmocka_unit_test(test_same_peer),
	    cmocka_unit_test(test_from_sa),
	};

	return cmocka_run_group_tests_name("net_addr", tests, NULL, NULL);
}
