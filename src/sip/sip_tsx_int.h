/*
 * sip/sip_tsx_int — what the transaction layer's files share; not for other
 * modules. The public API is sip/sip_tsx.h.
 */
#ifndef SIP_SIP_TSX_INT_H
#define SIP_SIP_TSX_INT_H

#include "core/hash.h"
#include "sip/sip_tsx.h"

/* RFC 3261 §17.2.1: a 100 is sent if the TU has not answered an INVITE
 * within 200 ms. */
#define SIP_TSX_TRYING_MS 200u
#define SIP_TSX_TAG_MAX 32u

/* Matching key of a request or response, views into the message. */
struct sip_tsx_key {
	bool rfc3261;	      /* branch with the magic cookie */
	enum sip_method meth; /* INVITE for an ACK */
	struct pl method;     /* the method text (INVITE for an ACK) */
	bool ack;
	struct pl branch;
	struct pl host; /* top Via sent-by */
	uint16_t port;
	/* RFC 2543 fallback (§17.2.3) */
	struct pl ruri, ftag, ttag, callid, via;
	uint32_t cseq;
};

struct sip_tsx_stack {
	const struct sip_tsx_env *env; /* borrowed */
	struct sip_tsx_prm prm;
	struct hash *by_id;   /* owned; entries: every live transaction */
	struct hash *clients; /* owned; by branch + method */
	struct hash *servers; /* owned; by branch (3261) or Call-ID.. (2543) */
	uint64_t next_id;
	uint64_t tag_seq;
};

struct sip_tsx {
	struct hash_entry he_id;  /* in st->by_id while live */
	struct hash_entry he_key; /* in st->clients or st->servers while live */
	struct sip_tsx_stack *st; /* borrowed; NULL once Terminated */
	uint64_t id;
	enum sip_tsx_kind kind;
	enum sip_tsx_state state;
	struct sip_msg *req;	   /* owned reference; a client's is its private
				    * copy of the request it sends */
	struct sip_tsx_key key;	   /* views into req */
	struct sip_tsx_dst dst;	   /* client: destination; server: source */
	struct mbuf out;	   /* owned, server: the last response sent */
	struct mbuf ack;	   /* owned: ICT's ACK for a non-2xx final */
	void *tm_retx;		   /* owned (env timer): A, E, G, 100-Trying */
	void *tm_end;		   /* owned (env timer): B, D, F, H, I, J, K, L, M */
	uint64_t retx_ms;	   /* current retransmission interval */
	uint16_t scode;		   /* last response sent or received */
	bool sent_1xx;		   /* server: a provisional is in out */
	bool final_seen;	   /* client: the TU has had a final response */
	char tag[SIP_TSX_TAG_MAX]; /* server: To tag of our responses */
	size_t tag_len;
	char resp_tag[SIP_TSX_TAG_MAX]; /* IST: To tag of the final sent */
	size_t resp_tag_len;
	sip_tsx_resp_h *resp_h; /* client */
	void *resp_arg;		/* borrowed */
	void *tu_data;		/* borrowed */
};

/* sip_tsx.c */
void sip_tsx_state_set(struct sip_tsx *tsx, enum sip_tsx_state s);
void sip_tsx_timer_start(struct sip_tsx *tsx, void *timer, uint64_t ms,
			 sip_tsx_timer_h *h);
void sip_tsx_timer_stop(struct sip_tsx *tsx, void *timer);
/* Sends len bytes to tsx->dst; on error fails the transaction (the
 * caller holds a reference and checks for Terminated). */
int sip_tsx_send(struct sip_tsx *tsx, const void *data, size_t len);
/* Moves to Terminated: leaves the tables, cancels timers, drops the stack's
 * reference (the caller must hold one if it goes on using tsx). */
void sip_tsx_term(struct sip_tsx *tsx);
/* Client: resp_h with an error status; server: server_err_h. Terminates. */
void sip_tsx_fail(struct sip_tsx *tsx, int err);
uint64_t sip_tsx_64t1(const struct sip_tsx *tsx);

/* sip_tsx_match.c */
int sip_tsx_key_req(struct sip_tsx_key *k, const struct sip_msg *msg);
int sip_tsx_key_resp(struct sip_tsx_key *k, const struct sip_msg *msg);
uint64_t sip_tsx_key_hash(const struct sip_tsx_key *k);
struct sip_tsx *sip_tsx_find_server(struct sip_tsx_stack *st,
				    const struct sip_tsx_key *k);
struct sip_tsx *sip_tsx_find_client(struct sip_tsx_stack *st,
				    const struct sip_tsx_key *k);

/* The state machines. *_recv: a message matched the transaction; *_send:
 * the TU hands a response (server). */
void sip_tsx_ict_start(struct sip_tsx *tsx);
void sip_tsx_ict_recv(struct sip_tsx *tsx, const struct sip_msg *resp);
void sip_tsx_nict_start(struct sip_tsx *tsx);
void sip_tsx_nict_recv(struct sip_tsx *tsx, const struct sip_msg *resp);
void sip_tsx_ist_start(struct sip_tsx *tsx);
void sip_tsx_ist_recv(struct sip_tsx *tsx, const struct sip_msg *req,
		      const struct sip_tsx_dst *src);
int sip_tsx_ist_send(struct sip_tsx *tsx, uint16_t scode, struct mbuf *mb,
		     struct pl to_tag);
void sip_tsx_nist_recv(struct sip_tsx *tsx, const struct sip_msg *req);
int sip_tsx_nist_send(struct sip_tsx *tsx, uint16_t scode, struct mbuf *mb);

#endif
