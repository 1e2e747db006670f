/*
 * sms/sms_int — helpers shared by the codec's files (not for other modules).
 */
#ifndef SMS_SMS_INT_H
#define SMS_SMS_INT_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "sms/sms_common.h"

/*
 * Semi-octet digits (TS 23.040 §9.1.2.3, TS 24.008 §10.5.4.7): ndigits from
 * `octets` (low nibble first); an odd count ends with the F filler. EBADMSG
 * for a filler inside the digits or a missing filler. out holds ndigits+1.
 */
int sms_bcd_decode(const uint8_t *p, size_t octets, size_t ndigits, char *out);
/* Digits -> semi-octets, F-filled; EINVAL for a character that has no BCD value. */
int sms_bcd_encode(const char *digits, uint8_t *out, size_t size, size_t *octets);

/* Fills err (when not NULL) and returns EBADMSG (inline: the analyzers see it). */
static inline int sms_err_set(struct sms_err *err, uint8_t rp_cause, uint8_t tp_fcs,
			      size_t off, const char *what)
{
	if (err) {
		err->rp_cause = rp_cause;
		err->tp_fcs = tp_fcs;
		err->off = (uint16_t)(off > UINT16_MAX ? UINT16_MAX : off);
		err->what = what;
	}
	return EBADMSG;
}

/* One code point from UTF-8 at s[*i], advancing *i; EILSEQ. */
int sms_utf8_next(const char *s, size_t len, size_t *i, uint32_t *cp);
/* GSM 7-bit septets of one code point: 1 (main), 2 (escape + code), 0 none. */
size_t sms_gsm7_char(uint32_t c, uint8_t sep[2]);

struct sms_ts;
/* 7 swapped semi-octets; EBADMSG for a nibble above 9. */
int sms_ts_decode(struct sms_ts *ts, const uint8_t *p);
void sms_ts_encode(const struct sms_ts *ts, uint8_t *p);

/*
 * TP address (TS 23.040 §9.1.2.5) at p[0..len): *used = octets read. EBADMSG
 * if truncated, longer than 20 semi-octets, or alphanumeric text that would
 * not re-encode to the same octets.
 */
int sms_tp_addr_decode(struct sms_addr *a, const uint8_t *p, size_t len, size_t *used);
/* Writes the TP address into out (12 octets at most); EINVAL / ENOSPC. */
int sms_tp_addr_encode(const struct sms_addr *a, uint8_t *out, size_t size, size_t *used);

#endif
