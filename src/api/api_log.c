/*
 * api_log — log_get, log_set and log_reset (manual §6.5) over the log
 * history ring (core/log_ring.c).
 *
 * log_get is per connection: a cursor (the idx of the next entry) moves past
 * what each answer carried. An answer waits until `min` matching entries are
 * there, or `timeout` seconds passed with at least one and no new one, or
 * (allow_empty) `timeout` with none; a new log_get answers the waiting one
 * at once. The ring's watcher (any thread, log lock held) only writes an
 * eventfd, once per look at most (log_armed). The loop then looks at the
 * connections with a waiting answer API_LOG_GROUP_MS later, so that the log
 * lines of that time are one answer per poller, not one each; a new
 * log_get is looked at with them. A look answers API_LOG_ANSWERS_ITER
 * connections per loop iteration at most and goes on at the next one (SIP
 * is served in between), whatever the number of pollers. An answer stops at `max`
 * entries or `max_size` bytes of JSON (estimated as it is built), and says
 * `discontinuity` when overflow dropped entries between the cursor and the
 * oldest held one.
 */
#include "api/api_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "config/ims_cfg.h"
#include "loop/loop.h"

#define API_LOG_MAX_DEFAULT 4096u
#define API_LOG_MAX_MAX 65536u
#define API_LOG_SIZE_DEFAULT ((size_t)1 << 20)
#define API_LOG_SIZE_MAX ((size_t)16 << 20)
#define API_LOG_CHUNK 64u /* entries looked at per loop iteration, all clients */
#define API_LOG_GROUP_MS 20u     /* log lines grouped into one look at the pollers */
#define API_LOG_ANSWERS_ITER 32u /* answers started per loop iteration, all clients */

/* The entry's ue_id: its id when that is a number (log_set's ue_id). */
static bool entry_ue_id(const struct log_entry *e, uint32_t *ue)
{
	size_t n = e->id ? strlen(e->id) : 0;

	if (!n || n >= 10 || strspn(e->id, "0123456789") != n)
		return false;
	*ue = (uint32_t)strtoul(e->id, NULL, 10);
	return true;
}

static bool entry_match(const struct api_log_get *g, const struct log_entry *e)
{
	int64_t ms = e->ts_us / 1000;
	uint32_t ue;

	if (e->layer >= LOG_LAYER_COUNT || e->level > g->level[e->layer] ||
	    e->level == LOG_LVL_NONE)
		return false;
	if (g->has_start && ms < g->start_ms)
		return false;
	if (g->has_end && ms > g->end_ms)
		return false;
	if (g->has_ue_id && (!entry_ue_id(e, &ue) || ue != g->ue_id))
		return false;
	return !g->has_rnti; /* an RNTI is a radio (PHY) id: no IMS entry has one */
}

struct count_arg {
	const struct api_log_get *g;
	size_t n, max;
};

static int count_h(const struct log_entry *e, void *arg)
{
	struct count_arg *a = arg;

	if (entry_match(a->g, e))
		a->n++;
	return a->n >= a->max;
}

struct build_arg {
	struct api *api;
	const struct api_log_get *g;
	struct mbuf *text;
	size_t n, bytes;
	bool us;
};

static const char *dir_name(enum log_dir d)
{
	return d == LOG_DIR_FROM ? "FROM" : d == LOG_DIR_TO ? "TO" : NULL;
}

static json_t *entry_json(struct build_arg *a, const struct log_entry *e)
{
	json_t *o = json_object(), *data = json_array();
	const char *p = e->text, *end = e->text + (a->g->short_ ? e->first_len : e->text_len);
	uint32_t ue;
	const char *name = a->api->prm.cfg->com_name;

	if (!o || !data) {
		json_decref(o);
		json_decref(data);
		return NULL;
	}
	while (p <= end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t l = nl ? (size_t)(nl - p) : (size_t)(end - p);

		json_array_append_new(data, json_stringn(p, l));
		a->bytes += l + 4;
		if (!nl)
			break;
		p = nl + 1;
	}
	json_object_set_new(o, "data", data);
	if (a->us)
		json_object_set_new(o, "timestamp_us", json_integer(e->ts_us));
	else
		json_object_set_new(o, "timestamp", json_integer(e->ts_us / 1000));
	json_object_set_new(o, "layer", json_string(log_layer_name(e->layer)));
	json_object_set_new(o, "level", json_string(log_level_name(e->level)));
	if (dir_name(e->dir))
		json_object_set_new(o, "dir", json_string(dir_name(e->dir)));
	if (entry_ue_id(e, &ue))
		json_object_set_new(o, "ue_id", json_integer(ue));
	json_object_set_new(o, "src", json_string(name && name[0] ? name : "IMS"));
	json_object_set_new(o, "idx", json_integer((json_int_t)e->idx));
	a->bytes += 120;
	return o;
}

static int build_h(const struct log_entry *e, void *arg)
{
	struct build_arg *a = arg;
	char *txt;
	json_t *o;

	if (a->n && a->bytes + e->text_len + 120 > a->g->max_size)
		return 1; /* max_size: this one goes next time */
	if (!entry_match(a->g, e))
		return 0;
	/* made into text at once: the answer is sent as text made in parts
	 * (api_answer_send_raw), never one tree to dump and free in one go */
	o = entry_json(a, e);
	txt = o ? json_dumps(o, JSON_COMPACT) : NULL;
	json_decref(o);
	if (!txt || mbuf_write_str(a->text, a->n ? "," : "[") || mbuf_write_str(a->text, txt)) {
		free(txt);
		return 1;
	}
	free(txt);
	a->n++;
	return 0;
}

static void header_h(const char *line, void *arg)
{
	json_array_append_new(arg, json_string(line));
}

static void log_more_h(void *arg);
static void log_group_h(void *arg);

/* The answer goes on at the next loop iteration (log_group_h), with the
 * budget of entries all answers share. */
static void log_more_arm(struct api_conn *c)
{
	c->log.more = true;
	loop_timer_start(c->api->log_group_tmr, 0, log_group_h, c->api);
}

/* Makes the waiting answers API_LOG_CHUNK entries per loop iteration, all
 * clients together, each in turn (a new
 * client's first answer reads up to 4,096 entries of history: about 1 MB of
 * JSON, made in one piece it would hold SIP up), moving the cursor as it
 * goes, and sends it once max entries were looked at, max_size reached or
 * the ring read to its end. force: the rest at once (a new log_get came). */
static void log_answer(struct api_conn *c, bool force)
{
	struct api_log_get *g = &c->log;
	struct build_arg a = {.api = c->api, .g = g, .us = log_ring_us()};
	struct log_ring_pos pos;
	size_t chunk;
	json_t *r;

	if (!g->building) {
		loop_timer_cancel(g->tmr);
		mbuf_init(&g->text, API_OUT_MAX);
		g->building = true;
		g->handed = g->built = g->bytes = 0;
		g->disc = UINT64_MAX;
	}
	a.text = &g->text;
	a.n = g->built;
	a.bytes = g->bytes;
	chunk = g->max - g->handed;
	if (!force) { /* every client's parts share one budget per iteration */
		size_t left = c->api->log_iter_entries < API_LOG_CHUNK
				  ? API_LOG_CHUNK - c->api->log_iter_entries
				  : 0;

		if (!left) {
			log_more_arm(c);
			return;
		}
		if (chunk > left)
			chunk = left;
	}
	log_ring_read(g->next_idx, chunk, build_h, &a, &pos);
	c->api->log_iter_entries += pos.count;
	g->next_idx = pos.next;
	if (g->disc == UINT64_MAX)
		g->disc = pos.discontinuity;
	g->handed += pos.count;
	g->built = a.n;
	g->bytes = a.bytes;
	if (!force && pos.count == chunk && g->handed < g->max) {
		log_more_arm(c);
		return;
	}
	g->more = false;
	g->due = false;
	r = g->pending;
	g->pending = NULL;
	g->building = false;
	if (g->disc && g->disc != UINT64_MAX)
		json_object_set_new(r, "discontinuity", json_integer((json_int_t)g->disc));
	if (a.us)
		json_object_set_new(r, "microseconds", json_true());
	if (g->headers) {
		json_t *h = json_array();

		log_header_foreach(header_h, h);
		json_object_set_new(r, "headers", h);
	}
	if (mbuf_write_str(&g->text, a.n ? "]" : "[]")) {
		api_error(r, "log_get: out of memory");
		api_answer_send(c->api, c->id, r);
	} else {
		api_answer_send_raw(c->api, c->id, r, "logs", (const char *)g->text.buf,
				    g->text.end);
	}
	mbuf_reset(&g->text);
}

static void log_more_h(void *arg)
{
	struct api_conn *c = arg;

	if (!c->log.pending || c->dead)
		return;
	if (c->api->out_total >= API_OUT_TOTAL_MAX) { /* the clients read first */
		loop_timer_start(c->log.tmr, 10, log_more_h, c);
		return;
	}
	log_answer(c, false);
}

/* Answered at the next look with the others, API_LOG_ANSWERS_ITER per loop
 * iteration: a thousand pollers' timeouts often fall in one iteration. */
static void log_timeout_h(void *arg)
{
	struct api_conn *c = arg;

	if (!c->log.pending || c->log.building)
		return;
	c->log.due = true;
	if (c->api->log_group_tmr)
		loop_timer_start(c->api->log_group_tmr, 0, log_group_h, c->api);
	else
		log_answer(c, false);
}

/* Answers when min is reached; else (re)starts the timeout as the manual
 * says: from the last new entry, or from the request with allow_empty. */
static void log_check(struct api_conn *c)
{
	struct api_log_get *g = &c->log;
	struct count_arg a = {.g = g, .max = g->min};
	struct log_ring_pos pos;

	if (!g->pending || g->building)
		return;
	if (c->api->out_total >= API_OUT_TOTAL_MAX) {
		c->api->log_out_wait = true; /* conn_queued_update comes back */
		return;
	}
	log_ring_read(g->next_idx, g->max, count_h, &a, &pos);
	if (a.n >= g->min) {
		log_answer(c, false);
		return;
	}
	if (a.n && a.n != g->last_n) {
		loop_timer_start(g->tmr, g->timeout_ms, log_timeout_h, c);
	} else if (!a.n && g->allow_empty && !loop_timer_pending(g->tmr)) {
		loop_timer_start(g->tmr, g->timeout_ms, log_timeout_h, c);
	}
	g->last_n = a.n;
}

static void api_log_watch_h(uint64_t next_idx, void *arg)
{
	struct api *api = arg;
	uint64_t one = 1;

	(void)next_idx;
	if (__atomic_exchange_n(&api->log_armed, 0, __ATOMIC_ACQ_REL))
		(void)!write(api->log_evfd, &one, sizeof(one));
}

/* The grouped look: every connection with a waiting answer, in rounds of
 * API_LOG_ANSWERS_ITER answers per loop iteration (a connection looked at
 * in this round is not looked at again until the next). */
static void log_group_arm(struct api *api);

/* The answers being made in parts go on, within this iteration's budget;
 * true if some must wait for the next iteration. */
static bool log_more_run(struct api *api)
{
	for (struct api_conn *c = api->conns; c; c = c->next) {
		if (c->dead || !c->log.more || !c->log.pending)
			continue;
		if (api->log_iter_entries >= API_LOG_CHUNK)
			return true;
		c->log.more = false;
		log_answer(c, false);
	}
	return false;
}

static void log_group_h(void *arg)
{
	struct api *api = arg;
	uint32_t answers = 0;
	bool again = log_more_run(api);

	for (struct api_conn *c = api->conns; c && !again; c = c->next) { /* timeouts */
		if (c->dead || !c->log.due)
			continue;
		if (answers >= API_LOG_ANSWERS_ITER) {
			again = true;
			break;
		}
		c->log.due = false;
		if (c->log.pending && !c->log.building) {
			log_answer(c, false);
			answers++;
		}
	}
	if (!api->log_cont) { /* a new round: the watcher may tell again */
		api->log_round++;
		api->log_dirty = false;
		__atomic_store_n(&api->log_armed, 1, __ATOMIC_RELEASE);
	}
	api->log_cont = false;
	for (struct api_conn *c = api->conns; c && !again; c = c->next) {
		if (c->dead || !c->log.pending || c->log.building || c->log.round == api->log_round)
			continue;
		if (answers >= API_LOG_ANSWERS_ITER || api->log_iter_entries >= API_LOG_CHUNK) {
			api->log_cont = true; /* the rest of the round next time */
			again = true;
			break;
		}
		c->log.round = api->log_round;
		log_check(c);
		answers += !c->log.pending || c->log.building;
	}
	if (again || loop_timer_pending(api->log_group_tmr))
		loop_timer_start(api->log_group_tmr, 0, log_group_h, api);
	else if (api->log_dirty) /* lines came during the round */
		log_group_arm(api);
}

/* Looked at API_LOG_GROUP_MS from now, with what comes meanwhile. */
static void log_group_arm(struct api *api)
{
	if (api->log_group_tmr && !loop_timer_pending(api->log_group_tmr))
		loop_timer_start(api->log_group_tmr, API_LOG_GROUP_MS, log_group_h, api);
}

static void log_evfd_h(int fd, int events, void *arg)
{
	struct api *api = arg;
	uint64_t v;

	(void)events;
	(void)!read(fd, &v, sizeof(v));
	api->log_dirty = true;
	log_group_arm(api); /* log_armed stays 0 until the look */
}

int api_log_start(struct api *api)
{
	int e;

	api->log_group_tmr = loop_timer_alloc();
	if (!api->log_group_tmr)
		return ENOMEM;
	api->log_evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (api->log_evfd < 0)
		return errno;
	e = loop_fd_listen(api->log_evfd, LOOP_READ, log_evfd_h, api);
	if (e)
		return e;
	__atomic_store_n(&api->log_armed, 1, __ATOMIC_RELEASE);
	e = log_ring_watch_add(api_log_watch_h, api);
	if (!e)
		api->log_watching = true;
	return e;
}

void api_log_stop(struct api *api)
{
	if (api->log_watching)
		log_ring_watch_remove(api_log_watch_h, api);
	api->log_watching = false;
	if (api->log_evfd >= 0) {
		loop_fd_close(api->log_evfd);
		close(api->log_evfd);
		api->log_evfd = -1;
	}
	loop_timer_free(api->log_group_tmr);
	api->log_group_tmr = NULL;
}

void api_log_conn_close(struct api_conn *c)
{
	json_decref(c->log.pending);
	c->log.pending = NULL;
	mbuf_reset(&c->log.text);
	loop_timer_free(c->log.tmr);
	c->log.tmr = NULL;
}

static int layers_parse(const json_t *m, struct api_log_get *g, json_t *resp)
{
	const json_t *ls = json_object_get(m, "layers");
	const char *name;
	json_t *v;

	if (!ls) { /* every layer at debug */
		for (unsigned i = 0; i < LOG_LAYER_COUNT; i++)
			g->level[i] = LOG_LVL_DEBUG;
		return 0;
	}
	if (!json_is_object(ls))
		return api_error(resp, "Field layers: object expected");
	memset(g->level, LOG_LVL_NONE, sizeof(g->level));
	json_object_foreach((json_t *)ls, name, v)
	{
		enum log_layer l;
		enum log_level lv;

		if (log_layer_from_name(name, &l))
			return api_error(resp, "Field layers: unknown layer %.64s", name);
		if (!json_is_string(v) || log_level_from_name(json_string_value(v), &lv))
			return api_error(resp, "Field layers.%s: level expected (error, "
					       "warn, info, debug, none)",
					 name);
		g->level[l] = (uint8_t)lv;
	}
	return 0;
}

static int log_get_parse(const json_t *m, struct api_log_get *g, json_t *resp)
{
	uint64_t min = 1, max = API_LOG_MAX_DEFAULT, sz = API_LOG_SIZE_DEFAULT, id;
	double tmo = 1, st, et;
	int e;

	if (api_get_uint(m, "min", 1, API_LOG_MAX_MAX, &min, resp) == EINVAL ||
	    api_get_uint(m, "max", 1, API_LOG_MAX_MAX, &max, resp) == EINVAL ||
	    api_get_num(m, "timeout", 0, 86400, &tmo, resp) == EINVAL ||
	    api_get_bool(m, "allow_empty", &g->allow_empty, resp) == EINVAL ||
	    api_get_bool(m, "short", &g->short_, resp) == EINVAL ||
	    api_get_bool(m, "headers", &g->headers, resp) == EINVAL ||
	    api_get_uint(m, "max_size", 1024, API_LOG_SIZE_MAX, &sz, resp) == EINVAL)
		return EINVAL;
	e = api_get_num(m, "start_timestamp", 0, 1e15, &st, resp);
	if (e == EINVAL)
		return e;
	g->has_start = e == 0;
	g->start_ms = g->has_start ? (int64_t)st : 0;
	e = api_get_num(m, "end_timestamp", 0, 1e15, &et, resp);
	if (e == EINVAL)
		return e;
	g->has_end = e == 0;
	g->end_ms = g->has_end ? (int64_t)et : 0;
	e = api_get_uint(m, "ue_id", 0, UINT32_MAX, &id, resp);
	if (e == EINVAL)
		return e;
	g->has_ue_id = e == 0;
	g->ue_id = g->has_ue_id ? (uint32_t)id : 0;
	e = api_get_uint(m, "rnti", 0, 65535, &id, resp);
	if (e == EINVAL)
		return e;
	g->has_rnti = e == 0;
	g->min = (uint32_t)(min < max ? min : max);
	g->max = (uint32_t)max;
	g->timeout_ms = (uint64_t)(tmo * 1000.0);
	g->max_size = (size_t)sz;
	return layers_parse(m, g, resp);
}

int api_cmd_log_get(struct api_ctx *ctx, json_t *resp)
{
	struct api_conn *c = ctx->conn;
	struct api_log_get ng;

	if (!c)
		return api_error(resp, "log_get answers a connection");
	memset(&ng, 0, sizeof(ng));
	if (log_get_parse(ctx->msg, &ng, resp))
		return EINVAL;
	if (c->log.pending) /* manual §6.5: the previous one goes now */
		log_answer(c, true);
	if (c->dead)
		return EINVAL;
	if (!c->log.tmr && !(c->log.tmr = loop_timer_alloc()))
		return api_error(resp, "Out of memory");
	ng.next_idx = c->log.next_idx;
	ng.tmr = c->log.tmr;
	ng.round = c->api->log_round - 1; /* not looked at in this round yet */
	c->log = ng;
	c->log.pending = json_incref(resp);
	/* looked at with the others (log_group_h): a poller asking again at
	 * once is answered once per API_LOG_GROUP_MS at most */
	if (c->api->log_group_tmr)
		log_group_arm(c->api);
	else
		log_check(c);
	return EINPROGRESS;
}

static int log_set_add(const json_t *m, json_t *resp)
{
	const char *text, *layer = NULL, *level = NULL, *dir = NULL;
	enum log_layer l;
	enum log_level lv;
	enum log_dir d = LOG_DIR_NONE;
	uint64_t ue = 0;
	char id[24] = "";
	int e;

	if (api_get_str(m, "log", false, &text, resp))
		return 0;
	if (api_get_str(m, "layer", true, &layer, resp) ||
	    api_get_str(m, "level", true, &level, resp))
		return EINVAL;
	if (log_layer_from_name(layer, &l))
		return api_error(resp, "Field layer: unknown layer %.64s", layer);
	if (log_level_from_name(level, &lv) || lv == LOG_LVL_NONE)
		return api_error(resp, "Field level: error, warn, info or debug expected");
	e = api_get_str(m, "dir", false, &dir, resp);
	if (e == EINVAL)
		return e;
	if (!e) {
		if (!strcmp(dir, "FROM") || !strcmp(dir, "UL"))
			d = LOG_DIR_FROM;
		else if (!strcmp(dir, "TO") || !strcmp(dir, "DL"))
			d = LOG_DIR_TO;
		else
			return api_error(resp, "Field dir: UL, DL, FROM or TO expected");
	}
	e = api_get_uint(m, "ue_id", 0, UINT32_MAX, &ue, resp);
	if (e == EINVAL)
		return e;
	if (!e)
		snprintf(id, sizeof(id), "%llu", (unsigned long long)ue);
	log_write(l, lv, d, id[0] ? id : NULL, "%s", text);
	return 0;
}

int api_cmd_log_set(struct api_ctx *ctx, json_t *resp)
{
	bool flush = false, rotate = false, cut = false;
	char err[256];

	if (api_get_bool(ctx->msg, "flush", &flush, resp) == EINVAL ||
	    api_get_bool(ctx->msg, "rotate", &rotate, resp) == EINVAL ||
	    api_get_bool(ctx->msg, "cut", &cut, resp) == EINVAL ||
	    log_set_add(ctx->msg, resp))
		return EINVAL;
	if (flush)
		log_flush();
	if (rotate && log_file_rotate(err, sizeof(err)))
		return api_error(resp, "rotate: %s", err);
	if (cut && log_file_cut(err, sizeof(err)))
		return api_error(resp, "cut: %s", err);
	return 0;
}

int api_cmd_log_reset(struct api_ctx *ctx, json_t *resp)
{
	(void)ctx;
	(void)resp;
	log_ring_reset();
	return 0;
}
