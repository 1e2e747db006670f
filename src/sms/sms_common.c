/*
 * sms/sms_common — addresses as text, RP cause names, hex.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/strutil.h"
#include "sms/sms_common.h"

static bool is_digit_char(char c)
{
	return (c >= '0' && c <= '9') || c == '*' || c == '#' || c == 'a' || c == 'b' ||
	       c == 'c';
}

int sms_addr_set(struct sms_addr *a, const char *text)
{
	size_t n = strlen(text), i;
	bool intl = text[0] == '+';
	uint8_t sept[SMS_ADDR_DIGITS_MAX];
	size_t ns;

	memset(a, 0, sizeof(*a));
	if (!n)
		return 0;
	if (intl && n == 1)
		return EINVAL;
	for (i = intl ? 1 : 0; i < n && is_digit_char(text[i]); i++)
		;
	if (i == n && n > (intl ? 1u : 0u)) {
		if (n - intl > SMS_ADDR_DIGITS_MAX)
			return EINVAL;
		a->present = true;
		a->toa = intl ? SMS_TOA_INTERNATIONAL : SMS_TOA(SMS_TON_UNKNOWN, SMS_NPI_ISDN);
		memcpy(a->val, text + intl, n - intl + 1);
		return 0;
	}
	/* alphanumeric: 10 octets hold 11 septets (TS 23.040 §9.1.2.5) */
	if (n >= sizeof(a->val) || sms_gsm7_from_utf8(text, n, sept, 11, &ns))
		return EINVAL;
	a->present = true;
	a->toa = SMS_TOA_ALNUM;
	memcpy(a->val, text, n + 1);
	return 0;
}

uint8_t sms_addr_ton(const struct sms_addr *a)
{
	return (uint8_t)(a->toa >> 4 & 7);
}

uint8_t sms_addr_npi(const struct sms_addr *a)
{
	return (uint8_t)(a->toa & 15);
}

void sms_addr_format(const struct sms_addr *a, char *out, size_t size)
{
	if (!size)
		return;
	snprintf(out, size, "%s%s",
		 a->present && sms_addr_ton(a) == SMS_TON_INTERNATIONAL && a->val[0] ? "+" : "",
		 a->val);
}

const char *sms_rp_cause_name(uint8_t cause)
{
	/* TS 24.011 table 8.4 (part 1 and 2) */
	static const struct {
		uint8_t v;
		const char *name;
	} names[] = {
		{1, "unassigned (unallocated) number"},
		{8, "operator determined barring"},
		{10, "call barred"},
		{11, "reserved"},
		{21, "short message transfer rejected"},
		{22, "memory capacity exceeded"},
		{27, "destination out of order"},
		{28, "unidentified subscriber"},
		{29, "facility rejected"},
		{30, "unknown subscriber"},
		{38, "network out of order"},
		{41, "temporary failure"},
		{42, "congestion"},
		{47, "resources unavailable, unspecified"},
		{50, "requested facility not subscribed"},
		{69, "requested facility not implemented"},
		{81, "invalid short message transfer reference value"},
		{95, "semantically incorrect message"},
		{96, "invalid mandatory information"},
		{97, "message type non-existent or not implemented"},
		{98, "message not compatible with short message protocol state"},
		{99, "information element non-existent or not implemented"},
		{111, "protocol error, unspecified"},
		{127, "interworking, unspecified"},
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].v == cause)
			return names[i].name;
	return NULL;
}

int sms_hex_decode(const char *hex, size_t len, uint8_t *out, size_t size, size_t *n)
{
	if (len % 2)
		return EBADMSG;
	if (len / 2 > size)
		return ENOSPC;
	for (size_t i = 0; i < len; i += 2) {
		int h = str_hex_digit(hex[i]), l = str_hex_digit(hex[i + 1]);

		if (h < 0 || l < 0)
			return EBADMSG;
		out[i / 2] = (uint8_t)(h << 4 | l);
	}
	*n = len / 2;
	return 0;
}

int sms_hex_encode(const uint8_t *p, size_t len, char *out, size_t size)
{
	static const char digits[] = "0123456789abcdef";

	if (size < 2 * len + 1)
		return ENOSPC;
	for (size_t i = 0; i < len; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * len] = '\0';
	return 0;
}
