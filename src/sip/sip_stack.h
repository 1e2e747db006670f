/*
 * sip/sip_stack — the SIP stack: transports (net/) + codec + transactions.
 *
 * The stack owns the SIP sockets of every sip_addr entry and the transaction
 * layer. Incoming bytes are framed (TCP), decoded, checked (RFC 3261 §8.2,
 * §16.3; errors answered statelessly), logged (manual §8.1), matched to
 * transactions, and new requests are handed to the handler registered for
 * their method (the services: registrar, OPTIONS, later the CSCF proxy and
 * B2BUA). Methods without a handler get 405 with Allow (known methods) or
 * 501 (unknown ones). Outgoing requests pick UDP or TCP (tcp_threshold,
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
#include "net/net_addr.h"
#include "sip/sip_msg.h"
#include "sip/sip_tsx.h"

struct sip_stack;

/* Where a request came from: what a service needs to answer over the same
 * flow later (RFC 5626-style: registrations keep this to reach the UE). */
struct sip_stack_src {
	bool reliable;           /* TCP */
	struct net_addr peer;    /* source address and port */
	struct net_addr local;   /* our address it arrived on */
	uint64_t conn_id;        /* TCP connection, 0 for UDP */
	unsigned sock_idx;       /* index of the sip_addr socket */
};

/* A new server transaction for a method. The handler answers with
 * sip_tsx_reply()/sip_tsx_reply_buf(), now or later (look the transaction
 * up again with sip_tsx_lookup() by id from async completions). */
typedef void(sip_stack_req_h)(struct sip_stack *stack, struct sip_tsx *tsx,
			      const struct sip_msg *req,
			      const struct sip_stack_src *src, void *arg);

struct sip_stack_listen {
	const char *addr;      /* advertised "host[:port]" (Via, Contact) */
	const char *bind_addr; /* NULL: bind addr */
};

struct sip_stack_prm {
	const struct sip_stack_listen *listen;
	size_t listen_count;
	uint32_t t1_ms, t2_ms, t4_ms;   /* timer_t1/t2/t4 */
	uint32_t tcp_threshold;         /* bytes; requests above go over TCP */
	unsigned tcp_keepalive;         /* seconds, 0 = off */
	unsigned tcp_keepcount;
	const char *user_agent;         /* Server / User-Agent value */
	bool force_user_agent;
	const char *const *option_tags; /* Supported option tags (Require check) */
	size_t option_tag_count;
};

int sip_stack_alloc(struct sip_stack **stackp, const struct sip_stack_prm *prm);
void sip_stack_free(struct sip_stack *stack);

/* One handler per method; NULL h removes it. */
int sip_stack_method_set(struct sip_stack *stack, enum sip_method meth,
			 sip_stack_req_h *h, void *arg);

/* The transaction layer, for replies and lookups by id. */
struct sip_tsx_stack *sip_stack_tsx(struct sip_stack *stack);

/* Our advertised address on socket idx (for Via, Contact, Path,
 * Service-Route), e.g. "127.0.0.1:5060" or "[::1]:5060". */
const char *sip_stack_local_uri_host(const struct sip_stack *stack, unsigned idx);
unsigned sip_stack_sock_count(const struct sip_stack *stack);

/* An outgoing request (NOTIFY, MESSAGE, INVITE to a UE...). `req` is the
 * whole request without a Via: the stack adds the top Via (with a fresh
 * branch, our sent-by, rport), fixes Content-Length if needed and starts a
 * client transaction. The destination is the flow `dst` when its conn_id
 * is still open or its address when it is UDP; otherwise the stack resolves
 * the Request-URI host/port (numeric addresses only). */
struct sip_stack_req_prm {
	struct pl req;                 /* request line + headers + body, no Via */
	const struct sip_stack_src *dst; /* NULL: use the Request-URI */
	sip_tsx_resp_h *resp_h;        /* every response and the final outcome */
	void *arg;
};
int sip_stack_request(struct sip_stack *stack, const struct sip_stack_req_prm *prm,
		      struct sip_tsx **tsxp);

#endif
