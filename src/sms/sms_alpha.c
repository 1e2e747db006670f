/*
 * sms/sms_alpha — the GSM 7-bit default alphabet and its extension table
 * (TS 23.038 §6.2.1, §6.2.1.1), UCS2 (UTF-16BE) and septet packing
 * (TS 23.038 §6.1.2.1.1), all to and from UTF-8.
 */
#include <errno.h>
#include <string.h>

#include "sms/sms_int.h"

/* TS 23.038 §6.2.1: code -> Unicode. 0x1b (escape) reads as NBSP on its own. */
static const uint16_t gsm7_main[128] = {
	0x0040, 0x00a3, 0x0024, 0x00a5, 0x00e8, 0x00e9, 0x00f9, 0x00ec, /* 00 */
	0x00f2, 0x00c7, 0x000a, 0x00d8, 0x00f8, 0x000d, 0x00c5, 0x00e5, /* 08 */
	0x0394, 0x005f, 0x03a6, 0x0393, 0x039b, 0x03a9, 0x03a0, 0x03a8, /* 10 */
	0x03a3, 0x0398, 0x039e, 0x00a0, 0x00c6, 0x00e6, 0x00df, 0x00c9, /* 18 */
	0x0020, 0x0021, 0x0022, 0x0023, 0x00a4, 0x0025, 0x0026, 0x0027, /* 20 */
	0x0028, 0x0029, 0x002a, 0x002b, 0x002c, 0x002d, 0x002e, 0x002f, /* 28 */
	0x0030, 0x0031, 0x0032, 0x0033, 0x0034, 0x0035, 0x0036, 0x0037, /* 30 */
	0x0038, 0x0039, 0x003a, 0x003b, 0x003c, 0x003d, 0x003e, 0x003f, /* 38 */
	0x00a1, 0x0041, 0x0042, 0x0043, 0x0044, 0x0045, 0x0046, 0x0047, /* 40 */
	0x0048, 0x0049, 0x004a, 0x004b, 0x004c, 0x004d, 0x004e, 0x004f, /* 48 */
	0x0050, 0x0051, 0x0052, 0x0053, 0x0054, 0x0055, 0x0056, 0x0057, /* 50 */
	0x0058, 0x0059, 0x005a, 0x00c4, 0x00d6, 0x00d1, 0x00dc, 0x00a7, /* 58 */
	0x00bf, 0x0061, 0x0062, 0x0063, 0x0064, 0x0065, 0x0066, 0x0067, /* 60 */
	0x0068, 0x0069, 0x006a, 0x006b, 0x006c, 0x006d, 0x006e, 0x006f, /* 68 */
	0x0070, 0x0071, 0x0072, 0x0073, 0x0074, 0x0075, 0x0076, 0x0077, /* 70 */
	0x0078, 0x0079, 0x007a, 0x00e4, 0x00f6, 0x00f1, 0x00fc, 0x00e0, /* 78 */
};

/* TS 23.038 §6.2.1.1: the characters after an escape. */
static const struct {
	uint8_t code;
	uint16_t uc;
} gsm7_ext[] = {
	{0x0a, 0x000c}, {0x14, 0x005e}, {0x28, 0x007b}, {0x29, 0x007d}, {0x2f, 0x005c},
	{0x3c, 0x005b}, {0x3d, 0x007e}, {0x3e, 0x005d}, {0x40, 0x007c}, {0x65, 0x20ac},
};

#define N_EXT (sizeof(gsm7_ext) / sizeof(gsm7_ext[0]))
#define GSM7_ESC 0x1b

int sms_utf8_next(const char *s, size_t len, size_t *i, uint32_t *cp)
{
	const uint8_t *u = (const uint8_t *)s + *i;
	size_t left = len - *i, n;
	uint32_t c, min;

	if (u[0] < 0x80) {
		*cp = u[0];
		(*i)++;
		return 0;
	}
	if ((u[0] & 0xe0) == 0xc0) {
		n = 2, c = u[0] & 0x1f, min = 0x80;
	} else if ((u[0] & 0xf0) == 0xe0) {
		n = 3, c = u[0] & 0x0f, min = 0x800;
	} else if ((u[0] & 0xf8) == 0xf0) {
		n = 4, c = u[0] & 0x07, min = 0x10000;
	} else {
		return EILSEQ;
	}
	if (left < n)
		return EILSEQ;
	for (size_t k = 1; k < n; k++) {
		if ((u[k] & 0xc0) != 0x80)
			return EILSEQ;
		c = c << 6 | (u[k] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return EILSEQ;
	*cp = c;
	*i += n;
	return 0;
}

/* Appends a code point as UTF-8; ENOSPC if it does not fit with a NUL. */
static int utf8_put(uint32_t c, char *out, size_t size, size_t *o)
{
	uint8_t b[4];
	size_t n;

	if (c < 0x80) {
		b[0] = (uint8_t)c, n = 1;
	} else if (c < 0x800) {
		b[0] = (uint8_t)(0xc0 | c >> 6), b[1] = (uint8_t)(0x80 | (c & 0x3f)), n = 2;
	} else if (c < 0x10000) {
		b[0] = (uint8_t)(0xe0 | c >> 12), b[1] = (uint8_t)(0x80 | (c >> 6 & 0x3f));
		b[2] = (uint8_t)(0x80 | (c & 0x3f)), n = 3;
	} else {
		b[0] = (uint8_t)(0xf0 | c >> 18), b[1] = (uint8_t)(0x80 | (c >> 12 & 0x3f));
		b[2] = (uint8_t)(0x80 | (c >> 6 & 0x3f)), b[3] = (uint8_t)(0x80 | (c & 0x3f));
		n = 4;
	}
	if (*o + n + 1 > size)
		return ENOSPC;
	memcpy(out + *o, b, n);
	*o += n;
	out[*o] = '\0';
	return 0;
}

size_t sms_gsm7_char(uint32_t c, uint8_t sep[2])
{
	if (c == 0x00a0)
		return 0; /* the escape's NBSP is not a character to send */
	for (unsigned k = 0; k < 128; k++) {
		if (gsm7_main[k] == c && k != GSM7_ESC) {
			sep[0] = (uint8_t)k;
			return 1;
		}
	}
	for (size_t k = 0; k < N_EXT; k++) {
		if (gsm7_ext[k].uc == c) {
			sep[0] = GSM7_ESC;
			sep[1] = gsm7_ext[k].code;
			return 2;
		}
	}
	return 0;
}

int sms_gsm7_from_utf8(const char *s, size_t len, uint8_t *sept, size_t size, size_t *n)
{
	size_t i = 0, o = 0;

	while (i < len) {
		uint32_t c;
		uint8_t sep[2];
		size_t k;
		int err = sms_utf8_next(s, len, &i, &c);

		if (err)
			return err;
		k = sms_gsm7_char(c, sep);
		if (!k)
			return EILSEQ;
		if (o + k > size)
			return ENOSPC;
		memcpy(sept + o, sep, k);
		o += k;
	}
	*n = o;
	return 0;
}

int sms_gsm7_to_utf8(const uint8_t *sept, size_t n, char *out, size_t size, size_t *len)
{
	size_t o = 0;
	int err = 0;

	if (!size)
		return ENOSPC;
	out[0] = '\0';
	for (size_t i = 0; i < n && !err; i++) {
		uint8_t c = sept[i] & 0x7f;
		uint32_t uc = gsm7_main[c];

		if (c == GSM7_ESC && i + 1 < n) {
			uint8_t x = sept[++i] & 0x7f;

			/* §6.2.1.1: an undefined extension shows the main table's character */
			uc = gsm7_main[x];
			for (size_t k = 0; k < N_EXT; k++)
				if (gsm7_ext[k].code == x)
					uc = gsm7_ext[k].uc;
		}
		err = utf8_put(uc, out, size, &o);
	}
	if (len)
		*len = o;
	return err;
}

int sms_ucs2_to_utf8(const uint8_t *p, size_t n, char *out, size_t size, size_t *len)
{
	size_t o = 0;
	int err = 0;

	if (!size)
		return ENOSPC;
	out[0] = '\0';
	for (size_t i = 0; i + 1 < n && !err; i += 2) {
		uint32_t c = (uint32_t)p[i] << 8 | p[i + 1];

		if (c >= 0xd800 && c <= 0xdbff && i + 3 < n) {
			uint32_t lo = (uint32_t)p[i + 2] << 8 | p[i + 3];

			if (lo >= 0xdc00 && lo <= 0xdfff) {
				c = 0x10000 + ((c - 0xd800) << 10) + (lo - 0xdc00);
				i += 2;
			}
		}
		if (c >= 0xd800 && c <= 0xdfff)
			c = 0xfffd;
		err = utf8_put(c, out, size, &o);
	}
	if (len)
		*len = o;
	return err;
}

int sms_ucs2_from_utf8(const char *s, size_t len, uint8_t *out, size_t size, size_t *n)
{
	size_t i = 0, o = 0;

	while (i < len) {
		uint32_t c;
		int err = sms_utf8_next(s, len, &i, &c);

		if (err)
			return err;
		if (c >= 0x10000) {
			uint32_t v = c - 0x10000, hi = 0xd800 | v >> 10, lo = 0xdc00 | (v & 0x3ff);

			if (o + 4 > size)
				return ENOSPC;
			out[o++] = (uint8_t)(hi >> 8), out[o++] = (uint8_t)hi;
			out[o++] = (uint8_t)(lo >> 8), out[o++] = (uint8_t)lo;
			continue;
		}
		if (o + 2 > size)
			return ENOSPC;
		out[o++] = (uint8_t)(c >> 8), out[o++] = (uint8_t)c;
	}
	*n = o;
	return 0;
}

int sms_septets_pack(const uint8_t *sept, size_t n, unsigned fill, uint8_t *out, size_t size,
		     size_t *len)
{
	size_t bits = fill + 7 * n, octets = (bits + 7) / 8;

	if (fill > 6)
		return EINVAL;
	if (octets > size)
		return ENOSPC;
	memset(out, 0, octets);
	for (size_t i = 0; i < n; i++) {
		size_t pos = fill + 7 * i, o = pos / 8, sh = pos % 8;
		unsigned v = (unsigned)(sept[i] & 0x7f) << sh;

		out[o] |= (uint8_t)v;
		if (sh > 1)
			out[o + 1] |= (uint8_t)(v >> 8);
	}
	*len = octets;
	return 0;
}

int sms_septets_unpack(const uint8_t *p, size_t len, unsigned fill, size_t n, uint8_t *sept)
{
	if (fill > 6 || (fill + 7 * n + 7) / 8 > len)
		return EBADMSG;
	for (size_t i = 0; i < n; i++) {
		size_t pos = fill + 7 * i, o = pos / 8, sh = pos % 8;
		unsigned v = p[o] >> sh;

		if (sh > 1)
			v |= (unsigned)p[o + 1] << (8 - sh);
		sept[i] = (uint8_t)(v & 0x7f);
	}
	return 0;
}
