/*
 * registrar internals shared by registrar*.c. Not a public header.
 *
 * Memory per registered user with one binding: one struct reg_user and one
 * struct reg_binding (fixed part + the contact value and Call-ID in its
 * tail, a single allocation), one hash bucket slot and one heap slot. The
 * flow keeps the peer and local addresses packed in 56 bytes, not as two
 * 128-byte net_addr.
 */
#ifndef REGISTRAR_REGISTRAR_INT_H
#define REGISTRAR_REGISTRAR_INT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>

#include "auth/aka.h"
#include "auth/digest.h"
#include "core/hash.h"
#include "loop/loop.h"
#include "sip/sip_dialog.h"
#include "sip/sip_hdr.h"
#include "registrar/registrar.h"

enum reg_tmr_kind { REG_TMR_BINDING = 0, REG_TMR_CHAL, REG_TMR_SUB, REG_TMR_GUARD };

/* An entry of the registrar's expiry heap, embedded in its object. */
struct reg_tmr {
	uint64_t due; /* monotonic ms */
	uint32_t idx; /* heap slot + 1, 0 = not queued */
	uint8_t kind; /* enum reg_tmr_kind */
};

/* A heap slot: the due time is copied in, so that sifting reads only the
 * array and never the (cold) objects. */
struct reg_heap_ent {
	uint64_t due;
	struct reg_tmr *t;
};

/* How to reach a UE again: a compact struct net_flow (40 bytes instead of
 * 272), read and written only through reg_flow_get / reg_flow_set. The
 * peer is packed (IPv4 addresses take the first 4 bytes of peer_ip, port
 * in host order). Our local address is a value too, but every binding
 * shares one of a handful: it points into the registrar's table of the
 * local addresses seen (registrar.locals), never an index into the
 * sockets fixed at start. */
struct reg_flow {
	uint64_t conn_id;
	uint8_t peer_ip[16];
	const struct net_addr *local; /* interned, NULL: none (same family) */
	uint32_t peer_scope;	      /* IPv6 scope id */
	uint16_t peer_port;
	uint8_t af; /* AF_INET, AF_INET6; 0: no flow */
	bool reliable;
};

/* Distinct local addresses flows are kept with (registrar.locals). */
#define REG_LOCALS_MAX 64

/* reginfo contact events (RFC 3680 §5.3, TS 24.229 "refreshed"/"shortened") */
enum reg_event {
	REG_EV_REGISTERED = 0,
	REG_EV_CREATED,
	REG_EV_REFRESHED,
	REG_EV_SHORTENED,
	REG_EV_EXPIRED,
	REG_EV_DEACTIVATED,
	REG_EV_PROBATION,
	REG_EV_UNREGISTERED,
	REG_EV_REJECTED,
};

struct reg_user;

/* One contact of a user. Owned by its reg_user (bindings list). */
struct reg_binding {
	struct reg_tmr tmr;
	struct reg_binding *next;
	struct reg_user *user; /* borrowed back-pointer */
	struct reg_flow flow;
	uint32_t id;	  /* reginfo contact id */
	uint32_t cseq;	  /* of the last REGISTER that touched it */
	uint32_t reg_id;  /* RFC 5626 reg-id, 0 if none */
	uint32_t expires; /* granted, seconds (for "shortened") */
	uint16_t q1000;
	uint8_t event;	 /* enum reg_event, the last one */
	bool terminated; /* being removed: reported once, then freed */
	bool echo;	 /* named by the REGISTER being answered: its 200 shows
			  * the whole Contact value, the others' only the URI */
	char imei[15];	 /* TAC+SNR digits, "" if none */
	uint16_t contact_len, callid_len;
	char data[]; /* contact value (no expires) '\0' Call-ID '\0' */
};

/* One reg subscription. Owned by the watched reg_user. Its dialog state
 * (Call-ID, tags, URIs, target, route set, our NOTIFY CSeq and the
 * subscriber's CSeq) is a UAS dialog of the SIP dialog layer, in
 * registrar.dialogs while the subscription is linked, owned by it
 * (owner.obj = this), which delivers the in-dialog SUBSCRIBEs. */
struct reg_sub {
	struct reg_tmr tmr;
	struct reg_sub *next;
	struct reg_user *user;	 /* watched user, borrowed */
	struct sip_dialog *dlg;	 /* owned reference */
	/* the subscriber's flow, as the state file keeps it: the NOTIFYs go
	 * there (the dialog's own copy is what it came on, not used here) */
	struct reg_flow flow;
	uint32_t version;	 /* reginfo version of the next NOTIFY */
	uint32_t expires;	 /* granted */
	char event_id[];	 /* Event id parameter, NUL-terminated */
};

/* A user with bindings or subscriptions. Owned by registrar.users. */
struct reg_user {
	struct hash_entry he;
	struct hss_user *u;
	struct reg_binding *bindings;
	struct reg_sub *subs;
	uint8_t nbind, nsub;
	int8_t algo; /* enum digest_algo of the last authentication, -1 none */
	uint8_t ck_len, ik_len;
	uint8_t ck[32], ik[32];
	uint64_t ipsec_set; /* the active SA set (registrar_ipsec.c), 0 none */
	uint64_t ipsec_old; /* the set it replaced, retiring; 0 none */
};

/* A challenge in flight (or a nonce still usable with a higher nc). */
#define REG_CHALS_PER_USER 4  /* challenges a user holds at once */
#define REG_CHAL_REUSE_MS 1000 /* a new request from the same address within
				* this gets the same challenge */
#define REG_CHAL_KEEP_MS 5000  /* a younger challenge is not taken from
				* another address (but by the user's own flow) */
/* A user holds up to REG_CHALS_PER_USER challenges, one per source address
 * (registrar_auth.c "Several challenges"): a list whose head is found
 * through the user (slot, or registrar.chals by hss_user). */
struct reg_chal {
	struct reg_tmr tmr;
	struct hash_entry he; /* registrar.chals, by hss_user (the head only) */
	struct reg_chal *next; /* the user's next challenge */
	struct hss_user *u;
	uint64_t src_key; /* the source address it was made for (chal_src_key) */
	uint64_t born;	  /* monotonic ms: when its nonce was made */
	uint8_t algo;  /* enum digest_algo */
	uint8_t qop;   /* enum digest_qop */
	uint8_t fails; /* wrong answers so far (carried to the next challenge) */
	bool done;     /* answered correctly: only reusable with nc > nc_last */
	bool stale;    /* the 401 said stale=true */
	uint32_t nc_last;
	uint64_t req_key; /* the request it answered (reg_auth_in.req_key) */
	uint8_t rand[AKA_RAND_LEN];
	uint8_t xres[32], ck[32], ik[32];
	uint8_t xres_len, ck_len, ik_len;
	char nonce[160];
	uint64_t ipsec_set; /* its pending SA set (registrar_ipsec.c), 0 none */
	uint64_t ipsec_sc;  /* digest of the Security-Client it answered */
};

struct registrar {
	const struct ims_cfg *cfg;
	struct hss *hss;
	struct sip_stack *stack;
	struct registrar_ops ops;
	char host[128]; /* our host[:port] */
	char realm[256];
	uint32_t min_expires, chal_ttl, max_chals;
	uint32_t nchals; /* challenges held, all users */
	uint32_t next_id; /* binding ids and tags */
	size_t nbindings;
	uint8_t secret[32]; /* nonce MAC key */
	bool slots;	    /* ours: the hss_user slots (hss_user_slots_claim) */
	struct hash *users; /* reg_user by hss_user pointer */
	struct hash *chals; /* reg_chal by hss_user pointer */
	struct hash *guards; /* reg_guard by user or source address */
	struct net_addr *locals[REG_LOCALS_MAX]; /* owned; reg_flow.local points here */
	uint32_t nlocals;
	bool locals_full_logged;
	struct {
		uint32_t window_s, lock_s, user_fails, src_fails;
	} guard;
	bool guard_full_logged;
	struct sip_dialogs *dialogs; /* the stack's, or own_dialogs */
	bool own_dialogs;	     /* no stack (tests): a private table */
	size_t nsubs;
	struct reg_heap_ent *heap; /* 4-ary min-heap by due */
	uint32_t heap_n, heap_cap;
	struct loop_timer *timer;
	uint64_t timer_due; /* 0 = not armed */
	struct reg_store *rs; /* state file, NULL if none (registrar_store.c) */
	struct {
		registrar_watch_h *h;
		void *arg;
	} watch[REGISTRAR_WATCH_MAX]; /* registrar_watch_add, in order added */
	uint32_t nwatch;
	struct reg_ipsec *ipsec; /* registrar_ipsec.c; NULL without IPsec */
};

/* registrar_info.c: a binding as seen from outside; telling the watchers
 * that b changed (REGISTRAR_BINDING_REMOVED when b->terminated) */
void reg_binding_info_fill(const struct registrar *reg, const struct reg_binding *b,
			   struct registrar_binding_info *bi);
void reg_watch_emit(struct registrar *reg, const struct reg_binding *b);

/* registrar_ctx.c: users, bindings, heap */
uint64_t reg_now(const struct registrar *reg);
void reg_tmr_set(struct registrar *reg, struct reg_tmr *t, uint64_t due);
void reg_tmr_del(struct registrar *reg, struct reg_tmr *t);
struct reg_user *reg_user_find(const struct registrar *reg, const struct hss_user *u);
struct reg_user *reg_user_get(struct registrar *reg, struct hss_user *u);
void reg_user_release(struct registrar *reg, struct reg_user *ru); /* frees if empty */
bool reg_user_active(const struct reg_user *ru); /* a binding not terminated */
uint32_t reg_binding_left(const struct registrar *reg, const struct reg_binding *b);
/* SipHash-2-4 tag of p, little-endian (exposed for its unit test). */
void reg_nonce_mac(const uint8_t key[16], const uint8_t *p, size_t len, uint8_t mac[8]);
/* A binding of ru with its contact value and Call-ID copied into its tail,
 * not linked yet; NULL if there is no memory or either is over 65535 bytes. */
struct reg_binding *reg_binding_alloc(struct reg_user *ru, struct pl contact,
				      struct pl callid);
/* Puts b at the head of its user's list and counts it. */
void reg_binding_link(struct registrar *reg, struct reg_binding *b);
void reg_binding_unlink(struct registrar *reg, struct reg_binding *b);
void reg_bindings_purge(struct registrar *reg, struct reg_user *ru); /* terminated ones */
/* f for src; its local address is interned in reg (a new one takes a slot
 * of registrar.locals; with all taken it is kept as none, logged once). */
void reg_flow_set(struct registrar *reg, struct reg_flow *f, const struct net_flow *src);
/* A refresh: nb (not linked) takes old's place in its user's list and in
 * the flow index; old is freed. */
void reg_binding_replace(struct registrar *reg, struct reg_binding *old,
			 struct reg_binding *nb);
void reg_flow_get(const struct reg_flow *f, struct net_flow *src);
/*
 * multi_sim: of the candidates sharing an identity, the one (accepted by ok,
 * if given) whose live bindings came from this UE: a binding in the
 * request's Call-ID (RFC 3261 §10.2.4: a UE keeps it across its
 * registrations) beats one from the same address and port, which beats the
 * same IP address. NULL if none, or if two candidates match equally well.
 */
struct hss_user *reg_user_by_flow(const struct registrar *reg,
				  struct hss_user *const *cands, size_t n,
				  struct pl callid, const struct net_flow *src,
				  bool (*ok)(const struct reg_user *ru, void *arg),
				  void *arg);
int reg_reply(struct registrar *reg, struct sip_tsx *tsx, uint16_t scode,
	      const char *reason, const struct sip_tsx_reply_prm *prm);
void reg_chal_free(struct registrar *reg, struct reg_chal *c);
/* The first of u's challenges (c->next for the others), NULL if none. */
struct reg_chal *reg_chal_first(const struct registrar *reg, const struct hss_user *u);
/* Puts c (its u set) at the head of its user's challenges, counted. */
void reg_chal_link(struct registrar *reg, struct reg_chal *c);
void reg_sub_free(struct registrar *reg, struct reg_sub *s);

/* registrar_guard.c: failed authentications per user and per source */
#define REG_GUARD_WINDOW_S 600 /* failures counted over this many seconds */
#define REG_GUARD_LOCK_S 300   /* then locked this long */
#define REG_GUARD_USER_FAILS 5 /* wrong answers for one user */
#define REG_GUARD_SRC_FAILS 20 /* wrong answers from one address, any users */
#define REG_GUARD_MAX 65536    /* entries tracked at once */
struct reg_guard;
enum reg_guard_verdict { REG_GUARD_OK = 0, REG_GUARD_USER_LOCKED, REG_GUARD_SRC_LOCKED };
/* Whether u may be challenged from src now (its own registered flow may
 * while u is locked). */
enum reg_guard_verdict reg_guard_check(const struct registrar *reg, const struct hss_user *u,
				       const struct net_flow *src);
/* A wrong answer for u from src: counted for both, logged on a lock. */
void reg_guard_fail(struct registrar *reg, const struct hss_user *u,
		    const struct net_flow *src);
void reg_guard_success(struct registrar *reg, const struct hss_user *u);
void reg_guard_expired(struct registrar *reg, struct reg_guard *g);
void reg_guard_free(struct registrar *reg, struct reg_guard *g);
void reg_guard_free_all(struct registrar *reg); /* destructor */
size_t reg_guard_mem(const struct registrar *reg); /* for registrar_mem_usage */
void reg_guard_prm_set(struct registrar *reg, const struct registrar_prm *prm);

/* registrar_auth.c */
enum reg_auth_result {
	REG_AUTH_OK = 0,  /* credentials verified (or not required) */
	REG_AUTH_REPLIED, /* a 401/403/500/503 was sent */
};
/* What reg_auth_check needs from the request, read once per REGISTER: the
 * realm we challenge with and the Digest credentials for it, if any. */
struct reg_auth_in {
	struct pl realm;
	bool have;
	struct sip_auth cred;
	/* Digest credentials naming no realm or another one: not for us (a
	 * missing realm would hash over ""); kept only so that an answer
	 * reusing our nonce without our realm counts as a failure. */
	bool have_other;
	struct sip_auth other;
	/* Call-ID and CSeq of the request: a retransmission (the 401 is sent
	 * statelessly) has the same, and gets the same challenge again */
	uint64_t req_key;
	/* Not a REGISTER (auth_on_register_only false): a success leaves the
	 * registration's algorithm and CK/IK alone. */
	bool other_method;
	const struct net_flow *src; /* the request's flow (guard, logs) */
	const struct sip_msg *req;  /* the request (security agreement) */
};
/* The key of a request for its challenge: Call-ID, CSeq and its answer
 * (the response, or auts, of the credentials in, once read), so that only a
 * retransmission matches, and a new guess under the same Call-ID and CSeq
 * does not. */
uint64_t reg_req_key(const struct reg_auth_in *in, struct pl callid, uint32_t cseq);

/* registrar_ipsec.c: security agreement on REGISTER (RFC 3329, TS 33.203) */
enum reg_ipsec_res { REG_IPSEC_PASS = 0, REG_IPSEC_REPLIED, REG_IPSEC_RECHALLENGE };
/* true: answered 494 (sec-agree required, nothing acceptable offered) */
bool reg_ipsec_precheck(struct registrar *reg, struct sip_tsx *tsx,
			const struct reg_auth_in *in);
/* A new AKA challenge c: its pending SA set from the Security-Client. */
void reg_ipsec_chal_made(struct registrar *reg, struct reg_chal *c,
			 const struct reg_auth_in *in);
/* Whether c's set answers the request's Security-Client (a challenge is
 * only sent again for the same offer). */
bool reg_ipsec_chal_fits(const struct registrar *reg, const struct reg_chal *c,
			 const struct reg_auth_in *in);
/* c goes (or gets a new vector): its pending set with it. */
void reg_ipsec_chal_drop(struct registrar *reg, struct reg_chal *c);
/* "Security-Server: ...\r\n" for c's set: its length, 0 none, -1 too long. */
int reg_ipsec_server_hdr(const struct registrar *reg, const struct reg_chal *c, char *buf,
			 size_t size);
/* A right answer to c: over the right SAs? (may reply 403) */
enum reg_ipsec_res reg_ipsec_verify(struct registrar *reg, struct sip_tsx *tsx,
				    struct reg_chal *c, const struct reg_auth_in *in,
				    struct reg_user *ru);
/* Where requests to ru go, from a flow it registered over: over an SA of
 * its active set (UDP), our port-c to its port-s instead. */
void reg_ipsec_dst_map(const struct registrar *reg, const struct reg_user *ru,
		       struct net_flow *f);
/* Whether flow is ru's other SA pair (its port-s to our port-c) of its
 * active or retiring set: its requests may come there too. */
bool reg_ipsec_flow_of_user(const struct registrar *reg, const struct reg_user *ru,
			    const struct net_flow *flow);
/* ru's last binding is gone: its set retires. */
void reg_ipsec_user_gone(struct registrar *reg, struct reg_user *ru);
void reg_ipsec_free(struct registrar *reg);

void reg_auth_in_read(const struct registrar *reg, const struct sip_msg *req,
		      struct reg_auth_in *in);
/* Once the user is known: its own `domain` (manual §5.2.1, "used for IMPU
 * and authentication") is the realm, and the credentials are those for it. */
void reg_auth_in_user(const struct registrar *reg, const struct sip_msg *req,
		      const struct hss_user *u, struct reg_auth_in *in);
enum reg_auth_result reg_auth_check(struct registrar *reg, struct sip_tsx *tsx,
				    const struct sip_msg *req, struct hss_user *u,
				    uint32_t impu_idx, const struct reg_auth_in *in,
				    struct reg_user **rup);

/* registrar_held.c: answers held until their state is committed */

/* Run right after a held answer was sent (or answered 500), with the key
 * given to reg_reply_held (copied). */
typedef void(reg_held_then_h)(struct registrar *reg, struct pl key);
/* An answer and its transaction's id, waiting for a commit. Owned by the
 * list it is on (registrar_store.c: the next job's, then the job's). */
struct reg_held {
	struct reg_held *next;
	uint64_t tsx_id;
	reg_held_then_h *then; /* or NULL */
	uint32_t hdrs_len, body_len;
	uint16_t scode, reason_len, to_tag_len, ctype_len, key_len;
	bool stateless;
	char data[]; /* reason '\0' to_tag hdrs ctype body key */
};
/*
 * Answers an acknowledgement of new state of u: at once without a state
 * file (false); else marks u, holds the answer until the transaction that
 * writes u is committed and returns true (then runs after it). An answer
 * that cannot be held gets 500 at once (false).
 */
bool reg_reply_held(struct registrar *reg, struct sip_tsx *tsx, const struct hss_user *u,
		    uint16_t scode, const char *reason,
		    const struct sip_tsx_reply_prm *prm, reg_held_then_h *then,
		    struct pl key);
/* Sends every answer of list in order, as held (result 0) or as 500 with
 * Retry-After (the commit failed), runs their follow-ups, frees them. */
void reg_held_release(struct registrar *reg, struct reg_held *list, int result);

/* registrar_sub.c */
void reg_sub_notify_all(struct registrar *reg, struct reg_user *ru);
void reg_sub_terminate_all(struct registrar *reg, struct reg_user *ru,
			   const char *reason);
void reg_sub_expired(struct registrar *reg, struct reg_sub *s);
int reg_reginfo_build(const struct registrar *reg, struct mbuf *mb, struct reg_user *ru,
		      uint32_t version);

const char *reg_event_name(enum reg_event ev);

/* The strings of a subscription, in the order of the reg_sub table. */
enum reg_sub_str {
	REG_SUB_CALLID = 0,
	REG_SUB_LOCAL_TAG,
	REG_SUB_REMOTE_TAG,
	REG_SUB_REMOTE_URI,
	REG_SUB_LOCAL_URI,
	REG_SUB_TARGET,
	REG_SUB_ROUTES,
	REG_SUB_EVENT_ID,
	REG_SUB_NSTR
};
/* The strings of s in that order (borrowed from its dialog and itself). */
void reg_sub_fields(const struct reg_sub *s, const char *f[REG_SUB_NSTR]);
/* A subscription whose dialog is restored from str (in that order) and the
 * two CSeqs (ours, the subscriber's); not linked yet. EBADMSG (a field
 * unusable as dialog state), E2BIG, ENOMEM. */
int reg_sub_alloc(struct reg_sub **sp, const struct pl str[REG_SUB_NSTR], uint32_t cseq,
		  uint32_t remote_cseq);
/* Frees a subscription that reg_sub_link refused. */
void reg_sub_destroy(struct reg_sub *s);
/* Makes s a subscription of ru: its dialog goes into registrar.dialogs
 * (EEXIST: the same Call-ID and tags are there, ENOSPC: full), listed,
 * counted. */
int reg_sub_link(struct registrar *reg, struct reg_user *ru, struct reg_sub *s);

/* ---- registrar_store.c / registrar_store_load.c: the state file ---- */

/* multi_sim entries sharing one IMPI (or IMSI) told apart, at most */
#define REG_STORE_NTH_MAX 16
#define REG_STORE_USER_COLS 6
#define REG_STORE_BINDING_COLS 15
#define REG_STORE_SUB_COLS 18

/* What changed in a user: its SQN_HE alone (a challenge), or anything. */
enum reg_store_what { REG_STORE_SQN = 1, REG_STORE_ALL = 2 };
/* Most changes one commit groups: a transaction at most every this many ms
 * while changes keep coming (the first change after a quiet spell is written
 * before the loop sleeps). */
#define REG_STORE_GROUP_MS 10
/* Marks u to be written (no-op without a file). */
void reg_store_mark(struct registrar *reg, const struct hss_user *u,
		    enum reg_store_what what);
/* At start: the file holds rows of u in reg_binding (bind) or reg_sub. */
void reg_store_file_rows(struct registrar *reg, const struct hss_user *u, bool bind);
/* A binding (bind) or subscription of u went, or a bad row of u was found:
 * its rows are deleted when u is written next. */
void reg_store_gone(struct registrar *reg, const struct hss_user *u, bool bind);
/* Marks u (REG_STORE_ALL) and attaches h to the transaction that will
 * write it; false (h not taken) without a file or for a user it cannot
 * hold. */
bool reg_store_hold(struct registrar *reg, const struct hss_user *u, struct reg_held *h);
/* Flushes, sends the held answers, then closes (registrar destructor). */
void reg_store_detach(struct registrar *reg);

/* One column of a stored row, as SQLite gave it (views borrowed). */
enum reg_store_col_type { REG_COL_NULL = 0, REG_COL_INT, REG_COL_TEXT, REG_COL_BLOB };
struct reg_store_col {
	uint8_t type; /* enum reg_store_col_type */
	int64_t i;
	struct pl s; /* TEXT or BLOB */
};

/* "impi:...", "imsi:..." or "impu:..." (kind 'i', 'm', 'u') and nth */
struct reg_store_key {
	char kind;
	struct pl id;
	uint32_t nth;
};

struct reg_store_user_rec {
	struct reg_store_key key;
	uint64_t sqn_he;
	int algo;	   /* enum digest_algo, -1 none */
	struct pl ck, ik; /* 0..32 bytes */
};

struct reg_store_binding_rec {
	struct reg_store_key key;
	uint32_t bid, cseq, reg_id, expires;
	int64_t expires_at; /* Unix s */
	uint16_t q1000;
	uint8_t event; /* enum reg_event, REGISTERED..SHORTENED */
	char imei[15];
	struct net_flow flow; /* interned when the binding is built */
	struct pl contact, callid;
};

struct reg_store_sub_rec {
	struct reg_store_key key;
	struct pl str[REG_SUB_NSTR];
	uint32_t cseq, version, expires, remote_cseq;
	int64_t expires_at;
	struct net_flow flow;
};

/* Row decoders: EBADMSG on any column out of its type, range or syntax. */
int reg_store_user_decode(const struct reg_store_col *c, size_t n,
			  struct reg_store_user_rec *r);
int reg_store_binding_decode(const struct reg_store_col *c, size_t n,
			     struct reg_store_binding_rec *r);
int reg_store_sub_decode(const struct reg_store_col *c, size_t n, struct reg_store_sub_rec *r);

/* registrar_store_schema.c: the tables, created or migrated from an older
 * schema version (the file's, store_version) in one transaction. locals:
 * the current sip_addr entries' bound addresses, in order, which a version
 * 1 flow's socket index becomes. */
struct reg_store_mig {
	uint32_t from;	   /* the file's version before */
	uint32_t rows;	   /* binding and subscription rows migrated */
	uint32_t unmapped; /* of them, flows whose index named no entry */
	bool migrated;
};
int reg_store_migrate(struct store *st, const struct net_addr *locals, size_t n,
		      struct reg_store_mig *m);
/* The same with the stack's sockets, logging what was migrated. */
int reg_store_schema_setup(struct registrar *reg, struct store *st);

struct reg_store_load_stats {
	uint32_t users, bindings, subs, unknown, bad;
};
int reg_store_load(struct registrar *reg, struct reg_store_load_stats *ls);
struct hss_user *reg_store_user_find(const struct registrar *reg,
				     const struct reg_store_key *k);
struct store *reg_store_st(const struct registrar *reg);
int64_t reg_store_wall_now(void);

#endif
