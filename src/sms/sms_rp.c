/*
 * sms/sms_rp — RP messages of TS 24.011 §7.3 and their IEs (§8.2).
 *
 *   RP-DATA   MTI MR  RP-OA(LV) RP-DA(LV) RP-User-Data(LV)       §7.3.1
 *   RP-SMMA   MTI MR                                             §7.3.2
 *   RP-ACK    MTI MR  [41 RP-User-Data(LV)]                      §7.3.3
 *   RP-ERROR  MTI MR  RP-Cause(LV) [41 RP-User-Data(LV)]         §7.3.4
 *
 * Errors map to the causes of §9.3: a missing, truncated or oversized
 * mandatory IE is 96, an unknown MTI 97. Octets after the last IE we know
 * (an IE added by a later release, §9.3.4 says ignore it) are kept in
 * `extra` and written back, so decode -> encode is byte-exact.
 */
#include <errno.h>
#include <string.h>

#include "sms/sms_int.h"
#include "sms/sms_rp.h"

enum sms_dir sms_rp_dir(enum sms_rp_mti mti)
{
	return (mti & 1) ? SMS_DIR_MT : SMS_DIR_MO;
}

const char *sms_rp_mti_name(enum sms_rp_mti mti)
{
	switch (mti) {
	case SMS_RP_DATA_MO:
	case SMS_RP_DATA_MT:
		return "RP-DATA";
	case SMS_RP_ACK_MO:
	case SMS_RP_ACK_MT:
		return "RP-ACK";
	case SMS_RP_ERROR_MO:
	case SMS_RP_ERROR_MT:
		return "RP-ERROR";
	case SMS_RP_SMMA:
		return "RP-SMMA";
	}
	return "RP-?";
}

/* RP-Originator / RP-Destination Address (§8.2.5.1/2): LV, BCD digits. */
static int addr_decode(struct sms_addr *a, const uint8_t *p, size_t len, size_t *off,
		       struct sms_err *err, const char *what)
{
	size_t l, nd;

	memset(a, 0, sizeof(*a));
	if (*off >= len)
		return sms_err_set(err, SMS_RP_CAUSE_INVALID_MANDATORY, 0, *off, what);
	l = p[*off];
	if (l > SMS_RP_ADDR_MAX || *off + 1 + l > len)
		return sms_err_set(err, SMS_RP_CAUSE_INVALID_MANDATORY, 0, *off, what);
	if (l) {
		const uint8_t *v = p + *off + 1;

		a->present = true;
		a->toa = v[0];
		nd = 2 * (l - 1);
		if (nd && (v[l - 1] >> 4) == 15)
			nd--;
		if (sms_bcd_decode(v + 1, l - 1, nd, a->val))
			return sms_err_set(err, SMS_RP_CAUSE_INVALID_MANDATORY, 0, *off, what);
	}
	*off += 1 + l;
	return 0;
}

/* RP-User-Data value (§8.2.5.3) after its length octet at *off. */
static int ud_decode(struct sms_rp *rp, const uint8_t *p, size_t len, size_t *off,
		     struct sms_err *err)
{
	size_t l;

	if (*off >= len)
		return sms_err_set(err, SMS_RP_CAUSE_INVALID_MANDATORY, 0, *off, "RP-User-Data");
	l = p[*off];
	if (!l || *off + 1 + l > len)
		return sms_err_set(err, SMS_RP_CAUSE_INVALID_MANDATORY, 0, *off, "RP-User-Data");
	rp->has_ud = true;
	rp->ud = p + *off + 1;
	rp->ud_len = l;
	*off += 1 + l;
	return 0;
}

static int cause_decode(struct sms_rp *rp, const uint8_t *p, size_t len, size_t *off,
			struct sms_err *err)
{
	size_t l;

	if (*off >= len)
		return sms_err_set(err, SMS_RP_CAUSE_INVALID_MANDATORY, 0, *off, "RP-Cause");
	l = p[*off];
	if (!l || l > 1 + SMS_RP_DIAG_MAX || *off + 1 + l > len)
		return sms_err_set(err, SMS_RP_CAUSE_INVALID_MANDATORY, 0, *off, "RP-Cause");
	rp->cause = p[*off + 1] & 0x7f;
	rp->cause_ext = (p[*off + 1] & 0x80) != 0;
	rp->ndiag = (uint8_t)(l - 1);
	memcpy(rp->diag, p + *off + 2, l - 1);
	*off += 1 + l;
	return 0;
}

int sms_rp_decode(struct sms_rp *rp, const uint8_t *p, size_t len, struct sms_err *err)
{
	size_t off = 2;
	int e = 0;

	memset(rp, 0, sizeof(*rp));
	if (err)
		memset(err, 0, sizeof(*err));
	if (len < 2) /* §9.3.1: too short for a message type and reference */
		return sms_err_set(err, SMS_RP_CAUSE_INVALID_MANDATORY, 0, 0, "RP-MR");
	rp->mti = (enum sms_rp_mti)(p[0] & 7);
	rp->mti_spare = p[0] & 0xf8;
	rp->mr = p[1];
	if (err) {
		err->mr_valid = true;
		err->mr = p[1];
	}
	switch (p[0] & 7) {
	case SMS_RP_DATA_MO:
	case SMS_RP_DATA_MT:
		e = addr_decode(&rp->oa, p, len, &off, err, "RP-Originator Address");
		if (!e)
			e = addr_decode(&rp->da, p, len, &off, err, "RP-Destination Address");
		if (!e)
			e = ud_decode(rp, p, len, &off, err);
		if (e)
			return e;
		/* §7.3.1: the network's address is mandatory in each direction */
		if (rp->mti == SMS_RP_DATA_MO && !rp->da.present)
			return sms_err_set(err, SMS_RP_CAUSE_INVALID_MANDATORY, 0, 2,
					   "RP-Destination Address");
		if (rp->mti == SMS_RP_DATA_MT && !rp->oa.present)
			return sms_err_set(err, SMS_RP_CAUSE_INVALID_MANDATORY, 0, 2,
					   "RP-Originator Address");
		break;
	case SMS_RP_ERROR_MO:
	case SMS_RP_ERROR_MT:
		e = cause_decode(rp, p, len, &off, err);
		if (e)
			return e;
		/* the optional RP-User-Data is as in RP-ACK */
		/* fall through */
	case SMS_RP_ACK_MO:
	case SMS_RP_ACK_MT:
		if (off < len && p[off] == SMS_RP_IEI_USER_DATA) {
			off++;
			e = ud_decode(rp, p, len, &off, err);
			if (e)
				return e;
		}
		break;
	case SMS_RP_SMMA:
		break;
	default:
		return sms_err_set(err, SMS_RP_CAUSE_MTI_UNKNOWN, 0, 0, "RP-MTI");
	}
	if (off < len) {
		rp->extra = p + off;
		rp->extra_len = len - off;
	}
	return 0;
}

struct wr {
	uint8_t *b;
	size_t size, n;
	int err;
};

static void put(struct wr *w, const void *p, size_t len)
{
	if (w->err)
		return;
	if (w->n + len > w->size) {
		w->err = ENOSPC;
		return;
	}
	if (len)
		memcpy(w->b + w->n, p, len);
	w->n += len;
}

static void put8(struct wr *w, uint8_t v)
{
	put(w, &v, 1);
}

static void addr_encode(struct wr *w, const struct sms_addr *a)
{
	uint8_t v[SMS_RP_ADDR_MAX];
	size_t n = 0;
	int e;

	if (!a->present) {
		put8(w, 0);
		return;
	}
	if (strlen(a->val) > 2 * (SMS_RP_ADDR_MAX - 1)) {
		w->err = w->err ? w->err : EINVAL;
		return;
	}
	v[0] = a->toa;
	e = sms_bcd_encode(a->val, v + 1, sizeof(v) - 1, &n);
	if (e) {
		w->err = w->err ? w->err : EINVAL;
		return;
	}
	put8(w, (uint8_t)(n + 1));
	put(w, v, n + 1);
}

static void ud_encode(struct wr *w, const struct sms_rp *rp, bool iei)
{
	if (!rp->ud_len || rp->ud_len > 255 || !rp->ud) {
		w->err = w->err ? w->err : EINVAL;
		return;
	}
	if (iei)
		put8(w, SMS_RP_IEI_USER_DATA);
	put8(w, (uint8_t)rp->ud_len);
	put(w, rp->ud, rp->ud_len);
}

int sms_rp_encode(const struct sms_rp *rp, uint8_t *buf, size_t size, size_t *len)
{
	struct wr w = {.b = buf, .size = size};

	if ((unsigned)rp->mti > SMS_RP_SMMA || rp->ndiag > SMS_RP_DIAG_MAX)
		return EINVAL;
	put8(&w, (uint8_t)((rp->mti_spare & 0xf8) | rp->mti));
	put8(&w, rp->mr);
	switch (rp->mti) {
	case SMS_RP_DATA_MO:
	case SMS_RP_DATA_MT:
		addr_encode(&w, &rp->oa);
		addr_encode(&w, &rp->da);
		ud_encode(&w, rp, false);
		break;
	case SMS_RP_ERROR_MO:
	case SMS_RP_ERROR_MT:
		put8(&w, (uint8_t)(1 + rp->ndiag));
		put8(&w, (uint8_t)((rp->cause & 0x7f) | (rp->cause_ext ? 0x80 : 0)));
		put(&w, rp->diag, rp->ndiag);
		/* fall through */
	case SMS_RP_ACK_MO:
	case SMS_RP_ACK_MT:
		if (rp->has_ud)
			ud_encode(&w, rp, true);
		break;
	case SMS_RP_SMMA:
		break;
	}
	if (rp->extra_len)
		put(&w, rp->extra, rp->extra_len);
	if (!w.err)
		*len = w.n;
	return w.err;
}

void sms_rp_data_init(struct sms_rp *rp, enum sms_dir dir, uint8_t mr, const uint8_t *tpdu,
		      size_t tpdu_len)
{
	memset(rp, 0, sizeof(*rp));
	rp->mti = dir == SMS_DIR_MT ? SMS_RP_DATA_MT : SMS_RP_DATA_MO;
	rp->mr = mr;
	rp->has_ud = true;
	rp->ud = tpdu;
	rp->ud_len = tpdu_len;
}

void sms_rp_ack_init(struct sms_rp *rp, enum sms_dir dir, uint8_t mr, const uint8_t *ud,
		     size_t ud_len)
{
	memset(rp, 0, sizeof(*rp));
	rp->mti = dir == SMS_DIR_MT ? SMS_RP_ACK_MT : SMS_RP_ACK_MO;
	rp->mr = mr;
	rp->has_ud = ud && ud_len;
	rp->ud = ud;
	rp->ud_len = ud_len;
}

void sms_rp_error_init(struct sms_rp *rp, enum sms_dir dir, uint8_t mr, uint8_t cause,
		       const uint8_t *ud, size_t ud_len)
{
	sms_rp_ack_init(rp, dir, mr, ud, ud_len);
	rp->mti = dir == SMS_DIR_MT ? SMS_RP_ERROR_MT : SMS_RP_ERROR_MO;
	rp->cause = cause & 0x7f;
}
