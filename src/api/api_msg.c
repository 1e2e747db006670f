/*
 * api_msg — the message layer of the remote API (manual §6.1, §6.3): strict
 * JSON (jansson, duplicate keys refused), one message or an array of them,
 * the common fields (message, message_id, start_time, absolute_time,
 * standalone, loop_count, loop_delay), scheduling on loop timers, and the
 * answer: message and message_id echoed, loop_index when repeated, time
 * (seconds since start) and utc (seconds since the epoch) always, error
 * naming the field when something is wrong.
 *
 * A scheduled request (start_time, loop_count) is a struct api_req that
 * names its connection by id: when the connection goes, its requests are
 * cancelled unless standalone, whose answers are then dropped.
 */
#include "api/api_int.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include "config/ims_cfg.h"
#include "core/mbuf.h"
#include "loop/loop.h"

struct api_req {
	struct api *api;
	uint64_t conn_id; /* 0: no connection (sim_events) */
	json_t *msg;	  /* owned */
	const struct api_cmd *cmd;
	struct loop_timer *tmr;
	uint32_t loop_count, loop_index;
	uint64_t loop_delay_ms;
	uint64_t start_ms; /* loop_now_ms of the first run: repeats are from it */
	bool standalone;
	struct api_req *prev, *next;
};

uint64_t api_req_conn_id(const struct api_req *r)
{
	return r->conn_id;
}

bool api_utf8_valid(const uint8_t *d, size_t n)
{
	size_t i = 0;

	while (i < n) {
		uint8_t c = d[i];
		uint32_t cp;
		size_t k;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf)
			k = 1, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3, cp = c & 0x07;
		else
			return false;
		if (n - i <= k)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((d[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (d[i + j] & 0x3f);
		}
		if ((k == 2 && cp < 0x800) || (k == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += k + 1;
	}
	return true;
}

int api_error(json_t *resp, const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	json_object_set_new(resp, "error", json_string(buf));
	return EINVAL;
}

void api_count_error(struct api *api, const char *name)
{
	json_t *v = json_object_get(api->err_counts, name);

	json_object_set_new(api->err_counts, name,
			    json_integer(v ? json_integer_value(v) + 1 : 1));
}

/* ---- fields ---- */

int api_get_str(const json_t *m, const char *f, bool req, const char **v, json_t *resp)
{
	const json_t *j = json_object_get(m, f);

	if (!j) {
		if (req)
			return api_error(resp, "Missing field: %s", f);
		return ENOENT;
	}
	if (!json_is_string(j))
		return api_error(resp, "Field %s: string expected", f);
	*v = json_string_value(j);
	return 0;
}

int api_get_bool(const json_t *m, const char *f, bool *v, json_t *resp)
{
	const json_t *j = json_object_get(m, f);

	if (!j)
		return ENOENT;
	if (!json_is_boolean(j))
		return api_error(resp, "Field %s: boolean expected", f);
	*v = json_is_true(j);
	return 0;
}

int api_get_num(const json_t *m, const char *f, double lo, double hi, double *v, json_t *resp)
{
	const json_t *j = json_object_get(m, f);
	double d;

	if (!j)
		return ENOENT;
	if (!json_is_number(j))
		return api_error(resp, "Field %s: number expected", f);
	d = json_number_value(j);
	if (!isfinite(d) || d < lo || d > hi)
		return api_error(resp, "Field %s: out of range [%g, %g]", f, lo, hi);
	*v = d;
	return 0;
}

int api_get_uint(const json_t *m, const char *f, uint64_t lo, uint64_t hi, uint64_t *v,
		 json_t *resp)
{
	const json_t *j = json_object_get(m, f);
	double d;

	if (!j)
		return ENOENT;
	if (json_is_integer(j)) {
		json_int_t i = json_integer_value(j);

		if (i < 0 || (uint64_t)i < lo || (uint64_t)i > hi)
			goto range;
		*v = (uint64_t)i;
		return 0;
	}
	if (!json_is_real(j))
		return api_error(resp, "Field %s: integer expected", f);
	d = json_real_value(j);
	if (d != floor(d))
		return api_error(resp, "Field %s: integer expected", f);
	if (d < (double)lo || d > (double)hi)
		goto range;
	*v = (uint64_t)d;
	return 0;
range:
	return api_error(resp, "Field %s: out of range [%llu, %llu]", f,
			 (unsigned long long)lo, (unsigned long long)hi);
}

int api_msg_common_parse(const json_t *m, struct api_msg_common *c, char *err, size_t errlen)
{
	json_t *tmp = json_object();
	uint64_t lc = 0;
	int e;

	memset(c, 0, sizeof(*c));
	if (!tmp)
		return ENOMEM;
	if (!json_is_object(m)) {
		e = api_error(tmp, "Message must be an object");
		goto out;
	}
	e = api_get_str(m, "message", true, &c->message, tmp);
	if (e)
		goto out;
	e = api_get_num(m, "start_time", 0, 1e12, &c->start_time, tmp);
	c->has_start = e == 0;
	if (e == EINVAL)
		goto out;
	if ((e = api_get_bool(m, "absolute_time", &c->absolute_time, tmp)) == EINVAL ||
	    (e = api_get_bool(m, "standalone", &c->standalone, tmp)) == EINVAL ||
	    (e = api_get_uint(m, "loop_count", 0, API_LOOP_COUNT_MAX, &lc, tmp)) == EINVAL)
		goto out;
	c->loop_count = (uint32_t)lc;
	e = api_get_num(m, "loop_delay", 0.1, 86400, &c->loop_delay, tmp);
	if (e == EINVAL)
		goto out;
	if (e == ENOENT && c->loop_count) {
		e = api_error(tmp, "Missing field: loop_delay (required with loop_count)");
		goto out;
	}
	if (c->absolute_time && !c->has_start) {
		e = api_error(tmp, "Missing field: start_time (required with absolute_time)");
		goto out;
	}
	e = 0;
out:
	if (e == EINVAL)
		snprintf(err, errlen, "%s", json_string_value(json_object_get(tmp, "error")));
	json_decref(tmp);
	return e;
}

/* ---- answers ---- */

static json_t *resp_new(const json_t *msg, const char *name)
{
	json_t *r = json_object();
	const json_t *id = json_object_get(msg, "message_id");

	if (!r)
		return NULL;
	if (name)
		json_object_set_new(r, "message", json_string(name));
	if (id)
		json_object_set(r, "message_id", (json_t *)id);
	return r;
}

static void resp_stamp(struct api *api, json_t *r)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	json_object_set_new(r, "time", json_real(api_time_now(api)));
	json_object_set_new(r, "utc", json_real((double)tv.tv_sec + tv.tv_usec / 1e6));
}

static void resp_out(struct api *api, struct api_conn *conn, json_t *r)
{
	const json_t *e = json_object_get(r, "error");

	resp_stamp(api, r);
	if (e)
		api_count_error(api, json_string_value(e));
	if (conn)
		api_conn_send(conn, r);
	else if (e)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL, "api: %s (sim_events or standalone, no client): %s",
			  json_string_value(json_object_get(r, "message")),
			  json_string_value(e));
	json_decref(r);
}

void api_answer_send(struct api *api, uint64_t conn_id, json_t *resp)
{
	resp_out(api, conn_id ? api_conn_find(api, conn_id) : NULL, resp);
}

void api_answer_send_raw(struct api *api, uint64_t conn_id, json_t *resp, const char *key,
			 const char *raw, size_t len)
{
	struct api_conn *conn = conn_id ? api_conn_find(api, conn_id) : NULL;
	char *head;
	struct mbuf mb;
	size_t hl;

	resp_stamp(api, resp);
	head = conn ? json_dumps(resp, JSON_COMPACT) : NULL;
	json_decref(resp);
	if (!head)
		return;
	hl = strlen(head); /* "{...}": the listing goes before the last brace */
	mbuf_init(&mb, API_OUT_MAX);
	if (hl >= 2 && !mbuf_write(&mb, head, hl - 1) &&
	    !mbuf_printf(&mb, "%s\"%s\":", hl > 2 ? "," : "", key) &&
	    !mbuf_write(&mb, raw, len) && !mbuf_write(&mb, "}", 1))
		api_conn_send_text(conn, (const char *)mb.buf, mb.end);
	else
		log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "api: no memory for a %zu-byte answer to %s", len, conn->peer);
	mbuf_reset(&mb);
	free(head);
}

/* Runs one message now; index is its loop_index (-1: not repeated). */
static void msg_run(struct api *api, struct api_conn *conn, struct api_req *req,
		    const json_t *msg, const struct api_cmd *cmd, int64_t index)
{
	struct api_ctx ctx = {.api = api, .conn = conn, .req = req, .msg = msg};
	json_t *r = resp_new(msg, cmd->name);

	if (!r)
		return;
	if (index >= 0)
		json_object_set_new(r, "loop_index", json_integer(index));
	if (cmd->h(&ctx, r) == EINPROGRESS) {
		json_decref(r); /* the handler kept its reference */
		return;
	}
	resp_out(api, conn, r);
}

/* ---- scheduled requests ---- */

static void req_free(struct api_req *r)
{
	struct api *api = r->api;

	if (r->prev)
		r->prev->next = r->next;
	else
		api->reqs = r->next;
	if (r->next)
		r->next->prev = r->prev;
	api->nreq--;
	loop_timer_free(r->tmr);
	json_decref(r->msg);
	free(r);
}

static void req_timer_h(void *arg)
{
	struct api_req *r = arg;
	struct api *api = r->api;
	struct api_conn *conn = r->conn_id ? api_conn_find(api, r->conn_id) : NULL;
	uint32_t idx = r->loop_index++;

	if (!r->loop_index || r->loop_index == 1)
		r->start_ms = loop_now_ms();
	msg_run(api, conn, r, r->msg, r->cmd, r->loop_count ? (int64_t)idx : -1);
	if (r->loop_index < r->loop_count) {
		uint64_t due = r->start_ms + r->loop_index * r->loop_delay_ms;
		uint64_t now = loop_now_ms();

		loop_timer_start(r->tmr, due > now ? due - now : 0, req_timer_h, r);
		return;
	}
	req_free(r);
}

static int req_schedule(struct api *api, struct api_conn *conn, const json_t *msg,
			const struct api_cmd *cmd, const struct api_msg_common *c, json_t *resp)
{
	struct api_req *r;
	double delay = 0;

	if (api->nreq >= API_REQS_MAX)
		return api_error(resp, "Too many scheduled messages (%u)", API_REQS_MAX);
	if (c->has_start)
		delay = c->absolute_time ? c->start_time - api_time_now(api) : c->start_time;
	if (delay < 0)
		delay = 0;
	r = calloc(1, sizeof(*r));
	if (!r)
		return api_error(resp, "Out of memory");
	r->tmr = loop_timer_alloc();
	if (!r->tmr) {
		free(r);
		return api_error(resp, "Out of memory");
	}
	r->api = api;
	r->conn_id = conn ? conn->id : 0;
	r->msg = json_deep_copy(msg);
	r->cmd = cmd;
	r->loop_count = c->loop_count;
	r->loop_delay_ms = (uint64_t)llround(c->loop_delay * 1000.0);
	r->standalone = c->standalone;
	r->next = api->reqs;
	if (api->reqs)
		api->reqs->prev = r;
	api->reqs = r;
	api->nreq++;
	loop_timer_start(r->tmr, (uint64_t)llround(delay * 1000.0), req_timer_h, r);
	return 0;
}

void api_reqs_cancel_conn(struct api *api, uint64_t conn_id)
{
	struct api_req *r = api->reqs;

	while (r) {
		struct api_req *next = r->next;

		if (r->conn_id == conn_id && !r->standalone)
			req_free(r);
		r = next;
	}
}

void api_reqs_free(struct api *api)
{
	for (struct api_req *r = api->reqs, *next; r; r = next) {
		next = r->next;
		req_free(r);
	}
}

/* ---- messages in ---- */

static void msg_count(struct api *api, const char *name)
{
	json_t *v = json_object_get(api->msg_counts, name);

	if (json_object_size(api->msg_counts) >= 256 && !v)
		return; /* names are the client's: bounded */
	json_object_set_new(api->msg_counts, name,
			    json_integer(v ? json_integer_value(v) + 1 : 1));
}

static void msg_in(struct api *api, struct api_conn *conn, const json_t *m)
{
	struct api_msg_common c;
	const struct api_cmd *cmd;
	char err[512];
	json_t *r;

	if (conn && conn->dead)
		return;
	if (api_msg_common_parse(m, &c, err, sizeof(err))) {
		r = resp_new(m, json_is_object(m) && json_is_string(json_object_get(m, "message"))
					? json_string_value(json_object_get(m, "message"))
					: NULL);
		api_error(r, "%s", err);
		resp_out(api, conn, r);
		return;
	}
	msg_count(api, c.message);
	r = resp_new(m, c.message);
	if (!r)
		return;
	cmd = api_cmd_find(c.message);
	if (conn && !conn->authed && strcmp(c.message, "authenticate") != 0) {
		api_error(r, "Authentication not done");
	} else if (!cmd) {
		api_error(r, "Unknown message: %s", c.message);
	} else if (c.has_start || c.loop_count) {
		if (!req_schedule(api, conn, m, cmd, &c, r)) {
			json_decref(r); /* answered when it runs */
			return;
		}
	} else {
		json_decref(r);
		msg_run(api, conn, NULL, m, cmd, -1);
		return;
	}
	resp_out(api, conn, r);
}

void api_msg_text_in(struct api *api, struct api_conn *conn, const uint8_t *data, size_t len)
{
	json_error_t je;
	json_t *v = json_loadb((const char *)data, len, JSON_REJECT_DUPLICATES, &je);
	json_t *r;

	if (!v) {
		r = json_object();
		if (!r)
			return;
		api_error(r, "Invalid JSON: %s (line %d, column %d)", je.text, je.line,
			  je.column);
		resp_out(api, conn, r);
		return;
	}
	if (json_is_array(v)) {
		size_t i;
		json_t *m;

		if (json_array_size(v) > API_BATCH_MAX) {
			r = json_object();
			if (r) {
				api_error(r, "Too many messages in one array (max %u)",
					  API_BATCH_MAX);
				resp_out(api, conn, r);
			}
		} else {
			json_array_foreach(v, i, m)
			{
				msg_in(api, conn, m);
			}
		}
	} else {
		msg_in(api, conn, v);
	}
	json_decref(v);
}

/* ---- sim_events (manual §5): requests whose "event" is the message ---- */

void api_sim_events_start(struct api *api)
{
	const struct ims_cfg *cfg = api->prm.cfg;
	size_t i;
	json_t *ev;

	if (!cfg->sim_events)
		return;
	json_array_foreach(cfg->sim_events, i, ev)
	{
		json_t *m = json_deep_copy(ev);
		const json_t *name = json_object_get(ev, "event");

		if (!m)
			continue;
		if (name) {
			json_object_set(m, "message", (json_t *)name);
			json_object_del(m, "event");
		}
		if (cfg->sim_events_loop_count >= 0 && !json_object_get(m, "loop_count"))
			json_object_set_new(m, "loop_count",
					    json_integer(cfg->sim_events_loop_count));
		if (cfg->sim_events_loop_delay > 0 && !json_object_get(m, "loop_delay"))
			json_object_set_new(m, "loop_delay",
					    json_real(cfg->sim_events_loop_delay));
		json_object_set_new(m, "standalone", json_true());
		msg_in(api, NULL, m);
		json_decref(m);
	}
}
