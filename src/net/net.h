/*
 * net — the SIP transport set (RFC 3261 §18): UDP sockets, TCP listeners
 * and TCP connections for every configured sip_addr entry.
 *
 * This layer moves bytes and knows nothing of SIP syntax. UDP datagrams are
 * delivered whole; TCP streams are cut into messages by a framing callback
 * from the layer above (net_frame_h), so the SIP codec decides where a
 * message ends while this layer owns buffers, bounds and sockets. Double
 * CRLF keep-alives (RFC 5626 §3.5.1) are answered here.
 *
 * Everything runs on the loop thread (loop/loop.h). Received bytes are
 * borrowed by the callback for its duration only. Errors are errno values.
 */
#ifndef NET_NET_H
#define NET_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/net_addr.h"

enum net_kind { NET_UDP = 0, NET_TCP, NET_KIND_COUNT };

struct net;	 /* the transport set; a mem object, free with mem_deref */
struct net_sock; /* one sip_addr entry: a UDP socket and a TCP listener */
struct net_conn; /* one TCP connection (accepted or opened); mem object */

/* One received message. Everything here is borrowed for the call only. */
struct net_msg {
	enum net_kind kind;
	struct net_sock *sock; /* the local socket it came in on */
	struct net_addr src;   /* the peer */
	struct net_addr dst;   /* our local address */
	uint64_t conn_id;      /* NET_TCP: the connection; 0 for UDP */
	const uint8_t *buf;
	size_t len;
	/* NET_TCP: the start of a message over the bound (net_frame_h said
	 * EMSGSIZE): buf holds its header section and whatever followed of
	 * the body, so that the layer above can answer it (SIP: 513); the
	 * rest of the message is read and dropped, the connection stays. */
	bool oversize;
};

typedef void(net_recv_h)(const struct net_msg *msg, void *arg);

/* Finds the first message of a TCP stream in buf[0..len): returns 0 and
 * its length in *msg_len (1..len), ENODATA when more bytes are needed,
 * EMSGSIZE when the message's header section is complete but the whole
 * message is over the bound (*msg_len: its whole length as announced, more
 * than the bound: the bytes at hand go up as a net_msg with oversize set,
 * the rest are skipped as they come), or EBADMSG when the bytes can never be
 * a message (the connection is then closed). Leading CRLFs have been taken
 * off already. */
typedef int(net_frame_h)(const uint8_t *buf, size_t len, size_t *msg_len, void *arg);

/* A TCP connection ended: err 0 for an orderly close by the peer or by
 * net_conn_close, else why (ECONNREFUSED, ETIMEDOUT for a connect or idle
 * timeout, EMSGSIZE, EBADMSG, ENOBUFS for a full send queue...). Called
 * once per connection from the loop, never from inside a net_* call, so the
 * upper layer may drop its state for conn there. conn is borrowed. */
typedef void(net_close_h)(struct net_conn *conn, int err, void *arg);

/* A sip_addr entry (manual §5): addr is advertised (and bound when
 * bind_addr is NULL); bind_addr, when set, is what the sockets bind to
 * (its port defaults to addr's). Strings borrowed for net_alloc only. */
/* Runs fn(arg) with the calling thread in another network namespace
 * (ipsec_in_netns): the sockets fn opens stay in that namespace. */
/* IPsec's direct UDP path (docs/ipsec.md): a protected socket's datagram
 * from src to dst is offered to the tap first; 0 = sent (encapsulated) by
 * it, ENOENT = not its (the socket sends it), other errors: dropped. */
typedef int(net_udp_tap_h)(const struct net_addr *src, const struct net_addr *dst,
			   const void *buf, size_t len, void *arg);
typedef int(net_ns_run_h)(void *ctx, int (*fn)(void *arg), void *arg);

struct net_listen {
	const char *addr;
	const char *bind_addr;
	/* Protected entry (IPsec, docs/ipsec.md): the UDP socket and the TCP
	 * listener are opened through ns_run (NULL: here) and the socket says
	 * so (net_sock_protected). */
	net_ns_run_h *ns_run;
	void *ns_ctx;
	bool protected_sock;
};

struct net_prm {
	const struct net_listen *listen;
	size_t listen_count;
	uint16_t default_port; /* 5060 */

	net_recv_h *recv_h;   /* required */
	net_frame_h *frame_h; /* required */
	net_close_h *close_h; /* optional */
	void *arg;

	size_t udp_max;		   /* largest datagram kept (<= 65535) */
	int sock_buf;		   /* SO_RCVBUF/SO_SNDBUF wish for UDP */
	size_t tcp_rx_max;	   /* receive buffer bound per connection */
	size_t tcp_tx_max;	   /* send queue bound per connection */
	unsigned tcp_max_conns;	   /* all connections */
	unsigned tcp_max_per_peer; /* connections from or to one peer: an
				    * IPv4 address or an IPv6 /64; at most
				    * half of the connections in use */
	uint32_t tcp_idle_ms;	   /* close after this long without a
				    * complete message either way; 0 never */
	uint32_t tcp_connect_ms;   /* outgoing connect timeout */
	/* An accepted connection that has not sent one complete message
	 * this long after opening is closed; 0 never. */
	uint32_t tcp_hello_ms;
	/* A message (or an oversize one being skipped) still unfinished
	 * this long after its first byte: the connection is closed; 0 never. */
	uint32_t tcp_partial_ms;
	/* Receive buffer bytes above each connection's first 4 KiB (the
	 * unfinished messages), over all connections: a connection whose
	 * buffer would grow past this is closed. */
	size_t tcp_rx_total_max;
	unsigned tcp_keepalive;	   /* TCP_KEEPIDLE seconds; 0 = no keepalive */
	unsigned tcp_keepcount;	   /* TCP_KEEPCNT */
};

/* Counters since net_alloc, for the monitor and the tests. */
struct net_stats {
	uint64_t udp_rx, udp_rx_calls, udp_rx_dropped;
	uint64_t udp_tx, udp_tx_calls, udp_tx_dropped;
	uint64_t tcp_conns; /* open now */
	uint64_t tcp_accepted, tcp_connected, tcp_refused, tcp_closed;
	uint64_t tcp_rx_bytes, tcp_rx_msgs, tcp_pings;
	uint64_t tcp_rx_oversize; /* messages over tcp_rx_max, handed up and skipped */
	uint64_t tcp_tx_bytes;
	uint64_t tcp_timeouts;	    /* closed: no message, unfinished, idle */
	uint64_t tcp_accept_pauses; /* accept(2) out of descriptors: paused */
	uint64_t tcp_rx_mem;	    /* receive bytes counted by tcp_rx_total_max */
	uint64_t tcp_max_conns;	    /* the connection bound in use */
};

/* Descriptors kept for everything but SIP connections (files, the API,
 * the monitor, workers) when the connection bound is derived from
 * RLIMIT_NOFILE: tcp_max_conns is lowered to the soft limit minus this (or
 * to half the limit when that is smaller), so that accept(2) runs out of
 * connection slots, which are refused cleanly, before the process runs out
 * of descriptors. */
#define NET_FD_RESERVE 64u

/* Fills the defaults (manual §5: tcp_keepalive 900, tcp_keepcount 2). */
void net_prm_init(struct net_prm *prm);
/* Binds every entry (UDP and TCP on the same port; port 0 picks one) and
 * starts receiving. A bind failure is logged naming the address. */
int net_alloc(struct net **np, const struct net_prm *prm);

size_t net_sock_count(const struct net *net);
struct net_sock *net_sock_get(const struct net *net, size_t i);
/* First socket of family af (AF_INET, AF_INET6), NULL if none. */
struct net_sock *net_sock_find(const struct net *net, int af);
/* The socket a local address belongs to (a flow's, struct net_flow): the
 * one bound to it (UDP or TCP), else one bound to the wildcard of its
 * family on its port (a TCP connection accepted there), else one bound to
 * its IP on another port (a connection we opened). NULL: not ours, e.g. a
 * flow stored before the sip_addr list changed. */
struct net_sock *net_sock_by_local(const struct net *net, const struct net_addr *local);
/* Whether the entry was a protected one (net_listen.protected_sock). */
bool net_sock_protected(const struct net_sock *sock);
/* Runs fn(arg) in the entry's namespace (net_listen.ns_run; here when it
 * has none): the sockets fn opens belong with the entry's. */
int net_sock_ns_run(const struct net_sock *sock, int (*fn)(void *arg), void *arg);
/* The advertised address (for Via and Contact), with the real port. */
const struct net_addr *net_sock_addr(const struct net_sock *sock);
/* The address a transport is bound to. */
const struct net_addr *net_sock_laddr(const struct net_sock *sock, enum net_kind kind);

/* Sends one message. UDP: queued and sent in a batch before the loop
 * sleeps (or at once when the batch is full); EMSGSIZE if too big. TCP:
 * over an existing connection to dst when there is one (RFC 3261 §18),
 * else over a new one from sock's address; 0 means queued. EAFNOSUPPORT
 * when dst's family is not sock's. */
int net_send(enum net_kind kind, struct net_sock *sock, const struct net_addr *dst,
	     const void *buf, size_t len);
/* Sends over one TCP connection (e.g. a response over the connection its
 * request came on); ENOTCONN when it is gone. */
int net_send_conn(struct net *net, uint64_t conn_id, const void *buf, size_t len);
/* The connection to dst (reused or opened) without sending yet. */
int net_connect(struct net_sock *sock, const struct net_addr *dst, uint64_t *conn_id);

/* Lookups return borrowed pointers (mem_ref to keep one). */
struct net_conn *net_conn_lookup(const struct net *net, uint64_t id);
struct net_conn *net_conn_find(const struct net *net, const struct net_addr *peer);
uint64_t net_conn_id(const struct net_conn *conn);
const struct net_addr *net_conn_peer(const struct net_conn *conn);
const struct net_addr *net_conn_local(const struct net_conn *conn);
struct net_sock *net_conn_sock(const struct net_conn *conn);
bool net_conn_outgoing(const struct net_conn *conn);
int net_conn_fd(const struct net_conn *conn); /* diagnostics; -1 closed */
/* Closes now (queued bytes are dropped); close_h follows with err 0. */
void net_conn_close(struct net_conn *conn);

void net_stats_get(const struct net *net, struct net_stats *st);
/* tcp_keepalive (seconds, 0 = off) and tcp_keepcount at run time (manual
 * §6.5 config_set): for the connections open now and the next ones. */
void net_keepalive_set(struct net *net, unsigned idle_s, unsigned count);
/* The direct path of a protected socket's UDP: sends through tap (NULL
 * ends it); a datagram that arrived by it (decrypted ESP) delivered as if
 * read from the socket. No-ops on a socket without UDP. */
void net_sock_udp_tap_set(struct net_sock *sock, net_udp_tap_h *tap, void *arg);
void net_sock_udp_inject(struct net_sock *sock, const struct net_addr *src,
			 const uint8_t *buf, size_t len);
const char *net_kind_name(enum net_kind kind); /* "UDP", "TCP" */

#endif
