/*
 * sms/sms_tpdu_build — what an SMSC makes: the SMS-DELIVER for a submit,
 * status and submit/deliver reports, the text of a message, and long text
 * split into concatenated parts (TS 23.040 §9.2.3.24.1, TS 23.038 §6.2).
 */
#include <errno.h>
#include <string.h>

#include "sms/sms_int.h"
#include "sms/sms_tpdu.h"

int sms_tpdu_deliver_from_submit(struct sms_tpdu *dlv, const struct sms_tpdu *sub,
				 const struct sms_deliver_prm *prm)
{
	if (sub->type != SMS_TP_SUBMIT || !prm->oa)
		return EINVAL;
	memset(dlv, 0, sizeof(*dlv));
	dlv->type = SMS_TP_DELIVER;
	dlv->addr = *prm->oa;
	dlv->pid = sub->pid;
	dlv->dcs = sub->dcs;
	dlv->ud = sub->ud;
	dlv->ud.fill_raw = dlv->ud.tail_raw = 0;
	dlv->udhi = sub->udhi;
	dlv->rp = sub->rp;
	dlv->sri = sub->srr; /* §9.2.3.4: a status report will be returned */
	dlv->mms = !prm->more;
	dlv->has_pid = dlv->has_dcs = dlv->has_ud = true;
	sms_ts_from_unix(&dlv->scts, prm->scts, prm->tz_quarters);
	return 0;
}

void sms_tpdu_status_report(struct sms_tpdu *t, const struct sms_status_prm *prm)
{
	memset(t, 0, sizeof(*t));
	t->type = SMS_TP_STATUS_REPORT;
	t->mr = prm->mr;
	if (prm->ra)
		t->addr = *prm->ra;
	t->mms = true; /* no more messages waiting */
	sms_ts_from_unix(&t->scts, prm->scts, prm->tz_quarters);
	sms_ts_from_unix(&t->dt, prm->dt, prm->tz_quarters);
	t->st = prm->st;
}

void sms_tpdu_report(struct sms_tpdu *t, enum sms_tp_type type, uint8_t fcs, int64_t scts,
		     int tz_quarters)
{
	memset(t, 0, sizeof(*t));
	t->type = type == SMS_TP_SUBMIT_REPORT ? SMS_TP_SUBMIT_REPORT : SMS_TP_DELIVER_REPORT;
	t->in_error = fcs != 0;
	t->fcs = fcs;
	t->npi = 1; /* TP-PI is mandatory in both reports, §9.2.2.1a and §9.2.2.2a */
	sms_ts_from_unix(&t->scts, scts, tz_quarters);
}

int sms_tpdu_text(const struct sms_tpdu *t, char *out, size_t size, size_t *len)
{
	struct sms_dcs d;

	if (!size)
		return ENOSPC;
	out[0] = '\0';
	if (len)
		*len = 0;
	if (!t->has_ud)
		return 0;
	if (t->type == SMS_TP_COMMAND)
		return EINVAL;
	sms_dcs_parse(t->dcs, &d);
	if (d.compressed || d.alphabet == SMS_ALPHA_8BIT)
		return EINVAL;
	if (d.alphabet == SMS_ALPHA_UCS2)
		return sms_ucs2_to_utf8(t->ud.data, t->ud.data_len, out, size, len);
	return sms_gsm7_to_utf8(t->ud.data, t->ud.data_len, out, size, len);
}

/* ---- splitting ---- */

/* Does every character have a GSM 7-bit form? *units = septets needed. */
static int gsm7_fits(const char *s, size_t len, bool *fits, size_t *units)
{
	size_t i = 0, n = 0;

	*fits = true;
	while (i < len) {
		uint32_t c;
		uint8_t sep[2];
		size_t k;
		int err = sms_utf8_next(s, len, &i, &c);

		if (err)
			return err;
		k = sms_gsm7_char(c, sep);
		if (!k)
			*fits = false;
		n += k ? k : 2;
	}
	*units = n;
	return 0;
}

/* One character's encoding in the chosen alphabet: octets or septets. */
static size_t char_units(uint32_t c, bool ucs2, uint8_t u[4])
{
	if (!ucs2)
		return sms_gsm7_char(c, u);
	if (c >= 0x10000) {
		uint32_t v = c - 0x10000, hi = 0xd800 | v >> 10, lo = 0xdc00 | (v & 0x3ff);

		u[0] = (uint8_t)(hi >> 8), u[1] = (uint8_t)hi;
		u[2] = (uint8_t)(lo >> 8), u[3] = (uint8_t)lo;
		return 4;
	}
	u[0] = (uint8_t)(c >> 8), u[1] = (uint8_t)c;
	return 2;
}

/* Fills parts[] with at most cap units each; a character never straddles two. */
static int fill_parts(const char *s, size_t len, bool ucs2, size_t cap, struct sms_ud *parts,
		      size_t max, size_t *np)
{
	size_t i = 0, n = 1;

	memset(&parts[0], 0, sizeof(parts[0]));
	parts[0].septets = !ucs2;
	while (i < len) {
		uint32_t c;
		uint8_t u[4];
		size_t k;
		int err = sms_utf8_next(s, len, &i, &c);

		if (err)
			return err;
		k = char_units(c, ucs2, u);
		if (parts[n - 1].data_len + k > cap) {
			if (n == max)
				return EMSGSIZE;
			memset(&parts[n], 0, sizeof(parts[n]));
			parts[n].septets = !ucs2;
			n++;
		}
		memcpy(parts[n - 1].data + parts[n - 1].data_len, u, k);
		parts[n - 1].data_len = (uint16_t)(parts[n - 1].data_len + k);
	}
	*np = n;
	return 0;
}

int sms_text_split(const char *text, size_t len, const struct sms_split_prm *prm,
		   struct sms_ud *parts, size_t *nparts, uint8_t *dcs)
{
	size_t max = prm->max_parts > SMS_PARTS_MAX ? SMS_PARTS_MAX : prm->max_parts, units, n;
	size_t one, cap;
	bool fits, ucs2;
	int err;

	if (!max)
		return EINVAL;
	err = gsm7_fits(text, len, &fits, &units);
	if (err)
		return err;
	ucs2 = prm->force_ucs2 || !fits;
	/* one part: 160 septets or 140 octets; with a header 6 or 7 octets less */
	one = ucs2 ? SMS_UD_OCTETS_MAX : SMS_UD_SEPTETS_MAX;
	cap = ucs2 ? (size_t)(prm->ref16 ? 132 : 134) : (size_t)(prm->ref16 ? 152 : 153);
	if (ucs2) {
		size_t oct = 0, i = 0;
		uint32_t c;
		uint8_t u[4];

		while (i < len && !sms_utf8_next(text, len, &i, &c))
			oct += char_units(c, true, u);
		units = oct;
	}
	err = fill_parts(text, len, ucs2, units <= one ? one : cap, parts, max, &n);
	if (err)
		return err;
	for (size_t k = 0; n > 1 && k < n; k++) {
		uint8_t *h = parts[k].udh;

		if (prm->ref16) {
			h[0] = SMS_IEI_CONCAT16, h[1] = 4;
			h[2] = (uint8_t)(prm->ref >> 8), h[3] = (uint8_t)prm->ref;
			h[4] = (uint8_t)n, h[5] = (uint8_t)(k + 1);
			parts[k].udh_len = 6;
		} else {
			h[0] = SMS_IEI_CONCAT8, h[1] = 3, h[2] = (uint8_t)prm->ref;
			h[3] = (uint8_t)n, h[4] = (uint8_t)(k + 1);
			parts[k].udh_len = 5;
		}
	}
	*nparts = n;
	*dcs = sms_dcs_for(ucs2 ? SMS_ALPHA_UCS2 : SMS_ALPHA_GSM7);
	return 0;
}
