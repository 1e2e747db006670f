/*
 * net/conn — one TCP connection's bytes: the bounded receive buffer cut
 * into messages by net_frame_h, CRLF keep-alive answers (RFC 5626 §3.5.1),
 * the bounded send queue, connect and idle timers, and the close path.
 *
 * Private to net_tcp.c and net_conn.c; everything else uses net_tcp.h and
 * net.h.
 */
#ifndef NET_NET_CONN_H
#define NET_NET_CONN_H

#include "net/net_tcp.h"

struct loop_timer;

enum net_conn_state {
	NET_CONN_CONNECTING = 0,
	NET_CONN_OPEN,
	NET_CONN_CLOSED, /* fd closed; close_h not yet or already called */
};

struct net_tcp {
	struct net_tcp_prm prm;
	/* Chained tables of mask+1 buckets. by_id holds every connection
	 * until its close_h ran (the table's reference); by_ip only the
	 * open and connecting ones, keyed by peer IP so that one peer's
	 * connections share a bucket and can be counted. */
	struct net_conn **by_id;
	struct net_conn **by_ip;
	size_t mask;
	size_t nconns; /* open and connecting */
	uint64_t next_id;
	bool refuse_logged;
	uint64_t refuse_log_ms, refuse_quiet;
	uint64_t st_accepted, st_connected, st_refused, st_closed;
	uint64_t st_rx_bytes, st_rx_msgs, st_pings, st_tx_bytes;
	uint64_t st_rx_oversize; /* messages over rx_max, answered and skipped */
	uint64_t st_timeouts, st_accept_pauses;
	size_t rx_mem; /* receive buffer bytes above NET_CONN_RBUF_INIT, all */
};

struct net_conn {
	struct net_tcp *tcp; /* borrowed; NULL once off the tables */
	uint64_t id;
	int fd;
	bool registered;
	bool outgoing;
	enum net_conn_state state;
	int err;	       /* why it closed */
	struct net_sock *sock; /* borrowed */
	struct net_addr peer;
	struct net_addr local;
	struct net_conn *id_next, **id_pprev;
	struct net_conn *ip_next, **ip_pprev;

	uint8_t *rbuf; /* owned; rlen bytes of an unfinished message */
	size_t rsize, rlen;
	uint64_t skip; /* bytes still to drop of an oversize message */
	uint8_t *tbuf; /* owned; bytes thead..tend wait for EPOLLOUT */
	size_t tsize, thead, tend;

	struct loop_timer *tmr; /* owned: connect, then the deadlines (idle,
				 * first message, unfinished message), then
				 * the close notice */
	uint64_t last_ms;	/* last complete message either way */
	uint64_t open_ms;	/* when it opened */
	uint64_t partial_ms;	/* when unfinished bytes appeared; 0: none */
	bool got_msg;		/* a complete message came in */
};

/* First receive buffer; it doubles up to rx_max for large messages and
 * is given back once empty, so idle connections stay small. */
#define NET_CONN_RBUF_INIT ((size_t)4096)

/* Takes over fd only on success; links c into t's tables. */
int net_conn_alloc(struct net_tcp *t, int fd, struct net_sock *sock,
		   const struct net_addr *peer, bool outgoing, struct net_conn **cp);
void net_conn_open(struct net_conn *c);	  /* accepted or connected */
int net_conn_connect(struct net_conn *c); /* connect() in progress */
/* Ends c without close_h and drops the table's reference (shutdown). */
void net_conn_detach(struct net_conn *c);

void net_tcp_link(struct net_tcp *t, struct net_conn *c);
void net_tcp_unlink_ip(struct net_tcp *t, struct net_conn *c);
void net_tcp_unlink_id(struct net_conn *c);
void net_tcp_sockopt(const struct net_tcp *t, int fd);

#endif
