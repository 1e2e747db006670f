/*
 * sms/sms_tpdu — TPDU decode and encode, TS 23.040 §9.2.2:
 *
 *   SMS-DELIVER          FO OA PID DCS SCTS UDL UD                  §9.2.2.1
 *   SMS-DELIVER-REPORT   FO [FCS] PI [PID] [DCS] [UDL UD]           §9.2.2.1a
 *   SMS-SUBMIT           FO MR DA PID DCS [VP] UDL UD               §9.2.2.2
 *   SMS-SUBMIT-REPORT    FO [FCS] PI SCTS [PID] [DCS] [UDL UD]      §9.2.2.2a
 *   SMS-STATUS-REPORT    FO MR RA SCTS DT ST [PI [PID] [DCS] [UDL UD]]  §9.2.2.3
 *   SMS-COMMAND          FO MR PID CT MN DA CDL CD                  §9.2.2.4
 *
 * ([FCS] only in a report carried by RP-ERROR.) A report that ends before
 * its TP-PI is accepted (phones send "00" for a bare DELIVER-REPORT) and
 * re-encoded the same way; a few octets after the fields its TP-PI
 * announces (without user data) are kept in `extra`. Octets after the user
 * data are an error: the length fields would not account for them.
 */
#include <errno.h>
#include <string.h>

#include "sms/sms_int.h"
#include "sms/sms_tpdu.h"

const char *sms_tp_type_name(enum sms_tp_type t)
{
	static const char *const names[] = {"SMS-DELIVER", "SMS-DELIVER-REPORT", "SMS-SUBMIT",
					    "SMS-SUBMIT-REPORT", "SMS-STATUS-REPORT",
					    "SMS-COMMAND"};

	return (unsigned)t < 6 ? names[t] : "SMS-?";
}

enum sms_tp_type sms_tp_type_of(uint8_t fo, enum sms_dir dir)
{
	bool mo = dir == SMS_DIR_MO;

	switch (fo & 3) {
	case 0:
		return mo ? SMS_TP_DELIVER_REPORT : SMS_TP_DELIVER;
	case 1:
		return mo ? SMS_TP_SUBMIT : SMS_TP_SUBMIT_REPORT;
	default:
		return mo ? SMS_TP_COMMAND : SMS_TP_STATUS_REPORT;
	}
}

/* First-octet bits each type defines besides TP-MTI (the rest are kept). */
static uint8_t fo_defined(enum sms_tp_type t)
{
	switch (t) {
	case SMS_TP_DELIVER:
		return 0xec; /* MMS LP SRI UDHI RP */
	case SMS_TP_SUBMIT:
		return 0xfc; /* RD VPF SRR UDHI RP */
	case SMS_TP_STATUS_REPORT:
		return 0x6c; /* MMS LP SRQ UDHI */
	case SMS_TP_COMMAND:
		return 0x60; /* SRR UDHI */
	default:
		return 0x40; /* UDHI */
	}
}

struct rd {
	const uint8_t *p;
	size_t len, off;
	struct sms_err *err;
};

static int rd_trunc(struct rd *r, const char *what)
{
	return sms_err_set(r->err, SMS_RP_CAUSE_INVALID_MANDATORY, SMS_FCS_UNSPECIFIED, r->off,
			   what);
}

static int bad(struct rd *r, const char *what)
{
	return sms_err_set(r->err, SMS_RP_CAUSE_SEMANTIC, SMS_FCS_UNSPECIFIED, r->off, what);
}

static int rd8(struct rd *r, uint8_t *v, const char *what)
{
	if (r->off >= r->len)
		return rd_trunc(r, what);
	*v = r->p[r->off++];
	return 0;
}

static int rd_addr(struct rd *r, struct sms_addr *a, const char *what)
{
	size_t used = 0;

	if (sms_tp_addr_decode(a, r->p + r->off, r->len - r->off, &used))
		return rd_trunc(r, what);
	r->off += used;
	return 0;
}

static int rd_ts(struct rd *r, struct sms_ts *ts, const char *what)
{
	if (r->len - r->off < 7)
		return rd_trunc(r, what);
	if (sms_ts_decode(ts, r->p + r->off))
		return bad(r, what);
	r->off += 7;
	return 0;
}

/* TP-UDL and TP-UD (§9.2.3.16, §9.2.3.24); max is 140 or 156 (TP-CDL). */
static int rd_ud(struct rd *r, struct sms_tpdu *t, size_t max_octets, const char *what)
{
	struct sms_dcs d;
	struct sms_ud *ud = &t->ud;
	size_t udl, octets, hdr = 0, left;
	uint8_t l = 0;

	if (rd8(r, &l, what))
		return EBADMSG;
	udl = l;
	sms_dcs_parse(t->dcs, &d);
	ud->septets = t->type != SMS_TP_COMMAND && d.alphabet == SMS_ALPHA_GSM7 && !d.compressed;
	if (ud->septets ? udl > SMS_UD_SEPTETS_MAX : udl > max_octets)
		return bad(r, what);
	octets = ud->septets ? (7 * udl + 7) / 8 : udl;
	left = r->len - r->off;
	if (octets > left)
		return rd_trunc(r, "TP-UD");
	if (octets < left)
		return bad(r, "octets after TP-UD");
	if (t->udhi) {
		if (!octets || (size_t)r->p[r->off] + 1 > octets)
			return bad(r, "TP-UDHL");
		hdr = r->p[r->off] + 1u;
		ud->udh_len = (uint8_t)(hdr - 1);
		memcpy(ud->udh, r->p + r->off + 1, hdr - 1);
		for (size_t o = 0; o < ud->udh_len; o += 2u + ud->udh[o + 1])
			if (o + 2 > ud->udh_len || o + 2u + ud->udh[o + 1] > ud->udh_len)
				return bad(r, "TP-UDH information element");
	}
	if (!ud->septets) {
		ud->data_len = (uint16_t)(octets - hdr);
		memcpy(ud->data, r->p + r->off + hdr, octets - hdr);
	} else {
		size_t hsep = (8 * hdr + 6) / 7, fill = 7 * hsep - 8 * hdr, n, used;
		const uint8_t *q = r->p + r->off + hdr;

		if (hsep > udl)
			return bad(r, "TP-UDHL");
		n = udl - hsep;
		used = (fill + 7 * n) % 8;
		if (sms_septets_unpack(q, octets - hdr, (unsigned)fill, n, ud->data))
			return rd_trunc(r, "TP-UD");
		ud->data_len = (uint16_t)n;
		if (octets > hdr) {
			ud->fill_raw = (uint8_t)(q[0] & ((1u << fill) - 1));
			ud->tail_raw = used ? (uint8_t)(r->p[r->off + octets - 1] & (0xffu << used))
					    : 0;
		}
	}
	r->off += octets;
	return 0;
}

/* TP-PI octets (§9.2.3.27), extension bit 8 chaining them. */
static int rd_pi(struct rd *r, struct sms_tpdu *t)
{
	do {
		if (t->npi == SMS_PI_MAX)
			return bad(r, "TP-PI");
		if (rd8(r, &t->pi[t->npi], "TP-PI"))
			return EBADMSG;
		t->npi++;
	} while (t->pi[t->npi - 1] & 0x80);
	t->has_pid = t->pi[0] & 1;
	t->has_dcs = (t->pi[0] & 2) != 0;
	t->has_ud = (t->pi[0] & 4) != 0;
	return 0;
}

/* What TP-PI announces; nothing may follow. */
static int rd_pi_fields(struct rd *r, struct sms_tpdu *t)
{
	if (t->has_pid && rd8(r, &t->pid, "TP-PID"))
		return EBADMSG;
	if (t->has_dcs && rd8(r, &t->dcs, "TP-DCS"))
		return EBADMSG;
	if (t->has_ud)
		return rd_ud(r, t, SMS_UD_OCTETS_MAX, "TP-UDL");
	/* §9.2.3.27: a receiver ignores TP-PI bits it does not know, so the
	 * fields a later release announces with them are kept, not refused */
	if (r->len - r->off > SMS_TP_EXTRA_MAX)
		return bad(r, "octets after TP-PI");
	t->nextra = (uint8_t)(r->len - r->off);
	memcpy(t->extra, r->p + r->off, t->nextra);
	r->off = r->len;
	return 0;
}

static int dec_submit(struct rd *r, struct sms_tpdu *t, uint8_t fo)
{
	t->rd = (fo & 0x04) != 0;
	t->vp.vpf = (enum sms_vpf)(fo >> 3 & 3);
	t->srr = (fo & 0x20) != 0;
	t->rp = (fo & 0x80) != 0;
	if (rd8(r, &t->mr, "TP-MR") || rd_addr(r, &t->addr, "TP-DA") ||
	    rd8(r, &t->pid, "TP-PID") || rd8(r, &t->dcs, "TP-DCS"))
		return EBADMSG;
	switch (t->vp.vpf) {
	case SMS_VPF_RELATIVE:
		if (rd8(r, &t->vp.rel, "TP-VP"))
			return EBADMSG;
		break;
	case SMS_VPF_ABSOLUTE:
		if (rd_ts(r, &t->vp.abs, "TP-VP"))
			return EBADMSG;
		break;
	case SMS_VPF_ENHANCED:
		if (r->len - r->off < 7)
			return rd_trunc(r, "TP-VP");
		memcpy(t->vp.enh, r->p + r->off, 7);
		r->off += 7;
		break;
	default:
		break;
	}
	return rd_ud(r, t, SMS_UD_OCTETS_MAX, "TP-UDL");
}

static int dec_command(struct rd *r, struct sms_tpdu *t, uint8_t fo)
{
	t->srr = (fo & 0x20) != 0;
	if (rd8(r, &t->mr, "TP-MR") || rd8(r, &t->pid, "TP-PID") || rd8(r, &t->ct, "TP-CT") ||
	    rd8(r, &t->mn, "TP-MN") || rd_addr(r, &t->addr, "TP-DA"))
		return EBADMSG;
	return rd_ud(r, t, SMS_CD_MAX, "TP-CDL");
}

static int dec_body(struct rd *r, struct sms_tpdu *t, uint8_t fo)
{
	switch (t->type) {
	case SMS_TP_DELIVER:
		t->sri = (fo & 0x20) != 0;
		t->rp = (fo & 0x80) != 0;
		if (rd_addr(r, &t->addr, "TP-OA") || rd8(r, &t->pid, "TP-PID") ||
		    rd8(r, &t->dcs, "TP-DCS") || rd_ts(r, &t->scts, "TP-SCTS"))
			return EBADMSG;
		return rd_ud(r, t, SMS_UD_OCTETS_MAX, "TP-UDL");
	case SMS_TP_SUBMIT:
		return dec_submit(r, t, fo);
	case SMS_TP_COMMAND:
		return dec_command(r, t, fo);
	case SMS_TP_STATUS_REPORT:
		t->srq = (fo & 0x20) != 0;
		if (rd8(r, &t->mr, "TP-MR") || rd_addr(r, &t->addr, "TP-RA") ||
		    rd_ts(r, &t->scts, "TP-SCTS") || rd_ts(r, &t->dt, "TP-DT") ||
		    rd8(r, &t->st, "TP-ST"))
			return EBADMSG;
		if (r->off == r->len)
			return 0; /* TP-PI is optional here */
		return rd_pi(r, t) ? EBADMSG : rd_pi_fields(r, t);
	case SMS_TP_SUBMIT_REPORT:
		if (t->in_error && rd8(r, &t->fcs, "TP-FCS"))
			return EBADMSG;
		/* TP-PI is mandatory here: TP-SCTS follows it */
		if (rd_pi(r, t) || rd_ts(r, &t->scts, "TP-SCTS"))
			return EBADMSG;
		return rd_pi_fields(r, t);
	case SMS_TP_DELIVER_REPORT:
		if (t->in_error && rd8(r, &t->fcs, "TP-FCS"))
			return EBADMSG;
		if (r->off == r->len)
			return 0; /* phones send a bare "00" */
		return rd_pi(r, t) ? EBADMSG : rd_pi_fields(r, t);
	}
	return EBADMSG;
}

int sms_tpdu_decode(struct sms_tpdu *t, const uint8_t *p, size_t len,
		    const struct sms_tpdu_dec_prm *prm, struct sms_err *err)
{
	struct rd r = {.p = p, .len = len, .err = err};
	uint8_t fo;

	memset(t, 0, sizeof(*t));
	if (err)
		memset(err, 0, sizeof(*err));
	if (rd8(&r, &fo, "TP-MTI"))
		return EBADMSG;
	if ((fo & 3) == 3) /* reserved TP-MTI, §9.2.3.1 */
		return sms_err_set(err, SMS_RP_CAUSE_SEMANTIC, SMS_FCS_UNSPECIFIED, 0, "TP-MTI");
	t->type = sms_tp_type_of(fo, prm->dir);
	t->in_error = prm->in_error && (t->type == SMS_TP_DELIVER_REPORT ||
					t->type == SMS_TP_SUBMIT_REPORT);
	t->fo_spare = (uint8_t)(fo & ~fo_defined(t->type) & ~3u);
	t->udhi = (fo & 0x40) != 0;
	t->mms = (fo & 0x04) != 0 && (t->type == SMS_TP_DELIVER ||
				      t->type == SMS_TP_STATUS_REPORT);
	t->lp = (fo & 0x08) != 0 && (t->type == SMS_TP_DELIVER ||
				     t->type == SMS_TP_STATUS_REPORT);
	t->has_pid = t->has_dcs = t->has_ud = t->type == SMS_TP_DELIVER ||
					      t->type == SMS_TP_SUBMIT;
	return dec_body(&r, t, fo);
}
