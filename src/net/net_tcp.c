/* net/tcp — connection set, listeners, connects, limits. The byte work
 * of one connection (read, frame, queue, write, timers) is in net_conn.c. */
#include "net/net_tcp.h"

#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/log.h"
#include "core/mem.h"
#include "loop/loop.h"
#include "net/net_conn.h"

/* How long accepts pause when the process is out of descriptors, so a
 * listener that stays readable does not spin the loop. */
#define NET_TCP_ACCEPT_BACKOFF_MS 100
/* At most one "refused" line per this long; the rest are counted. */
#define NET_TCP_REFUSE_LOG_MS 1000

struct net_tcp_lsnr {
	struct net_tcp *tcp; /* reference */
	int fd;
	bool registered;
	struct net_addr laddr;
	struct net_sock *sock;	    /* borrowed */
	struct loop_timer *backoff; /* owned */
	uint64_t log_ms;
};

static size_t bucket_count(unsigned max_conns)
{
	size_t n = 64;

	while (n < max_conns && n < (1u << 16))
		n <<= 1;
	return n;
}

static void tcp_destroy(void *data)
{
	struct net_tcp *t = data;
	struct net_conn *c;

	for (size_t i = 0; t->by_id && i <= t->mask; i++) {
		while ((c = t->by_id[i]))
			net_conn_detach(c);
	}
	free(t->by_id);
	free(t->by_ip);
}

int net_tcp_alloc(struct net_tcp **tp, const struct net_tcp_prm *prm)
{
	struct net_tcp *t;
	size_t n;

	if (!tp || !prm || !prm->recv_h || !prm->frame_h || !prm->rx_max ||
	    !prm->tx_max || !prm->max_conns || !prm->max_per_peer)
		return EINVAL;
	t = mem_zalloc(sizeof(*t), tcp_destroy);
	if (!t)
		return ENOMEM;
	t->prm = *prm;
	if (!t->prm.rx_total_max)
		t->prm.rx_total_max = SIZE_MAX;
	n = bucket_count(prm->max_conns);
	t->mask = n - 1;
	t->by_id = calloc(n, sizeof(*t->by_id));
	t->by_ip = calloc(n, sizeof(*t->by_ip));
	if (!t->by_id || !t->by_ip) {
		mem_deref(t);
		return ENOMEM;
	}
	*tp = t;
	return 0;
}

void net_tcp_keepalive_set(struct net_tcp *t, unsigned idle_s, unsigned count)
{
	t->prm.keepalive = idle_s;
	t->prm.keepcount = count;
	/* the open connections too: a bounded walk of the id table */
	for (size_t i = 0; i <= t->mask; i++) {
		for (struct net_conn *c = t->by_id[i]; c; c = c->id_next) {
			if (c->fd >= 0)
				net_tcp_sockopt(t, c->fd);
		}
	}
}

/* ---- tables ---- */

void net_tcp_link(struct net_tcp *t, struct net_conn *c)
{
	struct net_conn **head = &t->by_id[c->id & t->mask];

	c->id_next = *head;
	if (*head)
		(*head)->id_pprev = &c->id_next;
	*head = c;
	c->id_pprev = head;

	head = &t->by_ip[net_addr_hash_peer(&c->peer) & t->mask];
	c->ip_next = *head;
	if (*head)
		(*head)->ip_pprev = &c->ip_next;
	*head = c;
	c->ip_pprev = head;
	t->nconns++;
}

void net_tcp_unlink_ip(struct net_tcp *t, struct net_conn *c)
{
	if (!c->ip_pprev)
		return;
	*c->ip_pprev = c->ip_next;
	if (c->ip_next)
		c->ip_next->ip_pprev = c->ip_pprev;
	c->ip_next = NULL;
	c->ip_pprev = NULL;
	t->nconns--;
}

void net_tcp_unlink_id(struct net_conn *c)
{
	if (!c->id_pprev)
		return;
	*c->id_pprev = c->id_next;
	if (c->id_next)
		c->id_next->id_pprev = c->id_pprev;
	c->id_next = NULL;
	c->id_pprev = NULL;
}

struct net_conn *net_tcp_conn_lookup(const struct net_tcp *t, uint64_t id)
{
	struct net_conn *c;

	for (c = t->by_id[id & t->mask]; c; c = c->id_next) {
		if (c->id == id)
			return c->state == NET_CONN_CLOSED ? NULL : c;
	}
	return NULL;
}

struct net_conn *net_tcp_conn_find(const struct net_tcp *t, const struct net_addr *peer,
				   const struct net_sock *sock)
{
	struct net_conn *c, *any = NULL;

	/* Only open and connecting connections are on the IP table. */
	for (c = t->by_ip[net_addr_hash_peer(peer) & t->mask]; c; c = c->ip_next) {
		if (!net_addr_eq(&c->peer, peer))
			continue;
		if (!sock || c->sock == sock)
			return c;
		if (!any)
			any = c;
	}
	return any;
}

/* Connections with a's peer: its IPv4 address, or its IPv6 /64 (one
 * subscriber's prefix holds 2^64 addresses). They share a bucket. */
unsigned net_tcp_peer_count(const struct net_tcp *t, const struct net_addr *a)
{
	const struct net_conn *c;
	unsigned n = 0;

	for (c = t->by_ip[net_addr_hash_peer(a) & t->mask]; c; c = c->ip_next)
		n += net_addr_same_peer(&c->peer, a);
	return n;
}

/* NULL when one more connection with peer is allowed, else why not. */
static const char *tcp_admit(const struct net_tcp *t, const struct net_addr *peer)
{
	if (t->nconns >= t->prm.max_conns)
		return "connection limit reached";
	if (net_tcp_peer_count(t, peer) >= t->prm.max_per_peer)
		return "per-peer connection limit reached";
	return NULL;
}

static void tcp_refuse(struct net_tcp *t, const struct net_addr *peer, const char *dir,
		       const char *why)
{
	uint64_t now = loop_now_ms();
	char a[NET_ADDR_STRLEN];

	t->st_refused++;
	if (t->refuse_logged && now - t->refuse_log_ms < NET_TCP_REFUSE_LOG_MS) {
		t->refuse_quiet++;
		return;
	}
	log_write(LOG_SIP, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
		  "tcp: refused connection %s %s: %s (%zu open, max %u, "
		  "max %u per peer (IPv4 address, IPv6 /64); %" PRIu64
		  " more refused before this)",
		  dir, net_addr_print(peer, a, sizeof(a)), why, t->nconns,
		  t->prm.max_conns, t->prm.max_per_peer, t->refuse_quiet);
	t->refuse_logged = true;
	t->refuse_log_ms = now;
	t->refuse_quiet = 0;
}

void net_tcp_sockopt(const struct net_tcp *t, int fd)
{
	int on = 1, v;

	/* SIP writes whole messages; Nagle would only add latency. */
	(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
	if (!t->prm.keepalive) {
		on = 0; /* a connection open before keepalive was set to 0 */
		(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
		return;
	}
	(void)setsockopt(fd, SOL_SOCKET, SO_KEEPALIVE, &on, sizeof(on));
	v = (int)t->prm.keepalive;
	(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPIDLE, &v, sizeof(v));
	if (t->prm.keepcount) {
		v = (int)t->prm.keepcount;
		(void)setsockopt(fd, IPPROTO_TCP, TCP_KEEPCNT, &v, sizeof(v));
	}
}

/* ---- listeners ---- */

static void lsnr_fd_h(int fd, int events, void *arg);

static void lsnr_resume_h(void *arg)
{
	struct net_tcp_lsnr *l = arg;

	if (l->registered || l->fd < 0)
		return;
	if (loop_fd_listen(l->fd, LOOP_READ, lsnr_fd_h, l)) {
		loop_timer_start(l->backoff, NET_TCP_ACCEPT_BACKOFF_MS, lsnr_resume_h, l);
		return;
	}
	l->registered = true;
}

/* accept(2) failed for lack of descriptors or memory: the pending
 * connection stays queued and the listener readable, so it is left unwatched
 * for a while instead of spinning (the loop keeps serving everything else).
 * Counted; logged at the first pause of an episode, and then at most once
 * every NET_TCP_REFUSE_LOG_MS with the count. */
static void lsnr_backoff(struct net_tcp_lsnr *l, int err)
{
	uint64_t now = loop_now_ms();
	char a[NET_ADDR_STRLEN];

	l->tcp->st_accept_pauses++;
	if (!l->log_ms || now - l->log_ms >= NET_TCP_REFUSE_LOG_MS) {
		log_write(LOG_SIP, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "tcp accept on %s: %s; pausing accepts for %u ms (%" PRIu64
			  " pause(s) so far, %zu connections open)",
			  net_addr_print(&l->laddr, a, sizeof(a)), strerror(err),
			  NET_TCP_ACCEPT_BACKOFF_MS, l->tcp->st_accept_pauses,
			  l->tcp->nconns);
		l->log_ms = now ? now : 1;
	}
	loop_fd_close(l->fd);
	l->registered = false;
	loop_timer_start(l->backoff, NET_TCP_ACCEPT_BACKOFF_MS, lsnr_resume_h, l);
}

static void lsnr_accept(struct net_tcp_lsnr *l, int fd, const struct sockaddr *sa,
			socklen_t sl)
{
	struct net_tcp *t = l->tcp;
	struct net_addr peer;
	struct net_conn *c;
	const char *why;
	int err;

	if (net_addr_from_sa(&peer, sa, sl)) {
		close(fd);
		return;
	}
	why = tcp_admit(t, &peer);
	if (why) {
		close(fd);
		tcp_refuse(t, &peer, "from", why);
		return;
	}
	err = net_conn_alloc(t, fd, l->sock, &peer, false, &c);
	if (err) {
		close(fd);
		log_write(LOG_SIP, LOG_LVL_ERROR, LOG_DIR_NONE, NULL, "tcp accept: %s",
			  strerror(err));
		return;
	}
	t->st_accepted++;
	net_tcp_sockopt(t, fd);
	net_conn_open(c);
}

static void lsnr_fd_h(int fd, int events, void *arg)
{
	struct net_tcp_lsnr *l = arg;
	struct sockaddr_storage ss;
	socklen_t sl;
	int cfd;

	(void)events;
	while (l->registered && l->fd == fd) {
		sl = sizeof(ss);
		cfd = accept4(fd, (struct sockaddr *)&ss, &sl,
			      SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd >= 0) {
			lsnr_accept(l, cfd, (struct sockaddr *)&ss, sl);
			continue;
		}
		if (errno == EINTR || errno == ECONNABORTED || errno == EPROTO)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			break;
		/* EMFILE, ENFILE, ENOBUFS, ENOMEM: the pending connection
		 * stays queued and the socket stays readable. */
		lsnr_backoff(l, errno);
		break;
	}
}

static void lsnr_destroy(void *data)
{
	struct net_tcp_lsnr *l = data;

	loop_timer_free(l->backoff);
	if (l->registered)
		loop_fd_close(l->fd);
	if (l->fd >= 0)
		close(l->fd);
	mem_deref(l->tcp);
}

static int lsnr_open(struct net_tcp_lsnr *l, const struct net_addr *bind_to)
{
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int af = net_addr_af(bind_to), on = 1;

	l->fd = socket(af, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd < 0)
		return errno;
	/* Lets a restarted server bind while old connections linger in
	 * TIME_WAIT; for TCP it never allows two listeners on one port. */
	if (setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)))
		return errno;
	/* A protected port-c (IPsec, TS 33.203 §7.1) is also the source port
	 * of the connections imsd opens to a UE's port-s (tcp_dial): Linux
	 * lets a socket bind a listener's port only when both say
	 * SO_REUSEPORT. Only imsd binds in the protected namespace. */
	if (net_sock_protected(l->sock) &&
	    setsockopt(l->fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)))
		return errno;
	if (af == AF_INET6 &&
	    setsockopt(l->fd, IPPROTO_IPV6, IPV6_V6ONLY, &on, sizeof(on)))
		return errno;
	if (bind(l->fd, net_addr_sa(bind_to), net_addr_len(bind_to)))
		return errno;
	if (listen(l->fd, SOMAXCONN))
		return errno;
	if (getsockname(l->fd, (struct sockaddr *)&ss, &sl))
		return errno;
	return net_addr_from_sa(&l->laddr, (struct sockaddr *)&ss, sl);
}

int net_tcp_listen(struct net_tcp *t, struct net_tcp_lsnr **lp,
		   const struct net_addr *bind_to, struct net_sock *sock)
{
	struct net_tcp_lsnr *l;
	int err;

	if (!t || !lp || !bind_to || !net_addr_isset(bind_to))
		return EINVAL;
	l = mem_zalloc(sizeof(*l), lsnr_destroy);
	if (!l)
		return ENOMEM;
	l->fd = -1;
	l->tcp = mem_ref(t);
	l->sock = sock;
	l->backoff = loop_timer_alloc();
	if (!l->backoff) {
		err = ENOMEM;
		goto out;
	}
	err = lsnr_open(l, bind_to);
	if (err)
		goto out;
	err = loop_fd_listen(l->fd, LOOP_READ, lsnr_fd_h, l);
	l->registered = !err;
out:
	if (err)
		l = mem_deref(l);
	*lp = l;
	return err;
}

const struct net_addr *net_tcp_lsnr_laddr(const struct net_tcp_lsnr *l)
{
	return &l->laddr;
}

/* ---- outgoing connections ---- */

/* One outgoing socket: from src's IP (any port), or with keep_port from src
 * itself, the protected port-c whose SAs' selectors name it (TS 33.203
 * §7.1: requests to a UE leave from our port-c to its port-s). */
struct tcp_dial {
	const struct net_tcp *t;
	const struct net_addr *src;
	const struct net_addr *dst;
	bool keep_port;
	int fd; /* out */
};

static int tcp_bind_src(int fd, const struct net_addr *src, bool keep_port)
{
	struct net_addr b = *src;
	int on = 1;

	if (keep_port) {
		/* The SAs fix both ends (our port-c, the UE's port-s): a
		 * connection imsd closed first would hold that pair in
		 * TIME_WAIT for a minute and make the next connect() fail
		 * (EADDRNOTAVAIL), as SO_REUSEADDR/REUSEPORT do not free a
		 * 4-tuple. Linger 0: close() resets it, no TIME_WAIT. What
		 * imsd still had unsent when it chose to close is lost. */
		struct linger lg = {.l_onoff = 1, .l_linger = 0};

		if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) ||
		    setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) ||
		    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)))
			return errno;
	} else {
		/* Source IP = the advertised socket's, so the peer sees the
		 * address our Via names; the port is picked at connect()
		 * time, which keeps ephemeral ports from running out. */
		net_addr_set_port(&b, 0);
		(void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &on, sizeof(on));
	}
	return bind(fd, net_addr_sa(&b), net_addr_len(&b)) ? errno : 0;
}

static int tcp_dial_h(void *arg)
{
	struct tcp_dial *d = arg;
	int fd, err = 0;

	fd = socket(net_addr_af(d->dst), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return errno;
	if (d->src && !net_addr_is_any(d->src)) {
		err = tcp_bind_src(fd, d->src, d->keep_port);
		if (err)
			goto out;
	}
	net_tcp_sockopt(d->t, fd);
	if (connect(fd, net_addr_sa(d->dst), net_addr_len(d->dst)) && errno != EINPROGRESS)
		err = errno;
out:
	if (err)
		close(fd);
	else
		d->fd = fd;
	return err;
}

int net_tcp_connect(struct net_tcp *t, struct net_sock *sock, const struct net_addr *src,
		    const struct net_addr *dst, struct net_conn **cp)
{
	struct net_conn *c;
	struct tcp_dial d;
	const char *why;
	int fd = -1, err;

	if (!t || !dst || !cp || !net_addr_isset(dst))
		return EINVAL;
	if (net_addr_is_any(dst) || net_addr_port(dst) == 0)
		return EDESTADDRREQ;
	if (src && net_addr_af(src) != net_addr_af(dst))
		return EAFNOSUPPORT;
	c = net_tcp_conn_find(t, dst, sock);
	if (c) {
		*cp = c;
		return 0;
	}
	why = tcp_admit(t, dst);
	if (why) {
		tcp_refuse(t, dst, "to", why);
		return EMFILE;
	}
	/* a protected socket's connections are opened in its namespace */
	d = (struct tcp_dial){.t = t, .src = src, .dst = dst, .fd = -1};
	d.keep_port = net_sock_protected(sock) && src && net_addr_port(src);
	err = net_sock_protected(sock) ? net_sock_ns_run(sock, tcp_dial_h, &d) : tcp_dial_h(&d);
	if (err)
		return err;
	fd = d.fd;
	err = net_conn_alloc(t, fd, sock, dst, true, &c);
	if (err) {
		close(fd);
		return err;
	}
	err = net_conn_connect(c);
	if (!err)
		*cp = c;
	return err;
}

void net_tcp_stats_add(const struct net_tcp *t, struct net_stats *st)
{
	st->tcp_conns += t->nconns;
	st->tcp_accepted += t->st_accepted;
	st->tcp_connected += t->st_connected;
	st->tcp_refused += t->st_refused;
	st->tcp_closed += t->st_closed;
	st->tcp_rx_bytes += t->st_rx_bytes;
	st->tcp_rx_msgs += t->st_rx_msgs;
	st->tcp_rx_oversize += t->st_rx_oversize;
	st->tcp_pings += t->st_pings;
	st->tcp_tx_bytes += t->st_tx_bytes;
	st->tcp_timeouts += t->st_timeouts;
	st->tcp_accept_pauses += t->st_accept_pauses;
	st->tcp_rx_mem += t->rx_mem;
	st->tcp_max_conns += t->prm.max_conns;
}
