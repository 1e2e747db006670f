/*
 * media — the packet path: read a batch, check each packet's source
 * (latching), count it, and write the batch on to the other leg's socket
 * (or back to the sender in echo) with one sendmmsg, straight from the
 * receive arena.
 *
 * Per packet (RFC 3550 §5.1, §6.4; RFC 5761 §4 to tell RTCP on an RTP port):
 *   source:  latched? equal to the latch : the signalled address or the
 *            signalling IP (then it becomes the latch)    else drop_source
 *   flood:   at most MEDIA_PPS_MAX a second per socket   else drop_flood
 *   shape:   version 2, RTP >= 12 bytes, RTCP >= 8        else drop_invalid
 *   forward: rtp/rtcp flag of the sender's leg, hold (RTP only), a
 *            destination known                            else drop_blocked
 * A socket reads one batch per loop iteration, so a flood on one port
 * cannot starve the others or the signalling.
 */
#include "media/media_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "core/log.h"
#include "loop/loop.h"

enum drop {
	DROP_SOURCE,
	DROP_INVALID,
	DROP_FLOOD,
	DROP_BLOCKED,
};

static const char *kind_name(unsigned k)
{
	return k == MEDIA_RTCP ? "RTCP" : "RTP";
}

static const char *ep_media(const struct media_endpoint *ep)
{
	return sdp_media_type_name(ep->st->type);
}

static void drop(struct media_relay *r, struct media_endpoint *ep, enum drop why,
		 const struct net_addr *src, unsigned kind)
{
	char b1[NET_ADDR_STRLEN], b2[NET_ADDR_STRLEN];

	ep->dropped++;
	switch (why) {
	case DROP_SOURCE:
		r->st.drop_source++;
		/* the first, then one in 1024: a flood must not flood the log */
		if ((ep->dropped & 1023) == 1)
			log_write(LOG_MEDIA, LOG_LVL_WARN, LOG_DIR_FROM, ep->st->sess->id,
				  "%s/%s dropped from %s: not %s %s (%llu dropped)",
				  kind_name(kind), ep_media(ep), net_addr_print(src, b1, sizeof(b1)),
				  net_addr_af(&ep->latch[kind]) ? "the latched" : "the signalled",
				  net_addr_print(net_addr_af(&ep->latch[kind]) ? &ep->latch[kind]
									      : &ep->sig[kind],
						 b2, sizeof(b2)),
				  (unsigned long long)ep->dropped);
		break;
	case DROP_INVALID:
		r->st.drop_invalid++;
		break;
	case DROP_FLOOD:
		r->st.drop_flood++;
		break;
	default:
		r->st.drop_blocked++;
		break;
	}
}

/* Latching (docs/media.md). True when src may send on this socket. */
static bool source_ok(struct media_endpoint *ep, unsigned kind, const struct net_addr *src)
{
	const struct media_session *s = ep->st->sess;
	const struct net_addr *peer = &s->leg[ep->leg].sig_peer;
	char buf[NET_ADDR_STRLEN];

	if (net_addr_af(&ep->latch[kind]))
		return net_addr_eq(src, &ep->latch[kind]);
	if (!net_addr_eq(src, &ep->sig[kind]) &&
	    !(net_addr_af(peer) && net_addr_eq_ip(src, peer)))
		return false;
	ep->latch[kind] = *src;
	if (log_on(LOG_MEDIA, LOG_LVL_INFO))
		log_write(LOG_MEDIA, LOG_LVL_INFO, LOG_DIR_FROM, s->id,
			  "%s/%s latched %s (leg %c)", kind_name(kind), ep_media(ep),
			  net_addr_print(src, buf, sizeof(buf)), ep->leg ? 'B' : 'A');
	return true;
}

static bool flood(const struct media_relay *r, struct media_sock *ms)
{
	uint64_t sec = loop_now_ms() / 1000;

	if (sec != ms->sec) {
		ms->sec = sec;
		ms->sec_pkts = 0;
	}
	return ++ms->sec_pkts > r->pps_max;
}

/* RTP, RTCP, or -1 when it is neither. */
static int classify(const uint8_t *p, size_t len, unsigned sock_kind, int flags)
{
	if ((flags & MSG_TRUNC) || len < 8 || (p[0] >> 6) != 2)
		return -1;
	if (sock_kind == MEDIA_RTCP || (p[1] >= 192 && p[1] <= 223))
		return MEDIA_RTCP;
	return len >= 12 ? MEDIA_RTP : -1;
}

static bool dir_sends(enum sdp_dir d)
{
	return d == SDP_DIR_SENDRECV || d == SDP_DIR_SENDONLY;
}

static bool dir_receives(enum sdp_dir d)
{
	return d == SDP_DIR_SENDRECV || d == SDP_DIR_RECVONLY;
}

static const struct net_addr *dest_of(const struct media_endpoint *ep, unsigned kind)
{
	const struct net_addr *d = net_addr_af(&ep->latch[kind]) ? &ep->latch[kind]
								 : &ep->sig[kind];

	if (!net_addr_af(d) || net_addr_port(d) == 0 || net_addr_is_any(d))
		return NULL;
	return d;
}

/* Where a packet of `pk` from ep's UE goes: the endpoint it leaves from,
 * or NULL when it is not forwarded. */
static struct media_endpoint *route(struct media_endpoint *ep, int pk)
{
	struct media_stream *st = ep->st;
	const struct media_leg_prm *lp = &st->sess->leg[ep->leg];
	struct media_endpoint *out;

	if ((pk == MEDIA_RTP && !lp->rtp) || (pk == MEDIA_RTCP && !lp->rtcp))
		return NULL;
	if (lp->echo)
		return ep;
	out = &st->ep[!ep->leg];
	if (st->rejected || !out->pool)
		return NULL;
	if (pk == MEDIA_RTP && (!dir_sends(ep->dir) || !dir_receives(out->dir)))
		return NULL; /* hold (RFC 3264 §8.4) */
	return out;
}

static void held_timer_h(void *arg);

static void held_push(struct media_relay *r, struct media_endpoint *out, unsigned sock, int pk,
		      const uint8_t *data, size_t len)
{
	uint32_t delay = out->st->sess->leg[out->leg].delay_ms;
	struct media_held *h;

	if (delay > MEDIA_DELAY_MAX_MS)
		delay = MEDIA_DELAY_MAX_MS;
	if (out->held_bytes + sizeof(*h) + len > MEDIA_DELAY_BYTES_MAX ||
	    (!out->timer && !(out->timer = loop_timer_alloc())) ||
	    !(h = malloc(sizeof(*h) + len))) {
		r->st.drop_flood++;
		out->dropped++;
		return;
	}
	h->next = NULL;
	h->due_ms = loop_now_ms() + delay;
	h->sock = (uint8_t)sock;
	h->rtcp = (uint8_t)pk;
	h->len = (uint16_t)len;
	memcpy(h->data, data, len);
	*out->held_tail = h;
	out->held_tail = &h->next;
	out->held_bytes += sizeof(*h) + len;
	if (!loop_timer_pending(out->timer))
		loop_timer_start(out->timer, delay, held_timer_h, out);
}

static void held_timer_h(void *arg)
{
	struct media_endpoint *ep = arg;
	struct media_relay *r = ep->st->sess->relay;
	uint64_t now = loop_now_ms();
	struct media_held *h;

	while ((h = ep->held) && h->due_ms <= now) {
		const struct net_addr *d = dest_of(ep, h->sock);

		ep->held = h->next;
		ep->held_bytes -= sizeof(*h) + h->len;
		if (d && ep->sock[h->sock].fd >= 0 &&
		    sendto(ep->sock[h->sock].fd, h->data, h->len, MSG_DONTWAIT, net_addr_sa(d),
			   net_addr_len(d)) == (ssize_t)h->len) {
			ep->send[h->rtcp].pkts++;
			ep->send[h->rtcp].bytes += h->len;
			r->st.tx_pkts++;
		} else {
			r->st.drop_send++;
		}
		free(h);
	}
	if (!ep->held)
		ep->held_tail = &ep->held;
	else
		loop_timer_start(ep->timer, ep->held->due_ms - now, held_timer_h, ep);
}

void media_held_flush(struct media_endpoint *ep)
{
	struct media_held *h;

	while ((h = ep->held)) {
		ep->held = h->next;
		free(h);
	}
	ep->held_tail = &ep->held;
	ep->held_bytes = 0;
	if (ep->timer)
		loop_timer_cancel(ep->timer);
}

static void batch_send(struct media_relay *r, struct media_endpoint *out, unsigned sock,
		       unsigned n)
{
	unsigned done = 0;

	while (done < n) {
		int k = sendmmsg(out->sock[sock].fd, r->smsg + done, n - done, MSG_DONTWAIT);

		if (k <= 0) {
			if (k < 0 && errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < k; i++) {
			struct media_count *c = &out->send[r->skind[done + i]];

			c->pkts++;
			c->bytes += r->siov[done + i].iov_len;
		}
		r->st.tx_pkts += (unsigned)k;
		r->st.tx_writes++;
		done += (unsigned)k;
	}
	r->st.drop_send += n - done;
}

/* One packet of the batch: queued for the send (returns true), held back
 * by media_delay, or dropped. */
static bool packet(struct media_relay *r, struct media_sock *ms, unsigned i, unsigned nq,
		   struct media_endpoint **outp)
{
	struct media_endpoint *ep = ms->ep, *out;
	struct mmsghdr *m = &r->rmsg[i];
	const uint8_t *data = r->riov[i].iov_base;
	const struct net_addr *d;
	struct net_addr src;
	int pk;

	if (net_addr_from_sa(&src, (struct sockaddr *)&r->rsrc[i], m->msg_hdr.msg_namelen)) {
		drop(r, ep, DROP_INVALID, NULL, ms->kind);
		return false;
	}
	if (!source_ok(ep, ms->kind, &src)) {
		drop(r, ep, DROP_SOURCE, &src, ms->kind);
		return false;
	}
	if (flood(r, ms)) {
		drop(r, ep, DROP_FLOOD, &src, ms->kind);
		return false;
	}
	pk = classify(data, m->msg_len, ms->kind, m->msg_hdr.msg_flags);
	if (pk < 0) {
		drop(r, ep, DROP_INVALID, &src, ms->kind);
		return false;
	}
	ep->recv[pk].pkts++;
	ep->recv[pk].bytes += m->msg_len;
	ep->st->sess->last_rx_ms = loop_now_ms();
	out = route(ep, pk);
	d = out ? dest_of(out, ms->kind) : NULL;
	if (!d || out->sock[ms->kind].fd < 0) {
		drop(r, ep, DROP_BLOCKED, &src, ms->kind);
		return false;
	}
	if (out->st->sess->leg[out->leg].delay_ms) {
		held_push(r, out, ms->kind, pk, data, m->msg_len);
		return false;
	}
	*outp = out;
	r->siov[nq].iov_base = r->riov[i].iov_base;
	r->siov[nq].iov_len = m->msg_len;
	r->smsg[nq].msg_hdr.msg_name = (void *)net_addr_sa(d);
	r->smsg[nq].msg_hdr.msg_namelen = net_addr_len(d);
	r->skind[nq] = (uint8_t)pk;
	return true;
}

void media_sock_h(int fd, int events, void *arg)
{
	struct media_sock *ms = arg;
	struct media_relay *r = ms->ep->st->sess->relay;
	struct media_endpoint *out = NULL;
	unsigned nq = 0;
	int n;

	(void)events;
	for (unsigned i = 0; i < MEDIA_BATCH; i++) {
		r->rmsg[i].msg_hdr.msg_name = &r->rsrc[i];
		r->rmsg[i].msg_hdr.msg_namelen = sizeof(r->rsrc[i]);
		r->rmsg[i].msg_hdr.msg_flags = 0;
	}
	n = recvmmsg(fd, r->rmsg, MEDIA_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return;
	r->st.rx_pkts += (unsigned)n;
	r->st.rx_reads++;
	for (unsigned i = 0; i < (unsigned)n; i++) {
		if (packet(r, ms, i, nq, &out))
			nq++;
	}
	/* every packet of one socket leaves by the same socket */
	if (nq)
		batch_send(r, out, ms->kind, nq);
}

void media_ep_log_close(const struct media_endpoint *ep)
{
	const struct media_session *s = ep->st->sess;

	log_write(LOG_MEDIA, LOG_LVL_INFO, LOG_DIR_NONE, s->id,
		  "RTP/%s close leg %c: RTP recv %llu/%llu B sent %llu/%llu B, RTCP recv %llu "
		  "sent %llu, dropped %llu",
		  ep_media(ep), ep->leg ? 'B' : 'A', (unsigned long long)ep->recv[0].pkts,
		  (unsigned long long)ep->recv[0].bytes, (unsigned long long)ep->send[0].pkts,
		  (unsigned long long)ep->send[0].bytes, (unsigned long long)ep->recv[1].pkts,
		  (unsigned long long)ep->send[1].pkts, (unsigned long long)ep->dropped);
}
