/*
 * sms/sms_tpdu_enc — TPDU encoding (TS 23.040 §9.2.2, layouts in
 * sms_tpdu.c). TP-UDL, TP-UDHL and the fill bits are derived from the user
 * data; every field is checked against its range so that what we send
 * decodes again.
 */
#include <errno.h>
#include <string.h>

#include "sms/sms_int.h"
#include "sms/sms_tpdu.h"

struct wr {
	uint8_t *b;
	size_t size, n;
	int err;
};

static void fail(struct wr *w, int err)
{
	if (!w->err)
		w->err = err;
}

static void wput(struct wr *w, const void *p, size_t len)
{
	if (w->err)
		return;
	if (w->n + len > w->size) {
		fail(w, ENOSPC);
		return;
	}
	if (len)
		memcpy(w->b + w->n, p, len);
	w->n += len;
}

static void w8(struct wr *w, uint8_t v)
{
	wput(w, &v, 1);
}

static void w_addr(struct wr *w, const struct sms_addr *a)
{
	size_t used = 0;
	int e;

	if (w->err)
		return;
	e = sms_tp_addr_encode(a, w->b + w->n, w->size - w->n, &used);
	if (e)
		fail(w, e);
	else
		w->n += used;
}

static void w_ts(struct wr *w, const struct sms_ts *ts)
{
	uint8_t o[7];

	if (ts->year > 99 || ts->mon > 99 || ts->day > 99 || ts->hour > 99 || ts->min > 99 ||
	    ts->sec > 99 || ts->tz > 79) {
		fail(w, EINVAL);
		return;
	}
	sms_ts_encode(ts, o);
	wput(w, o, 7);
}

static void w_ud_septets(struct wr *w, const struct sms_tpdu *t, size_t hdr)
{
	const struct sms_ud *ud = &t->ud;
	size_t hsep = (8 * hdr + 6) / 7, fill = 7 * hsep - 8 * hdr, udl = hsep + ud->data_len;
	size_t used = (fill + 7 * ud->data_len) % 8, n = 0;

	if (udl > SMS_UD_SEPTETS_MAX) {
		fail(w, EINVAL);
		return;
	}
	w8(w, (uint8_t)udl);
	if (t->udhi) {
		w8(w, ud->udh_len);
		wput(w, ud->udh, ud->udh_len);
	}
	if (w->err)
		return;
	if (sms_septets_pack(ud->data, ud->data_len, (unsigned)fill, w->b + w->n,
			     w->size - w->n, &n)) {
		fail(w, ENOSPC);
		return;
	}
	if (n) {
		w->b[w->n] |= (uint8_t)(ud->fill_raw & ((1u << fill) - 1));
		if (used)
			w->b[w->n + n - 1] |= (uint8_t)(ud->tail_raw & (0xffu << used));
	}
	w->n += n;
}

static void w_ud(struct wr *w, const struct sms_tpdu *t, size_t max_octets)
{
	const struct sms_ud *ud = &t->ud;
	size_t hdr = t->udhi ? ud->udh_len + 1u : 0;

	if (ud->data_len > sizeof(ud->data) || (t->udhi && ud->udh_len > SMS_UD_OCTETS_MAX - 1)) {
		fail(w, EINVAL);
		return;
	}
	if (ud->septets && t->type != SMS_TP_COMMAND) {
		w_ud_septets(w, t, hdr);
		return;
	}
	if (hdr + ud->data_len > max_octets) {
		fail(w, EINVAL);
		return;
	}
	w8(w, (uint8_t)(hdr + ud->data_len));
	if (t->udhi) {
		w8(w, ud->udh_len);
		wput(w, ud->udh, ud->udh_len);
	}
	wput(w, ud->data, ud->data_len);
}

/* TP-PI with bits 1-3 from has_*, then what it announces. */
static void w_pi_fields(struct wr *w, const struct sms_tpdu *t, bool pi_mandatory)
{
	uint8_t pi[SMS_PI_MAX] = {0};
	size_t npi = t->npi;

	if (npi > SMS_PI_MAX) {
		fail(w, EINVAL);
		return;
	}
	memcpy(pi, t->pi, npi);
	if (!npi && (pi_mandatory || t->has_pid || t->has_dcs || t->has_ud))
		npi = 1;
	if (!npi)
		return;
	pi[0] = (uint8_t)((pi[0] & ~7u) | (t->has_pid ? 1 : 0) | (t->has_dcs ? 2 : 0) |
			  (t->has_ud ? 4 : 0));
	for (size_t i = 0; i + 1 < npi; i++)
		pi[i] |= 0x80;
	pi[npi - 1] &= 0x7f;
	wput(w, pi, npi);
	if (t->type == SMS_TP_SUBMIT_REPORT)
		w_ts(w, &t->scts);
	if (t->has_pid)
		w8(w, t->pid);
	if (t->has_dcs)
		w8(w, t->dcs);
	if (t->has_ud)
		w_ud(w, t, SMS_UD_OCTETS_MAX);
	else if (t->nextra <= SMS_TP_EXTRA_MAX)
		wput(w, t->extra, t->nextra);
	else
		fail(w, EINVAL);
}

static uint8_t first_octet(const struct sms_tpdu *t)
{
	static const uint8_t mti[6] = {0, 0, 1, 1, 2, 2};
	static const uint8_t defined[6] = {0xec, 0x40, 0xfc, 0x40, 0x6c, 0x60};
	uint8_t fo = (uint8_t)(mti[t->type] | (t->fo_spare & ~defined[t->type] & ~3u));

	fo |= t->udhi ? 0x40 : 0;
	switch (t->type) {
	case SMS_TP_DELIVER:
		fo |= (uint8_t)((t->mms ? 0x04 : 0) | (t->lp ? 0x08 : 0) | (t->sri ? 0x20 : 0) |
				(t->rp ? 0x80 : 0));
		break;
	case SMS_TP_SUBMIT:
		fo |= (uint8_t)((t->rd ? 0x04 : 0) | (t->vp.vpf & 3) << 3 | (t->srr ? 0x20 : 0) |
				(t->rp ? 0x80 : 0));
		break;
	case SMS_TP_STATUS_REPORT:
		fo |= (uint8_t)((t->mms ? 0x04 : 0) | (t->lp ? 0x08 : 0) | (t->srq ? 0x20 : 0));
		break;
	case SMS_TP_COMMAND:
		fo |= t->srr ? 0x20 : 0;
		break;
	default:
		break;
	}
	return fo;
}

static void enc_submit(struct wr *w, const struct sms_tpdu *t)
{
	w8(w, t->mr);
	w_addr(w, &t->addr);
	w8(w, t->pid);
	w8(w, t->dcs);
	switch (t->vp.vpf) {
	case SMS_VPF_RELATIVE:
		w8(w, t->vp.rel);
		break;
	case SMS_VPF_ABSOLUTE:
		w_ts(w, &t->vp.abs);
		break;
	case SMS_VPF_ENHANCED:
		wput(w, t->vp.enh, 7);
		break;
	default:
		break;
	}
	w_ud(w, t, SMS_UD_OCTETS_MAX);
}

int sms_tpdu_encode(const struct sms_tpdu *t, uint8_t *buf, size_t size, size_t *len)
{
	struct wr w = {.b = buf, .size = size};

	if ((unsigned)t->type > SMS_TP_COMMAND || (unsigned)t->vp.vpf > 3)
		return EINVAL;
	w8(&w, first_octet(t));
	switch (t->type) {
	case SMS_TP_DELIVER:
		w_addr(&w, &t->addr);
		w8(&w, t->pid);
		w8(&w, t->dcs);
		w_ts(&w, &t->scts);
		w_ud(&w, t, SMS_UD_OCTETS_MAX);
		break;
	case SMS_TP_SUBMIT:
		enc_submit(&w, t);
		break;
	case SMS_TP_COMMAND:
		w8(&w, t->mr);
		w8(&w, t->pid);
		w8(&w, t->ct);
		w8(&w, t->mn);
		w_addr(&w, &t->addr);
		w_ud(&w, t, SMS_CD_MAX);
		break;
	case SMS_TP_STATUS_REPORT:
		w8(&w, t->mr);
		w_addr(&w, &t->addr);
		w_ts(&w, &t->scts);
		w_ts(&w, &t->dt);
		w8(&w, t->st);
		w_pi_fields(&w, t, false);
		break;
	case SMS_TP_SUBMIT_REPORT:
	case SMS_TP_DELIVER_REPORT:
		if (t->in_error)
			w8(&w, t->fcs);
		w_pi_fields(&w, t, t->type == SMS_TP_SUBMIT_REPORT);
		break;
	}
	if (!w.err)
		*len = w.n;
	return w.err;
}
