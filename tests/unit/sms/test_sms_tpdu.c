/*
 * Unit tests: sms/sms_tpdu (TS 23.040 §9.2).
 *
 * Vectors:
 *  - the classic GSM 03.40 PDU-mode examples published with the spec's
 *    field layout (SMSC prefix removed, only the TPDU is ours):
 *    SMS-DELIVER "hellohello" from 27838890001 (TOA c8), SCTS 99-03-29
 *    15:16:59 +02:00; SMS-SUBMIT "hellohello" to +46708251358 with VP aa;
 *    SMS-DELIVER "How are you?" from +31641600986 whose time zone octet is
 *    08, a "minus zero" a modem really sent; SMS-SUBMIT with PID 20, VP ad;
 *    an 8-bit SMS-SUBMIT "Hi dude!" with a 16-bit concatenation reference
 *    112f (IE 08, 1 of 1) to +923425245950, from a public PDU walkthrough.
 *  - TPDUs built by hand from the §9.2.2 bit layouts: concatenated part with
 *    an 8-bit reference (IE 00) and fill bit, 16-bit reference (IE 08), UCS2,
 *    status report, command, reports in RP-ACK and RP-ERROR, alphanumeric
 *    TP-OA. Septets were packed independently (a 10-line Python packer, LSB
 *    first per TS 23.038 §6.1.2.1.1): "hello" after a 6-octet header is
 *    d06536fb0d, "InfoSMS" is 49b7f93d6d4e01.
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

static size_t unhex(const char *h, uint8_t *out, size_t size)
{
	size_t n = 0;

	assert_int_equal(sms_hex_decode(h, strlen(h), out, size, &n), 0);
	return n;
}

/* Decode, check byte-exact re-encode; every shorter prefix must fail. */
static void roundtrip(const char *hex, enum sms_dir dir, bool in_error, struct sms_tpdu *t)
{
	uint8_t in[256], out[256];
	size_t n = unhex(hex, in, sizeof(in)), m = 0;
	struct sms_tpdu_dec_prm prm = {.dir = dir, .in_error = in_error};
	struct sms_err err;

	assert_int_equal(sms_tpdu_decode(t, in, n, &prm, &err), 0);
	assert_int_equal(sms_tpdu_encode(t, out, sizeof(out), &m), 0);
	assert_int_equal(m, n);
	assert_memory_equal(out, in, n);
}

static void test_deliver_hellohello(void **state)
{
	struct sms_tpdu t;
	char txt[64];
	int64_t when;

	(void)state;
	roundtrip("040bc87238880900f10000993092516195800ae8329bfd4697d9ec37", SMS_DIR_MT, false,
		  &t);
	assert_int_equal(t.type, SMS_TP_DELIVER);
	assert_true(t.mms); /* bit set: no more messages */
	assert_false(t.udhi);
	assert_int_equal(t.addr.toa, 0xc8);
	assert_string_equal(t.addr.val, "27838890001");
	assert_int_equal(t.scts.year, 99);
	assert_int_equal(t.scts.mon, 3);
	assert_int_equal(t.scts.day, 29);
	assert_int_equal(t.scts.hour, 15);
	assert_int_equal(t.scts.min, 16);
	assert_int_equal(t.scts.sec, 59);
	assert_int_equal(t.scts.tz, 8);
	assert_false(t.scts.tz_neg);
	assert_int_equal(t.ud.data_len, 10);
	assert_int_equal(sms_tpdu_text(&t, txt, sizeof(txt), NULL), 0);
	assert_string_equal(txt, "hellohello");
	/* 2099-03-29 15:16:59 +02:00 is 13:16:59 UTC */
	assert_int_equal(sms_ts_to_unix(&t.scts, &when), 0);
	assert_int_equal(when, 4078473419LL);
}

static void test_submit_hellohello(void **state)
{
	struct sms_tpdu t;
	int64_t exp;
	char txt[64];

	(void)state;
	roundtrip("11000b916407281553f80000aa0ae8329bfd4697d9ec37", SMS_DIR_MO, false, &t);
	assert_int_equal(t.type, SMS_TP_SUBMIT);
	assert_int_equal(t.mr, 0);
	assert_int_equal(t.addr.toa, SMS_TOA_INTERNATIONAL);
	assert_string_equal(t.addr.val, "46708251358");
	assert_int_equal(t.vp.vpf, SMS_VPF_RELATIVE);
	assert_int_equal(t.vp.rel, 0xaa);
	/* 170: (170 - 166) days */
	assert_int_equal(sms_vp_expiry(&t.vp, 1000, &exp), 0);
	assert_int_equal(exp, 1000 + 4 * 86400);
	assert_int_equal(sms_tpdu_text(&t, txt, sizeof(txt), NULL), 0);
	assert_string_equal(txt, "hellohello");
	/* the same TPDU as MT reads as SUBMIT-REPORT, which it is not */
	{
		uint8_t in[64];
		size_t n = unhex("11000b916407281553f80000aa0ae8329bfd4697d9ec37", in, 64);
		struct sms_tpdu_dec_prm prm = {.dir = SMS_DIR_MT};

		assert_int_equal(sms_tpdu_decode(&t, in, n, &prm, NULL), EBADMSG);
	}
}

static void test_deliver_minus_zero_tz(void **state)
{
	struct sms_tpdu t;
	char txt[64];

	(void)state;
	roundtrip("040b911346610089f60000208062917314080cc8f71d14969741f977fd07", SMS_DIR_MT,
		  false, &t);
	assert_string_equal(t.addr.val, "31641600986");
	assert_int_equal(t.scts.tz, 0);
	assert_true(t.scts.tz_neg);
	assert_int_equal(sms_tpdu_text(&t, txt, sizeof(txt), NULL), 0);
	assert_string_equal(txt, "How are you?");
}

static void test_submit_pid_vp(void **state)
{
	struct sms_tpdu t;

	(void)state;
	roundtrip("11e50a9156692904562000ad0cc939e8fa7693cb72739d0d", SMS_DIR_MO, false, &t);
}

static void test_concat8_fill(void **state)
{
	struct sms_tpdu t;
	struct sms_concat c;
	char txt[32];

	(void)state;
	roundtrip("41000b916407281553f800000c050003" "2a0201d06536fb0d", SMS_DIR_MO, false, &t);
	assert_true(t.udhi);
	assert_int_equal(t.ud.udh_len, 5);
	assert_int_equal(sms_udh_concat(&t.ud, &c), 0);
	assert_true(c.present);
	assert_false(c.ref16);
	assert_int_equal(c.ref, 0x2a);
	assert_int_equal(c.total, 2);
	assert_int_equal(c.seq, 1);
	assert_int_equal(sms_tpdu_text(&t, txt, sizeof(txt), NULL), 0);
	assert_string_equal(txt, "hello");
}

static void test_concat16_other_ie(void **state)
{
	struct sms_tpdu t;
	struct sms_concat c;
	size_t off = 0;
	uint8_t iei, vl;
	const uint8_t *v;

	(void)state;
	/* 8-bit data (DCS 04), header: IE 0x24 (national shift, kept) + IE 08 */
	roundtrip("440b916407281553f80004993092516195800b0924010108041234030202", SMS_DIR_MT,
		  false, &t);
	assert_int_equal(sms_udh_concat(&t.ud, &c), 0);
	assert_true(c.ref16);
	assert_int_equal(c.ref, 0x1234);
	assert_int_equal(c.total, 3);
	assert_int_equal(c.seq, 2);
	assert_int_equal(sms_udh_next(&t.ud, &off, &iei, &v, &vl), 0);
	assert_int_equal(iei, 0x24);
	assert_int_equal(vl, 1);
	assert_int_equal(sms_udh_next(&t.ud, &off, &iei, &v, &vl), 0);
	assert_int_equal(iei, 0x08);
	assert_int_equal(sms_udh_next(&t.ud, &off, &iei, &v, &vl), ENOENT);
	assert_int_equal(t.ud.data_len, 1);
	assert_int_equal(t.ud.data[0], 0x02);
	assert_int_equal(sms_tpdu_text(&t, (char[8]){0}, 8, NULL), EINVAL);
}

static void test_submit_8bit_concat16(void **state)
{
	struct sms_tpdu t;
	struct sms_concat c;

	(void)state;
	roundtrip("51000c912943524295050004aa0f060804112f01014869206475646521", SMS_DIR_MO,
		  false, &t);
	assert_string_equal(t.addr.val, "923425245950");
	assert_true(t.udhi);
	assert_int_equal(sms_udh_concat(&t.ud, &c), 0);
	assert_true(c.present && c.ref16);
	assert_int_equal(c.ref, 0x112f);
	assert_int_equal(c.total, 1);
	assert_int_equal(c.seq, 1);
	assert_false(t.ud.septets);
	assert_int_equal(t.ud.data_len, 8);
	assert_memory_equal(t.ud.data, "Hi dude!", 8);
}

static void test_ucs2_class0(void **state)
{
	struct sms_tpdu t;
	struct sms_dcs d;
	char txt[32];

	(void)state;
	/* DCS 18: UCS2, class 0; "Hi€" */
	roundtrip("01070b916407281553f80018060048006920ac", SMS_DIR_MO, false, &t);
	sms_dcs_parse(t.dcs, &d);
	assert_int_equal(d.alphabet, SMS_ALPHA_UCS2);
	assert_int_equal(d.msg_class, 0);
	assert_int_equal(sms_tpdu_text(&t, txt, sizeof(txt), NULL), 0);
	assert_string_equal(txt, "Hi\xe2\x82\xac");
}

static void test_status_report(void **state)
{
	struct sms_tpdu t;

	(void)state;
	roundtrip("062a0b916407281553f899309251619580993092517195800000", SMS_DIR_MT, false, &t);
	assert_int_equal(t.type, SMS_TP_STATUS_REPORT);
	assert_int_equal(t.mr, 0x2a);
	assert_int_equal(t.st, 0);
	assert_int_equal(t.npi, 1);
	assert_false(t.has_ud);
	/* without TP-PI */
	roundtrip("062a0b916407281553f8993092516195809930925171958000", SMS_DIR_MT, false, &t);
	assert_int_equal(t.npi, 0);
	/* with PID, DCS and user data */
	roundtrip("062a0b916407281553f899309251619580993092517195804607000005e8329bfd06", SMS_DIR_MT,
		  false, &t);
	assert_int_equal(t.st, SMS_ST_PERM_VP_EXPIRED);
	assert_true(t.has_ud);
	assert_int_equal(t.ud.data_len, 5);
}

static void test_command(void **state)
{
	struct sms_tpdu t;

	(void)state;
	roundtrip("222a00012a0b916407281553f803010203", SMS_DIR_MO, false, &t);
	assert_int_equal(t.type, SMS_TP_COMMAND);
	assert_true(t.srr);
	assert_int_equal(t.ct, 1);
	assert_int_equal(t.mn, 0x2a);
	assert_int_equal(t.ud.data_len, 3);
}

static void test_reports(void **state)
{
	struct sms_tpdu t;

	(void)state;
	roundtrip("0000", SMS_DIR_MO, false, &t);
	assert_int_equal(t.type, SMS_TP_DELIVER_REPORT);
	roundtrip("00", SMS_DIR_MO, false, &t);
	assert_int_equal(t.npi, 0);
	roundtrip("00d000", SMS_DIR_MO, true, &t);
	assert_true(t.in_error);
	assert_int_equal(t.fcs, SMS_FCS_MEMORY_EXCEEDED);
	roundtrip("010099309251619580", SMS_DIR_MT, false, &t);
	assert_int_equal(t.type, SMS_TP_SUBMIT_REPORT);
	assert_int_equal(t.scts.sec, 59);
	roundtrip("01c30099309251619580", SMS_DIR_MT, true, &t);
	assert_int_equal(t.fcs, SMS_FCS_INVALID_SME_ADDRESS);
	/* octets after the announced fields (a later release's) kept */
	roundtrip("000000", SMS_DIR_MO, false, &t);
	assert_int_equal(t.nextra, 1);
	roundtrip("00087f0102", SMS_DIR_MO, false, &t);
	assert_int_equal(t.nextra, 3);
	/* PI extension octet kept, reserved bits kept */
	roundtrip("01c3807899309251619580", SMS_DIR_MT, true, &t);
	assert_int_equal(t.npi, 2);
}

static void test_alnum_oa(void **state)
{
	struct sms_tpdu t;

	(void)state;
	roundtrip("040dd049b7f93d6d4e0100009930925161958005e8329bfd06", SMS_DIR_MT, false, &t);
	assert_int_equal(sms_addr_ton(&t.addr), SMS_TON_ALPHANUMERIC);
	assert_string_equal(t.addr.val, "InfoSMS");
	/* length 14 (whole octets): the padding septet is not an '@' */
	roundtrip("040ed049b7f93d6d4e0100009930925161958005e8329bfd06", SMS_DIR_MT, false, &t);
	assert_string_equal(t.addr.val, "InfoSMS");
	assert_int_equal(t.addr.tp_len, 14);
}

static void test_vp_absolute_enhanced(void **state)
{
	struct sms_tpdu t;
	int64_t exp;

	(void)state;
	/* absolute VP 2026-12-06 10:00:00 -01:00 (tz octet 0x48: 4 quarters, minus) */
	roundtrip("19010b916407281553f80000622160010000480ae8329bfd4697d9ec37", SMS_DIR_MO,
		  false, &t);
	assert_int_equal(t.vp.vpf, SMS_VPF_ABSOLUTE);
	assert_int_equal(sms_vp_expiry(&t.vp, 0, &exp), 0);
	assert_int_equal(exp, 1796551200LL + 3600);
	/* enhanced VP, relative-seconds format, 90 s */
	roundtrip("09010b916407281553f80000025a0000000000"
		  "0ae8329bfd4697d9ec37",
		  SMS_DIR_MO, false, &t);
	assert_int_equal(t.vp.vpf, SMS_VPF_ENHANCED);
	assert_int_equal(sms_vp_expiry(&t.vp, 100, &exp), 0);
	assert_int_equal(exp, 190);
}

static void test_relative_vp_table(void **state)
{
	(void)state;
	assert_int_equal(sms_vp_relative_seconds(0), 300);
	assert_int_equal(sms_vp_relative_seconds(143), 12 * 3600);
	assert_int_equal(sms_vp_relative_seconds(144), 12 * 3600 + 1800);
	assert_int_equal(sms_vp_relative_seconds(167), 24 * 3600);
	assert_int_equal(sms_vp_relative_seconds(168), 2 * 86400);
	assert_int_equal(sms_vp_relative_seconds(196), 30 * 86400);
	assert_int_equal(sms_vp_relative_seconds(197), 5 * 7 * 86400);
	assert_int_equal(sms_vp_relative_seconds(255), 63 * 7 * 86400);
	assert_int_equal(sms_vp_relative_from_seconds(86400), 167);
	assert_int_equal(sms_vp_relative_from_seconds(1), 0);
}

static void test_dcs_groups(void **state)
{
	struct sms_dcs d;

	(void)state;
	sms_dcs_parse(0x00, &d);
	assert_int_equal(d.alphabet, SMS_ALPHA_GSM7);
	assert_int_equal(d.msg_class, -1);
	sms_dcs_parse(0xf6, &d); /* 8-bit, class 2 (SIM data download) */
	assert_int_equal(d.alphabet, SMS_ALPHA_8BIT);
	assert_int_equal(d.msg_class, 2);
	sms_dcs_parse(0x2c, &d); /* compressed, reserved alphabet */
	assert_true(d.compressed);
	assert_int_equal(d.alphabet, SMS_ALPHA_GSM7);
	sms_dcs_parse(0x48, &d); /* automatic deletion, UCS2 */
	assert_true(d.auto_delete);
	assert_int_equal(d.alphabet, SMS_ALPHA_UCS2);
	sms_dcs_parse(0xc8, &d); /* MWI discard, voicemail active */
	assert_true(d.mwi);
	assert_false(d.mwi_store);
	assert_true(d.mwi_active);
	assert_int_equal(d.mwi_type, 0);
	sms_dcs_parse(0xe3, &d); /* MWI store UCS2, other, inactive */
	assert_true(d.mwi_store);
	assert_int_equal(d.alphabet, SMS_ALPHA_UCS2);
	assert_false(d.mwi_active);
	assert_int_equal(d.mwi_type, 3);
	sms_dcs_parse(0x9a, &d); /* reserved group: GSM 7-bit */
	assert_int_equal(d.alphabet, SMS_ALPHA_GSM7);
}

struct bad {
	const char *hex;
	enum sms_dir dir;
	uint8_t cause;
};

static void test_malformed(void **state)
{
	static const struct bad bad[] = {
		{"", SMS_DIR_MO, 96},
		{"03", SMS_DIR_MO, 95},				  /* reserved MTI */
		{"11000b916407281553", SMS_DIR_MO, 96},		  /* DA cut */
		{"1100159164072815534444444444444444440000aa00", SMS_DIR_MO, 96}, /* 21 digits */
		{"11000b916407281553f80000aa0ae8329bfd4697d9ec", SMS_DIR_MO, 96}, /* UD short */
		{"11000b916407281553f80000aa0ae8329bfd4697d9ec3700", SMS_DIR_MO, 95}, /* extra */
		{"11000b916407281553f80000aaa1", SMS_DIR_MO, 95}, /* UDL 161 septets */
		{"11000b916407281553f80004aa8d", SMS_DIR_MO, 95}, /* UDL 141 octets */
		{"51000b916407281553f80004aa020500", SMS_DIR_MO, 95}, /* UDHL > UDL */
		{"51000b916407281553f80004aa03020003", SMS_DIR_MO, 95}, /* IE overruns */
		{"51000b916407281553f80000aa00", SMS_DIR_MO, 95}, /* UDHI, no header */
		{"11000b9164072815537800" "00aa00", SMS_DIR_MO, 96}, /* no F filler */
		{"11000a9164f7281553f80000aa00", SMS_DIR_MO, 96}, /* F inside digits */
		{"040bc87238880900f100009930925161a5800ae8329bfd4697d9ec37", SMS_DIR_MT, 95},
		{"0101", SMS_DIR_MT, 96}, /* SUBMIT-REPORT without SCTS */
		{"01c3", SMS_DIR_MT, 96},
		{"0000" "000102030405060708090a0b0c0d0e0f10", SMS_DIR_MO, 95}, /* 17 extra */
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t in[64];
		size_t n = unhex(bad[i].hex, in, sizeof(in));
		struct sms_tpdu t;
		struct sms_err err;
		struct sms_tpdu_dec_prm prm = {.dir = bad[i].dir, .in_error = i == 15};

		assert_int_equal(sms_tpdu_decode(&t, in, n, &prm, &err), EBADMSG);
		if (err.rp_cause != bad[i].cause)
			fail_msg("case %zu (%s): cause %u, want %u (%s)", i, bad[i].hex,
				 err.rp_cause, bad[i].cause, err.what);
		assert_non_null(err.what);
	}
}

/* Every prefix of a valid TPDU that ends in user data is refused. */
static void test_prefixes(void **state)
{
	static const char *const ok[] = {
		"040bc87238880900f10000993092516195800ae8329bfd4697d9ec37",
		"41000b916407281553f800000c0500032a0201d06536fb0d",
		"222a00012a0b916407281553f803010203",
	};

	(void)state;
	for (size_t i = 0; i < 3; i++) {
		uint8_t in[64];
		size_t n = unhex(ok[i], in, sizeof(in));
		struct sms_tpdu t;
		struct sms_tpdu_dec_prm prm = {.dir = i == 0 ? SMS_DIR_MT : SMS_DIR_MO};

		for (size_t k = 0; k < n; k++)
			assert_int_equal(sms_tpdu_decode(&t, in, k, &prm, NULL), EBADMSG);
	}
}

static void test_encode_limits(void **state)
{
	struct sms_tpdu t;
	uint8_t out[SMS_TPDU_MAX];
	size_t n;

	(void)state;
	memset(&t, 0, sizeof(t));
	t.type = SMS_TP_SUBMIT;
	t.has_pid = t.has_dcs = t.has_ud = true;
	assert_int_equal(sms_addr_set(&t.addr, "+46708251358"), 0);
	t.ud.septets = true;
	t.ud.data_len = 160;
	memset(t.ud.data, 'a', 160);
	assert_int_equal(sms_tpdu_encode(&t, out, sizeof(out), &n), 0);
	assert_int_equal(n, 1 + 1 + 8 + 2 + 1 + 140);
	t.udhi = true; /* a header leaves room for 153 only */
	t.ud.udh_len = 5;
	assert_int_equal(sms_tpdu_encode(&t, out, sizeof(out), &n), EINVAL);
	assert_int_equal(sms_tpdu_encode(&t, out, 10, &n), ENOSPC);
	t.udhi = false;
	assert_int_equal(sms_tpdu_encode(&t, out, 10, &n), ENOSPC);
	assert_int_equal(sms_addr_set(&t.addr, "+123456789012345678901"), EINVAL);
}

static void test_deliver_from_submit(void **state)
{
	struct sms_tpdu sub, dlv, back;
	struct sms_addr oa;
	struct sms_deliver_prm prm = {.oa = &oa, .scts = 1796551200LL, .tz_quarters = 4};
	struct sms_tpdu_dec_prm dp = {.dir = SMS_DIR_MT};
	uint8_t out[SMS_TPDU_MAX];
	size_t n;
	char hex[2 * SMS_TPDU_MAX + 1];

	(void)state;
	roundtrip("61000b916407281553f800000c0500032a0201d06536fb0d", SMS_DIR_MO, false,
		  &sub);
	assert_true(sub.srr);
	assert_int_equal(sms_addr_set(&oa, "+33612345678"), 0);
	assert_int_equal(sms_tpdu_deliver_from_submit(&dlv, &sub, &prm), 0);
	assert_int_equal(sms_tpdu_encode(&dlv, out, sizeof(out), &n), 0);
	assert_int_equal(sms_hex_encode(out, n, hex, sizeof(hex)), 0);
	/* FO 64: UDHI, SRI, MMS; 2026-12-06 11:00:00 +01:00 */
	assert_string_equal(hex, "640b913316325476f80000" "62216011000040"
				 "0c0500032a0201d06536fb0d");
	assert_int_equal(sms_tpdu_decode(&back, out, n, &dp, NULL), 0);
	assert_true(back.sri);
	assert_int_equal(sms_tpdu_deliver_from_submit(&dlv, &dlv, &prm), EINVAL);
}

static void test_builders(void **state)
{
	struct sms_tpdu t;
	struct sms_addr ra;
	struct sms_status_prm sp = {.mr = 7, .ra = &ra, .scts = 1796551200LL,
				    .dt = 1796551260LL, .st = SMS_ST_DELIVERED};
	uint8_t out[SMS_TPDU_MAX];
	size_t n;
	char hex[2 * SMS_TPDU_MAX + 1];

	(void)state;
	assert_int_equal(sms_addr_set(&ra, "+46708251358"), 0);
	sms_tpdu_status_report(&t, &sp);
	assert_int_equal(sms_tpdu_encode(&t, out, sizeof(out), &n), 0);
	sms_hex_encode(out, n, hex, sizeof(hex));
	assert_string_equal(hex, "06070b916407281553f8" "62216001000000" "62216001100000" "00");
	sms_tpdu_report(&t, SMS_TP_SUBMIT_REPORT, 0, 1796551200LL, 0);
	assert_int_equal(sms_tpdu_encode(&t, out, sizeof(out), &n), 0);
	sms_hex_encode(out, n, hex, sizeof(hex));
	assert_string_equal(hex, "0100" "62216001000000");
	sms_tpdu_report(&t, SMS_TP_DELIVER_REPORT, SMS_FCS_MEMORY_EXCEEDED, 0, 0);
	assert_int_equal(sms_tpdu_encode(&t, out, sizeof(out), &n), 0);
	sms_hex_encode(out, n, hex, sizeof(hex));
	assert_string_equal(hex, "00d000");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_deliver_hellohello),
		cmocka_unit_test(test_submit_hellohello),
		cmocka_unit_test(test_deliver_minus_zero_tz),
		cmocka_unit_test(test_submit_pid_vp),
		cmocka_unit_test(test_concat8_fill),
		cmocka_unit_test(test_concat16_other_ie),
		cmocka_unit_test(test_submit_8bit_concat16),
		cmocka_unit_test(test_ucs2_class0),
		cmocka_unit_test(test_status_report),
		cmocka_unit_test(test_command),
		cmocka_unit_test(test_reports),
		cmocka_unit_test(test_alnum_oa),
		cmocka_unit_test(test_vp_absolute_enhanced),
		cmocka_unit_test(test_relative_vp_table),
		cmocka_unit_test(test_dcs_groups),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_prefixes),
		cmocka_unit_test(test_encode_limits),
		cmocka_unit_test(test_deliver_from_submit),
		cmocka_unit_test(test_builders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
