/*
 * sip/sip_stack_int — private state of the SIP stack, shared by
 * sip_stack.c (receive path, dispatch, send), sip_stack_req.c (outgoing
 * requests) and sip_stack_util.c (Via rewriting, header scanning).
 */
#ifndef SIP_SIP_STACK_INT_H
#define SIP_SIP_STACK_INT_H

#include "core/mbuf.h"
#include "net/net.h"
#include "sip/sip_check.h"
#include "sip/sip_custom.h"
#include "sip/sip_hdr.h"
#include "sip/sip_stack.h"

#define SIP_STACK_METHODS (SIP_METHOD_UPDATE + 1)
#define SIP_STACK_ALLOW_MAX 256
#define SIP_STACK_UA_MAX 256

struct sip_stack_meth {
	sip_stack_req_h *h;
	void *arg; /* borrowed */
};

/* A request moved to TCP by its size alone (tcp_threshold): when the
 * connection is refused, it is sent again over UDP (RFC 3261 §18.1.1).
 * See sip_stack_req.c. */
struct sip_stack_fallback;

/* A client transaction sent over TCP, so that a connection that fails
 * later (refused, reset) fails the transaction too (RFC 3261 §17.1.4). */
struct sip_stack_pend {
	uint64_t tsx_id;
	uint64_t conn_id;
	struct sip_stack_fallback *fb; /* owned, NULL unless size-switched */
};

struct sip_stack {
	struct net *net;	   /* owned (mem reference) */
	struct sip_tsx_stack *tsx; /* owned */
	struct sip_tsx_env env;	   /* must outlive tsx: lives here */
	struct sip_dialogs *dialogs; /* owned (sip_dialog.h) */
	struct net_sock **socks;   /* borrowed from net, one per sip_addr */
	char **uri_hosts;	   /* owned: "127.0.0.1:5060" per socket */
	size_t nsocks;
	struct sip_stack_meth meth[SIP_STACK_METHODS];

	uint32_t tcp_threshold;
	struct sip_custom *custom; /* owned; NULL: no custom_headers */
	size_t max_size;  /* 513 above this */
	size_t frame_max; /* TCP framing bound */
	bool force_user_agent;
	char *user_agent;     /* owned, NULL when empty */
	struct pl server_hdr; /* "Server: ...\r\n" or empty */
	char server_buf[SIP_STACK_UA_MAX + 16];
	char allow[SIP_STACK_ALLOW_MAX]; /* "ACK, CANCEL, OPTIONS" */
	char allow_hdr[SIP_STACK_ALLOW_MAX + 16];

	const char **tags; /* owned array (strings borrowed from
			    * tag_store), NULL-ended */
	char *tag_store;   /* owned */
	struct sip_check_prm check;
	char sentby_host[NET_ADDR_STRLEN]; /* socket 0's, for check.via_host */

	struct sip_stack_pend *pend; /* owned */
	size_t npend, pend_cap, pend_prune_at;

	struct sip_stack_stats stats;

	/* The socket of the last local address a flow was looked up for
	 * (stack_flow_idx): most messages share it. */
	struct net_addr local_hit;
	size_t local_hit_idx;
	bool local_hit_set;
};

/* sip_stack_util.c */
/* The Call-ID value of a serialized message (for the log id column). */
struct pl sip_stack_callid_scan(const void *buf, size_t len);
/* Applies RFC 3261 §18.2.1 / RFC 3581 to a received request whose top Via
 * is vh, decoded in *via: returns a new message with received= and rport=
 * on that Via in *outp when needed, NULL when the message may be used as
 * it is. */
/* The same as a new top Via value in v (left empty when the Via needs no
 * parameter): what the responses carry (sip_tsx_recv_fixed). */
int sip_stack_via_top(struct mbuf *v, const struct sip_hdr *vh, const struct sip_via *via,
		      const struct net_addr *src);
int sip_stack_via_fix(struct sip_msg **outp, const struct sip_msg *msg,
		      const struct sip_hdr *vh, const struct sip_via *via,
		      const struct net_addr *src);
/* Inserts the hdrs lines before the blank line ending the header section of
 * the serialized message in mb (a message without a body). */
int sip_stack_hdrs_insert(struct mbuf *mb, struct pl hdrs);
/* custom_headers applied to the message in mb, for what the stack sends
 * outside the transaction layer (which applies them itself, once per
 * message, sip_tsx_env.rewrite). mb is left as it is when none apply. */
void sip_stack_custom_mb(struct sip_stack *stack, struct mbuf *mb);
/* "udp:1.2.3.4:5060" */
const char *sip_stack_peer_str(bool reliable, const struct net_addr *a, char *buf,
			       size_t size);

/* sip_stack.c */
/* The index of sock in stack->socks; nsocks when it is none of them. */
size_t sip_stack_sock_index(const struct sip_stack *stack, const struct net_sock *sock);
/* The socket a flow's messages leave by: the one its local address belongs
 * to (net_sock_by_local), else -- a flow kept from before the sip_addr list
 * changed, or one without a local address -- the first socket of the
 * peer's family (logged when the flow named a local address). NULL when
 * there is none of that family. */
struct net_sock *sip_stack_flow_sock(const struct sip_stack *stack,
				     const struct net_flow *f);

/* sip_stack_req.c */
void sip_stack_pend_conn_closed(struct sip_stack *stack, uint64_t conn_id, int err);
/* Frees the pending entries and their fallbacks (after the transactions). */
void sip_stack_pend_free(struct sip_stack *stack);

#endif
