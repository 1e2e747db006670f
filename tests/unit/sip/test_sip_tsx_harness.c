/* Test harness for the transaction layer; see test_sip_tsx_harness.h. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <cmocka.h>
#include <netinet/in.h>

#include "core/mem.h"
#include "test_sip_tsx_harness.h"

struct h H;

/* ---- fake clock: a binary min-heap ordered by (due, seq) ---- */

struct ftimer {
	uint64_t due, seq;
	size_t idx; /* position in the heap, SIZE_MAX when idle */
	sip_tsx_timer_h *h;
	void *arg;
};

static struct {
	struct ftimer **v;
	size_t n, cap;
	uint64_t seq;
} heap;

static bool ft_less(const struct ftimer *a, const struct ftimer *b)
{
	return a->due < b->due || (a->due == b->due && a->seq < b->seq);
}

static void ft_set(size_t i, struct ftimer *t)
{
	heap.v[i] = t;
	t->idx = i;
}

static void ft_up(size_t i)
{
	struct ftimer *t = heap.v[i];

	while (i > 0 && ft_less(t, heap.v[(i - 1) / 2])) {
		ft_set(i, heap.v[(i - 1) / 2]);
		i = (i - 1) / 2;
	}
	ft_set(i, t);
}

static void ft_down(size_t i)
{
	struct ftimer *t = heap.v[i];

	for (;;) {
		size_t c = 2 * i + 1;

		if (c >= heap.n)
			break;
		if (c + 1 < heap.n && ft_less(heap.v[c + 1], heap.v[c]))
			c++;
		if (!ft_less(heap.v[c], t))
			break;
		ft_set(i, heap.v[c]);
		i = c;
	}
	ft_set(i, t);
}

static void ft_remove(struct ftimer *t)
{
	size_t i = t->idx;
	struct ftimer *last;

	if (i == SIZE_MAX)
		return;
	t->idx = SIZE_MAX;
	last = heap.v[--heap.n];
	if (last == t)
		return;
	ft_set(i, last);
	ft_up(i);
	ft_down(last->idx);
}

static void *ft_alloc(void *ctx)
{
	struct ftimer *t = calloc(1, sizeof(*t));

	(void)ctx;
	if (t)
		t->idx = SIZE_MAX;
	return t;
}

static void ft_free(void *timer, void *ctx)
{
	(void)ctx;
	ft_remove(timer);
	free(timer);
}

static void ft_start(void *timer, uint64_t ms, sip_tsx_timer_h *h, void *arg, void *ctx)
{
	struct ftimer *t = timer;

	(void)ctx;
	ft_remove(t);
	if (heap.n == heap.cap) {
		heap.cap = heap.cap ? heap.cap * 2 : 1024;
		heap.v = realloc(heap.v, heap.cap * sizeof(*heap.v));
		assert_non_null(heap.v);
	}
	t->due = H.now + ms;
	t->seq = heap.seq++;
	t->h = h;
	t->arg = arg;
	t->idx = heap.n++;
	heap.v[t->idx] = t;
	ft_up(t->idx);
}

static void ft_cancel(void *timer, void *ctx)
{
	(void)ctx;
	ft_remove(timer);
}

static uint64_t ft_now(void *ctx)
{
	(void)ctx;
	return H.now;
}

static const struct sip_tsx_timer_ops ft_ops = {
    .alloc = ft_alloc,
    .free = ft_free,
    .start = ft_start,
    .cancel = ft_cancel,
    .now = ft_now,
};

void h_advance(uint64_t ms)
{
	uint64_t end = H.now + ms;

	while (heap.n && heap.v[0]->due <= end) {
		struct ftimer *t = heap.v[0];

		ft_remove(t);
		H.now = t->due;
		t->h(t->arg);
	}
	H.now = end;
}

size_t h_timers_pending(void)
{
	return heap.n;
}

/* ---- send and TU ---- */

static int h_send(const struct sip_tsx_dst *dst, const void *data, size_t len, void *arg)
{
	(void)arg;
	if (H.send_err)
		return H.send_err;
	H.nsent_total++;
	if (!H.keep_sent || H.nsent >= H_MAX_EVENTS)
		return 0;
	H.sent[H.nsent].at = H.now;
	H.sent[H.nsent].data = calloc(1, len + 1);
	assert_non_null(H.sent[H.nsent].data);
	memcpy(H.sent[H.nsent].data, data, len);
	H.sent[H.nsent].len = len;
	H.sent[H.nsent].conn = dst->conn;
	H.nsent++;
	return 0;
}

static struct h_event *ev_add(enum h_ev_kind kind, struct sip_tsx *tsx)
{
	struct h_event *e;

	H.nev_total++;
	if (H.nev >= H_MAX_EVENTS)
		return NULL;
	e = &H.ev[H.nev++];
	memset(e, 0, sizeof(*e));
	e->kind = kind;
	e->at = H.now;
	e->tsx_id = tsx ? sip_tsx_id(tsx) : 0;
	return e;
}

static void ev_method(struct h_event *e, const struct sip_msg *m)
{
	if (e && m && m->req)
		pl_strcpy(m->method, e->method, sizeof(e->method));
}

static void tu_request(struct sip_tsx *tsx, const struct sip_msg *req, const void *ctx,
		       void *arg)
{
	(void)arg;
	ev_method(ev_add(H_EV_REQ, tsx), req);
	H.last_tsx = tsx;
	if (H.auto_reply)
		assert_int_equal(sip_tsx_reply(tsx, H.auto_reply, NULL, NULL), 0);
}

static void tu_ack(struct sip_tsx *tsx, const struct sip_msg *ack,
		   const struct sip_tsx_dst *src, const void *ctx, void *arg)
{
	(void)src;
	(void)ctx;
	(void)arg;
	ev_method(ev_add(H_EV_ACK, tsx), ack);
}

static void tu_stray(const struct sip_msg *resp, const struct sip_tsx_dst *src, void *arg)
{
	struct h_event *e = ev_add(H_EV_STRAY, NULL);

	(void)src;
	(void)arg;
	if (e)
		e->scode = resp->scode;
}

static void tu_serr(struct sip_tsx *tsx, int err, void *arg)
{
	struct h_event *e = ev_add(H_EV_SERR, tsx);

	(void)arg;
	assert_int_equal(sip_tsx_state(tsx), SIP_TSX_TERMINATED);
	if (e)
		e->err = err;
}

static void tu_resp(struct sip_tsx *tsx, const struct sip_msg *resp, uint16_t scode,
		    void *arg)
{
	struct h_event *e = ev_add(H_EV_RESP, tsx);

	(void)arg;
	if (e) {
		e->scode = scode;
		e->has_msg = resp != NULL;
	}
}

void h_setup(uint32_t t1, uint32_t t2, uint32_t t4)
{
	h_setup_bytes(t1, t2, t4, 0);
}

void h_setup_bytes(uint32_t t1, uint32_t t2, uint32_t t4, size_t bytes_max)
{
	struct sip_tsx_prm prm = {
	    .t1_ms = t1, .t2_ms = t2, .t4_ms = t4, .bytes_max = bytes_max};

	bool unproven = H.unproven;

	memset(&H, 0, sizeof(H));
	H.unproven = unproven;
	H.now = 1000;
	H.keep_sent = true;
	H.env.send = h_send;
	H.env.timer = &ft_ops;
	prm.tu.request_h = tu_request;
	prm.tu.ack_h = tu_ack;
	prm.tu.stray_h = tu_stray;
	prm.tu.server_err_h = tu_serr;
	assert_int_equal(sip_tsx_stack_alloc(&H.st, &H.env, &prm), 0);
	/* the tests' peer has answered before: requests to it retransmit
	 * (test_sip_tsx_client.c's "unproven" tests start without this) */
	if (!H.unproven) {
		struct sip_tsx_dst d = h_dst(false);

		sip_tsx_peer_prove(H.st, &d);
	}
}

void h_sent_clear(void)
{
	for (size_t i = 0; i < H.nsent; i++)
		free(H.sent[i].data);
	H.nsent = 0;
}

void h_ev_clear(void)
{
	H.nev = 0;
}

void h_teardown(void)
{
	sip_tsx_stack_free(H.st);
	H.st = NULL;
	h_sent_clear();
	assert_int_equal(heap.n, 0);
	free(heap.v);
	memset(&heap, 0, sizeof(heap));
}

struct sip_tsx_dst h_dst(bool reliable)
{
	struct sip_tsx_dst d;

	memset(&d, 0, sizeof(d));
	d.addr.ss_family = AF_INET;
	d.addrlen = sizeof(struct sockaddr_in);
	d.conn = reliable ? 7 : 3;
	d.reliable = reliable;
	return d;
}

int h_recv(const char *text, bool reliable)
{
	struct sip_msg *msg = NULL;
	struct sip_tsx_dst src = h_dst(reliable);
	int err;

	err = sip_msg_decode_copy(&msg, text, strlen(text), NULL);
	assert_int_equal(err, 0);
	err = sip_tsx_recv(H.st, msg, &src);
	mem_deref(msg);
	return err;
}

struct sip_tsx *h_request(const char *text, bool reliable)
{
	struct sip_tsx_req_prm prm = {
	    .req = pl_from_str(text),
	    .dst = h_dst(reliable),
	    .resp_h = tu_resp,
	};
	struct sip_tsx *tsx = NULL;

	assert_int_equal(sip_tsx_request(&tsx, H.st, &prm), 0);
	return tsx;
}

size_t h_sent_count(const char *prefix)
{
	size_t n = 0;

	for (size_t i = 0; i < H.nsent; i++)
		n += strncmp(H.sent[i].data, prefix, strlen(prefix)) == 0;
	return n;
}

size_t h_sent_times(const char *prefix, uint64_t *out, size_t n)
{
	size_t k = 0;

	for (size_t i = 0; i < H.nsent && k < n; i++)
		if (strncmp(H.sent[i].data, prefix, strlen(prefix)) == 0)
			out[k++] = H.sent[i].at;
	return k;
}

size_t h_ev_count(enum h_ev_kind kind)
{
	size_t n = 0;

	for (size_t i = 0; i < H.nev; i++)
		n += H.ev[i].kind == kind;
	return n;
}

const struct h_event *h_ev_last(enum h_ev_kind kind)
{
	for (size_t i = H.nev; i-- > 0;)
		if (H.ev[i].kind == kind)
			return &H.ev[i];
	return NULL;
}

const char *h_hdr_of(const char *msg, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);
	const char *p = msg;

	out[0] = '\0';
	while ((p = strstr(p, "\r\n")) != NULL) {
		p += 2;
		if (strncasecmp(p, name, nl) == 0 && p[nl] == ':') {
			const char *e = strstr(p, "\r\n");
			size_t l = e ? (size_t)(e - p) : strlen(p);

			snprintf(out, size, "%.*s", (int)l, p);
			break;
		}
	}
	return out;
}
