/*
 * media — the relay: port pools per local address and the pairs' sockets.
 *
 * A pool holds the pairs (even RTP port, RTCP on the next, RFC 3550 §11)
 * of one local address between port_min and port_max.
 *
 * A pair, once bound, stays bound and watched by the loop: when its call
 * ends it goes to the tail of the pool's idle FIFO (at most idle_max of
 * them; past that it is closed), and a new call takes the FIFO's head,
 * the pair idle longest, so taking and giving back a pair costs no system
 * call (it used to cost ten: socket, bind, epoll add/del, close, twice).
 *
 * A freed pair is not reused at once (late packets of the last call must
 * not reach the next one): the head is taken only when it has rested
 * quarantine_ms; before that a new pair is bound, round-robin from a
 * cursor, so the pool grows to what the call rate needs. While idle, a
 * pair's sockets are drained and what arrives is dropped and counted
 * (drop_idle). Only when no pair can be bound (the range is full, or
 * descriptors run out) is a pair that has not rested taken, and then it is
 * drained first. A pair whose bind fails (another program holds the port)
 * is skipped and the cursor moves past it, so a block held by another
 * program costs one scan (a failed bind each) and not one per call; the
 * search goes round the whole pool before it says ENOSPC.
 */
#include "media/media_int.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config/ims_cfg.h"
#include "core/log.h"
#include "core/mem.h"
#include "loop/loop.h"

static void relay_destroy(void *data)
{
	struct media_relay *r = data;

	for (size_t i = 0; i < r->npool; i++) {
		media_pool_close(&r->pool[i]);
		free(r->pool[i].bits);
	}
	free(r->rxbuf);
	free(r->sdp[0]);
	free(r->sdp[1]);
}

static int pool_init(struct media_pool *p, const struct media_relay_addr *a)
{
	uint32_t lo = a->port_min ? a->port_min : MEDIA_PORT_MIN_DEFAULT;
	uint32_t hi = a->port_max ? a->port_max : MEDIA_PORT_MAX_DEFAULT;
	int af = net_addr_af(&a->addr);

	if (af != AF_INET && af != AF_INET6)
		return EINVAL;
	if (net_addr_af(&a->bind) && net_addr_af(&a->bind) != af)
		return EINVAL;
	lo += lo & 1; /* RTP on an even port */
	if (lo == 0 || hi > 65535 || lo + 1 > hi)
		return EINVAL;
	p->addr = a->addr;
	net_addr_set_port(&p->addr, 0);
	p->bind = net_addr_af(&a->bind) ? a->bind : a->addr;
	net_addr_set_port(&p->bind, 0);
	p->first = (uint16_t)lo;
	p->npairs = (hi - lo + 1) / 2;
	p->idle_tail = &p->idle;
	p->bits = calloc((p->npairs + 63) / 64, sizeof(uint64_t));
	return p->bits ? 0 : ENOMEM;
}

int media_relay_alloc(struct media_relay **rp, const struct media_relay_prm *prm)
{
	struct media_relay *r;
	int err = 0;

	if (!rp || !prm || !prm->addrs || prm->addr_count == 0 ||
	    prm->addr_count > MEDIA_ADDRS_MAX)
		return EINVAL;
	r = mem_zalloc(sizeof(*r), relay_destroy);
	if (!r)
		return ENOMEM;
	r->pps_max = prm->pps_max ? prm->pps_max : MEDIA_PPS_MAX;
	r->idle_max = prm->idle_max ? prm->idle_max : MEDIA_IDLE_MAX;
	r->quarantine_ms = prm->quarantine_ms ? prm->quarantine_ms : MEDIA_QUARANTINE_MS;
	r->rxbuf = malloc((size_t)MEDIA_BATCH * MEDIA_PKT_MAX);
	r->sdp[0] = malloc(sizeof(*r->sdp[0]));
	r->sdp[1] = malloc(sizeof(*r->sdp[1]));
	if (!r->rxbuf || !r->sdp[0] || !r->sdp[1]) {
		err = ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < prm->addr_count; i++) {
		if (media_pool_find(r, &prm->addrs[i].addr))
			continue; /* same IP: the first entry's pool */
		r->pool[r->npool].relay = r;
		err = pool_init(&r->pool[r->npool], &prm->addrs[i]);
		if (err)
			goto out;
		r->st.pairs_total += r->pool[r->npool].npairs;
		r->npool++;
	}
	for (size_t i = 0; i < MEDIA_BATCH; i++) {
		r->riov[i].iov_base = r->rxbuf + i * MEDIA_PKT_MAX;
		r->riov[i].iov_len = MEDIA_PKT_MAX;
		r->rmsg[i].msg_hdr.msg_iov = &r->riov[i];
		r->rmsg[i].msg_hdr.msg_iovlen = 1;
		r->smsg[i].msg_hdr.msg_iov = &r->siov[i];
		r->smsg[i].msg_hdr.msg_iovlen = 1;
	}
out:
	if (err)
		mem_deref(r);
	else
		*rp = r;
	return err;
}

static int cfg_addr(struct net_addr *a, const struct ims_cfg_addr *c)
{
	return net_addr_parse_str(a, c->host, 0);
}

int media_relay_alloc_cfg(struct media_relay **rp, const struct ims_cfg *cfg)
{
	struct media_relay_addr addrs[MEDIA_ADDRS_MAX];
	struct media_relay_prm prm = {.addrs = addrs};
	int err;

	if (!cfg || cfg->sip_addr_count == 0)
		return EINVAL;
	memset(addrs, 0, sizeof(addrs));
	for (uint32_t i = 0; i < cfg->sip_addr_count && i < MEDIA_ADDRS_MAX; i++) {
		const struct ims_cfg_sip_addr *sa = &cfg->sip_addr[i];

		err = cfg_addr(&addrs[i].addr, &sa->addr);
		if (!err && sa->bind_addr.host)
			err = cfg_addr(&addrs[i].bind, &sa->bind_addr);
		if (err)
			return err;
		addrs[i].port_min = sa->port_min;
		addrs[i].port_max = sa->port_max;
		prm.addr_count++;
	}
	return media_relay_alloc(rp, &prm);
}

void media_relay_stats(const struct media_relay *r, struct media_relay_stats *st)
{
	*st = r->st;
	st->sessions = r->sessions;
	st->pairs_used = 0;
	st->pairs_idle = 0;
	for (size_t i = 0; i < r->npool; i++) {
		st->pairs_used += r->pool[i].used;
		st->pairs_idle += r->pool[i].nidle;
		st->mem_bytes += (size_t)(r->pool[i].used + r->pool[i].nidle) *
				 sizeof(struct media_pair);
	}
	st->mem_bytes += sizeof(*r) + (size_t)MEDIA_BATCH * MEDIA_PKT_MAX +
			 2 * sizeof(struct sdp_session);
	for (size_t i = 0; i < r->npool; i++)
		st->mem_bytes += (r->pool[i].npairs + 63) / 64 * sizeof(uint64_t);
}

struct media_pool *media_pool_find(struct media_relay *r, const struct net_addr *local)
{
	for (size_t i = 0; i < r->npool; i++) {
		if (net_addr_eq_ip(&r->pool[i].addr, local) ||
		    net_addr_eq_ip(&r->pool[i].bind, local))
			return &r->pool[i];
	}
	return NULL;
}

static int sock_bind(const struct net_addr *local, uint16_t port)
{
	struct net_addr a = *local;
	int fd, one = 1;

	fd = socket(net_addr_af(&a), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (net_addr_af(&a) == AF_INET6)
		(void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
	net_addr_set_port(&a, port);
	if (bind(fd, net_addr_sa(&a), net_addr_len(&a))) {
		int err = errno;

		close(fd);
		return -err;
	}
	return fd;
}

static bool bit_get(const struct media_pool *p, uint32_t i)
{
	return (p->bits[i / 64] >> (i % 64)) & 1;
}

static void bit_set(struct media_pool *p, uint32_t i, bool on)
{
	if (on)
		p->bits[i / 64] |= (uint64_t)1 << (i % 64);
	else
		p->bits[i / 64] &= ~((uint64_t)1 << (i % 64));
}

/* Binds both sockets of pair i; a negative errno when one fails. */
static int pair_bind(struct media_pool *p, uint32_t i, int fd[2])
{
	uint16_t port = (uint16_t)(p->first + 2 * i);

	fd[0] = sock_bind(&p->bind, port);
	if (fd[0] < 0)
		return fd[0];
	fd[1] = sock_bind(&p->bind, (uint16_t)(port + 1));
	if (fd[1] < 0) {
		close(fd[0]);
		return fd[1];
	}
	return 0;
}

static int pair_search(struct media_pool *p, uint32_t *pair, int fd[2])
{
	int err = ENOSPC;

	for (uint32_t n = 0; n < p->npairs && p->used + p->nidle < p->npairs; n++) {
		uint32_t i = (p->next + n) % p->npairs;

		if (bit_get(p, i))
			continue;
		err = -pair_bind(p, i, fd);
		if (!err) {
			*pair = i;
			p->next = (i + 1) % p->npairs;
			return 0;
		}
		if (err != EADDRINUSE && err != EACCES)
			return err; /* EMFILE, ENOMEM: no use trying further */
		p->next = (i + 1) % p->npairs; /* held elsewhere: start past it next time */
	}
	return ENOSPC;
}

static void pair_h(int fd, int events, void *arg);

/* Reads and drops what waits on an idle pair's socket (one batch). */
static unsigned pair_drain(struct media_relay *r, int fd)
{
	int n;

	for (unsigned i = 0; i < MEDIA_BATCH; i++) {
		r->rmsg[i].msg_hdr.msg_name = NULL;
		r->rmsg[i].msg_hdr.msg_namelen = 0;
		r->rmsg[i].msg_hdr.msg_flags = 0;
	}
	n = recvmmsg(fd, r->rmsg, MEDIA_BATCH, MSG_DONTWAIT, NULL);
	if (n <= 0)
		return 0;
	r->st.rx_pkts += (unsigned)n;
	r->st.drop_idle += (unsigned)n;
	return (unsigned)n;
}

static void pair_h(int fd, int events, void *arg)
{
	struct media_pair *pr = arg;
	int k = fd == pr->fd[MEDIA_RTCP];

	if (pr->ep)
		media_sock_h(fd, events, &pr->ep->sock[k]);
	else
		(void)pair_drain(pr->pool->relay, fd); /* level-triggered: more comes again */
}

/* Unwatches, closes and frees a pair that no endpoint uses. */
static void pair_free(struct media_pair *pr)
{
	struct media_pool *p = pr->pool;

	for (int k = 0; k < 2; k++) {
		loop_fd_close(pr->fd[k]);
		close(pr->fd[k]);
	}
	bit_set(p, pr->idx, false);
	free(pr);
}

/* A newly bound pair, watched by the loop. */
static int pair_new(struct media_pool *p, struct media_pair **prp)
{
	struct media_pair *pr;
	uint32_t idx = 0;
	int fd[2] = {-1, -1};
	int err;

	err = pair_search(p, &idx, fd);
	if (err)
		return err;
	pr = calloc(1, sizeof(*pr));
	if (!pr) {
		close(fd[0]);
		close(fd[1]);
		return ENOMEM;
	}
	pr->pool = p;
	pr->idx = idx;
	pr->fd[0] = fd[0];
	pr->fd[1] = fd[1];
	bit_set(p, idx, true);
	for (int k = 0; k < 2 && !err; k++)
		err = loop_fd_listen(fd[k], LOOP_READ, pair_h, pr);
	if (err) {
		pair_free(pr);
		return err;
	}
	*prp = pr;
	return 0;
}

static struct media_pair *idle_pop(struct media_pool *p)
{
	struct media_pair *pr = p->idle;

	if (!pr)
		return NULL;
	p->idle = pr->next;
	if (!p->idle)
		p->idle_tail = &p->idle;
	p->nidle--;
	pr->next = NULL;
	return pr;
}

/* The idle pair that rested longest if it has rested enough, else a new
 * one, else (nothing can be bound) the oldest idle one, drained. */
static int pair_take(struct media_relay *r, struct media_pool *p, struct media_pair **prp)
{
	int err;

	if (p->idle && loop_now_ms() - p->idle->idle_ms >= r->quarantine_ms) {
		*prp = idle_pop(p);
		return 0;
	}
	err = pair_new(p, prp);
	if (!err || !p->idle)
		return err;
	*prp = idle_pop(p);
	for (int k = 0; k < 2; k++) {
		/* bounded: a flood refills no faster than we read */
		for (int b = 0; b < 64 && pair_drain(r, (*prp)->fd[k]) == MEDIA_BATCH; b++)
			;
	}
	return 0;
}

int media_pair_open(struct media_relay *r, struct media_pool *p, struct media_endpoint *ep,
		    const char *id, enum sdp_media_type type)
{
	char buf[NET_ADDR_STRLEN];
	struct media_pair *pr = NULL;
	int err;

	err = pair_take(r, p, &pr);
	if (err) {
		if (err == ENOSPC)
			r->st.exhausted++;
		log_write(LOG_MEDIA, LOG_LVL_ERROR, LOG_DIR_NONE, id,
			  "RTP/%s no port pair on %s (%u-%u, %u of %u in use): %s",
			  sdp_media_type_name(type), net_addr_print_host(&p->addr, buf, sizeof(buf)),
			  p->first, p->first + 2 * p->npairs - 1, p->used, p->npairs,
			  strerror(err));
		return err;
	}
	for (int k = 0; k < 2; k++) {
		ep->sock[k].fd = pr->fd[k];
		ep->sock[k].kind = (uint8_t)k;
		ep->sock[k].ep = ep;
		ep->sock[k].sec = 0;
		ep->sock[k].sec_pkts = 0;
	}
	pr->ep = ep;
	p->used++;
	ep->pool = p;
	ep->pr = pr;
	ep->pair = pr->idx;
	return 0;
}

void media_pair_close(struct media_relay *r, struct media_endpoint *ep)
{
	struct media_pair *pr = ep->pr;
	struct media_pool *p = ep->pool;

	ep->sock[0].fd = ep->sock[1].fd = -1;
	if (!pr)
		return;
	pr->ep = NULL;
	p->used--;
	ep->pool = NULL;
	ep->pr = NULL;
	if (p->nidle >= r->idle_max) {
		pair_free(pr);
		return;
	}
	pr->idle_ms = loop_now_ms();
	*p->idle_tail = pr;
	p->idle_tail = &pr->next;
	p->nidle++;
}

void media_pool_close(struct media_pool *p)
{
	struct media_pair *pr;

	while ((pr = idle_pop(p)))
		pair_free(pr);
}

void media_ep_local(const struct media_endpoint *ep, enum media_kind k, struct net_addr *a)
{
	if (!ep->pool) {
		memset(a, 0, sizeof(*a));
		return;
	}
	*a = ep->pool->addr;
	net_addr_set_port(a, (uint16_t)(ep->pool->first + 2 * ep->pair + (k == MEDIA_RTCP)));
}
