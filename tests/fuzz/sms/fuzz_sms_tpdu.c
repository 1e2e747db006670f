/*
 * Fuzz target: sms/sms_tpdu. The first byte picks how the rest is read:
 *   bit 0  direction (0 MO: SUBMIT, COMMAND, DELIVER-REPORT; 1 MT)
 *   bit 1  the TPDU came in an RP-ERROR (reports carry TP-FCS)
 *   bit 2  also split the rest as UTF-8 text into concatenated parts
 * What decodes must re-encode byte-exact, its text must convert, and an
 * SMS-SUBMIT must become an SMS-DELIVER that decodes again with the same
 * user data.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sms/sms_tpdu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_deliver(const struct sms_tpdu *sub)
{
	struct sms_tpdu dlv, back;
	struct sms_addr oa;
	struct sms_deliver_prm prm = {.oa = &oa, .scts = 1796551200LL, .tz_quarters = 4};
	struct sms_tpdu_dec_prm dp = {.dir = SMS_DIR_MT};
	uint8_t out[SMS_TPDU_MAX];
	size_t n;

	if (sms_addr_set(&oa, "+33612345678") || sms_tpdu_deliver_from_submit(&dlv, sub, &prm))
		abort();
	if (sms_tpdu_encode(&dlv, out, sizeof(out), &n))
		abort(); /* a DELIVER is never longer than its SUBMIT allows */
	if (sms_tpdu_decode(&back, out, n, &dp, NULL) || back.ud.data_len != sub->ud.data_len ||
	    memcmp(back.ud.data, sub->ud.data, sub->ud.data_len) ||
	    back.ud.udh_len != sub->ud.udh_len)
		abort();
}

static void check_split(const char *s, size_t len)
{
	static struct sms_ud parts[8];
	struct sms_split_prm prm = {.ref = 1, .max_parts = 8, .ref16 = len % 2};
	size_t n;
	uint8_t dcs;

	if (sms_text_split(s, len, &prm, parts, &n, &dcs))
		return;
	for (size_t k = 0; k < n; k++) {
		struct sms_tpdu t;
		uint8_t out[SMS_TPDU_MAX];
		size_t l;

		memset(&t, 0, sizeof(t));
		t.type = SMS_TP_DELIVER;
		t.has_pid = t.has_dcs = t.has_ud = true;
		t.dcs = dcs;
		t.udhi = parts[k].udh_len > 0;
		t.ud = parts[k];
		if (sms_addr_set(&t.addr, "imsd") || sms_tpdu_encode(&t, out, sizeof(out), &l))
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sms_tpdu t;
	struct sms_err err;
	struct sms_tpdu_dec_prm prm;
	uint8_t out[SMS_TPDU_MAX + 64];
	char text[4 * SMS_UD_SEPTETS_MAX + 1];
	size_t n = 0;

	if (size < 1)
		return 0;
	prm.dir = (data[0] & 1) ? SMS_DIR_MT : SMS_DIR_MO;
	prm.in_error = (data[0] & 2) != 0;
	if (data[0] & 4)
		check_split((const char *)data + 1, size - 1);
	if (sms_tpdu_decode(&t, data + 1, size - 1, &prm, &err)) {
		if ((err.rp_cause != 95 && err.rp_cause != 96) || !err.what)
			abort();
		return 0;
	}
	if (sms_tpdu_encode(&t, out, sizeof(out), &n) || n != size - 1 ||
	    memcmp(out, data + 1, n))
		abort();
	(void)sms_tpdu_text(&t, text, sizeof(text), NULL);
	if (t.type == SMS_TP_SUBMIT)
		check_deliver(&t);
	return 0;
}
