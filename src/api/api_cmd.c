/*
 * api_cmd — the common messages of manual §6.5 that are not about logs:
 * help, config_get, config_set, stats, register (events), license, quit.
 * The users' messages are in api_cmd_users.c, the logs' in api_log.c.
 */
#include "api/api_int.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/ims_cfg.h"
#include "core/mbuf.h"
#include "hss/hss.h"
#include "sip/sip_custom.h"
#include "sip/sip_stack.h"
#include "stats/stats.h"

int api_cmd_help(struct api_ctx *ctx, json_t *resp)
{
	json_t *msgs = json_array(), *evs = json_array();

	(void)ctx;
	for (const struct api_cmd *c = api_cmds; c->name; c++)
		json_array_append_new(msgs, json_string(c->name));
	for (const char *const *e = api_events; *e; e++)
		json_array_append_new(evs, json_string(*e));
	json_object_set_new(resp, "messages", msgs);
	json_object_set_new(resp, "events", evs);
	return 0;
}

/* ---- config_get / config_set ---- */

static json_t *logs_json(const struct api *api)
{
	struct log_info li;
	json_t *logs = json_object(), *layers = json_object();

	log_info_get(&li);
	for (unsigned i = 0; i < LOG_LAYER_COUNT; i++) {
		const struct log_layer_opts *o = &li.layers[i];

		json_object_set_new(layers, log_layer_name((enum log_layer)i),
				    json_pack("{s:s, s:I, s:b, s:b, s:b, s:b}", "level",
					      log_level_name(o->level), "max_size",
					      (json_int_t)o->max_size, "key", o->key, "crypto",
					      o->crypto, "payload", o->payload, "verbose",
					      o->verbose));
	}
	json_object_set_new(logs, "layers", layers);
	json_object_set_new(logs, "count", json_integer(li.ring_count));
	if (li.rotate_size)
		json_object_set_new(logs, "rotate", json_integer((json_int_t)li.rotate_size));
	if (li.rotate_count)
		json_object_set_new(logs, "rotate_count",
				    json_integer((json_int_t)li.rotate_count));
	if (li.rotate_path[0])
		json_object_set_new(logs, "path", json_string(li.rotate_path));
	json_object_set_new(logs, "locked", json_boolean(api->prm.cfg->com_log_lock));
	return logs;
}

/* The properties config_set changes at run time (manual §6.5): read by
 * the configuration reader (ims_cfg_props_from_json: the file's checks and
 * ranges), then copied into the live configuration, which each service
 * reads at each use. A service that reads one more adds a line here. */
enum api_prop_kind {
	API_P_U32,
	API_P_U8,
	API_P_BOOL,
	API_P_FILTER,	/* sms_message_filter: the array */
	API_P_SE,	/* session_expires: the struct the IMPUs point to */
	API_P_PRECOND,	/* the global value and the default IMPU options' */
	API_P_REL100,	/* idem */
	API_P_HDRS,	/* custom_headers: the SIP stack's rules */
	API_P_TCP,	/* tcp_threshold, tcp_keepalive, tcp_keepcount: the stack's */
	API_P_AUTH,	/* auth_on_register_only: the users that do not set it */
};

struct api_prop {
	const char *name;
	size_t off; /* in struct ims_cfg */
	enum api_prop_kind kind;
};

#define API_OFF(f) offsetof(struct ims_cfg, f)
static const struct api_prop api_props[] = {
    {"binding_expires", API_OFF(binding_expires), API_P_U32},
    {"subscribe_expires", API_OFF(subscribe_expires), API_P_U32},
    {"dialog_timeout", API_OFF(dialog_timeout), API_P_U32},
    {"p_called_party_id", API_OFF(p_called_party_id), API_P_BOOL},
    {"session_expires", API_OFF(session_expires), API_P_SE},
    {"precondition", API_OFF(precondition), API_P_PRECOND},
    {"100rel", API_OFF(rel100), API_P_REL100},
    /* the SMS service reads these at each use (docs/sms.md) */
    {"sms_expires", API_OFF(sms_expires), API_P_U32},
    {"sms_retry_delay", API_OFF(sms_retry_delay), API_P_U32},
    {"sms_hook_only", API_OFF(sms_hook_only), API_P_BOOL},
    {"sms_forced_rp_cause", API_OFF(sms_forced_rp_cause), API_P_U8},
    {"sms_message_filter", API_OFF(sms_message_filter), API_P_FILTER},
    {"custom_headers", API_OFF(custom_headers), API_P_HDRS},
    {"tcp_threshold", API_OFF(tcp_threshold), API_P_TCP},
    {"tcp_keepalive", API_OFF(tcp_keepalive), API_P_TCP},
    {"tcp_keepcount", API_OFF(tcp_keepcount), API_P_TCP},
    {"auth_on_register_only", API_OFF(auth_on_register_only), API_P_AUTH},
    {NULL, 0, API_P_U32},
};

/* Listed by manual §6.5 config_set, refused with the reason. */
static const struct {
	const char *name, *why;
} api_props_no[] = {
    {"sms_forced_cp_cause", "no CP layer here (SMS over IP, TS 24.341; no SGs)"},
    {"mms_expires", "no MMS service"},
    {NULL, NULL},
};

/* One custom_headers item as the configuration writes it. */
static json_t *hdr_json(const struct ims_cfg_hdr *h)
{
	json_t *o = json_pack("{s:s, s:b}", "name", h->name, "replace", h->replace);
	json_t *codes = json_array(), *meths = json_array();

	if (h->value)
		json_object_set_new(o, "value", json_string(h->value));
	for (uint16_t i = 0; i < h->code_count; i++)
		json_array_append_new(codes, json_integer(h->codes[i]));
	for (uint16_t i = 0; i < h->method_count; i++)
		json_array_append_new(meths, json_string(h->methods[i]));
	json_object_set_new(o, "codes", codes);
	json_object_set_new(o, "methods", meths);
	return o;
}

int api_sip_custom_set(struct sip_stack *sip, const struct ims_cfg_hdr *h, uint32_t n)
{
	struct sip_custom_hdr *v;
	int err;

	if (n > SIP_CUSTOM_MAX)
		return EINVAL;
	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		v[i] = (struct sip_custom_hdr){h[i].name,	h[i].value,	  h[i].codes,
					       h[i].methods,	h[i].code_count, h[i].method_count,
					       h[i].replace};
	err = sip_stack_custom_set(sip, v, n);
	free(v);
	return err;
}

int api_cmd_config_get(struct api_ctx *ctx, json_t *resp)
{
	const struct ims_cfg *cfg = ctx->api->prm.cfg;
	json_t *ch = json_array();

	json_object_set_new(resp, "type", json_string("IMS"));
	json_object_set_new(resp, "name",
			    json_string(cfg->com_name && cfg->com_name[0] ? cfg->com_name : "IMS"));
	json_object_set_new(resp, "logs", logs_json(ctx->api));
	for (uint32_t i = 0; i < cfg->custom_header_count; i++)
		json_array_append_new(ch, hdr_json(&cfg->custom_headers[i]));
	json_object_set_new(resp, "custom_headers", ch);
	for (const struct api_prop *p = api_props; p->name; p++) {
		const char *v = (const char *)cfg + p->off;

		if (p->kind == API_P_U32)
			json_object_set_new(resp, p->name, json_integer(*(const uint32_t *)v));
		else if (p->kind == API_P_U8)
			json_object_set_new(resp, p->name, json_integer(*(const uint8_t *)v));
		else if (p->kind == API_P_TCP)
			json_object_set_new(resp, p->name, json_integer(*(const uint32_t *)v));
		else if (p->kind == API_P_BOOL || p->kind == API_P_REL100 ||
			 p->kind == API_P_AUTH)
			json_object_set_new(resp, p->name, json_boolean(*(const bool *)v));
	}
	json_object_set_new(resp, "precondition",
			    json_string(cfg->precondition == IMS_CFG_PRECOND_OFF      ? "off"
					: cfg->precondition == IMS_CFG_PRECOND_SILENT ? "silent"
										      : "on"));
	json_object_set_new(resp, "session_expires",
			    json_pack("{s:I, s:I}", "duration",
				      (json_int_t)cfg->session_expires.duration, "min",
				      (json_int_t)cfg->session_expires.min));
	return 0;
}

/* One layer's object of config_set's logs into log_options items. */
static int logs_layer_opts(const char *layer, const json_t *o, struct mbuf *mb, json_t *resp)
{
	static const char *const bools[] = {"payload", "key", "crypto", "verbose"};
	const char *k;
	json_t *v;

	if (!json_is_object(o))
		return api_error(resp, "Field logs.layers.%s: object expected", layer);
	json_object_foreach((json_t *)o, k, v)
	{
		bool known = false;

		if (!strcmp(k, "level")) {
			enum log_level lv;

			/* a level name only: the text goes into a log_options string */
			if (!json_is_string(v) || log_level_from_name(json_string_value(v), &lv))
				return api_error(resp, "Field logs.layers.%s.level: level name "
						       "expected",
						 layer);
			mbuf_printf(mb, "%s%s.level=%s", mb->end ? "," : "", layer,
				    json_string_value(v));
			continue;
		}
		if (!strcmp(k, "max_size")) {
			if (!json_is_integer(v) || json_integer_value(v) < 0)
				return api_error(resp, "Field logs.layers.%s.max_size: integer "
						       "expected",
						 layer);
			mbuf_printf(mb, "%s%s.max_size=%lld", mb->end ? "," : "", layer,
				    (long long)json_integer_value(v));
			continue;
		}
		for (size_t i = 0; i < sizeof(bools) / sizeof(bools[0]); i++) {
			if (strcmp(k, bools[i]) != 0)
				continue;
			if (!json_is_boolean(v))
				return api_error(resp, "Field logs.layers.%s.%s: boolean expected",
						 layer, k);
			mbuf_printf(mb, "%s%s.%s=%d", mb->end ? "," : "", layer, k,
				    json_is_true(v));
			known = true;
		}
		if (!known)
			return api_error(resp, "Field logs.layers.%s.%.32s: unknown", layer, k);
	}
	return 0;
}

static int config_set_logs(struct api *api, const json_t *logs, json_t *resp)
{
	const json_t *layers = json_object_get(logs, "layers");
	struct mbuf mb;
	char err[256];
	const char *k;
	json_t *v;
	int e = 0;

	if (!json_is_object(logs))
		return api_error(resp, "Field logs: object expected");
	if (api->prm.cfg->com_log_lock) {
		json_object_set_new(resp, "logs", json_string("locked"));
		return 0;
	}
	if (layers && !json_is_object(layers))
		return api_error(resp, "Field logs.layers: object expected");
	mbuf_init(&mb, 65536);
	json_object_foreach((json_t *)(layers ? layers : logs), k, v)
	{
		enum log_layer l;

		if (strcmp(k, "all") != 0 && log_layer_from_name(k, &l)) {
			if (!layers && (!strcmp(k, "count") || !strcmp(k, "locked")))
				continue;
			e = api_error(resp, "Field logs.layers: unknown layer %.64s", k);
			goto out;
		}
		e = logs_layer_opts(k, v, &mb, resp);
		if (e)
			goto out;
	}
	if (mb.end && log_options_apply(mbuf_str(&mb), err, sizeof(err)))
		e = api_error(resp, "Field logs: %s", err);
out:
	mbuf_reset(&mb);
	return e;
}

/* precondition, 100rel: the options of every IMPU that does not set it
 * itself (IMS_CFG_OWN_*) follow the global value; they are the
 * configuration's (or the HSS's, for users added at run time), which the
 * services read at each call. */
static void opts_follow(struct api *api, const struct ims_cfg *set, uint8_t own)
{
	struct ims_cfg_impu_opts *dflt = (struct ims_cfg_impu_opts *)api->prm.cfg->ue_opts_default;
	uint32_t n = api->prm.hss ? hss_user_count(api->prm.hss) : 0;

	for (uint32_t i = 0; i <= n; i++) {
		const struct hss_user *u = i < n ? hss_user_at(api->prm.hss, i) : NULL;
		uint32_t k = u ? hss_user_impu_count(u) : 1;

		for (uint32_t j = 0; j < k; j++) {
			struct ims_cfg_impu_opts *o =
			    (struct ims_cfg_impu_opts *)(u ? hss_impu_opts(u, j) : dflt);

			if (!o || (o->own & own))
				continue;
			if (own == IMS_CFG_OWN_PRECOND)
				o->precondition = set->precondition;
			else
				o->rel100 = set->rel100;
		}
	}
}

/* auth_on_register_only: resolved into each user at start (the user's
 * value, else the global one); the users that do not set it themselves
 * (ims_cfg_ue.auth_own) follow the new global value. Their entries are the
 * configuration's or the HSS's (users added at run time), read by the
 * registrar at each request. */
static void auth_follow(struct api *api, bool on)
{
	uint32_t n = api->prm.hss ? hss_user_count(api->prm.hss) : 0;

	for (uint32_t i = 0; i < n; i++) {
		const struct hss_user *u = hss_user_at(api->prm.hss, i);
		struct ims_cfg_ue *ue = (struct ims_cfg_ue *)(u ? hss_user_cfg(u) : NULL);

		if (ue && !ue->auth_own)
			ue->auth_on_register_only = on;
	}
}

/* One property read into set goes live in cfg. */
static void prop_apply(struct api *api, const struct ims_cfg *set, const struct api_prop *p,
		       const json_t *v)
{
	struct ims_cfg *cfg = api->prm.cfg;
	char *txt;

	switch (p->kind) {
	case API_P_U32:
		*(uint32_t *)((char *)cfg + p->off) = *(const uint32_t *)((const char *)set + p->off);
		break;
	case API_P_U8:
		*(uint8_t *)((char *)cfg + p->off) = *(const uint8_t *)((const char *)set + p->off);
		break;
	case API_P_BOOL:
		*(bool *)((char *)cfg + p->off) = *(const bool *)((const char *)set + p->off);
		break;
	case API_P_FILTER:
		memcpy(cfg->sms_message_filter, set->sms_message_filter,
		       sizeof(cfg->sms_message_filter));
		break;
	case API_P_SE: /* in place: the IMPUs that inherit it point here */
		cfg->session_expires = set->session_expires;
		break;
	case API_P_PRECOND:
		cfg->precondition = set->precondition;
		opts_follow(api, set, IMS_CFG_OWN_PRECOND);
		break;
	case API_P_REL100:
		cfg->rel100 = set->rel100;
		opts_follow(api, set, IMS_CFG_OWN_REL100);
		break;
	case API_P_HDRS: /* the stack has them (config_set_stack); the
			  * configuration points into set, kept */
		cfg->custom_headers = set->custom_headers;
		cfg->custom_header_count = set->custom_header_count;
		break;
	case API_P_TCP:
		*(uint32_t *)((char *)cfg + p->off) = *(const uint32_t *)((const char *)set + p->off);
		sip_stack_tcp_threshold_set(api->prm.sip, cfg->tcp_threshold);
		sip_stack_tcp_keepalive_set(api->prm.sip, cfg->tcp_keepalive, cfg->tcp_keepcount);
		break;
	case API_P_AUTH:
		cfg->auth_on_register_only = set->auth_on_register_only;
		auth_follow(api, cfg->auth_on_register_only);
		break;
	}
	txt = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "api: config_set %s = %.200s", p->name,
		  txt ? txt : "?");
	free(txt);
}

/* The properties of the message that config_set changes, read as the
 * configuration file reads them into *setp; NULL *setp: none given. */
static int config_set_read(struct api *api, const json_t *m, struct ims_cfg **setp,
			   json_t *resp)
{
	json_t *props = json_object();
	char err[256];
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	int e;

	*setp = NULL;
	if (!props)
		return api_error(resp, "Out of memory");
	for (const struct api_prop *p = api_props; p->name; p++) {
		json_t *v = json_object_get(m, p->name);
		const char *want = NULL;

		if (!v)
			continue;
		/* JSON's types, strictly (the file's language also takes 0/1 for
		 * a boolean); the reader checks the values */
		if ((p->kind == API_P_BOOL || p->kind == API_P_REL100 || p->kind == API_P_AUTH) &&
		    !json_is_boolean(v))
			want = "boolean";
		else if ((p->kind == API_P_U32 || p->kind == API_P_U8 || p->kind == API_P_TCP) &&
			 !json_is_integer(v))
			want = "integer";
		else if (p->kind == API_P_HDRS && !json_is_array(v))
			want = "array";
		else if ((p->kind == API_P_SE || p->kind == API_P_FILTER) && !json_is_object(v))
			want = "object";
		else if (p->kind == API_P_PRECOND && !json_is_string(v))
			want = "string";
		if (want) {
			json_decref(props);
			return api_error(resp, "Field %s: %s expected", p->name, want);
		}
		json_object_set(props, p->name, v);
	}
	if (!json_object_size(props)) {
		json_decref(props);
		return 0;
	}
	e = ims_cfg_props_from_json(api->prm.cfg, props, setp, &d);
	json_decref(props);
	if (e == ENOMEM)
		return api_error(resp, "Out of memory");
	if (e)
		return api_error(resp, "Field %s", err);
	return 0;
}

int api_cmd_config_set(struct api_ctx *ctx, json_t *resp)
{
	struct ims_cfg *set = NULL;
	const json_t *logs = json_object_get(ctx->msg, "logs");

	const json_t *hdrs = json_object_get(ctx->msg, "custom_headers");
	struct api *api = ctx->api;

	for (size_t i = 0; api_props_no[i].name; i++) {
		if (json_object_get(ctx->msg, api_props_no[i].name))
			return api_error(resp, "Field %s: cannot be changed at run time: %s",
					 api_props_no[i].name, api_props_no[i].why);
	}
	for (const struct api_prop *p = api_props; p->name; p++) {
		if ((p->kind == API_P_HDRS || p->kind == API_P_TCP) && !api->prm.sip &&
		    json_object_get(ctx->msg, p->name))
			return api_error(resp, "Field %s: no SIP stack", p->name);
	}
	/* everything checked before anything changes */
	if (config_set_read(api, ctx->msg, &set, resp))
		return EINVAL;
	if (logs && config_set_logs(api, logs, resp)) {
		ims_cfg_free(set);
		return EINVAL;
	}
	/* the stack's copy of the rules first: the one step that can fail */
	if (set && hdrs &&
	    api_sip_custom_set(api->prm.sip, set->custom_headers, set->custom_header_count)) {
		ims_cfg_free(set);
		return api_error(resp, "Field custom_headers: out of memory");
	}
	for (const struct api_prop *p = api_props; set && p->name; p++) {
		const json_t *v = json_object_get(ctx->msg, p->name);

		if (v)
			prop_apply(api, set, p, v);
	}
	if (set && hdrs) { /* the configuration's custom_headers live in set */
		ims_cfg_free(api->hdrs_set);
		api->hdrs_set = set;
		set = NULL;
	}
	ims_cfg_free(set);
	return 0;
}

/* ---- stats ---- */

int api_cmd_stats(struct api_ctx *ctx, json_t *resp)
{
	struct api *api = ctx->api;
	struct stats_sample s;
	double cpu = 0;
	json_t *counters;

	if (!api->prm.stats)
		return api_error(resp, "stats: not running");
	stats_sample(api->prm.stats, &s);
	if (s.interval_ms)
		cpu = (double)(s.cpu_user_us + s.cpu_sys_us) / 10.0 / (double)s.interval_ms;
	json_object_set_new(resp, "cpu", json_pack("{s:f}", "global", cpu));
	json_object_set_new(resp, "instance_id", json_integer((json_int_t)s.instance_id));
	/* this message is counted in the interval it closes */
	counters = json_pack("{s:o, s:o}", "messages", json_deep_copy(api->msg_counts),
			     "errors", json_deep_copy(api->err_counts));
	/* callflow_modifier: the modifiers applied since the previous call,
	 * wherever (stats counts them since the start) */
	if (counters && s.has_cscf) {
		json_object_set_new(counters, "callflow_modifier",
				    json_integer((json_int_t)(s.cfm_applied - api->cfm_last)));
		api->cfm_last = s.cfm_applied;
	}
	json_object_set_new(resp, "counters", counters);
	json_object_set_new(resp, "sip",
			    json_pack("{s:I, s:I, s:I, s:I}", "rx_requests",
				      (json_int_t)s.sip.rx_req, "rx_responses",
				      (json_int_t)s.sip.rx_resp, "tx_messages",
				      (json_int_t)s.sip.tx_msgs, "rx_undecodable",
				      (json_int_t)s.sip.rx_undecodable));
	if (s.has_reg)
		json_object_set_new(resp, "registrar",
				    json_pack("{s:I, s:I, s:I}", "users",
					      (json_int_t)s.reg_users, "bindings",
					      (json_int_t)s.reg_bindings, "subscriptions",
					      (json_int_t)s.reg_subs));
	json_object_clear(api->msg_counts);
	json_object_clear(api->err_counts);
	return 0;
}

/* ---- register (events) ---- */

static int event_bit(const char *name, uint32_t *bit)
{
	static const struct {
		const char *name;
		uint32_t bit;
	} evs[] = {{"users_update", API_EV_USERS_UPDATE},
		   {"sms", API_EV_SMS},
		   {"dialog", API_EV_DIALOG}};

	for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
		if (!strcmp(name, evs[i].name)) {
			*bit = evs[i].bit;
			return 0;
		}
	}
	return ENOENT;
}

/* "register" / "unregister": a string or an array of strings. */
static int event_list(const json_t *m, const char *f, uint32_t *bits, json_t *resp)
{
	const json_t *v = json_object_get(m, f);
	size_t i;
	json_t *x;

	*bits = 0;
	if (!v)
		return 0;
	if (json_is_string(v)) {
		if (event_bit(json_string_value(v), bits))
			return api_error(resp, "Field %s: unknown event %.64s", f,
					 json_string_value(v));
		return 0;
	}
	if (!json_is_array(v))
		return api_error(resp, "Field %s: string or array of strings expected", f);
	json_array_foreach(v, i, x)
	{
		uint32_t b;

		if (!json_is_string(x))
			return api_error(resp, "Field %s: string or array of strings expected", f);
		if (event_bit(json_string_value(x), &b))
			return api_error(resp, "Field %s: unknown event %.64s", f,
					 json_string_value(x));
		*bits |= b;
	}
	return 0;
}

int api_cmd_register(struct api_ctx *ctx, json_t *resp)
{
	uint32_t add, del;

	if (!ctx->conn)
		return api_error(resp, "register needs a connection");
	if (event_list(ctx->msg, "register", &add, resp) ||
	    event_list(ctx->msg, "unregister", &del, resp))
		return EINVAL;
	ctx->conn->events = (ctx->conn->events | add) & ~del;
	return 0;
}

/* ---- license, quit ---- */

int api_cmd_license(struct api_ctx *ctx, json_t *resp)
{
	(void)ctx;
	/* imsd is open source: no licence, and the fields say so */
	json_object_set_new(resp, "products", json_string("IMS"));
	json_object_set_new(resp, "user", json_string("none: no licence needed (open source)"));
	json_object_set_new(resp, "validity", json_string("unlimited"));
	return 0;
}

int api_cmd_quit(struct api_ctx *ctx, json_t *resp)
{
	(void)resp;
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL, "api: quit requested by %s",
		  ctx->conn ? ctx->conn->peer : "sim_events");
	if (ctx->api->prm.quit_h)
		ctx->api->prm.quit_h(ctx->api->prm.quit_arg);
	return 0;
}
