/*
 * net/udp — one non-blocking UDP socket with batched I/O.
 *
 * Datagrams are read 32 at a time with recvmmsg(2). Sends are copied into a
 * per-socket batch and written with one sendmmsg(2) before the loop sleeps
 * (net_udp_flush_all is the loop's before-sleep hook), or at once when the
 * batch is full, so a burst of retransmissions costs one system call.
 * Internal to net/: the SIP layer goes through net.h.
 */
#ifndef NET_NET_UDP_H
#define NET_NET_UDP_H

#include "net/net.h"

#define NET_UDP_BATCH 32
#define NET_UDP_DGRAM_MAX 65535

struct net_udp;

struct net_udp_prm {
	const struct net_addr *bind; /* borrowed */
	struct net_sock *sock;	     /* owner, handed to recv_h; borrowed */
	size_t dgram_max;	     /* larger datagrams are dropped */
	int sock_buf;		     /* SO_RCVBUF/SO_SNDBUF wish */
	net_recv_h *recv_h;
	void *arg;
};

/* A mem object; mem_deref closes the socket and drops unsent datagrams. */
int net_udp_alloc(struct net_udp **up, const struct net_udp_prm *prm);
const struct net_addr *net_udp_laddr(const struct net_udp *u);
int net_udp_send(struct net_udp *u, const struct net_addr *dst, const void *buf,
		 size_t len);
void net_udp_flush(struct net_udp *u);
/* Flushes every socket with queued datagrams (a before-sleep hook). */
void net_udp_flush_all(void *arg);
/* IPsec's direct path (net.h net_sock_udp_tap_set, net_sock_udp_inject). */
void net_udp_tap_set(struct net_udp *u, net_udp_tap_h *h, void *arg);
void net_udp_inject(struct net_udp *u, const struct net_addr *src, const uint8_t *buf,
		    size_t len);
void net_udp_stats_add(const struct net_udp *u, struct net_stats *st);

#endif
