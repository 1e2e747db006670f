/*
 * net/tcp — TCP listeners and connections for SIP (RFC 3261 §18).
 *
 * Accepted and opened connections are one object (struct net_conn, a mem
 * object), found by id or by peer address so that a request to an
 * address:port goes over the connection already open to it (§18.1.1).
 * Each connection has a bounded receive buffer cut into messages by the
 * upper layer's net_frame_h, a bounded send queue (EPOLLOUT only while it
 * holds bytes), RFC 5626 §3.5.1 CRLF keep-alive answers, kernel keepalive,
 * an idle timeout, a deadline for the first message of an accepted
 * connection and for finishing any message, a bound on unfinished bytes
 * over all connections, and limits on the number of connections overall
 * and per peer (an IPv4 address, an IPv6 /64). Internal to net/: the SIP
 * layer goes through net.h.
 */
#ifndef NET_NET_TCP_H
#define NET_NET_TCP_H

#include "net/net.h"

struct net_tcp;	     /* the connection set; mem object */
struct net_tcp_lsnr; /* a listening socket; mem object */

struct net_tcp_prm {
	size_t rx_max;
	size_t tx_max;
	unsigned max_conns;
	unsigned max_per_peer;
	uint32_t idle_ms; /* 0: no idle timeout */
	uint32_t connect_ms;
	uint32_t hello_ms;   /* accepted: first complete message; 0: none */
	uint32_t partial_ms; /* an unfinished message; 0: no bound */
	size_t rx_total_max; /* receive bytes above 4 KiB a connection, all */
	unsigned keepalive;  /* seconds; 0: SO_KEEPALIVE off */
	unsigned keepcount;
	net_recv_h *recv_h;
	net_frame_h *frame_h;
	net_close_h *close_h;
	void *arg;
};

int net_tcp_alloc(struct net_tcp **tp, const struct net_tcp_prm *prm);
/* Listens on bind_to; accepted connections report sock. On failure the
 * errno is returned and nothing is logged (the caller names the entry). */
int net_tcp_listen(struct net_tcp *t, struct net_tcp_lsnr **lp,
		   const struct net_addr *bind_to, struct net_sock *sock);
const struct net_addr *net_tcp_lsnr_laddr(const struct net_tcp_lsnr *l);

/* The connection to dst, reusing one (preferring one of sock) or opening
 * one from src's IP (any port; src may be the any address). */
int net_tcp_connect(struct net_tcp *t, struct net_sock *sock, const struct net_addr *src,
		    const struct net_addr *dst, struct net_conn **cp);
int net_tcp_conn_send(struct net_conn *c, const void *buf, size_t len);

/* tcp_keepalive / tcp_keepcount at run time: new and open connections. */
void net_tcp_keepalive_set(struct net_tcp *t, unsigned idle_s, unsigned count);
struct net_conn *net_tcp_conn_lookup(const struct net_tcp *t, uint64_t id);
struct net_conn *net_tcp_conn_find(const struct net_tcp *t, const struct net_addr *peer,
				   const struct net_sock *sock);
void net_tcp_stats_add(const struct net_tcp *t, struct net_stats *st);
/* Open and connecting connections counted against max_per_peer for a's
 * peer (net_addr_same_peer: an IPv4 address, an IPv6 /64). */
unsigned net_tcp_peer_count(const struct net_tcp *t, const struct net_addr *a);

#endif
