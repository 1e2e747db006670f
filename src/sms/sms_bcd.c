/*
 * sms/sms_bcd — semi-octet digit strings of RP and TP addresses.
 */
#include <errno.h>
#include <string.h>

#include "sms/sms_int.h"

static const char bcd_digits[] = "0123456789*#abc";

int sms_bcd_decode(const uint8_t *p, size_t octets, size_t ndigits, char *out)
{
	if ((ndigits + 1) / 2 != octets)
		return EBADMSG;
	for (size_t i = 0; i < ndigits; i++) {
		unsigned v = i % 2 ? p[i / 2] >> 4 : p[i / 2] & 15;

		if (v == 15)
			return EBADMSG;
		out[i] = bcd_digits[v];
	}
	out[ndigits] = '\0';
	if (ndigits % 2 && (p[octets - 1] >> 4) != 15)
		return EBADMSG;
	return 0;
}

int sms_bcd_encode(const char *digits, uint8_t *out, size_t size, size_t *octets)
{
	size_t n = strlen(digits), need = (n + 1) / 2;

	if (need > size)
		return ENOSPC;
	memset(out, 0xff, need);
	for (size_t i = 0; i < n; i++) {
		const char *d = strchr(bcd_digits, digits[i]);
		unsigned v;

		if (!d || !digits[i])
			return EINVAL;
		v = (unsigned)(d - bcd_digits);
		if (i % 2)
			out[i / 2] = (uint8_t)((out[i / 2] & 0x0f) | v << 4);
		else
			out[i / 2] = (uint8_t)((out[i / 2] & 0xf0) | v);
	}
	*octets = need;
	return 0;
}
