/*
 * registrar — IMS registration (S-CSCF with the P-CSCF role in the same
 * process): REGISTER with Digest AKA / MD5 authentication against the
 * built-in HSS, contact bindings with expiry, and the reg event package.
 *
 *   REGISTER   TS 24.229 §5.4.1, RFC 3261 §10.3, RFC 3327 (Path),
 *              RFC 3608 (Service-Route), RFC 3455 (P-Associated-URI),
 *              RFC 3310 / RFC 4169 (Digest AKAv1/AKAv2), RFC 2617 (MD5)
 *   SUBSCRIBE  RFC 3680 + RFC 6665 (reg event, application/reginfo+xml),
 *              TS 24.229 §5.4.2
 *
 * A user of the HSS (struct hss_user) is registered when it holds at least
 * one binding; all its IMPUs are registered together (implicit
 * registration set). Bindings, pending challenges and subscriptions expire
 * through one min-heap and one loop timer. Replies and NOTIFYs go through
 * struct registrar_ops, which defaults to sip_tsx_reply() and
 * sip_stack_request() and which the unit tests replace. With a state file,
 * an answer that acknowledges new state (the 200 of a REGISTER or of a reg
 * SUBSCRIBE) leaves only once that state is committed to the file
 * (registrar_store.c, "answered means committed").
 *
 * Ownership: struct registrar is refcounted (mem_deref frees it and every
 * binding, challenge and subscription). It borrows cfg, hss and stack,
 * which must outlive it. Everything runs on the loop thread.
 * Users' documentation: docs/registrar.md.
 */
#ifndef REGISTRAR_REGISTRAR_H
#define REGISTRAR_REGISTRAR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/ims_cfg.h"
#include "core/mbuf.h"
#include "hss/hss.h"
#include "sip/sip_stack.h"

struct registrar;

/* Where replies and requests go. reply defaults to sip_tsx_reply();
 * request has no default here (ENOTCONN): registrar_app_start() sets
 * sip_stack_request(stack, prm, NULL). */
struct registrar_ops {
	int (*reply)(struct sip_tsx *tsx, uint16_t scode, const char *reason,
		     const struct sip_tsx_reply_prm *prm, void *arg);
	int (*request)(struct sip_stack *stack, const struct sip_stack_req_prm *prm,
		       void *arg);
	uint64_t (*now_ms)(void *arg); /* monotonic ms; NULL: loop_now_ms() */
	/* The server transaction of id (sip_tsx_id) again, or NULL once it is
	 * gone: an answer held until its state is committed (state file) is
	 * sent to it later. No default here, and registrar_store_attach()
	 * refuses a registrar without it (EINVAL): registrar_app_start() sets
	 * sip_tsx_lookup() on the stack's transactions. */
	struct sip_tsx *(*tsx_find)(struct sip_stack *stack, uint64_t id, void *arg);
	/* The peer of flow answered a fresh challenge sent to it, so it
	 * receives what imsd sends there: NOTIFYs to it are retransmitted.
	 * Default: sip_stack_peer_prove() on the registrar's stack. */
	void (*peer_prove)(struct sip_stack *stack, const struct net_flow *flow, void *arg);
	void *arg;
};

/* Defaults in brackets. */
#define REGISTRAR_BINDINGS_MAX 16	   /* contacts per user */
#define REGISTRAR_SUBS_MAX 16		   /* reg subscriptions per user */
#define REGISTRAR_CHALLENGE_TTL 30	   /* s, lifetime of a nonce */
#define REGISTRAR_AUTH_RETRIES 1	   /* wrong answers before 403 */
#define REGISTRAR_SUB_EXPIRES_DEFAULT 3761 /* RFC 3680 §4.1 */

struct registrar_prm {
	const struct ims_cfg *cfg; /* binding_expires, subscribe_expires, path, domain */
	struct hss *hss;
	struct sip_stack *stack;	 /* may be NULL when ops replace it */
	const struct registrar_ops *ops; /* NULL: the stack; copied */
	/* Our "host[:port]" for Service-Route and Contact; NULL: the host of
	 * the first sip_addr (registrar_app_start passes the stack's
	 * sip_stack_local_uri_host(stack, 0)). */
	const char *host;
	uint32_t min_expires;	 /* 0 = 1 s; smaller non-zero expires get 423 */
	uint32_t challenge_ttl;	 /* s, 0 = REGISTRAR_CHALLENGE_TTL */
	uint32_t max_challenges; /* pending at once, 0 = max(1024, users) */
	/* Failed authentications (registrar_guard.c, docs/security.md); 0 =
	 * the default in brackets: over guard_window_s [600] seconds,
	 * guard_user_fails [5] wrong answers for a user or guard_src_fails
	 * [20] from one address lock it for guard_lock_s [300] seconds. */
	uint32_t guard_window_s, guard_lock_s, guard_user_fails, guard_src_fails;
};

int registrar_alloc(struct registrar **regp, const struct registrar_prm *prm);
/* IPsec on (docs/ipsec.md, registrar_ipsec.c): REGISTER gets the security
 * agreement of TS 33.203 §7, its SA sets in t (the datapath's table,
 * ipsec_table()). Once, before requests; NULL leaves it off. t outlives the
 * registrar. */
struct ipsec_table;
int registrar_ipsec_set(struct registrar *reg, struct ipsec_table *t);
/* ipsec is true but the datapath did not start: why (copied), logged with
 * each REGISTER that offers sec-agree (answered without IPsec). Once,
 * instead of registrar_ipsec_set. */
int registrar_ipsec_off(struct registrar *reg, const char *why);
/* The user an SA set belongs to (ipsec_set_owner() of a set the registrar
 * made), NULL for another owner. */
const struct hss_user *registrar_ipsec_owner(uint64_t owner);
/* Whether u's signalling is protected (an active SA set). */
bool registrar_user_protected(const struct registrar *reg, const struct hss_user *u);

/* Request handlers for sip_stack_method_set(..., reg). `stack` may be NULL
 * (tests). A SUBSCRIBE inside a subscription's dialog does not come here: the
 * stack's dialog layer delivers it to the registrar as the dialog's owner
 * (registrar_dialogs). */
void registrar_register_h(struct sip_stack *stack, struct sip_tsx *tsx,
			  const struct sip_msg *req, const struct net_flow *src,
			  void *arg);
/*
 * A reg-event SUBSCRIBE (RFC 3680, TS 24.229 §5.4.2.1). subscriber is the
 * served user that sent it, as the CSCF stage identified it from the
 * request's flow (registrar_user_on_flow), or NULL: only the user itself
 * may subscribe to its registration state (RFC 3680 §6), so a new
 * subscription without one is refused with 403.
 */
void registrar_subscribe(struct registrar *reg, struct sip_tsx *tsx,
			 const struct sip_msg *req, const struct net_flow *src,
			 struct hss_user *subscriber);
/* sip_tsx_resp_h for the NOTIFYs we send (arg = reg): 481/408/transport
 * errors end the subscription (RFC 6665 §4.1.2.4). */
void registrar_notify_resp_h(struct sip_tsx *tsx, const struct sip_msg *resp,
			     uint16_t scode, void *arg);

/* Option tags the registrar supports (for sip_stack_prm.option_tags):
 * "path", and "sec-agree" which is accepted and ignored while ipsec is off. */
extern const char *const registrar_option_tags[];
extern const size_t registrar_option_tag_count;

/* Runs what is due (bindings, challenges, subscriptions); the loop timer
 * calls it, tests with an injected clock call it directly. */
void registrar_expire_run(struct registrar *reg);

/* Network-initiated de-registration (remote API `unregister`, TS 24.229
 * §5.4.1.5): `id` is an IMPU or an IMPI; every binding of the user(s) is
 * removed and the subscribers get a NOTIFY with event deactivated
 * (REGISTRAR_DEACTIVATED, the UE may register again) or rejected
 * (REGISTRAR_REJECTED). ENOENT: unknown or not registered. */
enum registrar_reason { REGISTRAR_DEACTIVATED = 0, REGISTRAR_REJECTED };
int registrar_unregister(struct registrar *reg, const char *id,
			 enum registrar_reason reason);

/* ---- state, for the S-CSCF, the monitor and the API ---- */

bool registrar_is_registered(const struct registrar *reg, const struct hss_user *u);
size_t registrar_user_count(const struct registrar *reg);    /* registered users */
size_t registrar_binding_count(const struct registrar *reg); /* all bindings */
size_t registrar_challenge_count(const struct registrar *reg);
size_t registrar_sub_count(const struct registrar *reg);
/* Users and source addresses locked now after failed authentications. */
size_t registrar_locked_count(const struct registrar *reg);
/* The dialog table the subscriptions' dialogs are in: the stack's, or the
 * registrar's own without a stack (tests deliver in-dialog requests to it
 * with sip_dialogs_request). */
struct sip_dialogs *registrar_dialogs(struct registrar *reg);
/* Bytes the registrar holds: users, bindings (with their strings),
 * challenges, subscriptions, hash buckets and the expiry heap, counting 16
 * bytes of allocator overhead per allocation. */
size_t registrar_mem_usage(const struct registrar *reg);

/* One binding as seen from outside. Views valid during the call only. */
struct registrar_binding_info {
	struct pl contact;	   /* Contact value without expires (URI in <>) */
	struct pl uri;		   /* the contact URI */
	struct net_flow flow; /* to reach the UE (conn_id 0 once restored) */
	/* where the UE's requests arrive: flow itself, but for a protected
	 * UE its port-c to our port-s (flow: our port-c to its port-s,
	 * TS 33.203 §7.1) */
	struct net_flow src;
	uint32_t expires;	   /* seconds left */
	uint16_t q1000;
	uint32_t reg_id;  /* 0 if none */
	const char *imei; /* 14 digits or "" */
	uint32_t id;	  /* reginfo contact id */
};
typedef void(registrar_binding_h)(const struct registrar_binding_info *b, void *arg);
/* Calls h for each binding of u; returns how many. */
size_t registrar_bindings_foreach(const struct registrar *reg, const struct hss_user *u,
				  registrar_binding_h *h, void *arg);

/* ---- watching bindings change (registrar_info.c) ---- */

/*
 * What happened to one binding. ADDED: a new contact registered; REFRESHED:
 * a re-registration of the same contact (its flow, expiry or text may have
 * changed); REMOVED: gone, for the reason given (unregistered, expired,
 * deactivated, rejected). Services that act on registration state (calls
 * end when a leg's binding goes, pending SMS are delivered when the user
 * registers, the remote API's users_update event) watch for these instead
 * of polling.
 */
enum registrar_change {
	REGISTRAR_BINDING_ADDED = 0,
	REGISTRAR_BINDING_REFRESHED,
	REGISTRAR_BINDING_REMOVED,
};
struct registrar_change_info {
	enum registrar_change change;
	const struct hss_user *user;		   /* borrowed from the HSS */
	const struct registrar_binding_info *binding; /* expires 0 once REMOVED */
	const char *reason; /* REMOVED: "unregistered", "expired", "deactivated",
			     * "rejected"; otherwise "registered", "refreshed",
			     * "shortened" */
};
/*
 * Called on the loop thread inside the registrar's own change, after the
 * binding's new state is set and before the answer (the REGISTER's 200, held
 * until committed with a state file) has left: a watcher must not call back
 * into the registrar for that user, and one that sends the UE something
 * (an SMS, a MESSAGE) defers it to a timer so that the 200 goes first.
 * Views in the info are valid during the call only. Bindings restored from
 * the state file at start are not reported (walk registrar_user_next).
 * docs/registrar.md "Watching bindings change".
 */
typedef void(registrar_watch_h)(const struct registrar_change_info *c, void *arg);
#define REGISTRAR_WATCH_MAX 8
/* Adds a watcher (EINVAL without h, ENOSPC past REGISTRAR_WATCH_MAX, EALREADY
 * for the same h and arg twice); registrar_watch_del takes it out again. */
int registrar_watch_add(struct registrar *reg, registrar_watch_h *h, void *arg);
void registrar_watch_del(struct registrar *reg, registrar_watch_h *h, void *arg);

/*
 * Whether u holds a live binding made over this flow (same transport, peer
 * address and port): the CSCF stage's originating side asks it for the
 * users a request names (P-Preferred-Identity, From) — TS 24.229 §5.2.6.3,
 * a request from a registered UE. It looks through u's own bindings (at
 * most REGISTRAR_BINDINGS_MAX), so a flow that carries many users'
 * registrations (a P-CSCF in front, a load generator) costs no more.
 */
bool registrar_user_on_flow(const struct registrar *reg, const struct hss_user *u,
			    const struct net_flow *flow);
/* The Digest algorithm of u's last successful authentication (-1 if none or
 * registered without authentication); CK/IK of that AKA run (for IPsec). */
int registrar_user_algo(const struct registrar *reg, const struct hss_user *u);
int registrar_user_keys(const struct registrar *reg, const struct hss_user *u,
			uint8_t ck[32], size_t *ck_len, uint8_t ik[32], size_t *ik_len);

/* One user of the database as seen from outside (the monitor's `users`,
 * the remote API's `users_get`). IMPI, IMSI and IMPUs are the HSS's
 * (hss_user_impi(), hss_impu_uri()); bindings: registrar_bindings_foreach(). */
struct registrar_user_info {
	const struct hss_user *user; /* borrowed from the HSS */
	bool registered;	     /* at least one binding */
	int algo;		     /* as registrar_user_algo() */
	uint32_t nsub;		     /* reg-event subscriptions */
};
void registrar_user_info_get(const struct registrar *reg, const struct hss_user *u,
			     struct registrar_user_info *out);
/* A place in the list of every user, in ue_db order. The caller keeps it
 * between calls, so that a long listing is made in parts with the loop
 * served in between; start from {0}. */
struct registrar_user_cursor {
	uint32_t next;
};
/* The user at c into out, and c moves on; false past the last user. */
bool registrar_user_next(const struct registrar *reg, struct registrar_user_cursor *c,
			 struct registrar_user_info *out);

/* ---- state file (ue_db_filename, registrar_store.c) ---- */

struct store;
/*
 * Restores the registrations, subscriptions, SQN_HE and keys kept in st
 * (rows of users no longer in ue_db are kept, bad rows skipped and logged),
 * then keeps st up to date: what changed is written in one transaction
 * before the loop sleeps, and when the registrar is freed. From then on
 * the 200 of a REGISTER or reg SUBSCRIBE leaves once the state it
 * acknowledges is committed (a failed commit answers 500 with Retry-After
 * instead). Takes a reference to st. err says what failed (EIO: SQLite
 * error; EINVAL: no ops.tsx_find to send held answers with).
 */
int registrar_store_attach(struct registrar *reg, struct store *st, char *err,
			   size_t errlen);
/* Writes what changed now (tests; the loop does it before sleeping). */
int registrar_store_flush(struct registrar *reg);
struct registrar_store_stats {
	uint64_t users_written; /* users whose rows were written */
	uint64_t commits;	/* write transactions */
	uint64_t failures;	/* write transactions that failed */
	uint32_t pending;	/* users marked or being written, not committed yet */
};
/* False (and zeros) when there is no state file. */
bool registrar_store_stats(const struct registrar *reg, struct registrar_store_stats *out);

/* The wiring for imsd (registrar_app.c): allocates the registrar on the
 * stack and restores and keeps the state file when st is not NULL. Requests
 * reach it through the CSCF stage (cscf_registrar_add). */
int registrar_app_start(struct sip_stack *stack, const struct ims_cfg *cfg,
			struct hss *hss, struct store *st, struct registrar **regp);

#endif
