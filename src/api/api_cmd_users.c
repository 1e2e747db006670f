/*
 * api_cmd_users — users_get and unregister (manual §6.6) and the
 * users_update event (§6.7), from what the registrar and the HSS expose
 * (registrar_user_next, registrar_bindings_foreach, registrar_watch_add,
 * registrar_unregister).
 *
 * users_update: the registrar tells its watchers inside its own change,
 * where nothing may call back into it for that user, so the changed users
 * are noted (by their HSS index) and their state is sent from a zero-delay
 * timer, once per user per loop iteration. Nothing is noted while no client
 * has registered for the event.
 */
#include "api/api_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "core/mbuf.h"
#include "hss/hss.h"
#include "loop/loop.h"
#include "registrar/registrar.h"
#include "smsc/smsc.h"

#define API_UPDATE_MAX 65536u /* users noted per iteration; more: all users */

struct api_users_watch {
	struct api *api;
	struct loop_timer *tmr;
	uint32_t *idx; /* HSS indexes noted, owned */
	uint32_t n, cap;
	bool overflow;
};

struct bind_arg {
	struct api *api;
	const struct hss_user *u;
	json_t *arr;
};

static json_t *impus_json(struct api *api, const struct hss_user *u)
{
	json_t *a = json_array();
	char uri[HSS_URI_MAX];

	for (uint32_t i = 0; a && i < hss_user_impu_count(u); i++) {
		if (!hss_impu_uri(api->prm.hss, u, i, uri, sizeof(uri)))
			json_array_append_new(a, json_string(uri));
	}
	return a;
}

static void binding_h(const struct registrar_binding_info *b, void *arg)
{
	struct bind_arg *a = arg;
	json_t *o = json_object();

	if (!o)
		return;
	json_object_set_new(o, "uri", json_stringn(b->uri.p, b->uri.l));
	json_object_set_new(o, "impu", impus_json(a->api, a->u));
	json_object_set_new(o, "q", json_real(b->q1000 / 1000.0));
	if (b->imei && b->imei[0])
		json_object_set_new(o, "imei", json_string(b->imei));
	json_object_set_new(o, "expires", json_integer(b->expires));
	json_array_append_new(a->arr, o);
}

json_t *api_user_json(struct api *api, const void *user_info)
{
	const struct registrar_user_info *ui = user_info;
	const struct hss_user *u = ui->user;
	const struct ims_cfg_ue *ue = hss_user_cfg(u);
	const char *impi = hss_user_impi(u), *imsi = hss_user_imsi(u);
	struct bind_arg ba = {.api = api, .u = u};
	json_t *o = json_object();

	if (!o)
		return NULL;
	json_object_set_new(o, "impi", json_string(impi ? impi : ""));
	if (imsi && imsi[0])
		json_object_set_new(o, "imsi", json_string(imsi));
	json_object_set_new(o, "impu", impus_json(api, u));
	json_object_set_new(o, "registered", json_boolean(ui->registered));
	if (ue)
		json_object_set_new(o, "force_sms_over_sg", json_boolean(ue->force_sms_over_sg));
	ba.arr = json_array();
	if (ui->registered)
		registrar_bindings_foreach(api->prm.reg, u, binding_h, &ba);
	json_object_set_new(o, "bindings", ba.arr);
	json_object_set_new(o, "dialogs", api_user_dialogs_json(api, u));
	json_object_set_new(o, "sms", json_integer(api->prm.sms ? smsc_pending_count(api->prm.sms, u) : 0));
	return o;
}

/* A users_get listing made in parts: API_USERS_PART users per loop
 * iteration, the text kept until the last part, so that 100,000 users do
 * not hold SIP up for the whole listing. */
struct users_job {
	struct api *api;
	uint64_t conn_id;
	json_t *resp; /* owned: the answer's other members */
	struct registrar_user_cursor cur;
	bool reg_only;
	size_t n; /* users listed */
	struct mbuf text;
	struct loop_timer *tmr;
	struct users_job *next;
};

static void job_free(struct users_job *j)
{
	struct users_job **pp = (struct users_job **)&j->api->users_jobs;

	while (*pp && *pp != j)
		pp = &(*pp)->next;
	if (*pp)
		*pp = j->next;
	loop_timer_free(j->tmr);
	json_decref(j->resp);
	mbuf_reset(&j->text);
	free(j);
}

void api_users_jobs_free(struct api *api)
{
	while (api->users_jobs)
		job_free(api->users_jobs);
}

/* One part: 0 more to come, 1 complete, ENOMEM failed. */
static int job_part(struct users_job *j)
{
	struct registrar_user_info ui;
	uint32_t k = 0;
	int err = 0;

	while (k < API_USERS_PART && !err && registrar_user_next(j->api->prm.reg, &j->cur, &ui)) {
		json_t *u;
		char *txt;

		if (j->reg_only && !ui.registered)
			continue;
		k++;
		u = api_user_json(j->api, &ui);
		txt = u ? json_dumps(u, JSON_COMPACT) : NULL;
		json_decref(u);
		if (!txt)
			return ENOMEM;
		err = mbuf_write_str(&j->text, j->n++ ? "," : "[");
		err = err ? err : mbuf_write_str(&j->text, txt);
		free(txt);
	}
	if (err)
		return ENOMEM;
	return k < API_USERS_PART ? 1 : 0;
}

static void job_step_h(void *arg)
{
	struct users_job *j = arg;
	int e;

	if (j->conn_id && !api_conn_find(j->api, j->conn_id)) {
		job_free(j); /* its client has gone */
		return;
	}
	e = job_part(j);
	if (!e) {
		loop_timer_start(j->tmr, 0, job_step_h, j);
		return;
	}
	if (e == 1)
		e = mbuf_write_str(&j->text, j->n ? "]" : "[]");
	if (e) {
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "api: users_get: no memory for the listing after %zu users", j->n);
		api_error(j->resp, "users_get: out of memory after %zu users", j->n);
		api_answer_send(j->api, j->conn_id, json_incref(j->resp));
	} else {
		api_answer_send_raw(j->api, j->conn_id, json_incref(j->resp), "users",
				    (const char *)j->text.buf, j->text.end);
	}
	job_free(j);
}

int api_cmd_users_get(struct api_ctx *ctx, json_t *resp)
{
	struct api *api = ctx->api;
	struct users_job *j;
	bool reg_only = false;

	if (!api->prm.reg || !api->prm.hss)
		return api_error(resp, "users_get: the registrar is not running");
	if (api_get_bool(ctx->msg, "registered_only", &reg_only, resp) == EINVAL)
		return EINVAL;
	if (!ctx->conn)
		return 0; /* nobody to read it */
	j = calloc(1, sizeof(*j));
	if (!j)
		return api_error(resp, "Out of memory");
	j->tmr = loop_timer_alloc();
	if (!j->tmr) {
		free(j);
		return api_error(resp, "Out of memory");
	}
	j->api = api;
	j->conn_id = ctx->conn->id;
	j->resp = json_incref(resp);
	j->reg_only = reg_only;
	mbuf_init(&j->text, API_OUT_MAX);
	j->next = api->users_jobs;
	api->users_jobs = j;
	job_step_h(j); /* the first part now: a small database answers at once */
	return EINPROGRESS;
}

int api_cmd_unregister(struct api_ctx *ctx, json_t *resp)
{
	struct api *api = ctx->api;
	const char *uri;
	int e;

	if (!api->prm.reg)
		return api_error(resp, "unregister: the registrar is not running");
	if (api_get_str(ctx->msg, "uri", true, &uri, resp))
		return EINVAL;
	e = registrar_unregister(api->prm.reg, uri, REGISTRAR_DEACTIVATED);
	if (e == ENOENT)
		return api_error(resp, "Field uri: %.256s is not registered", uri);
	if (e)
		return api_error(resp, "unregister: %s", strerror(e));
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
		  "api: network-initiated de-registration of %.256s", uri);
	return 0;
}

/* ---- users_update ---- */


static void update_send(struct api *api, const struct hss_user *u)
{
	struct registrar_user_info ui;
	json_t *m = json_object(), *arr = json_array();

	if (!m || !arr) {
		json_decref(m);
		json_decref(arr);
		return;
	}
	registrar_user_info_get(api->prm.reg, u, &ui);
	json_array_append_new(arr, api_user_json(api, &ui));
	json_object_set_new(m, "message", json_string("users_update"));
	json_object_set_new(m, "users_update", arr);
	api_event_send(api, API_EV_USERS_UPDATE, m);
	json_decref(m);
}

static void update_flush_h(void *arg)
{
	struct api_users_watch *w = arg;
	struct api *api = w->api;

	if (w->overflow) { /* more changed than noted: everyone's state */
		struct registrar_user_cursor cur = {0};
		struct registrar_user_info ui;

		while (registrar_user_next(api->prm.reg, &cur, &ui))
			update_send(api, ui.user);
	} else {
		for (uint32_t i = 0; i < w->n; i++) {
			const struct hss_user *u = hss_user_at(api->prm.hss, w->idx[i]);

			if (u)
				update_send(api, u);
		}
	}
	w->n = 0;
	w->overflow = false;
}

static void user_note(struct api_users_watch *w, const struct hss_user *u)
{
	uint32_t idx;

	if (!u || !api_event_listened(w->api, API_EV_USERS_UPDATE))
		return;
	idx = hss_user_index(w->api->prm.hss, u);
	for (uint32_t i = w->n; i > 0 && i + 8 > w->n; i--) {
		if (w->idx[i - 1] == idx)
			goto arm; /* noted just now */
	}
	if (w->n == w->cap) {
		uint32_t cap = w->cap ? w->cap * 2 : 64;
		uint32_t *ni = cap <= API_UPDATE_MAX ? realloc(w->idx, cap * sizeof(*ni)) : NULL;

		if (!ni) {
			w->overflow = true;
			goto arm;
		}
		w->idx = ni;
		w->cap = cap;
	}
	w->idx[w->n++] = idx;
arm:
	if (!loop_timer_pending(w->tmr))
		loop_timer_start(w->tmr, 0, update_flush_h, w);
}

static void reg_change_h(const struct registrar_change_info *c, void *arg)
{
	user_note(arg, c->user);
}

void api_users_note(struct api *api, const struct hss_user *u)
{
	if (api->reg_watch)
		user_note(api->reg_watch, u);
}

void api_users_watch_start(struct api *api)
{
	struct api_users_watch *w;

	if (!api->prm.reg || !api->prm.hss)
		return;
	w = calloc(1, sizeof(*w));
	if (!w)
		return;
	w->api = api;
	w->tmr = loop_timer_alloc();
	if (!w->tmr || registrar_watch_add(api->prm.reg, reg_change_h, w)) {
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "api: cannot watch the registrar: no users_update events");
		loop_timer_free(w->tmr);
		free(w);
		return;
	}
	api->reg_watch = w;
}

void api_users_watch_stop(struct api *api)
{
	struct api_users_watch *w = api->reg_watch;

	if (!w)
		return;
	registrar_watch_del(api->prm.reg, reg_change_h, w);
	loop_timer_free(w->tmr);
	free(w->idx);
	free(w);
	api->reg_watch = NULL;
}
