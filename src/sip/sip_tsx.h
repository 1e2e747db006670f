/*
 * sip/sip_tsx — the SIP transaction layer (RFC 3261 §17, RFC 6026).
 *
 * Four state machines sit between the transport and the transaction users
 * (registrar, OPTIONS responder, proxy, B2BUA): INVITE client, non-INVITE
 * client, INVITE server, non-INVITE server. They retransmit over unreliable
 * transports, absorb retransmissions, generate the ACK for non-2xx final
 * responses, and time out (408) or fail (503) towards the TU.
 *
 * The layer does no I/O and reads no clock itself: a stack is created with
 * an environment (struct sip_tsx_env) giving a send function and a timer
 * interface. In production the timers are the event loop's
 * (sip_tsx_timer_loop); tests plug a fake clock they advance by hand.
 *
 * Transactions are reference-counted (core/mem). The stack holds one
 * reference from creation until the transaction reaches Terminated; a TU
 * that keeps a transaction across an asynchronous step keeps its id
 * (sip_tsx_id) and finds it again with sip_tsx_lookup(), or takes its own
 * reference with mem_ref(). Every handler may call any function of this
 * module, including on the transaction it was called for.
 *
 * Not thread-safe: a stack belongs to the loop thread.
 * Users' documentation: docs/sip-transactions.md.
 */
#ifndef SIP_SIP_TSX_H
#define SIP_SIP_TSX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "core/mbuf.h"
#include "core/pl.h"
#include "sip/sip_msg.h"

struct sip_tsx;
struct sip_tsx_stack;

/* Bound on live transactions when sip_tsx_prm.max is 0. */
#define SIP_TSX_MAX_DEFAULT (1u << 20)
/* Bound on the bytes the live transactions hold (sip_tsx_stack_bytes) when
 * sip_tsx_prm.bytes_max is 0: new requests are refused (ENOSPC, 503) above
 * it, and a final response is not kept for retransmissions when keeping it
 * would pass it. */
#define SIP_TSX_BYTES_DEFAULT ((size_t)1024 * 1024 * 1024)
/* A final response larger than this (with the transaction's key) is sent
 * but not kept: its server transaction ends at once, as over a reliable
 * transport (Timer J/H = 0), so a request built to have its huge headers
 * echoed (Via) costs nothing once answered. A retransmitted request is then
 * a new one for the TU. Real answers are far smaller (a REGISTER's 200 OK:
 * under 1 KiB). */
#define SIP_TSX_KEEP_MAX ((size_t)8192)
/* Server transactions (with finished records) that may share one hash
 * value of the server table. The hash covers every field that matching
 * compares but the To tag and Request-URI of RFC 2543 keys, so only a peer
 * varying those (or a 64-bit collision under the process's SipHash key)
 * makes entries share one; past this bound its new request is refused
 * (EMLINK, answered 503), so that no key can make a lookup walk a long
 * chain (docs/security.md). */
#define SIP_TSX_SAME_KEY_MAX 8u

enum sip_tsx_kind {
	SIP_TSX_ICT = 0, /* INVITE client, RFC 3261 §17.1.1 */
	SIP_TSX_NICT,	 /* non-INVITE client, §17.1.2 */
	SIP_TSX_IST,	 /* INVITE server, §17.2.1 */
	SIP_TSX_NIST,	 /* non-INVITE server, §17.2.2 */
};

enum sip_tsx_state {
	SIP_TSX_CALLING = 0, /* ICT */
	SIP_TSX_TRYING,	     /* NICT, NIST */
	SIP_TSX_PROCEEDING,
	SIP_TSX_COMPLETED,
	SIP_TSX_CONFIRMED, /* IST */
	SIP_TSX_ACCEPTED,  /* ICT, IST (RFC 6026) */
	SIP_TSX_TERMINATED,
};

/*
 * Where a message goes to or came from. The transaction layer does not
 * interpret it beyond `reliable`: the transport layer fills it on receipt
 * and reads it back in its send function.
 */
struct sip_tsx_dst {
	struct sockaddr_storage addr; /* peer address */
	socklen_t addrlen;
	uint64_t conn; /* transport's handle: socket, connection or SA id */
	bool reliable; /* TCP, TLS, SCTP: no retransmission, zero wait timers */
};

/* Sends len bytes to dst. 0, or an errno that fails the transaction
 * (RFC 3261 §17.1.4, §17.2.4). */
typedef int(sip_tsx_send_h)(const struct sip_tsx_dst *dst, const void *data, size_t len,
			    void *arg);

/*
 * Timer interface. A timer object is allocated once and started and
 * cancelled many times; start on a pending timer restarts it. A cancelled
 * timer must not fire. now() is the clock the delays are measured on (ms):
 * the layer keeps one timer per deadline queue (64*T1, T4, D) and one per
 * transaction that retransmits, and needs the time to place deadlines.
 */
typedef void(sip_tsx_timer_h)(void *arg);
struct sip_tsx_timer_ops {
	void *(*alloc)(void *ctx); /* NULL: out of memory */
	void (*free)(void *timer, void *ctx);
	void (*start)(void *timer, uint64_t delay_ms, sip_tsx_timer_h *h, void *arg,
		      void *ctx);
	void (*cancel)(void *timer, void *ctx);
	uint64_t (*now)(void *ctx);
};
/* loop_timer_* and loop_now_ms of src/loop/loop.h (ctx unused). */
extern const struct sip_tsx_timer_ops sip_tsx_timer_loop;

/* Borrowed by the stack; must outlive it. */
struct mbuf;
/* Rewrites a message before the layer keeps it (custom_headers): the new
 * bytes into out (empty on entry) and 0, or any errno to keep the message
 * as it is (ENOENT: nothing to change). */
typedef int(sip_tsx_rewrite_h)(const void *data, size_t len, struct mbuf *out, void *arg);

struct sip_tsx_env {
	sip_tsx_send_h *send;
	void *send_arg;
	/* Optional: called once per message the layer builds or is given to
	 * send (a request, a response, the ACK of a non-2xx), before its first
	 * send; retransmissions resend the kept bytes. The key fields
	 * (Via, From, To, Call-ID, CSeq) must come out unchanged. */
	sip_tsx_rewrite_h *rewrite;
	const struct sip_tsx_timer_ops *timer;
	void *timer_ctx;
};

/* env's rewrite of the message in mb, once: on success mb holds the new
 * bytes; else (none set, nothing to change, an error) mb is left as it is. */
void sip_tsx_env_rewrite(const struct sip_tsx_env *env, struct mbuf *mb);

/* Transaction-user handlers for server transactions and strays. Any may be
 * NULL except request_h. */
struct sip_tsx_tu {
	/* A new server transaction (request not matching any). The TU answers
	 * with sip_tsx_reply()/sip_tsx_reply_buf() now or later. For CANCEL,
	 * sip_tsx_cancel_target() names the INVITE transaction it cancels. */
	void (*request_h)(struct sip_tsx *tsx, const struct sip_msg *req, const void *ctx,
			  void *arg);
	/* An ACK that matches no INVITE server transaction (the ACK of a 2xx,
	 * RFC 3261 §13.3.1.4), tsx NULL; or one that reaches an INVITE server
	 * transaction in Accepted (RFC 6026 §8.7), tsx set. ctx (here and in
	 * request_h) is sip_tsx_rx.ctx of the received message: what the
	 * transport knows of its source (the SIP stack's struct net_flow),
	 * passed as an argument rather than kept aside. */
	void (*ack_h)(struct sip_tsx *tsx, const struct sip_msg *ack,
		      const struct sip_tsx_dst *src, const void *ctx, void *arg);
	/* A response matching no client transaction (§18.1.2; a proxy forwards
	 * it statelessly, §16.7). */
	void (*stray_h)(const struct sip_msg *resp, const struct sip_tsx_dst *src,
			void *arg);
	/* A server transaction failed: ETIMEDOUT (Timer H, no ACK, §17.2.1) or
	 * the send function's errno (§17.2.4). It is Terminated after this. */
	void (*server_err_h)(struct sip_tsx *tsx, int err, void *arg);
	void *arg;
};

/* Stack parameters. T1, T2, T4 come from the configuration (timer_t1,
 * timer_t2, timer_t4, manual §5); all three are required. */
struct sip_tsx_prm {
	uint32_t t1_ms, t2_ms, t4_ms;
	uint32_t timer_d_ms;  /* Timer D on unreliable transports, 0 = 32000 */
	size_t hint;	      /* expected concurrent transactions, sizes tables */
	size_t max;	      /* live transactions at most, 0 = SIP_TSX_MAX_DEFAULT;
			       * the SIP stack derives it from its expected rate
			       * (sip_stack_prm.tsx_rate) */
	size_t bytes_max;     /* bytes held at most, 0 = SIP_TSX_BYTES_DEFAULT */
	struct sip_tsx_tu tu; /* copied */
};

/* EINVAL: missing send/timer/request_h, T1 or T2 or T4 zero, T2 < T1. */
int sip_tsx_stack_alloc(struct sip_tsx_stack **stp, const struct sip_tsx_env *env,
			const struct sip_tsx_prm *prm);
/* Terminates every transaction without notifying anyone, then frees. */
void sip_tsx_stack_free(struct sip_tsx_stack *st);
size_t sip_tsx_stack_count(const struct sip_tsx_stack *st); /* not Terminated */
size_t sip_tsx_stack_max(const struct sip_tsx_stack *st);   /* the bound in use */
/* Bytes the live transactions hold: each transaction with its key, the
 * bytes it keeps to send again, its Via copy and, until its final, its
 * request (plus an allowance per allocation); and the bound in use. */
size_t sip_tsx_stack_bytes(const struct sip_tsx_stack *st);
size_t sip_tsx_stack_bytes_max(const struct sip_tsx_stack *st);
/* Requests refused with EMLINK (SIP_TSX_SAME_KEY_MAX) since creation. */
uint64_t sip_tsx_stack_key_refused(const struct sip_tsx_stack *st);

/*
 * Destinations that have shown they receive (sip/sip_peer.h): a client
 * transaction over UDP retransmits (Timer A/E) only to a proven one, and
 * new requests to unproven ones are bounded in bytes per IP (over it the
 * transaction fails with 503, ENOBUFS). A response matching a client
 * transaction proves its destination; sip_tsx_peer_prove() is for other
 * evidence (an authenticated answer to a challenge sent there).
 */
struct sip_peers_stats;
void sip_tsx_peer_prove(struct sip_tsx_stack *st, const struct sip_tsx_dst *dst);
void sip_tsx_peer_stats(const struct sip_tsx_stack *st, struct sip_peers_stats *out);

/*
 * Feeds a received, decoded message (sip_msg_check()ed by the caller).
 * Requests: a retransmission is absorbed by its server transaction, a new
 * request creates one and goes to tu.request_h, an ACK goes to the INVITE
 * transaction or tu.ack_h. Responses: to the matching client transaction or
 * tu.stray_h. The transaction takes its own reference on msg.
 * EBADMSG when the top Via or CSeq is missing or malformed (the caller
 * already answered or dropped it: nothing is sent), ENOSPC when a new
 * server transaction would exceed prm.max or the live ones hold
 * prm.bytes_max bytes (the caller may answer 503
 * statelessly), EMLINK when SIP_TSX_SAME_KEY_MAX transactions already
 * share the new request's key hash (the same), ENOMEM.
 */
int sip_tsx_recv(struct sip_tsx_stack *st, struct sip_msg *msg,
		 const struct sip_tsx_dst *src);
/* Same, for a request whose top Via the transport must complete with
 * received/rport (RFC 3261 §18.2.1, RFC 3581 §4): via_top is that Via's
 * new value, which the responses built by the transaction carry instead of
 * the received one (copied; empty pl: none). The request itself, as the TU
 * sees it, is left as received: no re-encoding, no second decode. */
int sip_tsx_recv_fixed(struct sip_tsx_stack *st, struct sip_msg *msg,
		       const struct sip_tsx_dst *src, struct pl via_top);
/* What the transport already knows of a received message. */
struct sip_via;
struct sip_tsx_rx {
	/* The top Via value the responses carry (sip_tsx_recv_fixed). */
	struct pl via_top;
	/* The request's top Via, decoded (sip_via_decode) by the transport,
	 * so that it is not decoded twice; NULL: the layer decodes it. */
	const struct sip_via *via;
	/* Handed to tu.request_h / tu.ack_h as ctx (borrowed, valid during
	 * the call). */
	const void *ctx;
};
int sip_tsx_recv_rx(struct sip_tsx_stack *st, struct sip_msg *msg,
		    const struct sip_tsx_dst *src, const struct sip_tsx_rx *rx);

/* ---- client transactions ---- */

/* Called for each response passed to the TU: provisionals, the first
 * final, 2xx retransmissions in Accepted (RFC 6026 §8.4). On Timer B/F the
 * call has resp NULL and scode 408, on a transport error resp NULL and
 * scode 503 (§17.1.4); the transaction is Terminated after such a call.
 * A non-INVITE client transaction is Terminated too once this call for its
 * final returns: over UDP a slim record absorbs retransmitted finals until
 * Timer K (docs/sip-transactions.md). */
typedef void(sip_tsx_resp_h)(struct sip_tsx *tsx, const struct sip_msg *resp,
			     uint16_t scode, void *arg);

struct sip_tsx_req_prm {
	struct pl req; /* the whole request, top Via with a z9hG4bK branch */
	struct sip_tsx_dst dst;
	sip_tsx_resp_h *resp_h;
	void *arg; /* borrowed */
};
/* Starts a client transaction and sends the request. *tsxp is borrowed (the
 * stack's reference). resp_h is never called before this returns: a send
 * that fails at once is told to it from the loop (a 0 ms timer) with 503,
 * so a TU may start requests while it walks what its handler frees.
 * EINVAL: not a request, ACK,
 * no Via branch with the magic cookie, no CSeq; EEXIST: a client
 * transaction with that branch and method is live; ENOSPC over prm.max;
 * EBADMSG, ENOMEM. */
int sip_tsx_request(struct sip_tsx **tsxp, struct sip_tsx_stack *st,
		    const struct sip_tsx_req_prm *prm);

/* The CANCEL for an INVITE client transaction (RFC 3261 §9.1): same
 * Request-URI, top Via, From, To, Call-ID, CSeq number and Route. The TU
 * sends it with sip_tsx_request() once a provisional has arrived. */
int sip_tsx_cancel_build(struct mbuf *mb, const struct sip_tsx *ict);

/* "z9hG4bK" followed by 16 unpredictable hex digits; size >= 24. */
int sip_tsx_branch_gen(struct sip_tsx_stack *st, char *buf, size_t size);

/* ---- server transactions ---- */

struct sip_tsx_reply_prm {
	struct pl to_tag; /* unset: the transaction's own tag */
	struct pl hdrs;	  /* extra header lines, each ending in CRLF */
	struct pl ctype;
	struct pl body;
	/* A non-INVITE final answered as a stateless UAS would (RFC 3261
	 * §8.2.7, for challenges to unauthenticated requests, §26.3.2.4): the
	 * transaction ends once the response is sent, keeping nothing for
	 * Timer J. A retransmitted request then reaches the TU again as a new
	 * one, and the TU must answer it with the same response. Ignored for
	 * INVITE and provisional responses. */
	bool stateless;
};
/* Builds the response from the request (sip_resp_build) and sends it
 * through the state machine. prm may be NULL. EINVAL: not a server
 * transaction or scode outside 100..699; EPROTO: the machine takes no
 * response in its state (after the final for non-INVITE, after a non-2xx
 * final for INVITE, 1xx after 2xx); ENOMEM. A transport error is reported
 * through server_err_h, not here. */
int sip_tsx_reply(struct sip_tsx *tsx, uint16_t scode, const char *reason,
		  const struct sip_tsx_reply_prm *prm);
/* Same for a response already serialized (a proxy's forwarded response);
 * the status is read from its status line (EBADMSG if unreadable). */
int sip_tsx_reply_buf(struct sip_tsx *tsx, const void *data, size_t len);

/* For a CANCEL server transaction: the INVITE server transaction it
 * cancels (§9.2), or NULL. Borrowed. */
struct sip_tsx *sip_tsx_cancel_target(const struct sip_tsx *cancel);
/* The live INVITE server transaction a CANCEL request matches, or NULL. */
struct sip_tsx *sip_tsx_cancel_match(struct sip_tsx_stack *st,
				     const struct sip_msg *cancel);

/* ---- any transaction ---- */

/* By id, for asynchronous completions; NULL once Terminated. Borrowed. */
struct sip_tsx *sip_tsx_lookup(struct sip_tsx_stack *st, uint64_t id);
uint64_t sip_tsx_id(const struct sip_tsx *tsx);
enum sip_tsx_kind sip_tsx_kind(const struct sip_tsx *tsx);
enum sip_tsx_state sip_tsx_state(const struct sip_tsx *tsx);
/* The request (client: as sent; server: as received). Borrowed. NULL once
 * the transaction has its final response: a server transaction releases
 * its request when it sends a final (except a 2xx to INVITE, which the TU
 * may send again), a client when it receives one; what matching and
 * retransmission need is kept in a compact copy. */
const struct sip_msg *sip_tsx_req(const struct sip_tsx *tsx);
/* The request's method (kept after the request is released). */
enum sip_method sip_tsx_method(const struct sip_tsx *tsx);
struct pl sip_tsx_method_name(const struct sip_tsx *tsx);
/* Client: destination; server: where responses go. */
struct sip_tsx_dst sip_tsx_dst(const struct sip_tsx *tsx);
/* The To tag this server transaction puts in its responses. */
struct pl sip_tsx_to_tag(const struct sip_tsx *tsx);
/* Status of the last response sent (server) or received (client), 0 if
 * none. */
uint16_t sip_tsx_scode(const struct sip_tsx *tsx);
/* Opaque TU data (borrowed; the TU manages its lifetime). */
void sip_tsx_tu_data_set(struct sip_tsx *tsx, void *data);
void *sip_tsx_tu_data(const struct sip_tsx *tsx);
/* Transport failure reported later by the transport (e.g. a TCP connect
 * that failed): fails the transaction as a send error would. ENOENT. */
int sip_tsx_transport_error(struct sip_tsx_stack *st, uint64_t id, int err);
/* Terminates now without notifying the TU (e.g. the TU gave up). */
void sip_tsx_terminate(struct sip_tsx *tsx);

const char *sip_tsx_state_name(enum sip_tsx_state s);
const char *sip_tsx_kind_name(enum sip_tsx_kind k);

#endif
