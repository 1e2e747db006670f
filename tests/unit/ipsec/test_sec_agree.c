/*
 * Unit tests: ipsec/sec_agree (RFC 3329 §2.2, TS 33.203 §7.1-7.2).
 * The first offer list is the Security-Client a Samsung UE sends (from the
 * docker_open5gs report quoted in docs/ipsec.md), the SPIs filled in.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "ipsec/sec_agree.h"

#define ALL 0xffffffffu
#define BIT(x) (1u << (x))

static const char samsung[] =
    "ipsec-3gpp;prot=esp;mod=trans;spi-c=74618;spi-s=74619;port-c=8001;port-s=8000;"
    "alg=hmac-md5-96;ealg=des-ede3-cbc, ipsec-3gpp;prot=esp;mod=trans;spi-c=74618;"
    "spi-s=74619;port-c=8001;port-s=8000;alg=hmac-md5-96;ealg=aes-cbc, "
    "ipsec-3gpp;prot=esp;mod=trans;spi-c=74618;spi-s=74619;port-c=8001;port-s=8000;"
    "alg=hmac-md5-96;ealg=null";

static int parse(const char *s, struct sec_list *l)
{
	memset(l, 0, sizeof(*l));
	return sec_agree_parse(pl_from_str(s), l);
}

static void test_parse_samsung(void **state)
{
	struct sec_list l;
	size_t i = 99;

	(void)state;
	assert_int_equal(parse(samsung, &l), 0);
	assert_int_equal(l.n, 3);
	assert_true(l.v[0].ipsec);
	assert_int_equal(l.v[0].spi_c, 74618);
	assert_int_equal(l.v[0].spi_s, 74619);
	assert_int_equal(l.v[0].port_c, 8001);
	assert_int_equal(l.v[0].port_s, 8000);
	assert_int_equal(l.v[0].aalg, ESP_AALG_HMAC_MD5_96);
	assert_int_equal(l.v[0].ealg, ESP_EALG_DES_EDE3_CBC);
	assert_int_equal(l.v[1].ealg, ESP_EALG_AES_CBC);
	assert_int_equal(l.v[2].ealg, ESP_EALG_NULL);
	/* the UE's order */
	assert_int_equal(sec_agree_choose(&l, ALL, ALL, &i), 0);
	assert_int_equal(i, 0);
	/* imsd without 3DES: the UE's next choice */
	assert_int_equal(sec_agree_choose(&l, ALL, ALL & ~BIT(ESP_EALG_DES_EDE3_CBC), &i), 0);
	assert_int_equal(i, 1);
	assert_int_equal(sec_agree_choose(&l, ALL, BIT(ESP_EALG_NULL), &i), 0);
	assert_int_equal(i, 2);
	/* nothing acceptable: imsd has no HMAC-MD5 */
	assert_int_equal(sec_agree_choose(&l, BIT(ESP_AALG_HMAC_SHA1_96), ALL, &i), ENOENT);
}

static void test_parse_spacing_and_q(void **state)
{
	struct sec_list l;
	size_t i = 99;

	(void)state;
	assert_int_equal(parse("tls;q=0.2, digest;d-alg=md5 ,ipsec-3gpp ; q = 0.1 ; "
			       "alg = hmac-sha-1-96 ;\r\n spi-c=1;spi-s=2;port-c=5062;port-s=5064"
			       ";EALG=AES-CBC;x-ext;y=\"a;b,c\"",
			       &l),
			 0);
	assert_int_equal(l.n, 3);
	assert_false(l.v[0].ipsec);
	assert_int_equal(l.v[0].q, 200);
	assert_int_equal(l.v[2].q, 100);
	assert_int_equal(l.v[2].ealg, ESP_EALG_AES_CBC);
	assert_int_equal(l.v[2].port_s, 5064);
	assert_int_equal(sec_agree_choose(&l, ALL, ALL, &i), 0);
	assert_int_equal(i, 2);
	/* higher q wins over order (RFC 3329 §2.2) */
	assert_int_equal(
	    parse("ipsec-3gpp;q=0.1;alg=hmac-md5-96;spi-c=1;spi-s=2;port-c=1;port-s=2,"
		  "ipsec-3gpp;q=0.5;alg=hmac-sha-1-96;spi-c=1;spi-s=2;port-c=1;port-s=2",
		  &l),
	    0);
	assert_int_equal(sec_agree_choose(&l, ALL, ALL, &i), 0);
	assert_int_equal(i, 1);
	/* two header lines append to one list */
	assert_int_equal(sec_agree_parse(PL("ipsec-3gpp;alg=aes-gmac;spi-c=3;spi-s=4;"
					    "port-c=1;port-s=2"),
					 &l),
			 0);
	assert_int_equal(l.n, 3);
	assert_int_equal(l.v[2].aalg, ESP_AALG_AES_GMAC);
}

/* Offers that are well-formed but not acceptable are skipped, not errors. */
static void test_choose_skips(void **state)
{
	static const char *const skip[] = {
	    "ipsec-3gpp;alg=hmac-md5-96;spi-s=2;port-c=1;port-s=2",		/* no spi-c */
	    "ipsec-3gpp;alg=hmac-md5-96;spi-c=1;spi-s=2;port-c=1",		/* no port-s */
	    "ipsec-3gpp;spi-c=1;spi-s=2;port-c=1;port-s=2",			/* no alg */
	    "ipsec-3gpp;prot=ah;alg=hmac-md5-96;spi-c=1;spi-s=2;port-c=1;port-s=2",
	    "ipsec-3gpp;mod=tun;alg=hmac-md5-96;spi-c=1;spi-s=2;port-c=1;port-s=2",
	    "ipsec-3gpp;alg=hmac-sha-256;spi-c=1;spi-s=2;port-c=1;port-s=2",
	    "ipsec-3gpp;alg=hmac-md5-96;ealg=chacha;spi-c=1;spi-s=2;port-c=1;port-s=2",
	    "ipsec-3gpp;alg=aes-gmac;ealg=aes-cbc;spi-c=1;spi-s=2;port-c=1;port-s=2",
	    "ipsec-3gpp;alg=hmac-md5-96;spi-c=0;spi-s=2;port-c=1;port-s=2",
	    "ipsec-3gpp;alg=hmac-md5-96;spi-c=1;spi-s=2;port-c=0;port-s=2",
	    "ipsec-ike;alg=hmac-md5-96;spi-c=1;spi-s=2;port-c=1;port-s=2",
	    "tls;q=0.9",
	};
	struct sec_list l;
	size_t i;

	(void)state;
	for (size_t k = 0; k < sizeof(skip) / sizeof(skip[0]); k++) {
		assert_int_equal(parse(skip[k], &l), 0);
		assert_int_equal(sec_agree_choose(&l, ALL, ALL, &i), ENOENT);
	}
}

static void test_malformed(void **state)
{
	static const char *const bad[] = {
	    "",
	    ",",
	    "ipsec-3gpp;",
	    "ipsec-3gpp;;alg=hmac-md5-96",
	    "ipsec-3gpp x",
	    "ipsec-3gpp;spi-c=",
	    "ipsec-3gpp;y=\"unterminated",
	    "ipsec-3gpp,",
	    "ipsec-3gpp;alg=@",
	};
	struct sec_list l;
	char many[2048];
	size_t n = 0;

	(void)state;
	for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++)
		assert_int_not_equal(parse(bad[k], &l), 0);
	for (int k = 0; k <= SEC_AGREE_OFFER_MAX; k++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, "%stls", k ? "," : "");
	assert_int_equal(parse(many, &l), EOVERFLOW);
	n = (size_t)snprintf(many, sizeof(many), "ipsec-3gpp");
	for (int k = 0; k <= SEC_AGREE_PARAM_MAX; k++)
		n += (size_t)snprintf(many + n, sizeof(many) - n, ";x%d=1", k);
	assert_int_equal(parse(many, &l), EOVERFLOW);
	assert_int_equal(parse("ipsec-3gpp;q=1.000;spi-c=4294967295", &l), 0);
	assert_int_equal(l.v[0].q, 1000);
	assert_int_equal(l.v[0].spi_c, 4294967295u);
}

/* A bad value or a repeated known parameter spoils its own offer, not the
 * list: the UE's next offer is chosen (docs/ipsec.md "Odd Security-Client
 * headers"); a spoiled offer never equals another (Security-Verify). */
static void test_bad_value_spoils_offer(void **state)
{
	static const char *const spoil[] = {
	    "spi-c=abc",	  "spi-c=4294967296", "spi-c",	      "spi-s=0x10",
	    "port-c=65536",	  "port-c=-1",	      "port-s=99999", "alg=hmac-md5-96",
	    "spi-c=1",		  "q=1.5",	      "q=0.1234",     "q=2",
	    "q=0.",		  "ealg=null;ealg=null", "prot=esp;prot=esp", "mod=trans;mod=trans",
	};
	const char *good = "ipsec-3gpp;alg=hmac-md5-96;spi-c=1;spi-s=2;port-c=1;port-s=2";
	char buf[256];
	struct sec_list l;
	size_t i = 99;

	(void)state;
	for (size_t k = 0; k < sizeof(spoil) / sizeof(spoil[0]); k++) {
		snprintf(buf, sizeof(buf), "%s;%s, %s;q=0.001", good, spoil[k], good);
		assert_int_equal(parse(buf, &l), 0);
		assert_int_equal(l.n, 2);
		assert_true(l.v[0].bad);
		assert_false(l.v[1].bad);
		assert_int_equal(sec_agree_choose(&l, ALL, ALL, &i), 0);
		assert_int_equal(i, 1);
		l.n = 1;
		assert_int_equal(sec_agree_choose(&l, ALL, ALL, &i), ENOENT);
		assert_false(sec_offer_eq(&l.v[0], &l.v[0]));
	}
}

/* TS 33.203 §7.1: equal spi-c and spi-s, or equal port-c and port-s, cannot
 * carry the UE's two SA pairs: not acceptable. */
static void test_equal_spis_or_ports(void **state)
{
	struct sec_list l;
	size_t i = 99;

	(void)state;
	assert_int_equal(parse("ipsec-3gpp;alg=hmac-md5-96;spi-c=7;spi-s=7;port-c=1;port-s=2, "
			       "ipsec-3gpp;alg=hmac-md5-96;spi-c=1;spi-s=2;port-c=9;port-s=9",
			       &l),
			 0);
	assert_int_equal(sec_agree_choose(&l, ALL, ALL, &i), ENOENT);
	assert_int_equal(sec_agree_parse(PL("ipsec-3gpp;alg=hmac-md5-96;spi-c=7;spi-s=8;"
					    "port-c=9;port-s=10"),
					 &l),
			 0);
	assert_int_equal(sec_agree_choose(&l, ALL, ALL, &i), 0);
	assert_int_equal(i, 2);
}

static void test_print_and_verify(void **state)
{
	struct sec_list c, sent, ver;
	char buf[SEC_AGREE_VALUE_MAX];
	struct sec_offer srv;
	size_t i = 0;

	(void)state;
	assert_int_equal(parse(samsung, &c), 0);
	assert_int_equal(sec_agree_choose(&c, ALL, ALL, &i), 0);
	srv = c.v[i];
	srv.spi_c = 1000;
	srv.spi_s = 1001;
	srv.port_c = 5100;
	srv.port_s = 5101;
	srv.q = 100;
	srv.has |= SEC_HAS_Q;
	assert_int_equal(sec_agree_print(&srv, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "ipsec-3gpp;q=0.100;prot=esp;mod=trans;spi-c=1000;"
				 "spi-s=1001;port-c=5100;port-s=5101;ealg=des-ede3-cbc;"
				 "alg=hmac-md5-96");
	assert_int_equal(sec_agree_print(&srv, buf, 20), ENOSPC);
	assert_int_equal(sec_agree_print(&srv, buf, sizeof(buf)), 0);
	assert_int_equal(parse(buf, &sent), 0);
	assert_true(sec_offer_eq(&sent.v[0], &srv));
	/* the UE echoes it in another spelling: equal */
	assert_int_equal(parse("ipsec-3gpp; q=0.1; alg=HMAC-MD5-96; ealg=des-ede3-cbc; "
			       "spi-c=1000; spi-s=1001; port-c=5100; port-s=5101; prot=esp; "
			       "mod=trans",
			       &ver),
			 0);
	assert_int_equal(sec_agree_verify(&ver, &sent), 0);
	/* one SPI differs, an offer more, the q missing: refused */
	assert_int_equal(parse("ipsec-3gpp;q=0.1;alg=hmac-md5-96;ealg=des-ede3-cbc;spi-c=1000;"
			       "spi-s=1002;port-c=5100;port-s=5101",
			       &ver),
			 0);
	assert_int_equal(sec_agree_verify(&ver, &sent), EACCES);
	assert_int_equal(parse("ipsec-3gpp;alg=hmac-md5-96;ealg=des-ede3-cbc;spi-c=1000;"
			       "spi-s=1001;port-c=5100;port-s=5101",
			       &ver),
			 0);
	assert_int_equal(sec_agree_verify(&ver, &sent), EACCES);
	assert_int_equal(sec_agree_parse(PL("tls"), &sent), 0);
	assert_int_equal(sec_agree_verify(&ver, &sent), EACCES);
	memset(&ver, 0, sizeof(ver));
	assert_int_equal(sec_agree_verify(&ver, &ver), EACCES);
	/* absent ealg reads as ealg=null */
	assert_int_equal(parse("ipsec-3gpp;alg=hmac-md5-96;spi-c=1;spi-s=2;port-c=1;port-s=2",
			       &ver),
			 0);
	assert_int_equal(parse("ipsec-3gpp;alg=hmac-md5-96;ealg=null;spi-c=1;spi-s=2;port-c=1;"
			       "port-s=2",
			       &sent),
			 0);
	assert_int_equal(sec_agree_verify(&ver, &sent), 0);
}

/* RFC 3329 §2.3.1: the 494's Security-Server names every algorithm we take,
 * each offer a valid pair; it parses back (within SEC_AGREE_OFFER_MAX). */
static void test_print_ours(void **state)
{
	const uint32_t all_a = (1u << ESP_AALG_COUNT) - 1, all_e = (1u << ESP_EALG_COUNT) - 1;
	bool a_seen[ESP_AALG_COUNT] = {false}, e_seen[ESP_EALG_COUNT] = {false};
	char buf[1536], small[40];
	struct sec_list l = {.n = 0};

	(void)state;
	assert_int_equal(sec_agree_print_ours(all_a, all_e, buf, sizeof(buf)), 0);
	assert_int_equal(sec_agree_parse(pl_from_str(buf), &l), 0);
	assert_int_equal(l.n, ESP_AALG_COUNT + ESP_EALG_COUNT - 1); /* null named once */
	for (size_t i = 0; i < l.n; i++) {
		const struct sec_offer *o = &l.v[i];

		assert_true(o->ipsec && o->alg_known && o->ealg_known);
		assert_true(o->prot == SEC_PROT_ESP && o->mod == SEC_MOD_TRANS);
		assert_true(esp_alg_pair_valid(o->aalg, o->ealg));
		assert_int_equal(o->spi_c, 0);
		a_seen[o->aalg] = e_seen[o->ealg] = true;
	}
	for (int a = 0; a < ESP_AALG_COUNT; a++)
		assert_true(a_seen[a]);
	for (int e = 0; e < ESP_EALG_COUNT; e++)
		assert_true(e_seen[e]);
	/* one pair only */
	assert_int_equal(sec_agree_print_ours(1u << ESP_AALG_HMAC_SHA1_96, 1u << ESP_EALG_AES_CBC,
					      buf, sizeof(buf)),
			 0);
	assert_string_equal(buf, "ipsec-3gpp;prot=esp;mod=trans;ealg=aes-cbc;alg=hmac-sha-1-96");
	/* aes-gmac beside aes-cbc only: no valid pair */
	assert_int_equal(sec_agree_print_ours(1u << ESP_AALG_AES_GMAC, 1u << ESP_EALG_AES_CBC,
					      buf, sizeof(buf)),
			 ENOENT);
	assert_int_equal(sec_agree_print_ours(all_a, all_e, small, sizeof(small)), ENOSPC);
	assert_string_equal(small, "");
	assert_int_equal(sec_agree_print_ours(all_a, all_e, NULL, 0), EINVAL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_parse_samsung),
	    cmocka_unit_test(test_parse_spacing_and_q),
	    cmocka_unit_test(test_choose_skips),
	    cmocka_unit_test(test_malformed),
	    cmocka_unit_test(test_bad_value_spoils_offer),
	    cmocka_unit_test(test_equal_spis_or_ports),
	    cmocka_unit_test(test_print_and_verify),
	    cmocka_unit_test(test_print_ours),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
