/*
 * hss/hss — the built-in HSS: the subscriber database of the ue_db entries
 * (manual §5.2.1) and the authentication state of each subscriber.
 *
 * hss_alloc() indexes the users of a typed configuration by IMPI, IMPU,
 * IMSI and NAI (hash tables, a million users load in about a second) and
 * rejects duplicate identities. The registrar, the S-CSCF, the monitor and
 * the remote API look users up here, read their identities and options
 * (which stay in the configuration: the HSS borrows them), get
 * authentication vectors (hss_av_generate) and resynchronise SQN after an
 * AUTS (hss_resync). The matching rules for incoming URIs, the SQN policy
 * and the authentication policy functions are described in docs/hss.md.
 *
 * Ownership: struct hss is refcounted (mem_deref frees it); it borrows the
 * struct ims_cfg given to hss_alloc, which must outlive it. User records
 * belong to the hss and stay valid until it is freed. Not thread-safe: one
 * hss belongs to the loop thread.
 * Errors: 0; EINVAL bad argument or configuration; ENOMEM; ENOKEY the user
 * has no K (or no password); EACCES an AUTS whose MAC-S does not verify;
 * ERANGE SQN exhausted; EPERM an algorithm weaker than authent_type; EIO
 * crypto failure.
 */
#ifndef HSS_HSS_H
#define HSS_HSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "auth/aka.h"
#include "auth/digest.h"
#include "config/ims_cfg.h"
#include "core/pl.h"

struct hss;
struct hss_user;

/* Longest user part, number, IMPI or NAI we index or look up. */
#define HSS_KEY_MAX 256
/* Size of a buffer that holds any IMPU formatted by hss_impu_uri(). */
#define HSS_URI_MAX 768
/* "not found" for IMPU indexes */
#define HSS_IMPU_NONE UINT32_MAX

/* ---- database ---- */

/*
 * Builds the indexes over cfg->ue and cfg->echo. On EINVAL, err holds
 * "ue_db[5].impu[1]: IMPU \"tel:+331\" already used by ue_db[2].impu[0]"
 * or a similar message naming the entries (err may be NULL).
 */
int hss_alloc(struct hss **hssp, const struct ims_cfg *cfg, char *err, size_t errlen);

uint32_t hss_user_count(const struct hss *hss);
/* Total IMPUs over all users (echo IMPUs not included). */
uint32_t hss_impu_count(const struct hss *hss);
/* Users in configuration order: index 0..hss_user_count()-1. */
struct hss_user *hss_user_at(const struct hss *hss, uint32_t idx);
uint32_t hss_user_index(const struct hss *hss, const struct hss_user *u);
/*
 * Run-time provisioning (remote API users_add, docs/hss.md): the entries of
 * set (ims_cfg_ue_from_json) become users hss_user_count().. in order, with
 * the checks of hss_alloc (duplicate identities refused, naming the
 * entries as ue_db[<user index>]); all or none. The hss owns set on
 * success (freed with it). Users are never moved nor removed: every
 * hss_user pointer and index stays valid, and a new user's slots are NULL.
 * Modules that sized per-user tables at start (hss_user_count() then) see
 * the new users' indexes beyond them and must bound-check (they do).
 * ENOSPC: more than HSS_ADD_MAX users added over the process's life.
 */
#define HSS_ADD_MAX 65536u
int hss_users_add(struct hss *hss, struct ims_cfg *set, char *err, size_t errlen);

/*
 * The added users in the state file (hss_store.c, docs/hss.md): attach
 * creates the table and adds the users saved there again (each row with
 * the checks of the day; a row that fails is logged and kept); imsd calls
 * it before the registrar and the SMS service read their rows, so the
 * bindings and SMS of those users are restored too. save writes the
 * `users` JSON array text of the hss_users_add that just succeeded (its
 * users are the last ones; EINVAL: not a JSON array of at most that many,
 * or over 16 MiB), and keeps each user's entry for hss_store_user_change
 * (not kept when the row could not be queued): EINPROGRESS and
 * h(0 or errno, arg) on the loop thread once committed or failed; ENOENT
 * without a state file; 0 when it was committed at once (no worker pool:
 * h not called); another errno (h not called) when it failed or cannot be
 * queued. detach waits for a running save (its h called), fails the
 * queued ones (ECANCELED) and lets go of the store: at shutdown, before
 * the caller of save goes.
 */
struct store;
typedef void(hss_store_done_h)(int err, void *arg);
int hss_store_attach(struct hss *hss, struct store *st, char *err, size_t errlen);
int hss_store_save(struct hss *hss, const char *users, size_t len, hss_store_done_h *h,
		   void *arg);
void hss_store_detach(struct hss *hss);

/*
 * A later change of an added user kept in the state file too: the caller
 * made it in the hss (hss_user_update) and describes it here as the API
 * message did; the user's saved entry is edited alike and written (table
 * hss_changed, docs/hss.md). Returns as hss_store_save; ENOENT also for a
 * configured user (the configuration file stays its source of truth: the
 * change lasts until a restart), EFBIG when the entry would grow past what
 * the file reads back.
 */
struct json_t;
enum hss_change_op {
	HSS_CHANGE_USER_SET = 0, /* force_sms_over_sg */
	HSS_CHANGE_IMPU_ADD,	 /* impu: the IMPU configuration appended */
	HSS_CHANGE_IMPU_DEL,	 /* idx: the IMPU removed */
	HSS_CHANGE_IMPU_SET,	 /* idx, impu: the object of the members set */
};
struct hss_change {
	enum hss_change_op op;
	uint32_t idx;		    /* the IMPU's index before the change */
	const struct json_t *impu; /* borrowed for the call */
	bool force_sms_over_sg;
};
int hss_store_user_change(struct hss *hss, const struct hss_user *u,
			  const struct hss_change *c, hss_store_done_h *h, void *arg);
/* The echo IMPUs added at run time (hss_echo_add) and not removed since,
 * written as a whole (after either change); configured ones are not:
 * one removed comes back at a restart. Returns as hss_store_save. */
int hss_store_echo_save(struct hss *hss, hss_store_done_h *h, void *arg);

/*
 * Run-time change of one user (remote API impu_add, impu_del, user_set):
 * its IMPUs become impus[0..impu_count) (copied; the entries' strings and
 * options must live as long as the hss: from a previous hss_user_cfg(u) or
 * from set, which the hss then owns, may be NULL), with force_sms_over_sg.
 * An IMPU another user has is refused (EINVAL, err naming it) and nothing
 * changes. The user's identities, credentials and slots are kept; the
 * previous entry stays allocated. IMPU indexes of u change: a caller whose
 * user is registered de-registers it first (docs/hss.md).
 */
struct hss_user_update_prm {
	const struct ims_cfg_impu *impus;
	uint32_t impu_count;
	bool force_sms_over_sg;
};
int hss_user_update(struct hss *hss, struct hss_user *u, const struct hss_user_update_prm *p,
		    struct ims_cfg *set, char *err, size_t errlen);

/*
 * The global echo list at run time (remote API impu_add / impu_del with
 * impi "echo"): uri added with the checks of the file (a URI that parses,
 * no other user's or echo IMPU; EINVAL with err), or removed (ENOENT: not
 * an echo IMPU). At most HSS_ADD_MAX additions over the process's life
 * (ENOSPC).
 */
int hss_echo_add(struct hss *hss, const char *uri, char *err, size_t errlen);
int hss_echo_del(struct hss *hss, const char *uri);

/* Bytes the HSS allocated itself (records, index entries, bucket arrays). */
size_t hss_mem_usage(const struct hss *hss);

/* ---- lookups (all views borrowed for the call only) ---- */

/*
 * By IMPI (the Authorization username): exact user part, case-insensitive
 * host. A user without a configured impi is found by the IMPI derived from
 * its IMSI (TS 23.003 §13.3, "<imsi>@ims.mnc<MNC>.mcc<MCC>.3gppnetwork.org").
 * Several users match only for multi_sim entries: hss_users_by_impi fills
 * up to max of them in configuration order and returns how many matched.
 */
struct hss_user *hss_user_by_impi(const struct hss *hss, struct pl impi);
size_t hss_users_by_impi(const struct hss *hss, struct pl impi, struct hss_user **out,
			 size_t max);
struct hss_user *hss_user_by_imsi(const struct hss *hss, struct pl imsi);
size_t hss_users_by_imsi(const struct hss *hss, struct pl imsi, struct hss_user **out,
			 size_t max);
struct hss_user *hss_user_by_nai(const struct hss *hss, struct pl nai);

/* A user and which of its IMPUs matched. */
struct hss_impu_match {
	struct hss_user *user;
	uint32_t impu; /* index into the user's impu array */
};

/*
 * By any IMPU, with the rules of docs/hss.md: no scheme means sip, host
 * compared without case and completed with the domain, URI parameters
 * ignored, tel: and sip:...;user=phone (or a numeric sip user part) compared
 * by number, urn: exactly. impu_idx (may be NULL) receives the matched
 * IMPU's index. hss_users_by_impu returns every matching user (multi_sim).
 */
struct hss_user *hss_user_by_impu(const struct hss *hss, struct pl uri,
				  uint32_t *impu_idx);
size_t hss_users_by_impu(const struct hss *hss, struct pl uri, struct hss_impu_match *out,
			 size_t max);
/* True if uri is one of the global `echo` IMPUs. */
bool hss_is_echo(const struct hss *hss, struct pl uri);
uint32_t hss_echo_count(const struct hss *hss);

/*
 * multi_sim: among candidate users (from a lookup), the one with an IMPU
 * whose imei matches `instance` (a +sip.instance value such as
 * "<urn:gsma:imei:35000000-000001-0>", quotes and brackets allowed, or bare
 * IMEI digits; TAC and SNR are compared, the check digit and SVN are not).
 * Failing that, the only candidate with no imei configured. NULL if none.
 */
struct hss_user *hss_user_pick_imei(struct hss_user *const *users, size_t n,
				    struct pl instance);
/* The IMEI digits (TAC+SNR, 14) of an instance or IMEI text; EBADMSG. */
int hss_imei_parse(struct pl instance, char digits[15]);

/* ---- one user ---- */

/*
 * Per-user pointer slots for the one module that claims them (the
 * registrar: its state for the user, its pending challenge), so that the
 * hot path finds them from the hss_user without a hash lookup. Whoever
 * claims them sets a slot when it creates the state and clears it before
 * freeing it. hss_user_slots_claim() returns true to its first caller
 * only (others keep their own indexes); release gives them up.
 */
enum hss_user_slot_id {
	HSS_SLOT_REG_USER = 0,
	HSS_SLOT_REG_CHAL,
};
bool hss_user_slots_claim(struct hss *hss);
void hss_user_slots_release(struct hss *hss); /* clears every slot */
void *hss_user_slot(const struct hss_user *u, enum hss_user_slot_id id);
void hss_user_slot_set(struct hss_user *u, enum hss_user_slot_id id, void *p);

const struct ims_cfg_ue *hss_user_cfg(const struct hss_user *u);
/* IMPI as configured, or NULL (users found by their IMSI-derived IMPI). */
const char *hss_user_impi(const struct hss_user *u);
const char *hss_user_imsi(const struct hss_user *u);
uint32_t hss_user_impu_count(const struct hss_user *u);
const struct ims_cfg_impu *hss_user_impu(const struct hss_user *u, uint32_t i);
/* Options of IMPU i (display_name, domain, anonymous...), never NULL for a
 * user and a valid i; the user-level block for i == HSS_IMPU_NONE; NULL
 * for no user (a call imsd makes itself has no caller in the database). */
const struct ims_cfg_impu_opts *hss_impu_opts(const struct hss_user *u, uint32_t i);
const char *hss_impu_display_name(const struct hss_user *u, uint32_t i);
/*
 * IMPU i as a full URI: "sip:user@domain" (domain completed when the
 * configuration wrote none), "tel:+336...", "urn:service:sos". ENOSPC if it
 * does not fit (HSS_URI_MAX always does).
 */
int hss_impu_uri(const struct hss *hss, const struct hss_user *u, uint32_t i, char *buf,
		 size_t size);
/*
 * The IMPUs for P-Associated-URI: every IMPU not marked associated: false,
 * `preferred` ones first, then configuration order. Writes up to max
 * indexes and returns how many there are.
 */
size_t hss_user_associated(const struct hss_user *u, uint32_t *idx, size_t max);
/* The asserted IMPU (asserted: true), else the first; HSS_IMPU_NONE if the
 * user has no IMPU. */
uint32_t hss_user_asserted(const struct hss_user *u);
/* The preferred IMPU (preferred: true), else the first associated one,
 * else the first. */
uint32_t hss_user_preferred(const struct hss_user *u);

/* ---- authentication (hss_auth.c) ---- */

/*
 * A fresh vector: RAND from OpenSSL RAND_bytes, SQN = sqn_he_next(SQN_HE)
 * with the IND of the configured sqn, XRES/CK/IK/AUTN by the user's
 * algorithm. SQN_HE becomes the vector's SQN. Wipe av with
 * aka_vector_wipe() once used. ENOKEY: no K configured.
 */
int hss_av_generate(struct hss_user *u, struct aka_vector *av);
/*
 * Resynchronisation (TS 33.102 §6.3.5): verifies AUTS against the RAND of
 * the challenge the UE rejected and moves SQN_HE to SQN_MS unless SQN_HE is
 * already ahead of it (by less than the USIM's window), so the next vector
 * is accepted. EACCES if MAC-S is wrong: SQN_HE is not touched. sqn_ms may
 * be NULL.
 */
int hss_resync(struct hss_user *u, const uint8_t rand[AKA_RAND_LEN], const uint8_t *auts,
	       size_t auts_len, uint64_t *sqn_ms);
/* The same from a Cx SIP-Authorization value: RAND || AUTS (TS 29.228). */
int hss_resync_sip_auth(struct hss_user *u, const uint8_t *sa, size_t len,
			uint64_t *sqn_ms);
uint64_t hss_user_sqn_he(const struct hss_user *u);
/* Restores SQN_HE (from the state file); EINVAL above 48 bits. */
int hss_user_sqn_set(struct hss_user *u, uint64_t sqn_he);

/*
 * HA1 = MD5(username ":" realm ":" pwd) as 32 lower-case hex digits, for
 * MD5 digest users. An empty username means the configured IMPI. ENOKEY:
 * no pwd configured.
 */
int hss_md5_ha1(const struct hss_user *u, struct pl username, struct pl realm,
		char out[33]);
/* The configured password as a view (for digest_prm.password), empty if
 * none. */
struct pl hss_user_pwd(const struct hss_user *u);

/* ---- authentication policy (§5.2.1) ---- */

/* False when authent_type is none or `authentication: false` is set for
 * the user (impu == HSS_IMPU_NONE) or for that IMPU. */
bool hss_auth_required(const struct hss_user *u, uint32_t impu);
/* The authent_type level of a Digest algorithm (MD5-sess is MD5,
 * AKAv1-SHA-256 is AKAv1). */
enum ims_cfg_authent hss_authent_level(enum digest_algo algo);
/* "The client's algorithm is at least the configured one." */
bool hss_authent_at_least(enum digest_algo offered, enum ims_cfg_authent min);
/*
 * The algorithm to challenge with. offered == NULL (the UE named none):
 * authent_type. Otherwise the offered algorithm when it is at least
 * authent_type and the user has its credentials (K for AKA, pwd for MD5),
 * else authent_type. EPERM: offered is weaker than authent_type. EINVAL:
 * authentication is not required (see hss_auth_required).
 */
int hss_auth_select(const struct hss_user *u, const enum digest_algo *offered,
		    enum digest_algo *algo);
enum digest_qop hss_auth_qop(const struct hss_user *u);
/* auth_on_register_only: the user's value, else the global one. */
bool hss_auth_on_register_only(const struct hss_user *u);

#endif
