/*
 * Unit tests: sms alphabets, septet packing and text splitting (TS 23.038
 * §6.1.2.1.1, §6.2.1, §6.2.1.1; TS 23.040 §9.2.3.24.1).
 *
 * Packing vectors: "hellohello" = e8329bfd4697d9ec37 (the GSM 03.40 PDU
 * examples) and "hello" after one fill bit = d06536fb0d (computed by hand:
 * each octet of e8329bfd06 shifted left one bit with the carry).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sms/sms_tpdu.h"

static void test_pack(void **state)
{
	uint8_t sept[16], out[16], back[16];
	size_t n, m;
	char hex[40];

	(void)state;
	assert_int_equal(sms_gsm7_from_utf8("hellohello", 10, sept, sizeof(sept), &n), 0);
	assert_int_equal(n, 10);
	assert_int_equal(sms_septets_pack(sept, n, 0, out, sizeof(out), &m), 0);
	sms_hex_encode(out, m, hex, sizeof(hex));
	assert_string_equal(hex, "e8329bfd4697d9ec37");
	assert_int_equal(sms_septets_unpack(out, m, 0, n, back), 0);
	assert_memory_equal(back, sept, n);
	assert_int_equal(sms_septets_pack(sept, 5, 1, out, sizeof(out), &m), 0);
	sms_hex_encode(out, m, hex, sizeof(hex));
	assert_string_equal(hex, "d06536fb0d");
	assert_int_equal(sms_septets_unpack(out, m, 1, 5, back), 0);
	assert_memory_equal(back, sept, 5);
	assert_int_equal(sms_septets_unpack(out, 4, 1, 5, back), EBADMSG);
	assert_int_equal(sms_septets_pack(sept, 10, 0, out, 8, &m), ENOSPC);
}

static void test_alphabet(void **state)
{
	/* every main-table character and the extension table, as UTF-8 */
	static const char all[] =
		"@\xc2\xa3$\xc2\xa5\xc3\xa8\xc3\xa9\xc3\xb9\xc3\xac\xc3\xb2\xc3\x87\n\xc3\x98"
		"\xc3\xb8\r\xc3\x85\xc3\xa5\xce\x94_\xce\xa6\xce\x93\xce\x9b\xce\xa9\xce\xa0"
		"\xce\xa8\xce\xa3\xce\x98\xce\x9e\xc3\x86\xc3\xa6\xc3\x9f\xc3\x89"
		" !\"#\xc2\xa4%&'()*+,-./0123456789:;<=>?\xc2\xa1"
		"ABCDEFGHIJKLMNOPQRSTUVWXYZ\xc3\x84\xc3\x96\xc3\x91\xc3\x9c\xc2\xa7\xc2\xbf"
		"abcdefghijklmnopqrstuvwxyz\xc3\xa4\xc3\xb6\xc3\xb1\xc3\xbc\xc3\xa0"
		"\x0c^{}\\[~]|\xe2\x82\xac";
	uint8_t sept[160];
	size_t n, l;
	char back[400];

	(void)state;
	assert_int_equal(sms_gsm7_from_utf8(all, strlen(all), sept, sizeof(sept), &n), 0);
	assert_int_equal(n, 127 + 2 * 10);
	for (unsigned i = 0; i < 27; i++)
		assert_int_equal(sept[i], i < 0x1b ? i : i + 1);
	assert_int_equal(sept[127], 0x1b);
	assert_int_equal(sept[128], 0x0a);
	assert_int_equal(sept[n - 1], 0x65);
	assert_int_equal(sms_gsm7_to_utf8(sept, n, back, sizeof(back), &l), 0);
	assert_string_equal(back, all);
	/* not in the alphabet: c cedilla, Cyrillic, bad UTF-8 */
	assert_int_equal(sms_gsm7_from_utf8("\xc3\xa7", 2, sept, 4, &n), EILSEQ);
	assert_int_equal(sms_gsm7_from_utf8("\xd0\x96", 2, sept, 4, &n), EILSEQ);
	assert_int_equal(sms_gsm7_from_utf8("\xc3", 1, sept, 4, &n), EILSEQ);
	assert_int_equal(sms_gsm7_from_utf8("\xc0\x80", 2, sept, 4, &n), EILSEQ);
	/* an undefined escape shows the main table's character (§6.2.1.1) */
	sept[0] = 0x1b, sept[1] = 0x41;
	assert_int_equal(sms_gsm7_to_utf8(sept, 2, back, sizeof(back), &l), 0);
	assert_string_equal(back, "A");
	assert_int_equal(sms_gsm7_to_utf8(sept, 2, back, 1, &l), ENOSPC);
}

static void test_ucs2(void **state)
{
	uint8_t u[16];
	size_t n, l;
	char back[32];

	(void)state;
	/* U+1F600 as a surrogate pair */
	assert_int_equal(sms_ucs2_from_utf8("A\xf0\x9f\x98\x80", 5, u, sizeof(u), &n), 0);
	assert_int_equal(n, 6);
	assert_int_equal(u[2], 0xd8);
	assert_int_equal(u[3], 0x3d);
	assert_int_equal(u[4], 0xde);
	assert_int_equal(u[5], 0x00);
	assert_int_equal(sms_ucs2_to_utf8(u, n, back, sizeof(back), &l), 0);
	assert_string_equal(back, "A\xf0\x9f\x98\x80");
	/* a lone high surrogate reads as U+FFFD */
	assert_int_equal(sms_ucs2_to_utf8(u + 2, 2, back, sizeof(back), &l), 0);
	assert_string_equal(back, "\xef\xbf\xbd");
}

static void fill(char *s, const char *ch, size_t count)
{
	size_t l = strlen(ch);

	for (size_t i = 0; i < count; i++)
		memcpy(s + i * l, ch, l);
	s[count * l] = '\0';
}

static void test_split_gsm7(void **state)
{
	static struct sms_ud parts[8];
	struct sms_split_prm prm = {.ref = 0x42, .max_parts = 8};
	char text[1200];
	size_t n;
	uint8_t dcs;

	(void)state;
	fill(text, "a", 160);
	assert_int_equal(sms_text_split(text, strlen(text), &prm, parts, &n, &dcs), 0);
	assert_int_equal(n, 1);
	assert_int_equal(dcs, 0x00);
	assert_int_equal(parts[0].udh_len, 0);
	assert_int_equal(parts[0].data_len, 160);
	fill(text, "a", 161);
	assert_int_equal(sms_text_split(text, strlen(text), &prm, parts, &n, &dcs), 0);
	assert_int_equal(n, 2);
	assert_int_equal(parts[0].data_len, 153);
	assert_int_equal(parts[1].data_len, 8);
	assert_int_equal(parts[1].udh_len, 5);
	assert_memory_equal(parts[1].udh, "\x00\x03\x42\x02\x02", 5);
	/* an escape sequence never straddles two parts */
	fill(text, "a", 152);
	strcat(text, "\xe2\x82\xac");
	strcat(text, "aaaaaaaaaa");
	assert_int_equal(sms_text_split(text, strlen(text), &prm, parts, &n, &dcs), 0);
	assert_int_equal(n, 2);
	assert_int_equal(parts[0].data_len, 152);
	assert_int_equal(parts[1].data[0], 0x1b);
	assert_int_equal(parts[1].data_len, 12);
	/* 16-bit reference: 152 septets a part */
	prm.ref16 = true;
	prm.ref = 0x1234;
	fill(text, "a", 305);
	assert_int_equal(sms_text_split(text, strlen(text), &prm, parts, &n, &dcs), 0);
	assert_int_equal(n, 3);
	assert_int_equal(parts[0].data_len, 152);
	assert_int_equal(parts[2].data_len, 1);
	assert_memory_equal(parts[2].udh, "\x08\x04\x12\x34\x03\x03", 6);
	/* too many parts */
	prm.max_parts = 2;
	assert_int_equal(sms_text_split(text, strlen(text), &prm, parts, &n, &dcs), EMSGSIZE);
	prm.max_parts = 0;
	assert_int_equal(sms_text_split(text, strlen(text), &prm, parts, &n, &dcs), EINVAL);
}

static void test_split_ucs2(void **state)
{
	static struct sms_ud parts[8];
	struct sms_split_prm prm = {.ref = 7, .max_parts = 8};
	char text[1200];
	size_t n;
	uint8_t dcs;

	(void)state;
	fill(text, "\xd0\x96", 70);
	assert_int_equal(sms_text_split(text, strlen(text), &prm, parts, &n, &dcs), 0);
	assert_int_equal(n, 1);
	assert_int_equal(dcs, 0x08);
	assert_false(parts[0].septets);
	assert_int_equal(parts[0].data_len, 140);
	fill(text, "\xd0\x96", 71);
	assert_int_equal(sms_text_split(text, strlen(text), &prm, parts, &n, &dcs), 0);
	assert_int_equal(n, 2);
	assert_int_equal(parts[0].data_len, 134);
	assert_int_equal(parts[1].data_len, 8);
	/* a surrogate pair never straddles two parts */
	fill(text, "\xd0\x96", 66);
	strcat(text, "\xf0\x9f\x98\x80");
	strcat(text, "\xd0\x96\xd0\x96\xd0\x96\xd0\x96\xd0\x96");
	assert_int_equal(sms_text_split(text, strlen(text), &prm, parts, &n, &dcs), 0);
	assert_int_equal(n, 2);
	assert_int_equal(parts[0].data_len, 132);
	assert_int_equal(parts[1].data[0], 0xd8);
	/* plain text when asked for UCS2 */
	prm.force_ucs2 = true;
	assert_int_equal(sms_text_split("hi", 2, &prm, parts, &n, &dcs), 0);
	assert_int_equal(dcs, 0x08);
	assert_int_equal(parts[0].data_len, 4);
	assert_int_equal(sms_text_split("\xff", 1, &prm, parts, &n, &dcs), EILSEQ);
}

/* Parts become SMS-DELIVERs that decode back to the text. */
static void test_split_encode(void **state)
{
	static struct sms_ud parts[4];
	struct sms_split_prm prm = {.ref = 9, .max_parts = 4};
	char text[400], out[400], whole[800] = "";
	size_t n;
	uint8_t dcs;

	(void)state;
	fill(text, "0123456789{", 20); /* 240 septets with the escapes */
	assert_int_equal(sms_text_split(text, strlen(text), &prm, parts, &n, &dcs), 0);
	assert_int_equal(n, 2);
	for (size_t k = 0; k < n; k++) {
		struct sms_tpdu t, b;
		struct sms_tpdu_dec_prm dp = {.dir = SMS_DIR_MT};
		struct sms_concat c;
		uint8_t pdu[SMS_TPDU_MAX];
		size_t len;

		memset(&t, 0, sizeof(t));
		t.type = SMS_TP_DELIVER;
		t.has_pid = t.has_dcs = t.has_ud = true;
		assert_int_equal(sms_addr_set(&t.addr, "imsd"), 0);
		t.dcs = dcs;
		t.udhi = parts[k].udh_len > 0;
		t.ud = parts[k];
		sms_ts_from_unix(&t.scts, 0, 0);
		assert_int_equal(sms_tpdu_encode(&t, pdu, sizeof(pdu), &len), 0);
		assert_int_equal(sms_tpdu_decode(&b, pdu, len, &dp, NULL), 0);
		assert_string_equal(b.addr.val, "imsd");
		assert_int_equal(sms_udh_concat(&b.ud, &c), 0);
		assert_int_equal(c.seq, k + 1);
		assert_int_equal(sms_tpdu_text(&b, out, sizeof(out), NULL), 0);
		strcat(whole, out);
	}
	assert_string_equal(whole, text);
}

static void test_timestamps(void **state)
{
	struct sms_ts ts;
	int64_t t;

	(void)state;
	sms_ts_from_unix(&ts, 1796551200LL, -14); /* 2026-12-06 10:00 UTC at -03:30 */
	assert_int_equal(ts.year, 26);
	assert_int_equal(ts.mon, 12);
	assert_int_equal(ts.day, 6);
	assert_int_equal(ts.hour, 6);
	assert_int_equal(ts.min, 30);
	assert_true(ts.tz_neg);
	assert_int_equal(ts.tz, 14);
	assert_int_equal(sms_ts_to_unix(&ts, &t), 0);
	assert_int_equal(t, 1796551200LL);
	sms_ts_from_unix(&ts, 951782400LL, 0); /* 2000-02-29 */
	assert_int_equal(ts.mon, 2);
	assert_int_equal(ts.day, 29);
	ts.mon = 13;
	assert_int_equal(sms_ts_to_unix(&ts, &t), EINVAL);
}

static void test_addr(void **state)
{
	struct sms_addr a;
	char s[48];

	(void)state;
	assert_int_equal(sms_addr_set(&a, "+33612345678"), 0);
	assert_int_equal(a.toa, 0x91);
	assert_int_equal(sms_addr_ton(&a), SMS_TON_INTERNATIONAL);
	assert_int_equal(sms_addr_npi(&a), SMS_NPI_ISDN);
	sms_addr_format(&a, s, sizeof(s));
	assert_string_equal(s, "+33612345678");
	assert_int_equal(sms_addr_set(&a, "*100#"), 0);
	assert_int_equal(a.toa, 0x81);
	assert_int_equal(sms_addr_set(&a, "Operator"), 0);
	assert_int_equal(a.toa, 0xd0);
	assert_int_equal(sms_addr_set(&a, "A very long sender"), EINVAL);
	assert_int_equal(sms_addr_set(&a, "\xd0\x96"), EINVAL);
	assert_int_equal(sms_addr_set(&a, "+"), EINVAL);
	assert_int_equal(sms_addr_set(&a, "+12a"), 0); /* BCD 'a' (TS 24.008 table 10.5.118) */
	assert_int_equal(sms_addr_set(&a, "+12x"), 0); /* not digits: sent as text */
	assert_int_equal(a.toa, 0xd0);
	assert_int_equal(sms_addr_set(&a, ""), 0);
	assert_false(a.present);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_pack),
		cmocka_unit_test(test_alphabet),
		cmocka_unit_test(test_ucs2),
		cmocka_unit_test(test_split_gsm7),
		cmocka_unit_test(test_split_ucs2),
		cmocka_unit_test(test_split_encode),
		cmocka_unit_test(test_timestamps),
		cmocka_unit_test(test_addr),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
