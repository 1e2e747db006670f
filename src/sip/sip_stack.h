/*
 * sip/sip_stack — the SIP stack: transports (net/) + codec + transactions.
 *
 * The stack owns the SIP sockets of every sip_addr entry and the transaction
 * layer. Incoming bytes are framed (TCP), decoded, checked (RFC 3261 §8.2,
 * §16.3; errors answered statelessly), logged (manual §8.1), matched to
 * transactions, and new requests are handed to the handler registered for
 * their method (the services: registrar, OPTIONS, later the CSCF proxy and
 * B2BUA), or, when they belong to a dialog of the stack's table (To tag,
 * RFC 3261 §12.2.2; the ACK of a 2xx), to that dialog's owner. Methods
 * without a handler get 405 with Allow (known methods) or 501 (unknown
 * ones). Outgoing requests pick UDP or TCP (tcp_threshold,
 * RFC 3261 §18.1.1) or reuse the connection a UE registered over (flow).
 *
 * THIS HEADER IS A CONTRACT shared by the stack and its services; extend it,
 * don't change existing signatures without updating every user.
 */
#ifndef SIP_SIP_STACK_H
#define SIP_SIP_STACK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pl.h"
#include "net/net.h"
#include "net/net_addr.h"
#include "net/net_flow.h"
#include "sip/sip_msg.h"
#include "sip/sip_tsx.h"

struct sip_stack;
struct sip_dialogs;


/* A new server transaction for a method. The handler answers with
 * sip_tsx_reply()/sip_tsx_reply_buf(), now or later (look the transaction
 * up again with sip_tsx_lookup() by id from async completions). */
typedef void(sip_stack_req_h)(struct sip_stack *stack, struct sip_tsx *tsx,
			      const struct sip_msg *req, const struct net_flow *src,
			      void *arg);

struct sip_stack_listen {
	const char *addr;      /* advertised "host[:port]" (Via, Contact) */
	const char *bind_addr; /* NULL: bind addr */
	/* IPsec protected ports (net_listen): opened through ns_run in the
	 * protected namespace; requests arriving there are over an SA. */
	net_ns_run_h *ns_run;
	void *ns_ctx;
	bool protected_sock;
};

struct sip_stack_prm {
	const struct sip_stack_listen *listen;
	size_t listen_count;
	uint32_t t1_ms, t2_ms, t4_ms; /* timer_t1/t2/t4 */
	uint32_t tcp_threshold;	      /* bytes; requests above go over TCP */
	unsigned tcp_keepalive;	      /* seconds, 0 = off */
	unsigned tcp_keepcount;
	const char *user_agent; /* Server / User-Agent value */
	bool force_user_agent;
	const char *const *option_tags; /* Supported option tags (Require check) */
	size_t option_tag_count;
	/* Added with the implementation; zero means the default. */
	size_t max_size;	   /* 513 above this; 0 = 65535 */
	size_t tcp_rx_max;	   /* TCP framing bound; 0 = 128 KiB */
	unsigned tcp_max_conns;	   /* 0 = net's default (10000) */
	unsigned tcp_max_per_peer; /* 0 = net's default (1000) */
	size_t tsx_hint;	   /* expected transactions; 0 = 4096 */
	size_t tsx_max;		   /* live transactions; 0 = from tsx_rate */
	/* Expected peak of new transactions per second (a REGISTER with its
	 * challenge is two); 0 = SIP_STACK_TSX_RATE_DEFAULT. With tsx_max 0
	 * the bound is what that rate keeps alive: rate x (64*T1 + T4) x 5/4,
	 * at least SIP_STACK_TSX_MAX_MIN (sip_stack_tsx_max_for). */
	uint32_t tsx_rate;
	bool proxy; /* check as a proxy (§16.3): 483, 482 */
	/* Check Proxy-Require as well as Require (sip_check_prm). */
	bool proxy_require;
	size_t dialog_max; /* dialogs at once; 0 = SIP_DIALOGS_MAX_DEFAULT */
	/* custom_headers (manual §5.2, sip/sip_custom.h), copied */
	const struct sip_custom_hdr *custom_hdrs;
	size_t custom_hdr_count;
};

/* Counters since sip_stack_alloc (monitor, tests). */
struct sip_stack_stats {
	uint64_t rx_req, rx_resp; /* decoded and accepted */
	uint64_t rx_undecodable;  /* dropped (UDP) or closed (TCP) */
	uint64_t rx_rejected;	  /* answered statelessly by the check */
	uint64_t rx_oversize;	  /* TCP messages over the bound (513 when a request) */
	uint64_t rx_dropped;	  /* bad responses and ACKs */
	uint64_t rx_keepalive;	  /* CRLF datagrams */
	uint64_t tx_msgs, tx_err; /* messages handed to net and failures */
	uint64_t tx_over_tcp;	  /* requests moved to TCP by size */
	uint64_t tx_udp_fallback; /* of those, sent again over UDP: TCP
				   * refused (§18.1.1) */
	uint64_t overload_503;	  /* ENOSPC from the transaction layer */
	/* requests to UDP destinations that never answered (sip/sip_peer.h):
	 * sent once without retransmissions, or not sent (over the budget) */
	uint64_t tx_unproven, tx_unproven_refused;
	/* 503 because SIP_TSX_SAME_KEY_MAX transactions shared the request's
	 * key (sip_tsx.h, docs/security.md) */
	uint64_t tsx_key_503;
	uint64_t no_handler;	  /* 405 / 501 */
};

/* Sized for imsd's SMS target (issue 16, bench/sms): one SMS is four
 * transactions, two server ones that live 64*T1 after their answer (Timer
 * J) and two client ones that live T4 (Timer K), so 10,000 SMS/s keep
 * 10,000 x 2 x (64*T1 + T4) alive, what 16,000/s fills in the formula of
 * sip_stack_tsx_max_for with its quarter spent; 20,000 keeps the quarter
 * (12,500 SMS/s). At 10,000/s the bound held 6,250 SMS/s. The byte bound
 * (SIP_TSX_BYTES_DEFAULT) stays the memory guard: with T1 = 2 s it binds
 * before this count does (docs/security.md). */
#define SIP_STACK_TSX_RATE_DEFAULT 20000u
#define SIP_STACK_TSX_MAX_MIN (1u << 16)
/* The live-transaction bound the stack uses for a rate and timers. */
size_t sip_stack_tsx_max_for(uint32_t rate, uint32_t t1_ms, uint32_t t4_ms);

/* Fills the manual's defaults (§5: T1 2 s, T2 16 s, T4 17 s, threshold
 * 1300, keepalive 900 s, count 2); listen and user_agent stay unset. */
void sip_stack_prm_init(struct sip_stack_prm *prm);
/*
 * The peer of a UDP flow has shown it receives what is sent to it (it
 * answered a challenge sent there): requests to it are retransmitted
 * (sip/sip_peer.h). A response to one of our requests proves its
 * destination by itself. Reliable flows need no proof.
 */
struct net_flow;
void sip_stack_peer_prove(struct sip_stack *stack, const struct net_flow *flow);
/* Binds every listen entry (UDP and TCP) and starts receiving. EINVAL for
 * no entries or bad timers, the net_alloc errno for a bind failure. */
int sip_stack_alloc(struct sip_stack **stackp, const struct sip_stack_prm *prm);
void sip_stack_free(struct sip_stack *stack);

/* One handler per method; NULL h removes it. */
int sip_stack_method_set(struct sip_stack *stack, enum sip_method meth,
			 sip_stack_req_h *h, void *arg);

/* The dialog table (sip_dialog.h): a request with a To tag that matches a
 * dialog, and the ACK of a 2xx, go to the dialog's owner instead of the
 * method's handler. */
struct sip_dialogs *sip_stack_dialogs(struct sip_stack *stack);
/* The transaction layer, for replies and lookups by id. */
struct sip_tsx_stack *sip_stack_tsx(struct sip_stack *stack);
/* The transport set (stats, connection lookups). */
struct net *sip_stack_net(struct sip_stack *stack);

/* sip_tsx_reply() with the Server header added (user_agent); services
 * answer through this one. prm may be NULL. */
int sip_stack_reply(struct sip_stack *stack, struct sip_tsx *tsx, uint16_t scode,
		    const char *reason, const struct sip_tsx_reply_prm *prm);
/* "Server: <user_agent>\r\n", empty when user_agent is empty. */
struct pl sip_stack_server_hdr(const struct sip_stack *stack);
/* Longest sip_stack_allow() text, NUL included. */
#define SIP_STACK_ALLOW_HDR_MAX 256
/* The methods handled ("ACK, CANCEL, OPTIONS, REGISTER"): those with a
 * handler plus ACK and CANCEL, which the stack always takes. */
const char *sip_stack_allow(const struct sip_stack *stack);
/* Whether host[:port] names one of our sockets (advertised or bound
 * address; port 0 matches any of ours). */
bool sip_stack_host_is_local(const struct sip_stack *stack, struct pl host,
			     uint16_t port);
void sip_stack_stats_get(const struct sip_stack *stack, struct sip_stack_stats *st);

/* Run-time changes (config_set, manual §6.5). custom_headers: the new
 * rules (copied; n 0 = none) apply from the next message sent, EINVAL
 * leaves the old ones. tcp_threshold: for the next request. */
struct sip_custom_hdr;
int sip_stack_custom_set(struct sip_stack *stack, const struct sip_custom_hdr *v, size_t n);
void sip_stack_tcp_threshold_set(struct sip_stack *stack, uint32_t bytes);
/* tcp_keepalive / tcp_keepcount: open and new connections (net). */
void sip_stack_tcp_keepalive_set(struct sip_stack *stack, unsigned idle_s, unsigned count);
/* Live transactions (not yet Terminated), server and client ones; both 0
 * for a NULL stack. O(1) (monitor `stats`). */
void sip_stack_tsx_counts(const struct sip_stack *stack, size_t *servers, size_t *clients);
/* The most transactions (servers and clients) live at once since the
 * previous call (or the start); the count starts again from those live now.
 * A burst shorter than the interval between two calls is seen whole. */
size_t sip_stack_tsx_peak_take(struct sip_stack *stack);

/* Our advertised address on socket idx (for Via, Contact, Path,
 * Service-Route), e.g. "127.0.0.1:5060" or "[::1]:5060". */
const char *sip_stack_local_uri_host(const struct sip_stack *stack, unsigned idx);
unsigned sip_stack_sock_count(const struct sip_stack *stack);

/* An outgoing request (NOTIFY, MESSAGE, INVITE to a UE...). `req` is the
 * whole request without a Via: the stack adds the top Via (with a fresh
 * branch, our sent-by, rport), fixes Content-Length if needed and starts a
 * client transaction. The destination is the flow `dst`: its conn_id while
 * open, else a new TCP connection to its IP and the Request-URI's port (the
 * UE's Contact); its address when it is UDP. It leaves from the socket the
 * flow's local address names (net_sock_by_local), else from the first
 * socket of the peer's family (logged: a flow kept across a change of
 * sip_addr). Without a flow the stack
 * resolves the Request-URI host/port (numeric addresses only). A request
 * moved to TCP by its size whose connection is refused is sent again over
 * UDP (RFC 3261 §18.1.1) in a new client transaction: resp_h then gets that
 * one, not *tsxp. */
struct sip_stack_req_prm {
	struct pl req;			 /* request line + headers + body, no Via */
	const struct net_flow *dst; /* NULL: use the Request-URI */
	sip_tsx_resp_h *resp_h;		 /* every response and the final outcome */
	void *arg;
};
int sip_stack_request(struct sip_stack *stack, const struct sip_stack_req_prm *prm,
		      struct sip_tsx **tsxp);
/* The ACK of a 2xx (RFC 3261 §13.2.2.4), `req` built like a request above
 * (no Via; sip_dialog_req_build with method ACK): the stack adds a Via with
 * a new branch and sends it once, outside any transaction, to dst (NULL:
 * the Request-URI). ENOTCONN: dst is a TCP flow whose connection is gone. */
int sip_stack_ack(struct sip_stack *stack, struct pl req, const struct net_flow *dst);
/* The CANCEL of the INVITE client transaction ict (RFC 3261 §9.1; send it
 * once a provisional has arrived), to the INVITE's destination; its
 * answers go to resp_h. */
int sip_stack_cancel(struct sip_stack *stack, struct sip_tsx *ict, sip_tsx_resp_h *resp_h,
		     void *arg);

#endif
