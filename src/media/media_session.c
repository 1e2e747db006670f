/*
 * media — sessions: the streams of one call and the SDP that sets them up.
 *
 * Offer/answer (RFC 3264): stream i is the i-th m= line. An offer may add
 * m= lines, never remove them (§8); an answer has exactly the offer's
 * (§6). A stream is accepted when its m= port is not 0, its proto runs over
 * UDP, and every leg taking part accepts its type (per-IMPU audio, video,
 * text, manual §5.2.1); otherwise it gets port 0 in the SDP sent on and in
 * the answer, and its pairs are freed (§8.2: a stream set to port 0 is
 * gone). Pairs are opened on both legs when a stream is first accepted,
 * so early media flows as soon as either UE sends.
 *
 * A leg whose local address is unset is imsd itself (the echo service,
 * mt_call): nothing is opened on it and nothing is sent there.
 */
#include "media/media_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/log.h"
#include "core/mbuf.h"
#include "core/mem.h"
#include "loop/loop.h"

const char media_sdp_default_offer[] =
	"v=0\r\n"
	"o=imsd 1 1 IN IP4 192.0.2.1\r\n"
	"s=imsd\r\n"
	"c=IN IP4 192.0.2.1\r\n"
	"t=0 0\r\n"
	"m=audio 9 RTP/AVP 96 97 98 99 100\r\n"
	"a=rtpmap:96 AMR-WB/16000\r\n"
	"a=fmtp:96 mode-change-capability=2;max-red=0\r\n"
	"a=rtpmap:97 AMR-WB/16000\r\n"
	"a=fmtp:97 octet-align=1;mode-change-capability=2;max-red=0\r\n"
	"a=rtpmap:98 AMR/8000\r\n"
	"a=fmtp:98 mode-change-capability=2;max-red=0\r\n"
	"a=rtpmap:99 telephone-event/16000\r\n"
	"a=fmtp:99 0-15\r\n"
	"a=rtpmap:100 telephone-event/8000\r\n"
	"a=fmtp:100 0-15\r\n"
	"a=ptime:20\r\n"
	"a=maxptime:240\r\n"
	"a=sendrecv\r\n";

struct media_rw {
	struct media_session *s;
	const struct sdp_session *in; /* decides the streams */
	uint8_t from;		      /* leg whose UE sent `in` (or it is for) */
	uint8_t to;		      /* leg whose pairs the output names */
	bool offer;
	bool record; /* `in` is the from-UE's: note its addresses */
	bool accept[SDP_MEDIA_MAX];
	bool created[SDP_MEDIA_MAX];
	bool opened[SDP_MEDIA_MAX][2];
	char *reason;
	size_t reason_size;
};

static bool leg_present(const struct media_session *s, unsigned leg)
{
	return net_addr_af(&s->leg[leg].local) != 0;
}

static bool leg_allows(const struct media_leg_prm *l, enum sdp_media_type t)
{
	switch (t) {
	case SDP_MEDIA_AUDIO:
		return l->audio;
	case SDP_MEDIA_VIDEO:
		return l->video;
	case SDP_MEDIA_TEXT:
		return l->text;
	default:
		return true;
	}
}

static void ep_close(struct media_session *s, struct media_endpoint *ep)
{
	if (ep->pool)
		media_ep_log_close(ep);
	media_held_flush(ep);
	media_pair_close(s->relay, ep);
}

static void stream_destroy(void *data)
{
	struct media_stream *st = data;

	for (int l = 0; l < 2; l++) {
		ep_close(st->sess, &st->ep[l]);
		loop_timer_free(st->ep[l].timer);
	}
}

static struct media_stream *stream_alloc(struct media_session *s)
{
	struct media_stream *st = mem_zalloc(sizeof(*st), stream_destroy);

	if (!st)
		return NULL;
	st->sess = s;
	for (int l = 0; l < 2; l++) {
		struct media_endpoint *ep = &st->ep[l];

		ep->st = st;
		ep->leg = (uint8_t)l;
		ep->sock[0].fd = ep->sock[1].fd = -1;
		ep->held_tail = &ep->held;
	}
	return st;
}

static void session_destroy(void *data)
{
	struct media_session *s = data;

	media_session_release(s);
	for (size_t i = 0; i < SDP_MEDIA_MAX; i++)
		s->st[i] = mem_deref(s->st[i]);
}

int media_session_alloc(struct media_session **sp, struct media_relay *r,
			const struct media_session_prm *prm)
{
	struct media_session *s;

	if (!sp || !r || !prm)
		return EINVAL;
	s = mem_zalloc(sizeof(*s), session_destroy);
	if (!s)
		return ENOMEM;
	s->relay = r;
	snprintf(s->id, sizeof(s->id), "%s", prm->id ? prm->id : "");
	s->leg[0] = prm->leg[0];
	s->leg[1] = prm->leg[1];
	s->offer_to = s->answer_from = MEDIA_OFFER_NONE;
	s->listed = true;
	r->sessions++;
	*sp = s;
	return 0;
}

void media_session_release(struct media_session *s)
{
	if (!s || s->released)
		return;
	s->released = true;
	for (size_t i = 0; i < s->nst; i++) {
		ep_close(s, &s->st[i]->ep[0]);
		ep_close(s, &s->st[i]->ep[1]);
	}
	if (s->listed) {
		s->relay->sessions--;
		s->listed = false;
	}
}

int media_session_leg_set(struct media_session *s, enum media_leg leg,
			  const struct media_leg_prm *prm)
{
	if (!s || !prm || (leg != MEDIA_LEG_A && leg != MEDIA_LEG_B))
		return EINVAL;
	struct net_addr local = s->leg[leg].local;

	for (size_t i = 0; i < s->nst; i++) {
		if (s->st[i]->ep[leg].pool && !net_addr_eq_ip(&local, &prm->local)) {
			/* the UE was already told these ports: keep the address,
			 * take the rest */
			s->leg[leg] = *prm;
			s->leg[leg].local = local;
			return EBUSY;
		}
	}
	s->leg[leg] = *prm;
	return 0;
}

void media_session_echo_set(struct media_session *s, enum media_leg leg, bool on)
{
	if (s && (leg == MEDIA_LEG_A || leg == MEDIA_LEG_B))
		s->leg[leg].echo = on;
}

void media_session_flags_set(struct media_session *s, enum media_leg leg, bool rtp, bool rtcp)
{
	if (!s || (leg != MEDIA_LEG_A && leg != MEDIA_LEG_B))
		return;
	s->leg[leg].rtp = rtp;
	s->leg[leg].rtcp = rtcp;
}

static int rw_fail(struct media_rw *c, int err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static int rw_fail(struct media_rw *c, int err, const char *fmt, ...)
{
	va_list ap;

	if (c->reason && c->reason_size) {
		va_start(ap, fmt);
		vsnprintf(c->reason, c->reason_size, fmt, ap);
		va_end(ap);
	}
	return err;
}

/* RFC 3264 §6 and §8: the shape of an answer or a new offer. */
static int rw_check(struct media_rw *c)
{
	struct media_session *s = c->s;
	unsigned n = c->in->media_count;

	if (c->offer && n < s->nst)
		return rw_fail(c, EPROTO, "SDP: offer has %u m= lines, the session %u "
					  "(RFC 3264 §8: none may be removed)", n, (unsigned)s->nst);
	if (c->offer)
		return 0;
	if (s->offer_to != c->from && s->answer_from != c->from)
		return rw_fail(c, EPROTO, "SDP: answer from leg %c, which has no offer",
			       c->from ? 'B' : 'A');
	if (n != s->nst)
		return rw_fail(c, EPROTO, "SDP: answer has %u m= lines, the offer %u "
					  "(RFC 3264 §6)", n, (unsigned)s->nst);
	return 0;
}

static void rw_decide(struct media_rw *c, const struct sdp_session *tmpl)
{
	struct media_session *s = c->s;

	for (size_t i = 0; i < c->in->media_count; i++) {
		const struct sdp_media *m = &c->in->media[i];
		bool ok = m->port && m->udp && leg_allows(&s->leg[c->from], m->type);

		if (c->to != c->from && leg_present(s, c->to))
			ok = ok && leg_allows(&s->leg[c->to], m->type);
		if (!c->offer && i < s->nst && s->st[i]->rejected)
			ok = false;
		if (tmpl && tmpl->media[i].port == 0)
			ok = false;
		c->accept[i] = ok;
	}
}

static void rw_undo(struct media_rw *c)
{
	struct media_session *s = c->s;

	for (size_t i = 0; i < c->in->media_count; i++) {
		for (int l = 0; l < 2; l++) {
			if (c->opened[i][l])
				media_pair_close(s->relay, &s->st[i]->ep[l]);
		}
		if (c->created[i])
			s->st[i] = mem_deref(s->st[i]);
	}
}

static int ep_open(struct media_rw *c, size_t i, unsigned leg)
{
	struct media_session *s = c->s;
	struct media_endpoint *ep = &s->st[i]->ep[leg];
	enum sdp_media_type type = c->in->media[i].type;
	char buf[NET_ADDR_STRLEN];
	struct media_pool *p;
	struct net_addr a;
	int err;

	if (ep->pool || !leg_present(s, leg))
		return 0;
	p = media_pool_find(s->relay, &s->leg[leg].local);
	if (!p) {
		log_write(LOG_MEDIA, LOG_LVL_ERROR, LOG_DIR_NONE, s->id,
			  "RTP/%s no media ports on %s (not a sip_addr)", sdp_media_type_name(type),
			  net_addr_print_host(&s->leg[leg].local, buf, sizeof(buf)));
		return rw_fail(c, EADDRNOTAVAIL, "no media ports on leg %c", leg ? 'B' : 'A');
	}
	err = media_pair_open(s->relay, p, ep, s->id, type);
	if (err)
		return rw_fail(c, err, "no free media port pair on leg %c", leg ? 'B' : 'A');
	c->opened[i][leg] = true;
	if (!log_on(LOG_MEDIA, LOG_LVL_INFO))
		return 0; /* the address is printed only for the log */
	media_ep_local(ep, MEDIA_RTP, &a);
	log_write(LOG_MEDIA, LOG_LVL_INFO, LOG_DIR_NONE, s->id, "RTP/%s open %s (leg %c)",
		  sdp_media_type_name(type), net_addr_print(&a, buf, sizeof(buf)),
		  leg ? 'B' : 'A');
	return 0;
}

static int rw_open(struct media_rw *c)
{
	struct media_session *s = c->s;
	int err = 0;

	for (size_t i = 0; i < c->in->media_count && !err; i++) {
		if (!s->st[i]) {
			s->st[i] = stream_alloc(s);
			if (!s->st[i]) {
				err = ENOMEM;
				break;
			}
			c->created[i] = true;
		}
		if (!c->accept[i])
			continue;
		err = ep_open(c, i, c->from);
		if (!err && c->to != c->from)
			err = ep_open(c, i, c->to);
	}
	if (err)
		rw_undo(c);
	return err;
}

/* What the from-UE's SDP says of stream i. */
static void ep_record(struct media_session *s, struct media_endpoint *ep,
		      const struct sdp_session *in, size_t i)
{
	struct net_addr a[2];
	char buf[NET_ADDR_STRLEN];

	sdp_media_rtp_addr(in, i, &a[MEDIA_RTP]);
	sdp_media_rtcp_addr(in, i, &a[MEDIA_RTCP]);
	for (int k = 0; k < 2; k++) {
		if (net_addr_eq(&a[k], &ep->sig[k]))
			continue;
		ep->sig[k] = a[k];
		memset(&ep->latch[k], 0, sizeof(ep->latch[k]));
		if (k == MEDIA_RTP && log_on(LOG_MEDIA, LOG_LVL_INFO))
			log_write(LOG_MEDIA, LOG_LVL_INFO, LOG_DIR_NONE, s->id,
				  "RTP/%s leg %c UE at %s", sdp_media_type_name(in->media[i].type),
				  ep->leg ? 'B' : 'A', net_addr_print(&a[k], buf, sizeof(buf)));
	}
	ep->dir = sdp_media_dir(in, i);
	if (net_addr_is_any(&a[MEDIA_RTP]))
		ep->dir = SDP_DIR_INACTIVE; /* RFC 2543 hold (RFC 3264 §8.4) */
}

static void rw_commit(struct media_rw *c)
{
	struct media_session *s = c->s;

	for (size_t i = 0; i < c->in->media_count; i++) {
		struct media_stream *st = s->st[i];

		if (c->offer)
			st->type = c->in->media[i].type;
		st->rejected = !c->accept[i];
		if (st->rejected) {
			ep_close(s, &st->ep[0]);
			ep_close(s, &st->ep[1]);
			continue;
		}
		if (c->record)
			ep_record(s, &st->ep[c->from], c->in, i);
	}
	s->nst = c->in->media_count;
}

static int rw_write(struct media_rw *c, const struct sdp_session *out_sdp, bool reverse,
		    struct mbuf *out)
{
	struct media_session *s = c->s;
	struct sdp_media_rw mrw[SDP_MEDIA_MAX];
	struct sdp_rewrite rw = {.media = mrw, .media_count = out_sdp->media_count,
				 .reverse_dir = reverse};
	struct media_pool *p = media_pool_find(s->relay, &s->leg[c->to].local);
	size_t end = out->end;
	int err;

	rw.addr = p ? &p->addr : &s->leg[c->to].local;
	for (size_t i = 0; i < out_sdp->media_count; i++) {
		const struct sdp_media *m = &out_sdp->media[i];
		struct media_endpoint *ep = &s->st[i]->ep[c->to];
		struct net_addr a;

		mrw[i].port = mrw[i].rtcp_port = 0;
		if (s->st[i]->rejected || !ep->pool)
			continue;
		media_ep_local(ep, MEDIA_RTP, &a);
		mrw[i].port = net_addr_port(&a);
		/* a=rtcp naming the RTP port is the rtcp-mux form (RFC 5761 §5.1.3) */
		if (!(m->rtcp_set && m->rtcp_port == m->port))
			media_ep_local(ep, MEDIA_RTCP, &a);
		mrw[i].rtcp_port = net_addr_port(&a);
	}
	err = sdp_encode(out, out_sdp, &rw);
	if (err)
		out->end = end;
	return err;
}

static int sdp_in(struct media_rw *c, const char *sdp, size_t len, struct sdp_session *into)
{
	int err = sdp_decode(into, sdp, len, c->reason, c->reason_size);

	if (err)
		log_write(LOG_MEDIA, LOG_LVL_WARN, LOG_DIR_FROM, c->s->id, "SDP/- refused: %s",
			  c->reason ? c->reason : "malformed");
	return err;
}

/* Checks the SDP in c, decides each stream (tmpl: the answer file's), opens
 * the pairs it needs and commits the result (not when a step fails). */
static int rw_apply(struct media_rw *c, const struct sdp_session *tmpl)
{
	int err = rw_check(c);

	if (err)
		return err;
	rw_decide(c, tmpl);
	err = rw_open(c);
	if (err)
		return err;
	rw_commit(c);
	return 0;
}

int media_session_sdp(struct media_session *s, const struct media_sdp_prm *prm)
{
	struct media_rw c = {.s = s};
	uint8_t saved;
	int err;

	if (!s || !prm || prm->from > MEDIA_LEG_B || s->released ||
	    !leg_present(s, prm->from) || (prm->out && !leg_present(s, !prm->from)))
		return EINVAL;
	c.from = (uint8_t)prm->from;
	c.to = (uint8_t)!prm->from;
	c.offer = prm->offer;
	c.record = true;
	c.reason = prm->reason;
	c.reason_size = prm->reason_size;
	c.in = s->relay->sdp[0];
	saved = s->offer_to;
	if (prm->own_offer && !prm->offer)
		s->offer_to = c.from; /* the offer went from imsd, not through here */
	err = sdp_in(&c, prm->sdp, prm->len, s->relay->sdp[0]);
	if (!err)
		err = rw_apply(&c, NULL);
	if (err) {
		s->offer_to = saved;
		return err;
	}
	s->offer_to = c.offer ? c.to : MEDIA_OFFER_NONE;
	s->answer_from = c.offer ? MEDIA_OFFER_NONE : c.from;
	return prm->out ? rw_write(&c, c.in, false, prm->out) : 0;
}

int media_session_answer_local(struct media_session *s, const struct media_local_prm *prm)
{
	struct media_rw c = {.s = s, .offer = true, .record = true};
	const struct sdp_session *tmpl = NULL;
	int err;

	if (!s || !prm || prm->leg > MEDIA_LEG_B || s->released || !prm->sdp || !prm->out ||
	    !leg_present(s, prm->leg))
		return EINVAL;
	c.from = c.to = (uint8_t)prm->leg;
	c.reason = prm->reason;
	c.reason_size = prm->reason_size;
	c.in = s->relay->sdp[0];
	err = sdp_in(&c, prm->sdp, prm->len, s->relay->sdp[0]);
	if (!err && prm->tmpl) {
		err = sdp_in(&c, prm->tmpl, prm->tmpl_len, s->relay->sdp[1]);
		tmpl = s->relay->sdp[1];
		if (!err && tmpl->media_count != c.in->media_count)
			err = rw_fail(&c, EPROTO, "SDP: answer file has %u m= lines, the "
						  "offer %u", tmpl->media_count,
				      c.in->media_count);
	}
	if (!err)
		err = rw_apply(&c, tmpl);
	if (err)
		return err;
	s->offer_to = s->answer_from = MEDIA_OFFER_NONE;
	s->leg[prm->leg].echo = true;
	return rw_write(&c, tmpl ? tmpl : c.in, !tmpl, prm->out);
}

int media_session_offer_local(struct media_session *s, const struct media_local_prm *prm)
{
	struct media_rw c = {.s = s, .offer = true, .record = false};
	int err;

	if (!s || !prm || prm->leg > MEDIA_LEG_B || s->released || !prm->tmpl || !prm->out ||
	    !leg_present(s, prm->leg))
		return EINVAL;
	c.from = c.to = (uint8_t)prm->leg;
	c.reason = prm->reason;
	c.reason_size = prm->reason_size;
	c.in = s->relay->sdp[1];
	err = sdp_in(&c, prm->tmpl, prm->tmpl_len, s->relay->sdp[1]);
	if (!err)
		err = rw_apply(&c, NULL);
	if (err)
		return err;
	s->offer_to = (uint8_t)prm->leg;
	s->answer_from = MEDIA_OFFER_NONE;
	s->leg[prm->leg].echo = true;
	return rw_write(&c, c.in, false, prm->out);
}

size_t media_session_stream_count(const struct media_session *s)
{
	return s ? s->nst : 0;
}

int media_session_stream_info(const struct media_session *s, enum media_leg leg, size_t idx,
			      struct media_stream_info *info)
{
	const struct media_endpoint *ep;

	if (!s || !info || idx >= s->nst || (leg != MEDIA_LEG_A && leg != MEDIA_LEG_B))
		return EINVAL;
	ep = &s->st[idx]->ep[leg];
	memset(info, 0, sizeof(*info));
	info->type = s->st[idx]->type;
	info->dir = ep->dir;
	info->active = !s->st[idx]->rejected && ep->pool;
	info->latched = net_addr_af(&ep->latch[MEDIA_RTP]) != 0;
	media_ep_local(ep, MEDIA_RTP, &info->local_rtp);
	info->rtp_addr = info->latched ? ep->latch[MEDIA_RTP] : ep->sig[MEDIA_RTP];
	info->rtcp_addr = net_addr_af(&ep->latch[MEDIA_RTCP]) ? ep->latch[MEDIA_RTCP]
							     : ep->sig[MEDIA_RTCP];
	info->rtp_recv = ep->recv[MEDIA_RTP];
	info->rtp_send = ep->send[MEDIA_RTP];
	info->rtcp_recv = ep->recv[MEDIA_RTCP];
	info->rtcp_send = ep->send[MEDIA_RTCP];
	info->dropped = ep->dropped;
	return 0;
}

uint64_t media_session_last_rx_ms(const struct media_session *s)
{
	return s ? s->last_rx_ms : 0;
}

size_t media_stream_mem(void)
{
	return sizeof(struct media_stream);
}

size_t media_session_mem(const struct media_session *s)
{
	size_t n;

	if (!s)
		return 0;
	n = sizeof(*s);
	for (size_t i = 0; i < SDP_MEDIA_MAX; i++) {
		if (!s->st[i])
			continue;
		n += sizeof(*s->st[i]);
		for (int l = 0; l < 2; l++)
			n += s->st[i]->ep[l].held_bytes;
	}
	return n;
}
