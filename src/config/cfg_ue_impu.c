/*
 * config/cfg_ue_impu — per-IMPU options of §5.2.1 (at user level and in
 * IMPU objects), callflow_modifier, and the impu list of a ue_db entry.
 *
 * Options are resolved while reading: a block starts as a copy of what it
 * inherits (IMPU ← user ← global) and only blocks that set something are
 * kept, so most IMPUs of a large ue_db share their user's block.
 */
#include <assert.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "config/cfg_read.h"

#define OOFF(m) offsetof(struct ims_cfg_impu_opts, m)
#define COFF(m) offsetof(struct ims_cfg_cfm, m)

static const char *const precond_names[] = {"on", "off", "silent", NULL};
static const char *const dir_names[] = {"both", "tx", "rx", NULL};
/* Index i is step i + 1 (IMS_CFG_STEP_ANY is "not set"). */
static const char *const step_names[] = {
    "INVITE.OK",      "INVITE.TRYING",
    "INVITE.RINGING", "INVITE.SESSION_PROGRESS",
    "INVITE",	      "SUBSCRIBE",
    "REGISTER",	      "UPDATE",
    "CANCEL",	      "PRACK",
    "MESSAGE",	      "REGISTER.SOS",
    "REINVITE",	      NULL,
};

/* --- callflow_modifier fields (shared with the deprecated user fields) --- */

static int cfm_code_h(struct cfg_rd *rd, const json_t *v, void *base,
		      const struct cfg_field *f)
{
	struct ims_cfg_cfm *m = base;
	int64_t c;

	(void)f;
	if (cfg_get_int(rd, v, -2, 699, &c))
		return rd->err;
	if (c >= 0 && c < 100)
		return cfg_rd_err(rd, "%lld out of range (100..699, -1 or -2)",
				  (long long)c);
	m->code = (int16_t)c;
	return 0;
}

static int cfm_method_h(struct cfg_rd *rd, const json_t *v, void *base,
			const struct cfg_field *f)
{
	struct ims_cfg_cfm *m = base;
	int i;

	(void)f;
	if (cfg_get_enum(rd, v, step_names, &i))
		return rd->err;
	m->step = (uint8_t)(i + 1);
	return cfg_get_str(rd, v, &m->method);
}

static int cfm_content_h(struct cfg_rd *rd, const json_t *v, void *base,
			 const struct cfg_field *f)
{
	struct ims_cfg_cfm *m = base;

	(void)f;
	/* null: add no body, but still remove one of the same type. */
	if (json_is_null(v)) {
		m->content = NULL;
		m->content_remove = true;
		return 0;
	}
	m->content_remove = false;
	return cfg_get_file(rd, v, &m->content);
}

static int cfm_access_network_h(struct cfg_rd *rd, const json_t *v, void *base,
				const struct cfg_field *f)
{
	struct ims_cfg_cfm *m = base;
	const char *s, *p;
	uint8_t mask = 0;

	(void)f;
	if (cfg_get_str(rd, v, &s))
		return rd->err;
	for (p = s; *p;) {
		size_t n;

		p += strspn(p, " \t");
		n = strcspn(p, ", \t");
		if (n == 3 && !strncasecmp(p, "lte", 3))
			mask |= IMS_CFG_RAT_LTE;
		else if (n == 2 && !strncasecmp(p, "nr", 2))
			mask |= IMS_CFG_RAT_NR;
		else if (n == 5 && !strncasecmp(p, "n3gpp", 5))
			mask |= IMS_CFG_RAT_N3GPP;
		else
			return cfg_rd_err(
			    rd, "\"%.*s\" is not one of \"lte\", \"nr\", \"n3gpp\"",
			    (int)(n > 32 ? 32 : n), p);
		p += n;
		p += strspn(p, " \t");
		if (*p == ',')
			p++;
	}
	if (!mask)
		return cfg_rd_err(rd, "empty RAT list");
	m->access_network = mask;
	return 0;
}

static int cfm_headers_h(struct cfg_rd *rd, const json_t *v, void *base,
			 const struct cfg_field *f)
{
	struct ims_cfg_cfm *m = base;

	(void)f;
	return cfg_custom_headers_read(rd, v, &m->hdrs, &m->hdr_count);
}

static const struct cfg_field cfm_fields[] = {
    {.name = "access_network", .type = CFG_T_FN, .off = 0, .fn = cfm_access_network_h},
    {.name = "code", .type = CFG_T_FN, .off = 0, .fn = cfm_code_h},
    {.name = "content", .type = CFG_T_FN, .off = 0, .fn = cfm_content_h},
    {.name = "content_type", .type = CFG_T_STR, .off = COFF(content_type)},
    {.name = "custom_headers", .type = CFG_T_FN, .off = 0, .fn = cfm_headers_h},
    {.name = "dir", .type = CFG_T_ENUM, .off = COFF(dir), .names = dir_names},
    {.name = "imei", .type = CFG_T_STR, .off = COFF(imei)},
    {.name = "impu", .type = CFG_T_STR, .off = COFF(impu)},
    {.name = "log", .type = CFG_T_STR, .off = COFF(log)},
    {.name = "method", .type = CFG_T_FN, .off = 0, .fn = cfm_method_h},
    {.name = "send_delay",
     .type = CFG_T_NUM,
     .off = COFF(send_delay),
     .min = 0,
     .max = 60},
    {.name = "stop", .type = CFG_T_BOOL, .off = COFF(stop)},
    {.name = "transparent", .type = CFG_T_BOOL, .off = COFF(transparent)},
    {.name = "ttl", .type = CFG_T_INT, .off = COFF(ttl), .min = 1, .max = 2147483647},
    {.name = "tts", .type = CFG_T_INT, .off = COFF(tts), .min = 0, .max = 2147483647},
};

static void cfm_init(struct ims_cfg_cfm *m)
{
	memset(m, 0, sizeof(*m));
	m->stop = true;
	m->dir = IMS_CFG_DIR_BOTH;
}

static bool step_in_dialog(uint8_t step)
{
	return step == IMS_CFG_STEP_REINVITE || step == IMS_CFG_STEP_UPDATE ||
	       step == IMS_CFG_STEP_PRACK || step == IMS_CFG_STEP_CANCEL;
}

static bool step_is_request(uint8_t step)
{
	return step == IMS_CFG_STEP_INVITE || step == IMS_CFG_STEP_MESSAGE ||
	       step == IMS_CFG_STEP_SUBSCRIBE || step == IMS_CFG_STEP_REGISTER ||
	       step == IMS_CFG_STEP_REGISTER_SOS || step_in_dialog(step);
}

static bool step_is_answer(uint8_t step)
{
	return step == IMS_CFG_STEP_INVITE_RINGING ||
	       step == IMS_CFG_STEP_INVITE_SESSION_PROGRESS || step == IMS_CFG_STEP_INVITE_OK;
}

/* INVITE.TRYING: custom_headers (or a log) on the 100 Trying the b2bua
 * sends at once (b2bua_cfm.c); a 100 has no code to change, no body to
 * give, and is sent within 200 ms (RFC 3261 §17.2.1): nothing to hold. */
static int cfm_check_trying(struct cfg_rd *rd, const struct ims_cfg_cfm *m)
{
	if (m->code)
		return cfg_rd_err_at(rd, "code",
				     "a code in place of the 100 Trying: write it on "
				     "\"INVITE\" (docs/callflow_modifier.md)");
	if (m->content || m->content_remove)
		return cfg_rd_err_at(rd, "content",
				     "on \"INVITE.TRYING\": a 100 Trying carries no body "
				     "(docs/callflow_modifier.md)");
	if (m->send_delay > 0)
		return cfg_rd_err_at(rd, "send_delay",
				     "on \"INVITE.TRYING\": the 100 Trying goes within 200 ms "
				     "(RFC 3261 §17.2.1; docs/callflow_modifier.md)");
	if (!m->hdr_count && !m->log)
		return cfg_rd_err_at(rd, "method",
				     "a modifier on \"INVITE.TRYING\" without custom_headers "
				     "or log does nothing (docs/callflow_modifier.md)");
	return 0;
}

/*
 * What the call-flow engine (src/cfm, docs/callflow_modifier.md) applies:
 * a modifier it would not apply is refused here, so that no configuration
 * silently does nothing.
 */
static int cfm_check_applied(struct cfg_rd *rd, const struct ims_cfg_cfm *m)
{
	bool req = m->step == IMS_CFG_STEP_ANY || step_is_request(m->step);
	bool ans = m->step == IMS_CFG_STEP_ANY || step_is_answer(m->step);
	const char *see = " (not applied by imsd yet: docs/callflow_modifier.md)";

	if (m->step == IMS_CFG_STEP_INVITE_TRYING)
		return cfm_check_trying(rd, m);
	if (!req && !ans)
		return cfg_rd_err_at(rd, "method", "\"%s\"%s", m->method, see);
	if (m->code < 0)
		return cfg_rd_err_at(rd, "code",
				     "%d: the reference product's special codes are not "
				     "applied by imsd (docs/callflow_modifier.md)",
				     (int)m->code);
	/* a provisional: sent by the CSCF stage, the flow goes on */
	if (m->code && m->code < 200 && (m->step != IMS_CFG_STEP_INVITE || m->code == 100))
		return cfg_rd_err_at(rd, "code",
				     "a provisional code other than 101..199 on INVITE%s", see);
	if (m->code >= 200 && m->code < 300 && m->step == IMS_CFG_STEP_CANCEL)
		return cfg_rd_err_at(rd, "code",
				     "a 2xx to a CANCEL is what imsd answers anyway "
				     "(docs/callflow_modifier.md)");
	if (m->code >= 200 && m->code < 300 && m->step != IMS_CFG_STEP_ANY &&
	    (m->step == IMS_CFG_STEP_INVITE || step_is_answer(m->step) ||
	     step_in_dialog(m->step)))
		return cfg_rd_err_at(rd, "code",
				     "a 2xx on \"%s\" would need a session change imsd does "
				     "not make (docs/callflow_modifier.md)",
				     m->method);
	if (m->code >= 200 && m->transparent)
		return cfg_rd_err_at(rd, "transparent",
				     "a final code answers the request: the call flow "
				     "cannot go on (docs/callflow_modifier.md)");
	/* held: the caller's provisional answers (b2bua_cfm.c) */
	/* with a final code: the CSCF stage's answer to a new request, held */
	if (m->send_delay > 0 && m->code &&
	    (m->code < 200 || m->step == IMS_CFG_STEP_ANY || !step_is_request(m->step) ||
	     step_in_dialog(m->step) ||
	     (m->step == IMS_CFG_STEP_MESSAGE && m->dir != IMS_CFG_DIR_RX)))
		return cfg_rd_err_at(rd, "send_delay",
				     "a delay with a code other than a final one to a new "
				     "INVITE, SUBSCRIBE, REGISTER or a MESSAGE received%s",
				     see);
	/* without a code: a 180/183 or the 2xx to the caller held */
	if (m->send_delay > 0 && !m->code && m->step != IMS_CFG_STEP_INVITE_RINGING &&
	    m->step != IMS_CFG_STEP_INVITE_SESSION_PROGRESS && m->step != IMS_CFG_STEP_INVITE_OK)
		return cfg_rd_err_at(rd, "send_delay",
				     "a delay on other steps than INVITE.RINGING, "
				     "INVITE.SESSION_PROGRESS and INVITE.OK%s",
				     see);
	/* without a code: headers on the INVITE to the callee, the REINVITE,
	 * UPDATE and CANCEL the b2bua relays (b2bua_cfm.c), imsd's MT MESSAGE
	 * (smsc_mt.c); a PRACK is answered per leg, not relayed */
	if (!m->code && !ans && m->hdr_count && m->step != IMS_CFG_STEP_INVITE &&
	    m->step != IMS_CFG_STEP_REINVITE && m->step != IMS_CFG_STEP_UPDATE &&
	    m->step != IMS_CFG_STEP_CANCEL &&
	    (m->step != IMS_CFG_STEP_MESSAGE || m->dir == IMS_CFG_DIR_RX))
		return cfg_rd_err_at(rd, "custom_headers", "without a code on \"%s\"%s",
				     m->method, see);
	if (!m->code && !ans && (m->content || m->content_remove))
		return cfg_rd_err_at(rd, "content", "on a request without a code%s", see);
	/* MESSAGE tx: imsd's MT MESSAGE (smsc_mt.c), answered "by the phone" */
	if (m->step == IMS_CFG_STEP_MESSAGE && m->code >= 200 && m->code < 300 &&
	    m->dir != IMS_CFG_DIR_RX)
		return cfg_rd_err_at(rd, "code",
				     "a 2xx on a MESSAGE imsd sends (dir tx or both) would "
				     "stand for a phone that took it (docs/callflow_modifier.md)");
	if (!m->code && m->step != IMS_CFG_STEP_ANY && !step_is_answer(m->step) && !m->log &&
	    !m->hdr_count)
		return cfg_rd_err_at(rd, "method",
				     "a modifier on \"%s\" without code or log does "
				     "nothing (docs/callflow_modifier.md)",
				     m->method);
	return 0;
}

static int cfm_check(struct cfg_rd *rd, const struct ims_cfg_cfm *m)
{
	if ((m->content || m->content_remove) && !m->content_type)
		return cfg_rd_err_at(rd, "content_type", "required when content is set");
	return cfm_check_applied(rd, m);
}

/* Zeroed trigger counters for n modifiers (ims_cfg_cfm.count). */
static int cfm_counters(struct cfg_rd *rd, struct ims_cfg_cfm *arr, size_t n)
{
	uint32_t *cnt = cfg_arena_alloc(rd->arena, (n ? n : 1) * sizeof(*cnt));

	if (!cnt)
		return cfg_rd_nomem(rd);
	memset(cnt, 0, (n ? n : 1) * sizeof(*cnt));
	for (size_t i = 0; i < n; i++)
		arr[i].count = &cnt[i];
	return 0;
}

static int cfm_list_h(struct cfg_rd *rd, const json_t *v, void *base,
		      const struct cfg_field *f)
{
	struct ims_cfg_impu_opts *o = base;
	struct ims_cfg_cfm *arr;
	bool one = json_is_object(v) && !cfg_is_complex(v);
	size_t n;

	(void)f;
	if (!one && cfg_expect_array(rd, v))
		return rd->err;
	n = one ? 1 : json_array_size(v);
	cfg_table_check(cfm_fields, CFG_NELEM(cfm_fields));
	arr = cfg_list_alloc(rd, n, 1000, sizeof(*arr));
	if (!arr)
		return rd->err;
	for (size_t i = 0; i < n; i++) {
		struct cfg_table t = {cfm_fields, CFG_NELEM(cfm_fields), &arr[i]};

		if (!one)
			cfg_rd_push_idx(rd, i);
		cfm_init(&arr[i]);
		if (cfg_obj_read(rd, one ? v : json_array_get(v, i), &t, 1))
			return rd->err;
		if (cfm_check(rd, &arr[i]))
			return rd->err;
		if (!one)
			cfg_rd_pop(rd);
	}
	if (cfm_counters(rd, arr, n))
		return rd->err;
	o->cfm = arr;
	o->cfm_count = (uint32_t)n;
	return 0;
}

/* Deprecated per-user code/method/content/content_type/transparent: they
 * make one implicit modifier, added by cfg_opts_commit(). */
static int legacy_h(struct cfg_rd *rd, const json_t *v, void *base,
		    const struct cfg_field *f)
{
	const struct cfg_field *cf = NULL;

	(void)base;
	for (size_t i = 0; i < CFG_NELEM(cfm_fields) && !cf; i++) {
		if (!strcmp(cfm_fields[i].name, f->name))
			cf = &cfm_fields[i];
	}
	assert(cf && "deprecated field without a callflow_modifier twin");
	rd->legacy_cfm_set = true;
	return cfg_field_read(rd, v, cf, &rd->legacy_cfm);
}

static int opts_se_h(struct cfg_rd *rd, const json_t *v, void *base,
		     const struct cfg_field *f)
{
	struct ims_cfg_impu_opts *o = base;
	struct ims_cfg_session_expires *se = cfg_arena_alloc(rd->arena, sizeof(*se));

	(void)f;
	if (!se)
		return cfg_rd_nomem(rd);
	/* Unset parameters keep the inherited (global) values. */
	*se = *o->session_expires;
	if (cfg_session_expires_read(rd, v, se))
		return rd->err;
	o->session_expires = se;
	return 0;
}

#define DEP(n)                                                                           \
	{                                                                                \
		.name = (n), .type = CFG_T_FN, .off = 0, .fn = legacy_h,                 \
		.flags = CFG_F_OPTS | CFG_F_DEPRECATED, .alias = "callflow_modifier"     \
	}

const struct cfg_field cfg_opts_fields[] = {
    {.name = "100rel", .type = CFG_T_BOOL, .off = OOFF(rel100), .flags = CFG_F_OPTS},
    {.name = "anonymous",
     .type = CFG_T_BOOL,
     .off = OOFF(anonymous),
     .flags = CFG_F_OPTS},
    {.name = "anonymous_callback",
     .type = CFG_T_NUM,
     .off = OOFF(anonymous_callback),
     .min = 0,
     .max = 31536000,
     .flags = CFG_F_OPTS},
    {.name = "answer_delay",
     .type = CFG_T_NUM,
     .off = OOFF(answer_delay),
     .min = 0,
     .max = 86400,
     .flags = CFG_F_OPTS},
    {.name = "asserted", .type = CFG_T_BOOL, .off = OOFF(asserted), .flags = CFG_F_OPTS},
    {.name = "associated",
     .type = CFG_T_BOOL,
     .off = OOFF(associated),
     .flags = CFG_F_OPTS},
    {.name = "audio", .type = CFG_T_BOOL, .off = OOFF(audio), .flags = CFG_F_OPTS},
    {.name = "authentication",
     .type = CFG_T_BOOL,
     .off = OOFF(authentication),
     .flags = CFG_F_OPTS},
    {.name = "bitrate_factor",
     .type = CFG_T_NUM,
     .off = OOFF(bitrate_factor),
     .min = 0,
     .max = 1000,
     .flags = CFG_F_OPTS},
    {.name = "callflow_modifier",
     .type = CFG_T_FN,
     .off = 0,
     .fn = cfm_list_h,
     .flags = CFG_F_OPTS},
    DEP("code"),
    DEP("content"),
    DEP("content_type"),
    {.name = "display_name",
     .type = CFG_T_STR,
     .off = OOFF(display_name),
     .flags = CFG_F_OPTS},
    {.name = "domain", .type = CFG_T_HOST, .off = OOFF(domain), .flags = CFG_F_OPTS},
    {.name = "early_media",
     .type = CFG_T_BOOL,
     .off = OOFF(early_media),
     .flags = CFG_F_OPTS},
    {.name = "media_delay",
     .type = CFG_T_NUM,
     .off = OOFF(media_delay),
     .min = 0,
     .max = 86400,
     .flags = CFG_F_OPTS},
    DEP("method"),
    {.name = "p_called_party_id",
     .type = CFG_T_STR,
     .off = OOFF(p_called_party_id),
     .flags = CFG_F_OPTS},
    {.name = "precondition",
     .type = CFG_T_ENUM,
     .off = OOFF(precondition),
     .names = precond_names,
     .flags = CFG_F_OPTS},
    {.name = "preferred",
     .type = CFG_T_BOOL,
     .off = OOFF(preferred),
     .flags = CFG_F_OPTS},
    {.name = "remote_control",
     .type = CFG_T_BOOL,
     .off = OOFF(remote_control),
     .flags = CFG_F_OPTS},
    {.name = "ring_only",
     .type = CFG_T_BOOL,
     .off = OOFF(ring_only),
     .flags = CFG_F_OPTS},
    {.name = "rtcp", .type = CFG_T_BOOL, .off = OOFF(rtcp), .flags = CFG_F_OPTS},
    {.name = "rtp", .type = CFG_T_BOOL, .off = OOFF(rtp), .flags = CFG_F_OPTS},
    {.name = "sdp_file", .type = CFG_T_FILE, .off = OOFF(sdp_file), .flags = CFG_F_OPTS},
    {.name = "session_expires",
     .type = CFG_T_FN,
     .off = 0,
     .fn = opts_se_h,
     .flags = CFG_F_OPTS},
    {.name = "sms_delay",
     .type = CFG_T_NUM,
     .off = OOFF(sms_delay),
     .min = 0,
     .max = 86400,
     .flags = CFG_F_OPTS},
    {.name = "text", .type = CFG_T_BOOL, .off = OOFF(text), .flags = CFG_F_OPTS},
    DEP("transparent"),
    {.name = "video", .type = CFG_T_BOOL, .off = OOFF(video), .flags = CFG_F_OPTS},
};
const size_t cfg_opts_field_count = CFG_NELEM(cfg_opts_fields);

int cfg_ue_opts_default(struct cfg_rd *rd, struct ims_cfg *cfg)
{
	struct ims_cfg_impu_opts *o = cfg_arena_alloc(rd->arena, sizeof(*o));

	cfg_table_check(cfg_opts_fields, cfg_opts_field_count);
	if (!o)
		return cfg_rd_nomem(rd);
	o->domain = cfg->domain;
	o->session_expires = &cfg->session_expires;
	o->anonymous_callback = 0;
	o->answer_delay = IMS_CFG_DELAY_UNSET;
	o->sms_delay = IMS_CFG_DELAY_UNSET;
	o->media_delay = IMS_CFG_DELAY_UNSET;
	o->bitrate_factor = 1;
	o->precondition = cfg->precondition;
	o->authentication = true;
	o->rel100 = cfg->rel100;
	o->associated = true;
	o->early_media = cfg->early_media;
	o->audio = o->video = o->text = o->rtp = o->rtcp = true;
	cfg->ue_opts_default = o;
	return 0;
}

void cfg_opts_own_mark(void *opts, const struct cfg_field *f)
{
	struct ims_cfg_impu_opts *o = opts;

	if (f->off == offsetof(struct ims_cfg_impu_opts, precondition))
		o->own |= IMS_CFG_OWN_PRECOND;
	else if (f->off == offsetof(struct ims_cfg_impu_opts, rel100))
		o->own |= IMS_CFG_OWN_REL100;
}

void cfg_opts_begin(struct cfg_rd *rd, struct ims_cfg_impu_opts *scratch,
		    const struct ims_cfg_impu_opts *inherited)
{
	*scratch = *inherited;
	rd->opts_touched = false;
	rd->legacy_cfm_set = false;
	cfm_init(&rd->legacy_cfm);
}

const struct ims_cfg_impu_opts *cfg_opts_commit(struct cfg_rd *rd,
						const struct ims_cfg_impu_opts *scratch,
						const struct ims_cfg_impu_opts *inherited)
{
	struct ims_cfg_impu_opts *o;

	if (!rd->opts_touched)
		return inherited;
	o = cfg_arena_alloc(rd->arena, sizeof(*o));
	if (!o) {
		cfg_rd_nomem(rd);
		return NULL;
	}
	*o = *scratch;
	if (rd->legacy_cfm_set) {
		struct ims_cfg_cfm *arr;

		if (cfm_check(rd, &rd->legacy_cfm))
			return NULL;
		arr = cfg_arena_alloc(rd->arena, (o->cfm_count + 1) * sizeof(*arr));
		if (!arr) {
			cfg_rd_nomem(rd);
			return NULL;
		}
		if (o->cfm_count)
			memcpy(arr, o->cfm, o->cfm_count * sizeof(*arr));
		arr[o->cfm_count] = rd->legacy_cfm;
		if (cfm_counters(rd, &arr[o->cfm_count], 1))
			return NULL;
		o->cfm = arr;
		o->cfm_count++;
	}
	return o;
}

/* --- impu list --- */

static const struct cfg_field impu_fields[] = {
    {.name = "imei", .type = CFG_T_STR, .off = offsetof(struct ims_cfg_impu, imei)},
    {.name = "impu", .type = CFG_T_STR, .off = offsetof(struct ims_cfg_impu, impu)},
};

static int impu_check(struct cfg_rd *rd, const char *s, const char *key)
{
	if (!*s)
		goto bad;
	for (const char *p = s; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f)
			goto bad;
	}
	return 0;
bad:
	if (key)
		return cfg_rd_err_at(rd, key, "invalid IMPU \"%.64s\"", s);
	return cfg_rd_err(rd, "invalid IMPU \"%.64s\"", s);
}

/* An IMEI as the manual writes it (35000000-000001-0): 14 to 16 digits
 * (TAC, SNR, check digit or SVN), dashes allowed. */
static bool imei_valid(const char *s)
{
	size_t n = 0;

	for (; *s; s++) {
		if (*s == '-')
			continue;
		if (*s < '0' || *s > '9' || ++n > 16)
			return false;
	}
	return n >= 14;
}

static int impu_item(struct cfg_rd *rd, const json_t *v,
		     const struct ims_cfg_impu_opts *user_opts, struct ims_cfg_impu *it)
{
	struct ims_cfg_impu_opts scratch;
	struct cfg_table t[2] = {
	    {impu_fields, CFG_NELEM(impu_fields), it},
	    {cfg_opts_fields, cfg_opts_field_count, &scratch},
	};

	it->opts = user_opts;
	if (json_is_string(v)) {
		if (cfg_get_str(rd, v, &it->impu))
			return rd->err;
		return impu_check(rd, it->impu, NULL);
	}
	if (cfg_is_complex(v) || !json_is_object(v))
		return cfg_is_complex(v) ? cfg_rd_err(rd, "cannot be a complex number")
					 : cfg_rd_err(rd, "expected string or object");
	cfg_opts_begin(rd, &scratch, user_opts);
	if (cfg_obj_read(rd, v, t, 2))
		return rd->err;
	if (!it->impu)
		return cfg_rd_err_at(rd, "impu", "required");
	if (impu_check(rd, it->impu, "impu"))
		return rd->err;
	if (it->imei && !imei_valid(it->imei))
		return cfg_rd_err_at(
		    rd, "imei",
		    "invalid IMEI \"%.32s\" (14 to 16 digits, dashes allowed, "
		    "e.g. \"35000000-000001-0\")",
		    it->imei);
	it->opts = cfg_opts_commit(rd, &scratch, user_opts);
	return it->opts ? 0 : rd->err;
}

int cfg_impu_list_read(struct cfg_rd *rd, const json_t *v,
		       const struct ims_cfg_impu_opts *user_opts,
		       const struct ims_cfg_impu **out, uint32_t *count)
{
	struct ims_cfg_impu *arr;
	size_t n;

	if (cfg_expect_array(rd, v))
		return rd->err;
	n = json_array_size(v);
	arr = cfg_list_alloc(rd, n, 1000, sizeof(*arr));
	if (!arr)
		return rd->err;
	for (size_t i = 0; i < n; i++) {
		cfg_rd_push_idx(rd, i);
		if (impu_item(rd, json_array_get(v, i), user_opts, &arr[i]))
			return rd->err;
		cfg_rd_pop(rd);
	}
	*out = arr;
	*count = (uint32_t)n;
	return 0;
}
