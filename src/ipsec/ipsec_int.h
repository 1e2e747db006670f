/*
 * ipsec/ipsec_int — the datapath object shared by ipsec.c (set-up, I/O)
 * and ipsec_dp.c (packet processing).
 */
#ifndef IPSEC_IPSEC_INT_H
#define IPSEC_IPSEC_INT_H

#include <netinet/in.h>
#include <sys/socket.h>

#include "ipsec/ipsec.h"

#define IPSEC_BUF 65600 /* an IP packet plus ESP overhead */
#define IPSEC_RAW_BATCH 8 /* ESP datagrams a recvmmsg(2) takes */
#define IPSEC_TX_BATCH 16 /* direct-path ESP sends held for one sendmmsg(2) */
#define IPSEC_RX_BATCH 64 /* packets a read handler takes a wake-up */

struct ipsec {
	struct ipsec_table *table; /* owned */
	struct ipsec_stats st;
	int tun_fd;		   /* owned */
	int raw4_fd, raw6_fd;	   /* owned; -1 when the family is missing */
	struct net_addr raw6_bound; /* raw6_fd's own address if bound to one */
	bool no_dst_warned;	   /* the one warning of a drop_no_dst given */
	int netns_fd;		   /* owned: namespace N */
	int self_ns_fd;		   /* owned: the namespace we run in */
	bool root_setup;	   /* we made N and must delete it */
	char ifname[IPSEC_IFNAME_MAX];
	char netns[64];
	char *script_path;	   /* owned */
	char *script_text;	   /* owned: what was written, what runs */
	ipsec_rx_h *on_rx;
	void *on_rx_arg;
	uint8_t *buf, *buf2;	   /* owned, IPSEC_BUF each: the raw and TUN reads */
	uint8_t *txbuf, *txbuf2;   /* owned, IPSEC_BUF each: direct UDP sends,
				    * made while a read's buffers are in use */
	/* raw socket reads, IPSEC_RAW_BATCH at a time (recvmmsg) */
	uint8_t *rbuf;		   /* owned: IPSEC_RAW_BATCH slots of IPSEC_BUF */
	struct mmsghdr rmsg[IPSEC_RAW_BATCH];
	struct iovec riov[IPSEC_RAW_BATCH];
	struct sockaddr_storage rsrc[IPSEC_RAW_BATCH];
	union {
		char b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} rctl[IPSEC_RAW_BATCH];
	/* direct-path ESP sends, queued (ipsec_raw_queue) and sent with one
	 * sendmmsg(2) per family run before the loop sleeps, or when full */
	uint8_t *tbuf;		   /* owned: IPSEC_TX_BATCH slots of IPSEC_BUF */
	struct mmsghdr tmsg[IPSEC_TX_BATCH];
	struct iovec tiov[IPSEC_TX_BATCH];
	struct sockaddr_storage tdst[IPSEC_TX_BATCH];
	union {
		char b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} tctl[IPSEC_TX_BATCH];
	int tfd[IPSEC_TX_BATCH];
	unsigned tn;
	bool thook;		   /* ipsec_raw_flush is a before-sleep hook */
	struct ipsec_udp_port {	   /* protected UDP sockets (direct path) */
		struct net_addr laddr;
		struct net_sock *sock; /* borrowed */
	} udp[2 * IPSEC_LOCAL_MAX];
	size_t udp_count;
};

/* The destination of an IPv6 ESP datagram (a raw IPv6 socket gives no IP
 * header): IPV6_PKTINFO's address (with its interface as the zone of a
 * link-local one); without it, bound (the socket's own address) when the
 * socket is bound to one (bound may be NULL or unspecified); else ENOENT
 * and dst unspecified, which ipsec_dp_esp_in refuses (drop_no_dst). */
int ipsec_raw6_dst(const struct msghdr *mh, const struct net_addr *bound, struct net_addr *dst);
/* The big-endian 32-bit word at p. */
uint32_t ipsec_get32(const uint8_t *p);
/* The protected UDP socket bound to local's IP and port, or NULL. */
struct net_sock *ipsec_udp_sock(const struct ipsec *ip, const struct net_addr *local,
				uint16_t port);
/* ESP of dst's SA from src (ip->txbuf2) out through the raw socket. */
int ipsec_raw_send(struct ipsec *ip, const struct net_addr *src, const struct net_addr *dst,
		   const uint8_t *buf, size_t len);
/* The buffer (IPSEC_BUF) that the next queued send fills; NULL when no
 * queue (ip->tbuf NULL): then build in ip->txbuf2 and ipsec_raw_send. */
uint8_t *ipsec_raw_slot(struct ipsec *ip);
/* Queue len bytes of ipsec_raw_slot() from src to dst; EAFNOSUPPORT when
 * the family has no raw socket. Sent by ipsec_raw_flush. */
int ipsec_raw_queue(struct ipsec *ip, const struct net_addr *src, const struct net_addr *dst,
		    size_t len);
/* Send what is queued (before-sleep hook); errors count in drop_io. */
void ipsec_raw_flush(void *arg);

#endif
