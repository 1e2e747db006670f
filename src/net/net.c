/* net — the transport set: sip_addr entries bound to UDP and TCP sockets,
 * and the send entry points of the SIP layer. */
#include "net/net.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/log.h"
#include "core/mem.h"
#include "loop/loop.h"
#include "net/net_tcp.h"
#include "net/net_udp.h"

/* With port 0 the kernel picks the UDP port and TCP must then get the same
 * one; another process may hold it for TCP, so try a few picks. */
#define NET_BIND_TRIES 8

struct net_sock {
	struct net *net;	   /* borrowed: the owner */
	struct net_addr addr;	   /* advertised */
	struct net_udp *udp;	   /* reference */
	struct net_tcp_lsnr *lsnr; /* reference */
	bool protected_sock;	   /* IPsec: opened in the protected namespace */
	net_ns_run_h *ns_run;	   /* its namespace (NULL: ours) */
	void *ns_ctx;
};

struct net {
	struct net_prm prm;	/* listen cleared: borrowed at alloc only */
	struct net_sock *socks; /* owned array */
	size_t nsocks;
	struct net_tcp *tcp; /* reference */
};

void net_prm_init(struct net_prm *prm)
{
	memset(prm, 0, sizeof(*prm));
	prm->default_port = 5060;
	prm->udp_max = NET_UDP_DGRAM_MAX;
	prm->sock_buf = 4 * 1024 * 1024;
	prm->tcp_rx_max = (size_t)128 * 1024;
	prm->tcp_tx_max = (size_t)1024 * 1024;
	prm->tcp_max_conns = 10000;
	prm->tcp_max_per_peer = 1000;
	prm->tcp_idle_ms = 900 * 1000;
	prm->tcp_connect_ms = 10 * 1000;
	prm->tcp_hello_ms = 5 * 1000;
	prm->tcp_partial_ms = 10 * 1000;
	prm->tcp_rx_total_max = (size_t)32 * 1024 * 1024;
	prm->tcp_keepalive = 900;
	prm->tcp_keepcount = 2;
}

static void net_destroy(void *data)
{
	struct net *net = data;

	for (size_t i = 0; i < net->nsocks; i++) {
		struct net_sock *s = &net->socks[i];

		/* Responses queued in this loop iteration still go out. */
		if (s->udp)
			net_udp_flush(s->udp);
		mem_deref(s->udp);
		mem_deref(s->lsnr);
	}
	free(net->socks);
	mem_deref(net->tcp);
}

static int sock_bind(struct net *net, struct net_sock *s, const struct net_addr *bind_to)
{
	struct net_udp_prm up = {
	    .bind = bind_to,
	    .sock = s,
	    .dgram_max = net->prm.udp_max,
	    .sock_buf = net->prm.sock_buf,
	    .recv_h = net->prm.recv_h,
	    .arg = net->prm.arg,
	};
	struct net_addr tb;
	char a[NET_ADDR_STRLEN];
	int err = 0;

	for (int i = 0; i < NET_BIND_TRIES; i++) {
		err = net_udp_alloc(&s->udp, &up);
		if (err) {
			log_write(LOG_SIP, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
				  "cannot bind UDP %s: %s",
				  net_addr_print(bind_to, a, sizeof(a)), strerror(err));
			return err;
		}
		tb = *bind_to;
		net_addr_set_port(&tb, net_addr_port(net_udp_laddr(s->udp)));
		err = net_tcp_listen(net->tcp, &s->lsnr, &tb, s);
		if (!err)
			return 0;
		s->udp = mem_deref(s->udp);
		if (err != EADDRINUSE || net_addr_port(bind_to) != 0)
			break;
	}
	log_write(LOG_SIP, LOG_LVL_ERROR, LOG_DIR_NONE, NULL, "cannot bind TCP %s: %s",
		  net_addr_print(&tb, a, sizeof(a)), strerror(err));
	return err;
}

struct sock_bind_arg {
	struct net *net;
	struct net_sock *s;
	const struct net_addr *bind_to;
};

static int sock_bind_h(void *arg)
{
	struct sock_bind_arg *a = arg;

	return sock_bind(a->net, a->s, a->bind_to);
}

static int sock_open(struct net *net, struct net_sock *s, const struct net_listen *e,
		     size_t idx)
{
	struct net_addr bind_to;
	struct sock_bind_arg ba = {.net = net, .s = s, .bind_to = &bind_to};
	int err;

	s->net = net;
	err = net_addr_parse_str(&s->addr, e->addr, net->prm.default_port);
	if (err) {
		log_write(LOG_SIP, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "sip_addr[%zu]: bad addr \"%s\" (want IP, IP:port, "
			  "[IPv6] or [IPv6]:port)",
			  idx, e->addr ? e->addr : "");
		return EINVAL;
	}
	bind_to = s->addr;
	if (e->bind_addr &&
	    net_addr_parse_str(&bind_to, e->bind_addr, net_addr_port(&s->addr))) {
		log_write(LOG_SIP, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
			  "sip_addr[%zu]: bad bind_addr \"%s\"", idx, e->bind_addr);
		return EINVAL;
	}
	s->protected_sock = e->protected_sock;
	s->ns_run = e->ns_run;
	s->ns_ctx = e->ns_ctx;
	err = e->ns_run ? e->ns_run(e->ns_ctx, sock_bind_h, &ba) : sock_bind(net, s, &bind_to);
	if (err)
		return err;
	/* "addr" with port 0 (tests): advertise the port we got. */
	if (!net_addr_port(&s->addr))
		net_addr_set_port(&s->addr, net_addr_port(net_udp_laddr(s->udp)));
	return 0;
}

/* The connection bound the descriptors allow: every connection is one, and
 * the process needs NET_FD_RESERVE for the rest. Logged when it lowers the
 * configured bound. */
static unsigned fd_cap(unsigned want)
{
	struct rlimit rl;
	rlim_t cap;

	if (getrlimit(RLIMIT_NOFILE, &rl) || rl.rlim_cur == RLIM_INFINITY)
		return want;
	cap = rl.rlim_cur > 2 * NET_FD_RESERVE ? rl.rlim_cur - NET_FD_RESERVE
					       : rl.rlim_cur / 2;
	if (cap < 1)
		cap = 1;
	if (cap >= want)
		return want;
	log_write(LOG_SIP, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
		  "tcp: at most %u connections instead of %u: the descriptor limit "
		  "(RLIMIT_NOFILE) is %llu, %u kept for the rest",
		  (unsigned)cap, want, (unsigned long long)rl.rlim_cur,
		  (unsigned)(rl.rlim_cur - cap));
	return (unsigned)cap;
}

static int tcp_make(struct net *net)
{
	const struct net_prm *p = &net->prm;
	unsigned max_conns = fd_cap(p->tcp_max_conns);
	struct net_tcp_prm tp = {
	    .rx_max = p->tcp_rx_max,
	    .tx_max = p->tcp_tx_max,
	    .max_conns = max_conns,
	    /* no one peer takes more than half the slots */
	    .max_per_peer = p->tcp_max_per_peer < (max_conns + 1) / 2
				? p->tcp_max_per_peer
				: (max_conns + 1) / 2,
	    .idle_ms = p->tcp_idle_ms,
	    .connect_ms = p->tcp_connect_ms,
	    .hello_ms = p->tcp_hello_ms,
	    .partial_ms = p->tcp_partial_ms,
	    .rx_total_max = p->tcp_rx_total_max,
	    .keepalive = p->tcp_keepalive,
	    .keepcount = p->tcp_keepcount,
	    .recv_h = p->recv_h,
	    .frame_h = p->frame_h,
	    .close_h = p->close_h,
	    .arg = p->arg,
	};

	return net_tcp_alloc(&net->tcp, &tp);
}

int net_alloc(struct net **np, const struct net_prm *prm)
{
	struct net *net;
	int err;

	if (!np || !prm || !prm->recv_h || !prm->frame_h || !prm->listen ||
	    !prm->listen_count)
		return EINVAL;
	net = mem_zalloc(sizeof(*net), net_destroy);
	if (!net)
		return ENOMEM;
	net->prm = *prm;
	net->prm.listen = NULL;
	net->socks = calloc(prm->listen_count, sizeof(*net->socks));
	if (!net->socks) {
		err = ENOMEM;
		goto out;
	}
	err = tcp_make(net);
	if (err)
		goto out;
	/* Safe to add once per set: the hook only walks the sockets that
	 * have datagrams queued, so it outlives a freed set harmlessly. */
	err = loop_before_sleep_add(net_udp_flush_all, NULL);
	if (err)
		goto out;
	for (size_t i = 0; i < prm->listen_count; i++) {
		err = sock_open(net, &net->socks[i], &prm->listen[i], i);
		if (err)
			goto out;
		net->nsocks++;
	}
out:
	if (err)
		net = mem_deref(net);
	*np = net;
	return err;
}

size_t net_sock_count(const struct net *net)
{
	return net->nsocks;
}

struct net_sock *net_sock_get(const struct net *net, size_t i)
{
	return i < net->nsocks ? &net->socks[i] : NULL;
}

struct net_sock *net_sock_find(const struct net *net, int af)
{
	for (size_t i = 0; i < net->nsocks; i++) {
		if (net_addr_af(&net->socks[i].addr) == af)
			return &net->socks[i];
	}
	return NULL;
}

/* How well a socket's bound address l names local: 3 the same, 2 the
 * wildcard on its port, 1 its IP on another port, 0 not at all. */
static int local_score(const struct net_addr *l, const struct net_addr *local)
{
	if (net_addr_af(l) != net_addr_af(local))
		return 0;
	if (net_addr_eq(l, local))
		return 3;
	if (net_addr_is_any(l) && net_addr_port(l) == net_addr_port(local))
		return 2;
	return net_addr_eq_ip(l, local) ? 1 : 0;
}

struct net_sock *net_sock_by_local(const struct net *net, const struct net_addr *local)
{
	struct net_sock *best = NULL;
	int best_score = 0;

	if (!net || !local || !net_addr_isset(local))
		return NULL;
	for (size_t i = 0; i < net->nsocks && best_score < 3; i++) {
		struct net_sock *s = &net->socks[i];

		for (int k = NET_UDP; k < NET_KIND_COUNT; k++) {
			int sc = local_score(net_sock_laddr(s, (enum net_kind)k), local);

			if (sc > best_score) {
				best = s;
				best_score = sc;
			}
		}
	}
	return best;
}

const struct net_addr *net_sock_addr(const struct net_sock *sock)
{
	return &sock->addr;
}

const struct net_addr *net_sock_laddr(const struct net_sock *sock, enum net_kind kind)
{
	if (kind == NET_TCP)
		return net_tcp_lsnr_laddr(sock->lsnr);
	return net_udp_laddr(sock->udp);
}

void net_sock_udp_tap_set(struct net_sock *sock, net_udp_tap_h *tap, void *arg)
{
	if (sock && sock->udp)
		net_udp_tap_set(sock->udp, tap, arg);
}

void net_sock_udp_inject(struct net_sock *sock, const struct net_addr *src,
			 const uint8_t *buf, size_t len)
{
	if (sock && sock->udp)
		net_udp_inject(sock->udp, src, buf, len);
}

bool net_sock_protected(const struct net_sock *sock)
{
	return sock && sock->protected_sock;
}

int net_sock_ns_run(const struct net_sock *sock, int (*fn)(void *arg), void *arg)
{
	if (!sock || !fn)
		return EINVAL;
	return sock->ns_run ? sock->ns_run(sock->ns_ctx, fn, arg) : fn(arg);
}

int net_connect(struct net_sock *sock, const struct net_addr *dst, uint64_t *conn_id)
{
	struct net_conn *c;
	int err;

	if (!sock || !dst)
		return EINVAL;
	err = net_tcp_connect(sock->net->tcp, sock, net_tcp_lsnr_laddr(sock->lsnr), dst,
			      &c);
	if (!err && conn_id)
		*conn_id = net_conn_id(c);
	return err;
}

int net_send(enum net_kind kind, struct net_sock *sock, const struct net_addr *dst,
	     const void *buf, size_t len)
{
	struct net_conn *c;
	int err;

	if (!sock || !dst || (!buf && len))
		return EINVAL;
	if (!net_addr_isset(dst))
		return EDESTADDRREQ;
	switch (kind) {
	case NET_UDP:
		return net_udp_send(sock->udp, dst, buf, len);
	case NET_TCP:
		err = net_tcp_connect(sock->net->tcp, sock,
				      net_tcp_lsnr_laddr(sock->lsnr), dst, &c);
		return err ? err : net_tcp_conn_send(c, buf, len);
	default:
		return EPROTONOSUPPORT;
	}
}

int net_send_conn(struct net *net, uint64_t conn_id, const void *buf, size_t len)
{
	struct net_conn *c;

	if (!net || (!buf && len))
		return EINVAL;
	c = net_tcp_conn_lookup(net->tcp, conn_id);
	if (!c)
		return ENOTCONN;
	return net_tcp_conn_send(c, buf, len);
}

struct net_conn *net_conn_lookup(const struct net *net, uint64_t id)
{
	return net_tcp_conn_lookup(net->tcp, id);
}

struct net_conn *net_conn_find(const struct net *net, const struct net_addr *peer)
{
	return net_tcp_conn_find(net->tcp, peer, NULL);
}

void net_stats_get(const struct net *net, struct net_stats *st)
{
	memset(st, 0, sizeof(*st));
	for (size_t i = 0; i < net->nsocks; i++)
		net_udp_stats_add(net->socks[i].udp, st);
	net_tcp_stats_add(net->tcp, st);
}

const char *net_kind_name(enum net_kind kind)
{
	switch (kind) {
	case NET_UDP:
		return "UDP";
	case NET_TCP:
		return "TCP";
	default:
		return "?";
	}
}

void net_keepalive_set(struct net *net, unsigned idle_s, unsigned count)
{
	net->prm.tcp_keepalive = idle_s;
	net->prm.tcp_keepcount = count;
	if (net->tcp)
		net_tcp_keepalive_set(net->tcp, idle_s, count);
}
