/*
 * imsctl sms — a decoded TPDU as JSON: every field of TS 23.040 §9.2.2 the
 * type defines, with names and numbers side by side (the TON "international"
 * and its value 1) so that a reader needs no table.
 */
#include <stdio.h>
#include <string.h>

#include "tools/imsctl_sms.h"

static json_t *j_hex(const uint8_t *p, size_t n)
{
	char buf[2 * 256 + 1];

	if (n > 256 || sms_hex_encode(p, n, buf, sizeof(buf)))
		return json_null();
	return json_string(buf);
}

static const char *ton_name(unsigned ton)
{
	static const char *const n[8] = {"unknown",	 "international", "national",
					 "network-specific", "subscriber",   "alphanumeric",
					 "abbreviated",	 "reserved"};

	return n[ton & 7];
}

static const char *npi_name(unsigned npi)
{
	switch (npi) {
	case 0: return "unknown";
	case 1: return "isdn-e164";
	case 3: return "data-x121";
	case 4: return "telex";
	case 8: return "national";
	case 9: return "private";
	case 10: return "ermes";
	default: return "reserved";
	}
}

json_t *imsctl_sms_addr_json(const struct sms_addr *a, bool tp)
{
	char num[SMS_ADDR_VAL_MAX + 2], toa[3];
	unsigned ton = sms_addr_ton(a);
	json_t *o;

	if (!a->present)
		return json_null();
	snprintf(toa, sizeof(toa), "%02x", a->toa);
	sms_addr_format(a, num, sizeof(num));
	o = json_pack("{s:s, s:i, s:s, s:i, s:s}", "toa", toa, "ton", (int)ton, "ton_name",
		      ton_name(ton), "npi", (int)sms_addr_npi(a), "npi_name",
		      npi_name(sms_addr_npi(a)));
	if (tp)
		json_object_set_new(o, "length", json_integer(a->tp_len));
	if (tp && ton == SMS_TON_ALPHANUMERIC) {
		json_object_set_new(o, "text", json_string(a->val));
	} else {
		json_object_set_new(o, "digits", json_string(a->val));
		json_object_set_new(o, "number", json_string(num));
	}
	return o;
}

static json_t *j_ts(const struct sms_ts *ts)
{
	char text[40];
	int64_t t;
	int q = ts->tz_neg ? -(int)ts->tz : ts->tz;

	snprintf(text, sizeof(text), "20%02u-%02u-%02uT%02u:%02u:%02u%c%02u:%02u",
		 (unsigned)ts->year, (unsigned)ts->mon, (unsigned)ts->day, (unsigned)ts->hour,
		 (unsigned)ts->min, (unsigned)ts->sec, ts->tz_neg ? '-' : '+', ts->tz / 4u,
		 (ts->tz % 4u) * 15u);
	return json_pack("{s:s, s:i, s:o}", "time", text, "tz_quarters", q, "unix",
			 sms_ts_to_unix(ts, &t) ? json_null() : json_integer(t));
}

static json_t *j_vp(const struct sms_vp *vp)
{
	int64_t exp;

	switch (vp->vpf) {
	case SMS_VPF_RELATIVE:
		return json_pack("{s:s, s:i, s:I}", "format", "relative", "value", vp->rel,
				 "seconds", (json_int_t)sms_vp_relative_seconds(vp->rel));
	case SMS_VPF_ABSOLUTE:
		return json_pack("{s:s, s:o}", "format", "absolute", "time", j_ts(&vp->abs));
	case SMS_VPF_ENHANCED:
		return json_pack("{s:s, s:o, s:o, s:b}", "format", "enhanced", "hex",
				 j_hex(vp->enh, 7), "seconds",
				 sms_vp_expiry(vp, 0, &exp) ? json_null() : json_integer(exp),
				 "single_shot", (vp->enh[0] & 0x40) != 0);
	default:
		return json_null();
	}
}

static json_t *j_dcs(uint8_t v)
{
	static const char *const alpha[] = {"gsm7", "8bit", "ucs2"};
	static const char *const mwi[] = {"voicemail", "fax", "email", "other"};
	struct sms_dcs d;
	char hex[3];
	const char *group;
	json_t *o;

	sms_dcs_parse(v, &d);
	snprintf(hex, sizeof(hex), "%02x", v);
	group = v < 0x40 ? "general" : v < 0x80 ? "automatic-deletion" : v < 0xc0 ? "reserved"
		: v < 0xd0 ? "mwi-discard" : v < 0xf0 ? "mwi-store" : "data-coding-class";
	o = json_pack("{s:i, s:s, s:s, s:s, s:o, s:b}", "value", v, "hex", hex, "group", group,
		      "alphabet", alpha[d.alphabet], "class",
		      d.msg_class < 0 ? json_null() : json_integer(d.msg_class), "compressed",
		      d.compressed);
	if (d.mwi)
		json_object_set_new(o, "mwi", json_pack("{s:b, s:s}", "active", d.mwi_active,
							"type", mwi[d.mwi_type & 3]));
	return o;
}

static json_t *j_udh(const struct sms_ud *ud)
{
	json_t *ies = json_array(), *o;
	struct sms_concat c;
	size_t off = 0;
	uint8_t iei, vl;
	const uint8_t *v;

	while (sms_udh_next(ud, &off, &iei, &v, &vl) == 0) {
		const char *name = iei == SMS_IEI_CONCAT8    ? "concatenation-8bit-ref"
				   : iei == SMS_IEI_CONCAT16 ? "concatenation-16bit-ref"
				   : iei == 0x04 || iei == 0x05 ? "application-port"
				   : iei == 0x24 || iei == 0x25 ? "national-language-shift"
				   : "other";

		json_array_append_new(ies, json_pack("{s:i, s:s, s:o}", "iei", iei, "name", name,
						     "hex", j_hex(v, vl)));
	}
	o = json_pack("{s:i, s:o, s:o}", "length", ud->udh_len, "hex",
		      j_hex(ud->udh, ud->udh_len), "ies", ies);
	if (sms_udh_concat(ud, &c) == 0 && c.present)
		json_object_set_new(o, "concat",
				    json_pack("{s:i, s:i, s:i, s:i}", "ref", c.ref, "ref_bits",
					      c.ref16 ? 16 : 8, "total", c.total, "seq", c.seq));
	return o;
}

static json_t *j_ud(const struct sms_tpdu *t)
{
	const struct sms_ud *ud = &t->ud;
	size_t hdr = t->udhi ? ud->udh_len + 1u : 0;
	size_t udl = ud->septets ? (8 * hdr + 6) / 7 + ud->data_len : hdr + ud->data_len;
	char text[4 * SMS_UD_SEPTETS_MAX + 1];
	json_t *o;

	o = json_pack("{s:I, s:s, s:o}", "udl", (json_int_t)udl, "unit",
		      ud->septets ? "septets" : "octets", "header",
		      t->udhi ? j_udh(ud) : json_null());
	if (sms_tpdu_text(t, text, sizeof(text), NULL) == 0)
		json_object_set_new(o, "text", json_string(text));
	if (!ud->septets)
		json_object_set_new(o, "data_hex", j_hex(ud->data, ud->data_len));
	else
		json_object_set_new(o, "septets", json_integer(ud->data_len));
	return o;
}

/* First-octet flags this type defines (TS 23.040 §9.2.3). */
static void j_flags(json_t *o, const struct sms_tpdu *t)
{
	switch (t->type) {
	case SMS_TP_DELIVER:
		json_object_set_new(o, "mms", json_boolean(t->mms));
		json_object_set_new(o, "more_messages", json_boolean(!t->mms));
		json_object_set_new(o, "lp", json_boolean(t->lp));
		json_object_set_new(o, "sri", json_boolean(t->sri));
		json_object_set_new(o, "rp", json_boolean(t->rp));
		break;
	case SMS_TP_SUBMIT:
		json_object_set_new(o, "rd", json_boolean(t->rd));
		json_object_set_new(o, "srr", json_boolean(t->srr));
		json_object_set_new(o, "rp", json_boolean(t->rp));
		break;
	case SMS_TP_STATUS_REPORT:
		json_object_set_new(o, "mms", json_boolean(t->mms));
		json_object_set_new(o, "more_messages", json_boolean(!t->mms));
		json_object_set_new(o, "lp", json_boolean(t->lp));
		json_object_set_new(o, "srq", json_boolean(t->srq));
		break;
	case SMS_TP_COMMAND:
		json_object_set_new(o, "srr", json_boolean(t->srr));
		break;
	default:
		break;
	}
	json_object_set_new(o, "udhi", json_boolean(t->udhi));
	if (t->fo_spare)
		json_object_set_new(o, "spare_bits", json_integer(t->fo_spare));
}

static void j_optional(json_t *o, const struct sms_tpdu *t)
{
	if (t->type != SMS_TP_DELIVER && t->type != SMS_TP_SUBMIT &&
	    t->type != SMS_TP_COMMAND)
		json_object_set_new(o, "pi", t->npi ? j_hex(t->pi, t->npi) : json_null());
	if (t->type == SMS_TP_COMMAND) {
		json_object_set_new(o, "pid", json_integer(t->pid));
		json_object_set_new(o, "command_data_hex", j_hex(t->ud.data, t->ud.data_len));
		return;
	}
	json_object_set_new(o, "pid", t->has_pid ? json_integer(t->pid) : json_null());
	json_object_set_new(o, "dcs", t->has_dcs ? j_dcs(t->dcs) : json_null());
	json_object_set_new(o, "user_data", t->has_ud ? j_ud(t) : json_null());
	if (t->nextra)
		json_object_set_new(o, "extra_hex", j_hex(t->extra, t->nextra));
}

json_t *imsctl_sms_tpdu_json(const struct sms_tpdu *t)
{
	json_t *o = json_pack("{s:s}", "type", sms_tp_type_name(t->type));
	uint8_t buf[SMS_TPDU_MAX];
	size_t n;

	/* the first octet as sent: decode -> encode is byte-exact */
	if (sms_tpdu_encode(t, buf, sizeof(buf), &n) == 0) {
		char fo[3];

		snprintf(fo, sizeof(fo), "%02x", buf[0]);
		json_object_set_new(o, "first_octet", json_string(fo));
		json_object_set_new(o, "mti", json_integer(buf[0] & 3));
	}

	j_flags(o, t);
	switch (t->type) {
	case SMS_TP_DELIVER:
		json_object_set_new(o, "originator", imsctl_sms_addr_json(&t->addr, true));
		json_object_set_new(o, "scts", j_ts(&t->scts));
		break;
	case SMS_TP_SUBMIT:
		json_object_set_new(o, "mr", json_integer(t->mr));
		json_object_set_new(o, "destination", imsctl_sms_addr_json(&t->addr, true));
		json_object_set_new(o, "validity", j_vp(&t->vp));
		break;
	case SMS_TP_STATUS_REPORT:
		json_object_set_new(o, "mr", json_integer(t->mr));
		json_object_set_new(o, "recipient", imsctl_sms_addr_json(&t->addr, true));
		json_object_set_new(o, "scts", j_ts(&t->scts));
		json_object_set_new(o, "discharge_time", j_ts(&t->dt));
		json_object_set_new(o, "status", json_integer(t->st));
		break;
	case SMS_TP_COMMAND:
		json_object_set_new(o, "mr", json_integer(t->mr));
		json_object_set_new(o, "command_type", json_integer(t->ct));
		json_object_set_new(o, "message_number", json_integer(t->mn));
		json_object_set_new(o, "destination", imsctl_sms_addr_json(&t->addr, true));
		break;
	case SMS_TP_SUBMIT_REPORT:
	case SMS_TP_DELIVER_REPORT:
		json_object_set_new(o, "rp_error", json_boolean(t->in_error));
		if (t->in_error)
			json_object_set_new(o, "fcs", json_integer(t->fcs));
		if (t->type == SMS_TP_SUBMIT_REPORT)
			json_object_set_new(o, "scts", j_ts(&t->scts));
		break;
	}
	j_optional(o, t);
	return o;
}
