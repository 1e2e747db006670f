/*
 * sip/sip_tsx_int — what the transaction layer's files share; not for other
 * modules. The public API is sip/sip_tsx.h.
 */
#ifndef SIP_SIP_TSX_INT_H
#define SIP_SIP_TSX_INT_H

#include <netinet/in.h>

#include "core/hash.h"
#include "sip/sip_hdr.h"
#include "sip/sip_peer.h"
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

/* Fields of a transaction's own copy of its matching key, stored one after
 * the other in the tail of struct sip_tsx (kbuf) in this order. */
enum sip_tsx_kf {
	SIP_TSX_KF_METHOD = 0, /* the request's method text (never ACK) */
	SIP_TSX_KF_BRANCH,
	SIP_TSX_KF_HOST,
	/* RFC 2543 fallback only */
	SIP_TSX_KF_RURI,
	SIP_TSX_KF_FTAG,
	SIP_TSX_KF_TTAG,
	SIP_TSX_KF_CALLID,
	SIP_TSX_KF_VIA,
	SIP_TSX_KF_COUNT
};

/* The deadline queues: every transaction waiting for Timer B, F, H, J, L
 * or M waits 64*T1, for I or K T4, for D timer_d_ms. A fixed duration
 * means insertion order is deadline order, so a queue is a FIFO list with
 * one event-loop timer for its head: O(1) to start and stop, no timer
 * object per transaction. */
enum sip_tsx_qid { SIP_TSX_Q_64T1 = 0, SIP_TSX_Q_T4, SIP_TSX_Q_D, SIP_TSX_Q_COUNT };

struct sip_tsx_q {
	struct sip_tsx *head, *tail; /* borrowed: members of the live set */
	uint64_t dur_ms;
	void *timer; /* owned (env timer): due at head->end_at or earlier */
	struct sip_tsx_stack *st;
};

struct sip_tsx_stack {
	const struct sip_tsx_env *env; /* borrowed */
	struct sip_tsx_prm prm;
	struct hash *by_id;   /* owned; entries: every live transaction */
	struct hash *clients; /* owned; by branch + method */
	struct hash *servers; /* owned; by branch, sent-by, method (3261) or
			       * Call-ID, CSeq, From tag, Via, method (2543) */
	struct sip_tsx_q q[SIP_TSX_Q_COUNT];
	uint64_t next_id;
	uint64_t tag_seq;
	size_t peak; /* most live at once since sip_stack_tsx_peak_take */
	/* requests refused by SIP_TSX_SAME_KEY_MAX, in all and since the
	 * last log line, and when that line was written (ms, 0: never) */
	uint64_t key_refused, key_refused_unlogged, key_log_at;
	size_t bytes; /* sum of the live transactions' cost */
	struct sip_peers *peers; /* owned: proven UDP destinations (sip_peer.h) */
	/* finished NIST (sip_tsx_done.c): their table, their Timer J FIFO
	 * (owned records, dead ones freed when reached) and its timer */
	struct hash *done; /* owned */
	struct sip_tsx_done *dq_head, *dq_tail;
	void *dq_timer; /* owned (env timer) */
	size_t ndone;	   /* records in the table (counted as live) */
	/* finished NICT (sip_tsx_done.c): the same for Timer K */
	struct hash *cdone; /* owned */
	struct sip_tsx_cdone *cq_head, *cq_tail;
	void *cq_timer; /* owned (env timer) */
	size_t ncdone;	/* records in cdone (counted as live clients) */
};

/* The compact destination: an IPv4 or IPv6 socket address (the transports
 * give nothing else); sip_tsx_dst_get() expands it for the send function. */
union sip_tsx_sa {
	struct sockaddr sa;
	struct sockaddr_in in;
	struct sockaddr_in6 in6;
};

/*
 * A transaction is sized for the million that wait in Completed: once a
 * final response is sent (server) or received (client), the request is
 * released and what is left is the matching key (copied into kbuf at
 * creation), the bytes to send again (server: the last response; ICT: the
 * ACK), exactly sized, and the destination. A non-INVITE client waits for
 * its final with its request's bytes, not a decoded copy (3.5 KB).
 */
struct sip_tsx {
	struct hash_entry he_id;  /* in st->by_id while live */
	struct hash_entry he_key; /* in st->clients or st->servers while live */
	struct sip_tsx_stack *st; /* borrowed; NULL once Terminated */
	uint64_t id;
	struct sip_msg *req; /* owned reference until the final response;
			      * an ICT's is its private copy; a NICT has one
			      * only once sip_tsx_req() decoded its bytes */
	uint8_t *out;	     /* owned (malloc), exact size: server: the last
			      * response sent, then resp_tag_len bytes of To
			      * tag; ICT: the ACK for a non-2xx final; NICT:
			      * its request's bytes until its final */
	uint32_t out_len;    /* bytes to send (tag excluded) */
	uint32_t via_top_len;
	char *via_top;	  /* owned (malloc) while req is: server, the top Via
			   * value responses carry (sip_tsx_recv_fixed) */
	uint32_t retx_ms; /* current retransmission interval */
	void *tm;	  /* owned (env timer), allocated on first use: A, E,
			   * G, 100-Trying */
	/* deadline queue membership (B, D, F, H, I, J, K, L, M) */
	struct sip_tsx *q_prev, *q_next; /* borrowed */
	uint64_t end_at;
	sip_tsx_resp_h *resp_h; /* client */
	void *resp_arg;		/* borrowed */
	void *tu_data;		/* borrowed */
	uint64_t conn;		/* dst: transport's handle */
	union sip_tsx_sa addr;	/* dst: peer */
	uint8_t addrlen;
	bool reliable;
	uint8_t kind;	      /* enum sip_tsx_kind */
	uint8_t state;	      /* enum sip_tsx_state */
	int8_t q;	      /* enum sip_tsx_qid, -1 when in no queue */
	bool rfc3261;	      /* key: branch with the magic cookie */
	bool sent_1xx;	      /* server: a provisional is in out */
	bool final_seen;      /* client: the TU has had a final response */
	bool starting;	      /* client: inside sip_tsx_request's first send */
	bool stateless;	      /* NIST: the final is sent once, not kept */
	uint8_t start_err;    /* client: that send's errno, told from a timer */
	uint8_t meth;	      /* key: enum sip_method, INVITE for ACK */
	uint8_t resp_tag_len; /* IST (2543): To tag of the final, after out */
	uint16_t scode;	      /* last response sent or received */
	uint16_t port;	      /* key: top Via sent-by port */
	uint32_t cseq;	      /* key: CSeq number */
	char tag[16];	      /* server: To tag of our responses (hex) */
	uint32_t cost;	      /* bytes counted in st->bytes for it */
	uint32_t klen[SIP_TSX_KF_COUNT];
	char kbuf[]; /* the key fields, see enum sip_tsx_kf */
};

/*
 * A finished non-INVITE server transaction (Completed, RFC 3261 §17.2.2)
 * reduced to what absorbs retransmissions: the RFC 3261 key, the final
 * response's bytes, the flow and Timer J's deadline. One allocation; buf
 * holds the method, branch and host text, then out_len response bytes.
 * See sip_tsx_done.c.
 */
struct sip_tsx_done {
	struct hash_entry he;		/* in st->done until dead */
	struct sip_tsx_done *q_next;	/* the FIFO, by deadline */
	uint64_t end_at;		/* Timer J */
	uint64_t conn;			/* dst: transport's handle */
	union sip_tsx_sa addr;		/* dst: peer */
	uint32_t out_len;
	uint32_t cost;			/* counted in st->bytes while not dead */
	uint16_t port;			/* key: top Via sent-by port */
	uint8_t addrlen;
	uint8_t meth;			/* key: enum sip_method */
	uint8_t mlen, blen, hlen;	/* key: method, branch, host lengths */
	bool dead;			/* left the table (send error) */
	char buf[];
};

/*
 * A finished non-INVITE client transaction (Completed, RFC 3261 §17.1.2.2)
 * reduced to what absorbs retransmitted finals until Timer K: the branch
 * and method a response is matched on (§17.1.3) and the deadline. Nothing
 * is sent from it. One allocation; buf holds the method, then the branch.
 */
struct sip_tsx_cdone {
	struct hash_entry he;	      /* in st->cdone */
	struct sip_tsx_cdone *q_next; /* the FIFO, by deadline */
	uint64_t end_at;	      /* Timer K */
	uint32_t cost;		      /* counted in st->bytes */
	uint8_t meth;		      /* key: enum sip_method */
	uint8_t mlen, blen;	      /* key: method, branch lengths */
	char buf[];
};

/* The same for a NICT that has passed its final to the TU over UDP:
 * cdone_take makes the record (the caller then terminates tsx), ENOMEM,
 * EINVAL when it does not fit; cdone_recv absorbs a response matching a
 * record (true). */
int sip_tsx_cdone_take(struct sip_tsx *tsx);
bool sip_tsx_cdone_recv(struct sip_tsx_stack *st, const struct sip_tsx_key *k,
			uint64_t hv);
size_t sip_tsx_cdone_cost(size_t key_len);

/* sip_tsx_done.c. Whether tsx (a NIST with its final in out) can become
 * a record; take: makes it one (the caller then terminates tsx), ENOMEM;
 * recv: a request matching a record is answered from it (true); cost: a
 * record's bytes as counted; free_all: at stack destruction. */
bool sip_tsx_done_fits(const struct sip_tsx *tsx);
int sip_tsx_done_take(struct sip_tsx *tsx);
bool sip_tsx_done_recv(struct sip_tsx_stack *st, const struct sip_tsx_key *k, uint64_t hv);
size_t sip_tsx_done_cost(size_t key_len, size_t out_len);
void sip_tsx_done_free_all(struct sip_tsx_stack *st);

/* sip_tsx_match.c: a client transaction's destination and sip_peer.h —
 * whether it has proven it receives (Timer A/E run only then), and noting
 * that it answered (a response matched). */
bool sip_tsx_peer_proven(const struct sip_tsx *tsx);
void sip_tsx_peer_answered(struct sip_tsx *tsx);
/* A first send to an unproven UDP destination within its budget. */
bool sip_tsx_peer_budget(struct sip_tsx *tsx, size_t len);

/* sip_tsx.c */
void sip_tsx_state_set(struct sip_tsx *tsx, enum sip_tsx_state s);
/* The retransmission timer (A, E, G, 100-Trying): start (allocating the
 * timer on first use; ENOMEM fails the transaction) and stop. */
void sip_tsx_retx_start(struct sip_tsx *tsx, uint64_t ms, sip_tsx_timer_h *h);
void sip_tsx_retx_stop(struct sip_tsx *tsx);
/* The end timer: the transaction joins deadline queue q; when it is due the
 * machine's end handler runs (sip_tsx_end_fire). Stop leaves the queue. */
void sip_tsx_end_start(struct sip_tsx *tsx, enum sip_tsx_qid q);
void sip_tsx_end_stop(struct sip_tsx *tsx);
/* A key field of the transaction's own copy. */
struct pl sip_tsx_kf(const struct sip_tsx *tsx, enum sip_tsx_kf f);
/* Takes the built message in mb as the bytes to (re)send, trimmed to its
 * size, with tag appended after it (IST 2543 ACK matching); mb is left
 * empty. ENOMEM. */
int sip_tsx_out_take(struct sip_tsx *tsx, struct mbuf *mb, struct pl tag);
/* Drops the request: the final response is out (server) or in (client). */
void sip_tsx_req_release(struct sip_tsx *tsx);
/* Recounts tsx's cost in the stack's bytes after what it holds changed. */
void sip_tsx_cost_update(struct sip_tsx *tsx);
/* Whether a server transaction may keep its final response (in tsx->out)
 * for retransmissions: under SIP_TSX_KEEP_MAX and within the byte bound.
 * When not, the machine sends it once and terminates (Timer J/H = 0). */
bool sip_tsx_keep_final(const struct sip_tsx *tsx);
/* Sends len bytes to tsx->dst; on error fails the transaction (the
 * caller holds a reference and checks for Terminated). */
int sip_tsx_send(struct sip_tsx *tsx, const void *data, size_t len);
/* Moves to Terminated: leaves the tables, cancels timers, drops the stack's
 * reference (the caller must hold one if it goes on using tsx). */
void sip_tsx_term(struct sip_tsx *tsx);
/* Client: resp_h with an error status; server: server_err_h. Terminates. */
void sip_tsx_fail(struct sip_tsx *tsx, int err);

/* sip_tsx_match.c */
int sip_tsx_key_req(struct sip_tsx_key *k, const struct sip_msg *msg);
/* Same with the top Via decoded by the caller (NULL: decode it). */
int sip_tsx_key_req_via(struct sip_tsx_key *k, const struct sip_msg *msg,
			const struct sip_via *via);
int sip_tsx_key_resp(struct sip_tsx_key *k, const struct sip_msg *msg);
/* The hash of a key for the server table (requests) and for the client
 * table (responses, and a new client transaction's request). */
uint64_t sip_tsx_key_hash_server(const struct sip_tsx_key *k);
uint64_t sip_tsx_key_hash_client(const struct sip_tsx_key *k);
/* hv: the key's hash, computed once by the caller. */
struct sip_tsx *sip_tsx_find_server(struct sip_tsx_stack *st, const struct sip_tsx_key *k,
				    uint64_t hv);
/* Same; *same: the entries of hash value hv passed that did not match (on
 * a miss, all of them: what a new one with this key would add to). */
struct sip_tsx *sip_tsx_find_server_same(struct sip_tsx_stack *st,
					 const struct sip_tsx_key *k, uint64_t hv,
					 size_t *same);
/* The entries a server lookup of hash value hv walks (tests). */
size_t sip_tsx_chain_len(const struct sip_tsx_stack *st, uint64_t hv);
/* Counts and logs (at most once a second) a request refused because
 * `same` entries already share its key's hash (SIP_TSX_SAME_KEY_MAX). */
void sip_tsx_key_refused(struct sip_tsx_stack *st, const struct sip_tsx_key *k,
			 size_t same);
struct sip_tsx *sip_tsx_find_client(struct sip_tsx_stack *st, const struct sip_tsx_key *k,
				    uint64_t hv);

/* The state machines. *_recv: a message matched the transaction; *_send:
 * the TU hands a response (server). */
void sip_tsx_ict_start(struct sip_tsx *tsx);
void sip_tsx_ict_recv(struct sip_tsx *tsx, const struct sip_msg *resp);
void sip_tsx_nict_start(struct sip_tsx *tsx);
void sip_tsx_nict_recv(struct sip_tsx *tsx, const struct sip_msg *resp);
void sip_tsx_ist_start(struct sip_tsx *tsx);
/* A deadline of queue tsx->q is due: Timer B, D, F, H, I, J, K, L or M
 * according to kind and state. */
void sip_tsx_ict_end(struct sip_tsx *tsx);
void sip_tsx_nict_end(struct sip_tsx *tsx);
void sip_tsx_ist_end(struct sip_tsx *tsx);
void sip_tsx_ist_recv(struct sip_tsx *tsx, const struct sip_msg *req,
		      const struct sip_tsx_dst *src, const void *ctx);
int sip_tsx_ist_send(struct sip_tsx *tsx, uint16_t scode, struct mbuf *mb,
		     struct pl to_tag);
void sip_tsx_nist_recv(struct sip_tsx *tsx, const struct sip_msg *req);
int sip_tsx_nist_send(struct sip_tsx *tsx, uint16_t scode, struct mbuf *mb);

#endif
