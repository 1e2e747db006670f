/*
 * hss/hss_int — private structures of the built-in HSS, shared by hss.c
 * (database and lookups), hss_uri.c (IMPU/IMPI matching) and hss_auth.c.
 */
#ifndef HSS_HSS_INT_H
#define HSS_HSS_INT_H

#include "core/hash.h"
#include "hss/hss.h"

/*
 * One subscriber. 48 bytes: the identities and options stay in the cfg
 * entry (borrowed); only what changes at run time (SQN_HE) lives here.
 */
enum { HSS_USER_SLOTS = 2 };

struct hss_user {
	struct hash_entry he_impi;   /* in hss->by_impi when ue->impi is set */
	struct hash_entry he_imsi;   /* in hss->by_imsi when ue->imsi is set */
	const struct ims_cfg_ue *ue; /* borrowed from the cfg */
	uint64_t sqn_he;	     /* last SQN handed out (or configured) */
	void *slot[HSS_USER_SLOTS];  /* borrowed: the slots' claimant's */
};

/* user value of an echo IMPU entry */
#define HSS_ECHO UINT32_MAX

/* One IMPU (or NAI) in an index: 24 bytes. */
struct hss_key_ent {
	struct hash_entry he;
	uint32_t user; /* index in hss->users, or HSS_ECHO */
	uint32_t item; /* IMPU index in the user (or in cfg->echo) */
};

/* An echo IMPU added at run time (hss_echo_add); stays allocated when
 * removed (hss_echo_del takes it out of the index). */
struct hss_echo_ent {
	struct hss_key_ent e;
	bool gone; /* removed (hss_echo_del): not saved any more */
	char text[];
};

/* Users added at run time by one hss_users_add call (hss_add.c). */
struct hss_added {
	struct ims_cfg *set;	 /* owned: the entries the users borrow */
	struct hss_key_ent *ents; /* owned: their IMPU and NAI index entries */
	struct ims_cfg_ue *ue;	  /* hss_user_update: the changed entry, owned */
	struct ims_cfg_impu *impus; /* and its IMPU array, owned */
	struct hss_added *next;
};

struct hss {
	const struct ims_cfg *cfg; /* borrowed; outlives the hss */
	struct hss_user *users;	   /* owned, cfg->ue_count */
	struct hss_key_ent *impus; /* owned, impu_count + echo_count */
	struct hss_key_ent *nais;  /* owned, nai_count */
	struct hash *by_impi, *by_imsi, *by_impu, *by_nai; /* owned */
	uint32_t user_count, impu_count, echo_count, nai_count;
	bool slots_claimed;
	struct hss_added *added; /* owned list, newest first */
	/* echo IMPUs added at run time: entry items cfg->echo_count + i */
	struct hss_echo_ent **echo_added; /* owned, each owned; never moved */
	uint32_t echo_added_n;
	size_t added_bytes;	 /* index entries of the added users */
	struct hss_store *store; /* owned (hss_store.c); NULL: no state file */
};

/* ---- hss.c: indexing one user (at load and at hss_users_add) ---- */

/* IMPI, IMSI and NAI of users[i] checked against the indexes (duplicates
 * refused but in multi_sim groups), then inserted (NAI with nai_ent);
 * nothing is inserted on EINVAL. */
int hss_user_keys_index(struct hss *hss, uint32_t i, struct hss_key_ent *nai_ent, char *err,
			size_t errlen);
/* One IMPU entry checked for conflicts, then inserted; EINVAL: not. */
int hss_impu_insert(struct hss *hss, struct hss_key_ent *e, char *err, size_t errlen);

/* ---- hss_add.c ---- */
void hss_added_free(struct hss *hss);

/* ---- hss_uri.c ---- */

enum hss_uri_kind {
	HSS_URI_USER = 0, /* sip, sips, tel, or no scheme */
	HSS_URI_URN,
};

/* A URI reduced to what identifies a subscriber. */
struct hss_uri {
	uint8_t kind;	/* enum hss_uri_kind */
	bool number;	/* key is a telephone number */
	bool phone;	/* tel: or user=phone: the number alone identifies */
	bool tel;	/* written as tel: */
	struct pl key;	/* user part, number (visual separators removed) or URN */
	struct pl host; /* without port; p == NULL: none (matches any) */
	char buf[HSS_KEY_MAX];
};

/*
 * Parses uri; a missing host becomes def_host (may be NULL). EINVAL:
 * unsupported scheme, empty or oversized user part.
 */
int hss_uri_parse(struct pl uri, const char *def_host, struct hss_uri *u);
uint64_t hss_uri_hash(const struct hss_uri *u);
/* Does incoming URI `in` designate stored IMPU `st`? */
bool hss_uri_match(const struct hss_uri *in, const struct hss_uri *st);
/* Could some URI designate both stored IMPUs (a duplicate)? */
bool hss_uri_conflict(const struct hss_uri *a, const struct hss_uri *b);

/* "user@host" split at the last '@'; host.p NULL if there is none. */
void hss_nai_split(struct pl s, struct pl *user, struct pl *host);
/* Exact user part, case-insensitive host. */
bool hss_nai_eq(struct pl a, struct pl b);
uint64_t hss_nai_hash(struct pl s);

/* The stored text of an index entry, as configured (the domain that
 * completes it is not used to match it). */
struct pl hss_ent_text(const struct hss *hss, const struct hss_key_ent *e);

#endif
