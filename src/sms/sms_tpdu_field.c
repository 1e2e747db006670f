/*
 * sms/sms_tpdu_field — TPDU fields of TS 23.040 §9.1.2 and §9.2.3 that are
 * more than one octet wide or need interpreting: TP addresses, time stamps,
 * validity periods, the data coding scheme (TS 23.038 §4) and the user
 * data header's information elements.
 */
#include <errno.h>
#include <string.h>

#include "sms/sms_int.h"
#include "sms/sms_tpdu.h"

/* ---- addresses, §9.1.2.5 ---- */

#define TP_ADDR_OCTETS_MAX 10

int sms_tp_addr_decode(struct sms_addr *a, const uint8_t *p, size_t len, size_t *used)
{
	size_t sem, oct;

	memset(a, 0, sizeof(*a));
	if (len < 2)
		return EBADMSG;
	sem = p[0];
	oct = (sem + 1) / 2;
	if (sem > 2 * TP_ADDR_OCTETS_MAX || 2 + oct > len)
		return EBADMSG;
	a->present = true;
	a->toa = p[1];
	a->tp_len = (uint8_t)sem;
	if (((p[1] >> 4) & 7) == SMS_TON_ALPHANUMERIC) {
		uint8_t sept[12], back[TP_ADDR_OCTETS_MAX], again[12];
		size_t ns = sem * 4 / 7, tl, n2, bl;

		if (sms_septets_unpack(p + 2, oct, 0, ns, sept))
			return EBADMSG;
		/* 7 characters fill 7 octets and leave a whole septet of padding,
		 * which reads as '@': drop it (TS 23.038 §6.1.2.3.1 does the
		 * same with CR for USSD) */
		if (ns && 8 * oct == 7 * ns && sept[ns - 1] == 0)
			ns--;
		if (sms_gsm7_to_utf8(sept, ns, a->val, sizeof(a->val), &tl) ||
		    sms_gsm7_from_utf8(a->val, tl, again, sizeof(again), &n2) || n2 != ns ||
		    memcmp(again, sept, ns) || sms_septets_pack(sept, ns, 0, back, sizeof(back), &bl) ||
		    bl != oct || memcmp(back, p + 2, oct))
			return EBADMSG; /* would not encode back the same (escape, padding) */
		*used = 2 + oct;
		return 0;
	}
	if (sms_bcd_decode(p + 2, oct, sem, a->val))
		return EBADMSG;
	*used = 2 + oct;
	return 0;
}

int sms_tp_addr_encode(const struct sms_addr *a, uint8_t *out, size_t size, size_t *used)
{
	size_t n = 0, sem;

	if (size < 2)
		return ENOSPC;
	if (!a->present) {
		/* an empty address: length 0 and a type octet (TS 23.040 §9.1.2.5) */
		out[0] = 0;
		out[1] = a->toa ? a->toa : SMS_TOA(SMS_TON_UNKNOWN, SMS_NPI_ISDN);
		*used = 2;
		return 0;
	}
	out[1] = a->toa;
	if (sms_addr_ton(a) == SMS_TON_ALPHANUMERIC) {
		uint8_t sept[12];
		size_t ns;

		if (sms_gsm7_from_utf8(a->val, strlen(a->val), sept, 11, &ns) ||
		    sms_septets_pack(sept, ns, 0, out + 2, size - 2 < TP_ADDR_OCTETS_MAX ?
						      size - 2 : TP_ADDR_OCTETS_MAX, &n))
			return EINVAL;
		sem = (7 * ns + 3) / 4;
		/* keep the length as received when it names the same octets */
		if (a->tp_len && (a->tp_len + 1u) / 2 == n && a->tp_len * 4u / 7 >= ns)
			sem = a->tp_len;
		out[0] = (uint8_t)sem;
		*used = 2 + n;
		return 0;
	}
	sem = strlen(a->val);
	if (sem > 2 * TP_ADDR_OCTETS_MAX)
		return EINVAL;
	if (sms_bcd_encode(a->val, out + 2, size - 2, &n))
		return size - 2 < (sem + 1) / 2 ? ENOSPC : EINVAL;
	out[0] = (uint8_t)sem;
	*used = 2 + n;
	return 0;
}

/* ---- time stamps, §9.2.3.11 ---- */

static int swapped(uint8_t o, uint8_t *v)
{
	if ((o & 15) > 9 || (o >> 4) > 9)
		return EBADMSG;
	*v = (uint8_t)((o & 15) * 10 + (o >> 4));
	return 0;
}

static uint8_t swap_enc(unsigned v)
{
	return (uint8_t)((v % 10) << 4 | (v / 10 % 10));
}

int sms_ts_decode(struct sms_ts *ts, const uint8_t *p)
{
	uint8_t *f[6] = {&ts->year, &ts->mon, &ts->day, &ts->hour, &ts->min, &ts->sec};

	for (int i = 0; i < 6; i++)
		if (swapped(p[i], f[i]))
			return EBADMSG;
	/* time zone: tens in bits 3-1 of the low nibble, its bit 4 the sign */
	if ((p[6] >> 4) > 9)
		return EBADMSG;
	ts->tz = (uint8_t)((p[6] & 7) * 10 + (p[6] >> 4));
	ts->tz_neg = (p[6] & 8) != 0;
	return 0;
}

void sms_ts_encode(const struct sms_ts *ts, uint8_t *p)
{
	const uint8_t f[6] = {ts->year, ts->mon, ts->day, ts->hour, ts->min, ts->sec};

	for (int i = 0; i < 6; i++)
		p[i] = swap_enc(f[i]);
	p[6] = (uint8_t)((ts->tz % 10) << 4 | (ts->tz / 10 % 8) | (ts->tz_neg ? 8 : 0));
}

/* Days since 1970-01-01 of a civil date (proleptic Gregorian). */
static int64_t days_from_civil(int64_t y, unsigned m, unsigned d)
{
	int64_t era;
	unsigned yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = (unsigned)(y - era * 400);
	doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + (int64_t)doe - 719468;
}

void sms_ts_from_unix(struct sms_ts *ts, int64_t t, int tz_quarters)
{
	int64_t local = t + (int64_t)tz_quarters * 900, days, era, y;
	int64_t secs;
	unsigned doe, yoe, doy, mp, d, m;

	if (tz_quarters < -79 || tz_quarters > 79)
		tz_quarters = 0, local = t;
	days = local >= 0 ? local / 86400 : (local - 86399) / 86400;
	secs = local - days * 86400;
	days += 719468;
	era = (days >= 0 ? days : days - 146096) / 146097;
	doe = (unsigned)(days - era * 146097);
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	y = (int64_t)yoe + era * 400;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	d = doy - (153 * mp + 2) / 5 + 1;
	m = mp < 10 ? mp + 3 : mp - 9;
	y += m <= 2;
	ts->year = (uint8_t)(((y % 100) + 100) % 100);
	ts->mon = (uint8_t)m;
	ts->day = (uint8_t)d;
	ts->hour = (uint8_t)(secs / 3600);
	ts->min = (uint8_t)(secs / 60 % 60);
	ts->sec = (uint8_t)(secs % 60);
	ts->tz = (uint8_t)(tz_quarters < 0 ? -tz_quarters : tz_quarters);
	ts->tz_neg = tz_quarters < 0;
}

int sms_ts_to_unix(const struct sms_ts *ts, int64_t *t)
{
	static const uint8_t mdays[12] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	int64_t v;

	if (ts->mon < 1 || ts->mon > 12 || ts->day < 1 || ts->day > mdays[ts->mon - 1] ||
	    ts->hour > 23 || ts->min > 59 || ts->sec > 59 || ts->tz > 79)
		return EINVAL;
	v = days_from_civil(2000 + ts->year, ts->mon, ts->day) * 86400 + ts->hour * 3600 +
	    ts->min * 60 + ts->sec;
	/* the stamp is local time: UTC = local - zone */
	v -= (ts->tz_neg ? -1 : 1) * (int64_t)ts->tz * 900;
	*t = v;
	return 0;
}

/* ---- validity period, §9.2.3.12 ---- */

uint32_t sms_vp_relative_seconds(uint8_t rel)
{
	if (rel <= 143)
		return (rel + 1u) * 300;
	if (rel <= 167)
		return 12 * 3600 + (rel - 143u) * 1800;
	if (rel <= 196)
		return (rel - 166u) * 86400;
	return (rel - 192u) * 7 * 86400;
}

uint8_t sms_vp_relative_from_seconds(uint32_t sec)
{
	for (unsigned v = 0; v < 255; v++)
		if (sms_vp_relative_seconds((uint8_t)v) >= sec)
			return (uint8_t)v;
	return 255;
}

/* Enhanced format, §9.2.3.12.3: functionality indicator then the period. */
static int vp_enhanced(const uint8_t e[7], int64_t submitted, int64_t *expires)
{
	uint8_t h, m, s;

	if (e[0] & 0x80)
		return ENOENT; /* extended indicator: no format we know */
	switch (e[0] & 7) {
	case 1:
		*expires = submitted + sms_vp_relative_seconds(e[1]);
		return 0;
	case 2:
		*expires = submitted + e[1];
		return 0;
	case 3:
		if (swapped(e[1], &h) || swapped(e[2], &m) || swapped(e[3], &s))
			return EINVAL;
		*expires = submitted + h * 3600 + m * 60 + s;
		return 0;
	default:
		return ENOENT;
	}
}

int sms_vp_expiry(const struct sms_vp *vp, int64_t submitted, int64_t *expires)
{
	switch (vp->vpf) {
	case SMS_VPF_RELATIVE:
		*expires = submitted + sms_vp_relative_seconds(vp->rel);
		return 0;
	case SMS_VPF_ABSOLUTE:
		return sms_ts_to_unix(&vp->abs, expires);
	case SMS_VPF_ENHANCED:
		return vp_enhanced(vp->enh, submitted, expires);
	default:
		return ENOENT;
	}
}

/* ---- data coding scheme, TS 23.038 §4 ---- */

void sms_dcs_parse(uint8_t dcs, struct sms_dcs *d)
{
	memset(d, 0, sizeof(*d));
	d->msg_class = -1;
	switch (dcs >> 4) {
	case 0x0: case 0x1: case 0x2: case 0x3: /* general data coding */
	case 0x4: case 0x5: case 0x6: case 0x7: /* automatic deletion */
		d->auto_delete = (dcs & 0x40) != 0;
		d->compressed = (dcs & 0x20) != 0;
		if (dcs & 0x10)
			d->msg_class = (int8_t)(dcs & 3);
		d->alphabet = ((dcs >> 2) & 3) == 3 ? SMS_ALPHA_GSM7
						     : (enum sms_alphabet)((dcs >> 2) & 3);
		break;
	case 0xc: case 0xd: case 0xe: /* message waiting indication */
		d->mwi = true;
		d->mwi_store = (dcs >> 4) != 0xc;
		d->alphabet = (dcs >> 4) == 0xe ? SMS_ALPHA_UCS2 : SMS_ALPHA_GSM7;
		d->mwi_active = (dcs & 8) != 0;
		d->mwi_type = dcs & 3;
		break;
	case 0xf: /* data coding / message class */
		d->alphabet = (dcs & 4) ? SMS_ALPHA_8BIT : SMS_ALPHA_GSM7;
		d->msg_class = (int8_t)(dcs & 3);
		break;
	default: /* 1000-1011 reserved: read as GSM 7-bit */
		break;
	}
}

uint8_t sms_dcs_for(enum sms_alphabet a)
{
	return a == SMS_ALPHA_UCS2 ? 0x08 : a == SMS_ALPHA_8BIT ? 0x04 : 0x00;
}

/* ---- user data header, §9.2.3.24 ---- */

int sms_udh_next(const struct sms_ud *ud, size_t *off, uint8_t *iei, const uint8_t **val,
		 uint8_t *vlen)
{
	size_t o = *off, l;

	if (o >= ud->udh_len)
		return ENOENT;
	if (o + 2 > ud->udh_len)
		return EBADMSG;
	l = ud->udh[o + 1];
	if (o + 2 + l > ud->udh_len)
		return EBADMSG;
	*iei = ud->udh[o];
	*val = ud->udh + o + 2;
	*vlen = (uint8_t)l;
	*off = o + 2 + l;
	return 0;
}

int sms_udh_concat(const struct sms_ud *ud, struct sms_concat *c)
{
	size_t off = 0;
	uint8_t iei, vl;
	const uint8_t *v;
	int err;

	memset(c, 0, sizeof(*c));
	while ((err = sms_udh_next(ud, &off, &iei, &v, &vl)) == 0) {
		struct sms_concat x = {.present = true};

		if (iei == SMS_IEI_CONCAT8 && vl == 3) {
			x.ref = v[0], x.total = v[1], x.seq = v[2];
		} else if (iei == SMS_IEI_CONCAT16 && vl == 4) {
			x.ref16 = true;
			x.ref = (uint16_t)(v[0] << 8 | v[1]), x.total = v[2], x.seq = v[3];
		} else {
			continue;
		}
		/* §9.2.3.24.1: a zero count or a sequence past it: ignore the IE */
		if (!x.total || !x.seq || x.seq > x.total)
			continue;
		if (!c->present)
			*c = x;
	}
	return err == ENOENT ? 0 : err;
}
