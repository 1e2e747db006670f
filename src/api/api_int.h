/*
 * api internals shared by the api/ files (api.h says which file does what).
 *
 * A connection (struct api_conn) is named by its id in anything that
 * outlives a callback (a scheduled request, a pending log_get answer):
 * api_conn_find() looks it up again, so a request whose client has gone
 * finds nothing and its answer is dropped.
 */
#ifndef API_API_INT_H
#define API_API_INT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "api/api.h"
#include "api/api_http.h"
#include "core/log.h"
#include "core/mbuf.h"
#include "sms/sms_tpdu.h"
#include "smsc/smsc.h"

struct loop_timer;
struct api_req;

/* Events a client may register to (manual §6.5 register, §6.7). */
enum api_event {
	API_EV_USERS_UPDATE = 1u << 0,
	API_EV_SMS = 1u << 1,
	API_EV_DIALOG = 1u << 2,
};

/* log_get's state per connection (api_log.c). */
struct api_log_get {
	uint64_t next_idx; /* the cursor: first entry not yet sent */
	json_t *pending;   /* the answer waiting for logs (owned), or NULL */
	size_t last_n;	   /* matching entries at the last look */
	uint32_t min, max;
	uint64_t timeout_ms;
	bool allow_empty, short_, headers;
	bool has_start, has_end;
	int64_t start_ms, end_ms;
	bool has_ue_id, has_rnti; /* filters: ue_id; rnti (no IMS entry has one) */
	uint32_t ue_id;
	size_t max_size;
	uint8_t level[LOG_LAYER_COUNT]; /* max level per layer, LOG_LVL_NONE: off */
	struct loop_timer *tmr;		/* timeout of the pending answer, or its next part */
	uint32_t round;			/* the grouped look that last saw it */
	bool more;			/* its answer goes on at the next look */
	bool due;			/* its timeout passed: answered at the next look */
	bool building;			/* the answer is being made, in parts */
	struct mbuf text;		/* its logs so far, as JSON text */
	size_t handed, built, bytes;	/* entries looked at, taken, JSON bytes */
	uint64_t disc;			/* discontinuity at its first part */
};

struct api_conn {
	struct api *api; /* borrowed */
	uint64_t id;
	int fd;
	char peer[64];	 /* address:port, for log lines */
	bool ws;	 /* past the handshake */
	bool authed;	 /* com_auth passed, or none set */
	bool dead;	 /* closed: freed at the end of the callback */
	bool out_watch;	 /* LOOP_WRITE in the interest */
	char hs[API_HTTP_MAX];
	size_t hs_len;
	size_t pre_off; /* bytes of hs after the head, fed to wslay first */
	void *ws_ctx;	/* wslay_event_context_ptr, owned */
	void *ssl;	/* SSL *, owned; NULL without com_ssl_certificate */
	bool tls_done;	/* TLS handshake over */
	char challenge[65];
	uint32_t events; /* enum api_event bits */
	size_t queued;	 /* output queued in wslay at the last look */
	struct api_log_get log;
	struct api_conn *prev, *next;
};

struct api_auth_fail {
	char host[48];
	uint32_t count;
	uint64_t first_ms, locked_until_ms;
};

#define API_AUTH_TABLE 64u

struct api {
	struct api_prm prm;
	int lfd;
	uint16_t port;
	struct api_conn *conns; /* list */
	uint32_t nconn;
	uint64_t next_id;
	struct api_req *reqs; /* scheduled, list */
	uint32_t nreq;
	double t0; /* CLOCK_MONOTONIC seconds at start: "time" is from here */
	char *password; /* owned, wiped; NULL: no com_auth */
	struct api_auth_fail fails[API_AUTH_TABLE];
	json_t *msg_counts, *err_counts; /* stats counters since the last call */
	uint64_t cfm_last;		 /* stats_sample.cfm_applied at the last call */
	int log_evfd;			 /* written by the log ring watcher */
	int log_armed;			 /* atomic: the watcher may write log_evfd */
	bool log_watching;
	size_t out_total;  /* sum of the connections' queued */
	bool log_out_wait; /* log_get answers wait for out_total to fall */
	size_t log_iter_entries; /* log entries made into answers this iteration */
	size_t out_iter_bytes;	 /* written to the clients this iteration */
	struct loop_timer *log_group_tmr; /* the grouped look at the waiting log_get */
	uint32_t log_round;		  /* that look's number (api_log.c) */
	bool log_cont;			  /* the timer goes on with the same round */
	bool log_dirty;			  /* lines came since the round began */
	uint64_t refused_logged_ms; /* last "too many clients" line */
	void *reg_watch;	    /* registrar watch handle, if any */
	bool reaping;		    /* api_reap_h added before sleep */
	void *users_jobs;	    /* users_get listings in parts (api_cmd_users.c) */
	void *ssl_ctx;		    /* SSL_CTX *, owned; NULL: plain WebSocket */
	/* owned: the config_set that holds the live custom_headers (the
	 * configuration points into it), NULL while the file's are live */
	struct ims_cfg *hdrs_set;
};

/* A message being run (context of a handler). conn is NULL for sim_events
 * and for a standalone message whose client has gone. */
struct api_ctx {
	struct api *api;
	struct api_conn *conn;
	struct api_req *req; /* NULL when run at once */
	const json_t *msg;
};

/* A handler fills resp (message, message_id, time, utc are added around
 * it). Return 0, or EINVAL after api_error(resp, ...), or EINPROGRESS when
 * it keeps resp (a reference) to send later with api_answer_send(). */
typedef int(api_cmd_h)(struct api_ctx *ctx, json_t *resp);

struct api_cmd {
	const char *name;
	api_cmd_h *h;
};

/* The messages (api_cmd_table.c); NULL-terminated. */
extern const struct api_cmd api_cmds[];
/* The events of help. */
extern const char *const api_events[];
const struct api_cmd *api_cmd_find(const char *name);

/* ---- api.c ---- */
struct api_conn *api_conn_find(struct api *api, uint64_t id);
/* Queues one JSON message to conn (steals nothing); closes a client whose
 * output is over API_OUT_MAX. */
int api_conn_send(struct api_conn *conn, const json_t *msg);
/* The same with the JSON text already made (len bytes, valid UTF-8). */
int api_conn_send_text(struct api_conn *conn, const char *txt, size_t len);
/* Sends an event to every authenticated client registered for ev. */
void api_event_send(struct api *api, enum api_event ev, json_t *msg);
/* Whether any authenticated client is registered for ev. */
bool api_event_listened(const struct api *api, enum api_event ev);
void api_conn_close(struct api_conn *conn, uint16_t code, const char *why);
double api_time_now(const struct api *api); /* "time" */

/* ---- api_msg.c ---- */
/* One text frame from conn (NULL: sim_events). */
void api_msg_text_in(struct api *api, struct api_conn *conn, const uint8_t *data, size_t len);
/* Common fields of a request (manual §6.1), checked without side effect. */
struct api_msg_common {
	const char *message;
	bool has_start;
	double start_time;
	bool absolute_time;
	bool standalone;
	uint32_t loop_count;
	double loop_delay;
};
/* 0, or EINVAL with an error naming the field in err. */
int api_msg_common_parse(const json_t *m, struct api_msg_common *c, char *err, size_t errlen);
/* Whether data is valid UTF-8 (RFC 3629; no overlongs, no surrogates). */
bool api_utf8_valid(const uint8_t *data, size_t len);
/* Sets "error" in resp; returns EINVAL. */
int api_error(json_t *resp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* A deferred answer (EINPROGRESS) goes now: time and utc added, sent to the
 * request's connection if it is still there; drops the reference. */
void api_answer_send(struct api *api, uint64_t conn_id, json_t *resp);
/* The same for an answer with one member made as text apart (a long
 * listing): resp's members, then "key": raw (len bytes of JSON). */
void api_answer_send_raw(struct api *api, uint64_t conn_id, json_t *resp, const char *key,
			 const char *raw, size_t len);
/* Cancels the scheduled requests of a connection (not standalone ones). */
void api_reqs_cancel_conn(struct api *api, uint64_t conn_id);
void api_reqs_free(struct api *api);
uint64_t api_req_conn_id(const struct api_req *r);
/* sim_events (manual §5): run as if sent by a client. */
void api_sim_events_start(struct api *api);
void api_count_error(struct api *api, const char *name);

/* ---- field helpers (api_msg.c): 0 ok, ENOENT absent (optional), EINVAL
 * with resp's error set naming the field ---- */
int api_get_str(const json_t *m, const char *f, bool req, const char **v, json_t *resp);
int api_get_bool(const json_t *m, const char *f, bool *v, json_t *resp);
int api_get_num(const json_t *m, const char *f, double lo, double hi, double *v,
		json_t *resp);
int api_get_uint(const json_t *m, const char *f, uint64_t lo, uint64_t hi, uint64_t *v,
		 json_t *resp);

/* ---- api_auth.c ---- */
int api_auth_init(struct api *api, char *err, size_t errlen);
void api_auth_free(struct api *api);
/* The first message of a connection: ready, or authenticate with a challenge. */
json_t *api_auth_greeting(struct api *api, struct api_conn *conn);
api_cmd_h api_cmd_authenticate;
/* res = HMAC-SHA256(key "<type>:<password>:<name>", challenge), lowercase
 * hex into out[65] (manual §6.2). */
int api_auth_res(const char *type, const char *password, const char *name,
		 const char *challenge, char out[65]);

/* ---- api_tls.c ---- */
int api_tls_init(struct api *api, char *err, size_t errlen);
void api_tls_free(struct api *api);
int api_tls_conn_start(struct api_conn *c);
void api_tls_conn_end(struct api_conn *c);
/* 0 done, EAGAIN in progress (interest set), else failed (logged). */
int api_tls_handshake(struct api_conn *c);
/* recv / send on the connection, through TLS when it has it; -1 with errno
 * EAGAIN when it would block. */
ssize_t api_io_recv(struct api_conn *c, void *buf, size_t len);
ssize_t api_io_send(struct api_conn *c, const void *data, size_t len);

/* ---- api_log.c ---- */
int api_log_start(struct api *api);
void api_log_stop(struct api *api);
void api_log_conn_close(struct api_conn *conn);
api_cmd_h api_cmd_log_get, api_cmd_log_set, api_cmd_log_reset;

/* ---- api_cmd.c, api_cmd_users.c ---- */
api_cmd_h api_cmd_help, api_cmd_config_get, api_cmd_config_set, api_cmd_stats,
	api_cmd_register, api_cmd_license, api_cmd_quit;
api_cmd_h api_cmd_users_get, api_cmd_unregister;
json_t *api_user_json(struct api *api, const void *user_info);
void api_users_watch_start(struct api *api);
void api_users_watch_stop(struct api *api);
void api_users_jobs_free(struct api *api);
/* u changed (a call, its pending SMS): a users_update for it goes at the
 * end of this loop iteration, if anyone listens. */
struct hss_user;
void api_users_note(struct api *api, const struct hss_user *u);

/* ---- api_cmd_prov.c ---- */
api_cmd_h api_cmd_users_add, api_cmd_user_set, api_cmd_impu_set, api_cmd_impu_add,
	api_cmd_impu_del;

/* ---- api_cmd_sms.c ---- */
/* An `sms` message read (manual §6.6); prm points into the message and ud. */
struct api_sms_req {
	const char *impi, *impu;
	struct smsc_send_prm prm;
	uint8_t ud[SMS_UD_OCTETS_MAX];
};
/* 0, or EINVAL with resp's error naming the field. */
int api_sms_parse(const json_t *m, struct api_sms_req *r, json_t *resp);
api_cmd_h api_cmd_sms, api_cmd_sms_flush;
api_cmd_h api_cmd_dialog_get, api_cmd_dialog_set, api_cmd_mt_call; /* api_cmd_dialog.c */
api_cmd_h api_cmd_ipsec; /* api_cmd_ipsec.c */
/* The dialog event (§6.7) and users_update on calls: the B2BUA's watcher
 * set to the API, and taken off. */
void api_dialog_watch_start(struct api *api);
void api_dialog_watch_stop(struct api *api);
/* users_get's dialogs of u: [{remote, session_id, state}] (manual §6.6). */
json_t *api_user_dialogs_json(struct api *api, const struct hss_user *u);
/* The `sms` event: the SMS service's hook set to the API, and taken off. */
void api_sms_hook_start(struct api *api);
void api_sms_hook_stop(struct api *api);

#endif
