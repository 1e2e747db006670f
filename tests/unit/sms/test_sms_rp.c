/*
 * Unit tests: sms/sms_rp (TS 24.011 §7.3, §8.2).
 *
 * TS 24.011 publishes no encoded messages, so the vectors are built by hand
 * from its octet layouts (§7.3.1-§7.3.4, §8.2.5.1-§8.2.5.4) around the
 * classic GSM 03.40 "hellohello" SUBMIT and DELIVER TPDUs: MTI octet, RP-MR,
 * RP-OA/RP-DA as length + TOA + BCD, RP-User-Data as length + TPDU (IEI 41 in
 * RP-ACK/RP-ERROR), RP-Cause as length + cause (+ diagnostic). The service
 * centre is +3368900000 (06 91 3386090000).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sms/sms_rp.h"

#define SUBMIT "11000b916407281553f80000aa0ae8329bfd4697d9ec37"
#define DELIVER "040bc87238880900f10000993092516195800ae8329bfd4697d9ec37"

static size_t unhex(const char *h, uint8_t *out, size_t size)
{
	size_t n = 0;

	assert_int_equal(sms_hex_decode(h, strlen(h), out, size, &n), 0);
	return n;
}

static uint8_t in[512];
static size_t in_len;

static void roundtrip(const char *hex, struct sms_rp *rp)
{
	uint8_t out[SMS_RP_MAX];
	size_t m = 0;
	struct sms_err err;

	in_len = unhex(hex, in, sizeof(in));
	assert_int_equal(sms_rp_decode(rp, in, in_len, &err), 0);
	assert_int_equal(sms_rp_encode(rp, out, sizeof(out), &m), 0);
	assert_int_equal(m, in_len);
	assert_memory_equal(out, in, in_len);
}

static void test_data_mo(void **state)
{
	struct sms_rp rp;
	uint8_t tpdu[64];
	size_t tl = unhex(SUBMIT, tpdu, sizeof(tpdu));

	(void)state;
	roundtrip("002a0006913386090000" "17" SUBMIT, &rp);
	assert_int_equal(rp.mti, SMS_RP_DATA_MO);
	assert_int_equal(sms_rp_dir(rp.mti), SMS_DIR_MO);
	assert_string_equal(sms_rp_mti_name(rp.mti), "RP-DATA");
	assert_int_equal(rp.mr, 0x2a);
	assert_false(rp.oa.present);
	assert_true(rp.da.present);
	assert_int_equal(rp.da.toa, 0x91);
	assert_string_equal(rp.da.val, "3368900000");
	assert_true(rp.has_ud);
	assert_int_equal(rp.ud_len, tl);
	assert_memory_equal(rp.ud, tpdu, tl);
	for (size_t k = 0; k < in_len; k++) {
		struct sms_err err;

		assert_int_equal(sms_rp_decode(&rp, in, k, &err), EBADMSG);
		assert_int_equal(err.rp_cause, SMS_RP_CAUSE_INVALID_MANDATORY);
		assert_int_equal(err.mr_valid, k >= 2);
	}
}

static void test_data_mt(void **state)
{
	struct sms_rp rp, b;
	uint8_t tpdu[64], out[SMS_RP_MAX];
	size_t tl = unhex(DELIVER, tpdu, sizeof(tpdu)), n;
	char hex[2 * SMS_RP_MAX + 1];

	(void)state;
	roundtrip("012b0691338609000000" "1c" DELIVER, &rp);
	assert_int_equal(rp.mti, SMS_RP_DATA_MT);
	assert_string_equal(rp.oa.val, "3368900000");
	assert_false(rp.da.present);
	/* the builder makes the same message: RP-DA empty (field note 002) */
	sms_rp_data_init(&b, SMS_DIR_MT, 0x2b, tpdu, tl);
	assert_int_equal(sms_addr_set(&b.oa, "+3368900000"), 0);
	assert_int_equal(sms_rp_encode(&b, out, sizeof(out), &n), 0);
	sms_hex_encode(out, n, hex, sizeof(hex));
	assert_string_equal(hex, "012b0691338609000000" "1c" DELIVER);
	/* an odd digit count ends with the F filler */
	assert_int_equal(sms_addr_set(&b.oa, "+336890000"), 0);
	assert_int_equal(sms_rp_encode(&b, out, sizeof(out), &n), 0);
	sms_hex_encode(out, 9, hex, sizeof(hex));
	assert_string_equal(hex, "012b069133860900f0");
	assert_int_equal(out[8], 0xf0);
}

static void test_ack_error_smma(void **state)
{
	struct sms_rp rp;

	(void)state;
	roundtrip("032a41090100993092516195" "80", &rp);
	assert_int_equal(rp.mti, SMS_RP_ACK_MT);
	assert_int_equal(rp.ud_len, 9);
	roundtrip("022b", &rp);
	assert_false(rp.has_ud);
	roundtrip("022b41020000", &rp);
	assert_int_equal(rp.mti, SMS_RP_ACK_MO);
	roundtrip("052a011e", &rp);
	assert_int_equal(rp.mti, SMS_RP_ERROR_MT);
	assert_int_equal(rp.cause, SMS_RP_CAUSE_UNKNOWN_SUBSCRIBER);
	assert_int_equal(rp.ndiag, 0);
	assert_string_equal(sms_rp_cause_name(rp.cause), "unknown subscriber");
	roundtrip("052a0216" "05" "410a01d00099309251619580", &rp);
	assert_int_equal(rp.cause, SMS_RP_CAUSE_MEMORY_EXCEEDED);
	assert_int_equal(rp.ndiag, 1);
	assert_int_equal(rp.diag[0], 5);
	assert_int_equal(rp.ud_len, 10);
	roundtrip("042b0116410300d000", &rp);
	assert_int_equal(rp.mti, SMS_RP_ERROR_MO);
	roundtrip("062c", &rp);
	assert_int_equal(rp.mti, SMS_RP_SMMA);
	/* an IE of a later release after RP-User-Data is kept */
	roundtrip("022b410200007f0100", &rp);
	assert_int_equal(rp.extra_len, 3);
	/* cause octet with bit 8 set, spare MTI bits */
	roundtrip("e52a01d1", &rp);
	assert_true(rp.cause_ext);
	assert_int_equal(rp.cause, 0x51);
	assert_int_equal(rp.mti_spare, 0xe0);
}

struct bad {
	const char *hex;
	uint8_t cause;
	bool mr_valid;
};

static void test_malformed(void **state)
{
	static const struct bad bad[] = {
		{"", 96, false},
		{"00", 96, false},
		{"072a", 97, true},
		{"002a00069133860900", 96, true},
		{"002a00000100", 96, true},			  /* no RP-DA in MO */
		{"002a000c91111111111111111111111100", 96, true}, /* RP-DA 12 octets */
		{"012b00000200", 96, true},			  /* no RP-OA in MT */
		{"002a0006913386090000" "00", 96, true},	  /* empty user data */
		{"002a0006913386090000" "051100", 96, true},
		{"002a0006913386f90000" "021100", 96, true}, /* F inside the digits */
		{"052a", 96, true},
		{"052a00", 96, true},
		{"052a0a1e0102030405060708" "09", 96, true}, /* cause 10 octets */
		{"032a41050100", 96, true},
		{"032a4100", 96, true},
	};

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		uint8_t b[64];
		size_t n = unhex(bad[i].hex, b, sizeof(b));
		struct sms_rp rp;
		struct sms_err err;

		assert_int_equal(sms_rp_decode(&rp, b, n, &err), EBADMSG);
		if (err.rp_cause != bad[i].cause || err.mr_valid != bad[i].mr_valid)
			fail_msg("case %zu (%s): cause %u mr_valid %d", i, bad[i].hex,
				 err.rp_cause, err.mr_valid);
		if (err.mr_valid)
			assert_int_equal(err.mr, b[1]);
	}
}

static void test_builders(void **state)
{
	struct sms_rp rp;
	uint8_t out[SMS_RP_MAX], rep[] = {0x00, 0x00};
	size_t n;
	char hex[64];

	(void)state;
	sms_rp_error_init(&rp, SMS_DIR_MT, 0x2a, SMS_RP_CAUSE_MEMORY_EXCEEDED, NULL, 0);
	assert_int_equal(sms_rp_encode(&rp, out, sizeof(out), &n), 0);
	sms_hex_encode(out, n, hex, sizeof(hex));
	assert_string_equal(hex, "052a0116");
	sms_rp_ack_init(&rp, SMS_DIR_MO, 7, rep, sizeof(rep));
	assert_int_equal(sms_rp_encode(&rp, out, sizeof(out), &n), 0);
	sms_hex_encode(out, n, hex, sizeof(hex));
	assert_string_equal(hex, "0207" "41020000");
	assert_int_equal(sms_rp_encode(&rp, out, 3, &n), ENOSPC);
	sms_rp_data_init(&rp, SMS_DIR_MO, 1, NULL, 0);
	assert_int_equal(sms_rp_encode(&rp, out, sizeof(out), &n), EINVAL);
	assert_null(sms_rp_cause_name(200));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_data_mo),
		cmocka_unit_test(test_data_mt),
		cmocka_unit_test(test_ack_error_smma),
		cmocka_unit_test(test_malformed),
		cmocka_unit_test(test_builders),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
