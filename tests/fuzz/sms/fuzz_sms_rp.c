/*
 * Fuzz target: sms/sms_rp. The input is one RP message (the body of an
 * application/vnd.3gpp.sms MESSAGE). What decodes must re-encode to the same
 * octets; a refusal must name a cause of TS 24.011 §9.3. The RP-User-Data is
 * then decoded as the TPDU its message type implies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "sms/sms_rp.h"
#include "sms/sms_tpdu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sms_rp rp;
	struct sms_err err;
	struct sms_tpdu t;
	uint8_t out[SMS_RP_MAX + 512];
	size_t n = 0;

	if (sms_rp_decode(&rp, data, size, &err)) {
		if (err.rp_cause != 96 && err.rp_cause != 97)
			abort();
		if (err.mr_valid != (size >= 2))
			abort();
		return 0;
	}
	if (sms_rp_encode(&rp, out, sizeof(out), &n) || n != size || memcmp(out, data, size))
		abort();
	if (rp.has_ud) {
		struct sms_tpdu_dec_prm prm = {
			.dir = sms_rp_dir(rp.mti),
			.in_error = rp.mti == SMS_RP_ERROR_MO || rp.mti == SMS_RP_ERROR_MT,
		};
		uint8_t tp[SMS_TPDU_MAX + 64];
		char text[4 * SMS_UD_SEPTETS_MAX + 1];

		if (sms_tpdu_decode(&t, rp.ud, rp.ud_len, &prm, &err) == 0) {
			if (sms_tpdu_encode(&t, tp, sizeof(tp), &n) || n != rp.ud_len ||
			    memcmp(tp, rp.ud, n))
				abort();
			(void)sms_tpdu_text(&t, text, sizeof(text), NULL);
		}
	}
	return 0;
}
