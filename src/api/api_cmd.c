/*
 * api_cmd — the common messages of manual §6.5 that are not about logs:
 * help, config_get, config_set, stats, register (events), license, quit.
 * The users' messages are in api_cmd_users.c, the logs' in api_log.c.
 */
#include "api/api_int.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "config/ims_cfg.h"
#include "core/mbuf.h"
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

/* The properties config_set changes at run time: each is read by its
 * service from the configuration when used. A service that reads one more
 * adds a line here. */
struct api_prop {
	const char *name;
	size_t off; /* a uint32_t of struct ims_cfg */
	uint32_t min, max;
};

static const struct api_prop api_props[] = {
    {"binding_expires", offsetof(struct ims_cfg, binding_expires), 0, 864000},
    {"subscribe_expires", offsetof(struct ims_cfg, subscribe_expires), 0, 864000},
    /* the SMS service reads these at each use (docs/sms.md) */
    {"sms_expires", offsetof(struct ims_cfg, sms_expires), 1, 63244800},
    {"sms_retry_delay", offsetof(struct ims_cfg, sms_retry_delay), 0, 86400},
    {NULL, 0, 0, 0},
};

/* Listed by manual §6.5 config_set, not yet read at run time here. */
static const char *const api_props_later[] = {
    "precondition",	 "session_expires",	  "auth_on_register_only", "dialog_timeout",	 "p_called_party_id",
    "sms_message_filter", "sms_forced_cp_cause", "sms_forced_rp_cause", "mms_expires",
    "custom_headers",	 "100rel",		  "tcp_threshold",	 "tcp_keepalive",
    "tcp_keepcount",	 NULL,
};

int api_cmd_config_get(struct api_ctx *ctx, json_t *resp)
{
	const struct ims_cfg *cfg = ctx->api->prm.cfg;
	json_t *ch = json_array();

	json_object_set_new(resp, "type", json_string("IMS"));
	json_object_set_new(resp, "name",
			    json_string(cfg->com_name && cfg->com_name[0] ? cfg->com_name : "IMS"));
	json_object_set_new(resp, "logs", logs_json(ctx->api));
	for (uint32_t i = 0; i < cfg->custom_header_count; i++)
		json_array_append_new(ch, json_pack("{s:s, s:s}", "name",
						    cfg->custom_headers[i].name, "value",
						    cfg->custom_headers[i].value));
	json_object_set_new(resp, "custom_headers", ch);
	for (const struct api_prop *p = api_props; p->name; p++)
		json_object_set_new(resp, p->name,
				    json_integer(*(const uint32_t *)((const char *)cfg + p->off)));
	json_object_set_new(resp, "sms_hook_only", json_boolean(cfg->sms_hook_only));
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
			if (!json_is_string(v))
				return api_error(resp, "Field logs.layers.%s.level: string expected",
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

int api_cmd_config_set(struct api_ctx *ctx, json_t *resp)
{
	struct ims_cfg *cfg = ctx->api->prm.cfg;
	const json_t *logs = json_object_get(ctx->msg, "logs");
	uint64_t val[sizeof(api_props) / sizeof(api_props[0])];
	bool hook_only = false;
	int e_hook;
	int e;

	for (const char *const *p = api_props_later; *p; p++) {
		if (json_object_get(ctx->msg, *p))
			return api_error(resp, "Field %s: cannot be changed at run time yet", *p);
	}
	/* everything checked before anything changes */
	for (size_t i = 0; api_props[i].name; i++) {
		e = api_get_uint(ctx->msg, api_props[i].name, api_props[i].min, api_props[i].max,
				 &val[i], resp);
		if (e == EINVAL)
			return e;
		if (e == ENOENT)
			val[i] = UINT64_MAX;
	}
	e_hook = api_get_bool(ctx->msg, "sms_hook_only", &hook_only, resp);
	if (e_hook == EINVAL)
		return e_hook;
	if (logs && config_set_logs(ctx->api, logs, resp))
		return EINVAL;
	if (!e_hook) {
		cfg->sms_hook_only = hook_only; /* read by the SMS service at each SMS */
		log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
			  "api: config_set sms_hook_only = %s", hook_only ? "true" : "false");
	}
	for (size_t i = 0; api_props[i].name; i++) {
		if (val[i] != UINT64_MAX) {
			*(uint32_t *)((char *)cfg + api_props[i].off) = (uint32_t)val[i];
			log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
				  "api: config_set %s = %llu", api_props[i].name,
				  (unsigned long long)val[i]);
		}
	}
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
