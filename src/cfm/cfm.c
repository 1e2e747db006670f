/*
 * cfm — the callflow_modifier engine (manual §5.2.1). See cfm.h and
 * docs/callflow_modifier.md.
 */
#include "cfm/cfm.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "hss/hss.h"
#include "registrar/registrar.h"

static bool step_ok(const struct ims_cfg_cfm *cm, const struct cfm_match *m)
{
	/* the 100 Trying only for a modifier that names it: one without a
	 * method keeps applying to the INVITE and the answers it did before */
	if (cm->step == IMS_CFG_STEP_ANY)
		return m->step != IMS_CFG_STEP_INVITE_TRYING;
	if (cm->step == m->step)
		return true;
	/* REGISTER.SOS: only the emergency REGISTER; REGISTER: every one */
	return cm->step == IMS_CFG_STEP_REGISTER_SOS && m->step == IMS_CFG_STEP_REGISTER &&
	       m->sos;
}

/* want as written (14 to 16 digits, dashes, "urn:gsma:imei:...") against
 * the counterpart's 14 digits (TAC and SNR: the device, TS 23.003 §6.2). */
static bool imei_eq(const char *want, const char *digits)
{
	char w[15];

	if (!digits)
		return false;
	if (hss_imei_parse(pl_from_str(want), w))
		return !strcmp(want, digits);
	return !strncmp(w, digits, 14);
}

/* Steps where a 1xx or 2xx sent in place of the message would open or
 * change a session imsd does not keep. */
static bool step_session(uint8_t step)
{
	switch (step) {
	case IMS_CFG_STEP_INVITE:
	case IMS_CFG_STEP_INVITE_OK:
	case IMS_CFG_STEP_INVITE_RINGING:
	case IMS_CFG_STEP_INVITE_SESSION_PROGRESS:
	case IMS_CFG_STEP_REINVITE:
	case IMS_CFG_STEP_UPDATE:
	case IMS_CFG_STEP_PRACK:
		return true;
	default:
		return false;
	}
}

static bool filters_ok(const struct ims_cfg_cfm *cm, const struct cfm_match *m)
{
	/* the config reader refuses such a code on a named step; a modifier
	 * without method (a 200 meant for MESSAGE, say) skips these steps */
	if (m->code == CFM_CODE_WITH && cm->step == IMS_CFG_STEP_ANY && cm->code < 300 &&
	    step_session(m->step))
		return false;
	if (cm->step == IMS_CFG_STEP_REGISTER_SOS && !m->sos)
		return false;
	if (cm->dir != IMS_CFG_DIR_BOTH && cm->dir != m->dir)
		return false;
	if ((m->code == CFM_CODE_WITH && !cm->code) ||
	    (m->code == CFM_CODE_WITHOUT && cm->code))
		return false;
	if (cm->impu && (!m->peer_impu || !cfm_impu_eq(cm->impu, m->peer_impu)))
		return false;
	if (cm->imei && !imei_eq(cm->imei, m->peer_imei))
		return false;
	return !cm->access_network || (cm->access_network & m->peer_rat);
}

const struct ims_cfg_cfm *cfm_find(const struct cfm_match *m)
{
	if (!m || !m->opts)
		return NULL;
	for (uint32_t i = 0; i < m->opts->cfm_count; i++) {
		const struct ims_cfg_cfm *cm = &m->opts->cfm[i];
		uint32_t n;

		if (!step_ok(cm, m) || !filters_ok(cm, m))
			continue;
		n = cm->count ? *cm->count : 0;
		if (cm->count && n < UINT32_MAX)
			*cm->count = ++n;
		/* tts triggers first do nothing; then ttl applications */
		if (n <= cm->tts || (cm->ttl && n - cm->tts > cm->ttl))
			continue;
		return cm;
	}
	return NULL;
}

const struct ims_cfg_impu_opts *cfm_opts(const struct hss_user *u, uint32_t i)
{
	const struct ims_cfg_impu_opts *o = u ? hss_impu_opts(u, i) : NULL;

	return o && o->cfm_count ? o : NULL;
}

uint8_t cfm_step_of_invite_resp(uint16_t scode)
{
	if (scode >= 200)
		return IMS_CFG_STEP_INVITE_OK;
	if (scode == 100)
		return IMS_CFG_STEP_INVITE_TRYING;
	if (scode == 180)
		return IMS_CFG_STEP_INVITE_RINGING;
	if (scode == 183)
		return IMS_CFG_STEP_INVITE_SESSION_PROGRESS;
	return IMS_CFG_STEP_ANY;
}

uint8_t cfm_rat_of(const struct sip_msg *msg)
{
	const struct sip_hdr *h = msg ? sip_msg_hdr(msg, SIP_HDR_P_ACCESS_NETWORK_INFO) : NULL;
	static const struct {
		const char *prefix;
		uint8_t rat;
	} tab[] = {{"3GPP-E-UTRAN", IMS_CFG_RAT_LTE},
		   {"3GPP-NR", IMS_CFG_RAT_NR},
		   {"IEEE-802.11", IMS_CFG_RAT_N3GPP}};
	struct pl v;

	if (!h)
		return 0;
	v = h->val;
	while (v.l && (*v.p == ' ' || *v.p == '\t')) {
		v.p++;
		v.l--;
	}
	for (size_t i = 0; i < sizeof(tab) / sizeof(tab[0]); i++) {
		size_t l = strlen(tab[i].prefix);

		if (v.l >= l && !strncasecmp(v.p, tab[i].prefix, l))
			return tab[i].rat;
	}
	return 0;
}

/* s without its "sip:", "sips:" or "tel:" scheme. */
static const char *no_scheme(const char *s)
{
	if (!strncasecmp(s, "sip:", 4) || !strncasecmp(s, "tel:", 4))
		return s + 4;
	return strncasecmp(s, "sips:", 5) ? s : s + 5;
}

bool cfm_impu_eq(const char *want, const char *uri)
{
	const char *w = no_scheme(want), *u = no_scheme(uri + (*uri == '<'));
	/* with a domain: the whole URI; without: its user part (number) */
	size_t ul = strchr(w, '@') ? strcspn(u, ";>?") : strcspn(u, "@;>?");

	return strlen(w) == ul && !strncasecmp(w, u, ul);
}

struct imei_find {
	const struct net_flow *flow;
	char *out;
};

static void imei_h(const struct registrar_binding_info *b, void *arg)
{
	struct imei_find *f = arg;

	if (f->out[0] || !b->imei || !b->imei[0])
		return;
	if (f->flow && (b->src.reliable != f->flow->reliable ||
			!net_addr_eq(&b->src.peer, &f->flow->peer)))
		return;
	snprintf(f->out, 16, "%.14s", b->imei);
}

const char *cfm_imei_of(const struct registrar *reg, const struct hss_user *u,
			const struct net_flow *flow, char out[16])
{
	struct imei_find f = {flow, out};

	out[0] = '\0';
	if (reg && u)
		(void)registrar_bindings_foreach(reg, u, imei_h, &f);
	return out[0] ? out : NULL;
}

/* The header name of the line at p..e (up to ':', blanks cut). */
static size_t line_name(const char *p, const char *e)
{
	const char *c = memchr(p, ':', (size_t)(e - p));
	size_t l = c ? (size_t)(c - p) : 0;

	while (l && (p[l - 1] == ' ' || p[l - 1] == '\t'))
		l--;
	return l;
}

/* Removes from hdrs the lines named name (continuation lines too). */
static void hdrs_remove(struct mbuf *hdrs, const char *name)
{
	size_t nl = strlen(name), w = 0, r = 0;
	char *b = (char *)hdrs->buf;

	while (b && r < hdrs->end) {
		const char *e = b + hdrs->end, *q = memchr(b + r, '\n', hdrs->end - r);
		size_t end = q ? (size_t)(q - b) + 1 : hdrs->end;
		bool drop;

		while (end < hdrs->end && (b[end] == ' ' || b[end] == '\t')) {
			q = memchr(b + end, '\n', hdrs->end - end);
			end = q ? (size_t)(q - b) + 1 : hdrs->end;
		}
		drop = line_name(b + r, b + end < e ? b + end : e) == nl &&
		       !strncasecmp(b + r, name, nl);
		if (!drop) {
			memmove(b + w, b + r, end - r);
			w += end - r;
		}
		r = end;
	}
	hdrs->end = w;
}

int cfm_hdrs_apply(const struct ims_cfg_cfm *cm, struct mbuf *hdrs)
{
	int err = 0;

	for (uint32_t i = 0; i < cm->hdr_count; i++) {
		if (cm->hdrs[i].replace || !cm->hdrs[i].value)
			hdrs_remove(hdrs, cm->hdrs[i].name);
	}
	for (uint32_t i = 0; i < cm->hdr_count && !err; i++) {
		if (cm->hdrs[i].value)
			err = mbuf_printf(hdrs, "%s: %s\r\n", cm->hdrs[i].name,
					  cm->hdrs[i].value);
	}
	return err;
}

int cfm_content_read(const struct ims_cfg_cfm *cm, struct mbuf *body)
{
	FILE *f;
	char buf[4096];
	size_t n;
	int err = 0;

	mbuf_clear(body);
	if (!cm->content)
		return ENOENT;
	f = fopen(cm->content, "rb");
	if (!f)
		return errno ? errno : EIO;
	while (!err && (n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (body->end + n > CFM_CONTENT_MAX)
			err = EFBIG;
		else
			err = mbuf_write(body, buf, n);
	}
	if (!err && ferror(f))
		err = EIO;
	fclose(f);
	if (err)
		mbuf_clear(body);
	return err;
}

void cfm_log(const struct ims_cfg_cfm *cm, const char *what)
{
	if (cm->log && log_on(LOG_IMS, LOG_LVL_INFO))
		log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
			  "callflow_modifier: %.256s (%s)", cm->log, what);
}
