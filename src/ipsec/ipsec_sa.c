/*
 * ipsec/ipsec_sa — the SA table (see ipsec_sa.h for the roles and states).
 *
 * Each set embeds four hash entries: two in the SPI index (its inbound SAs)
 * and two in the flow index (its outbound SAs, keyed by UE IP, UE port and
 * our port). Our SPIs are drawn at random (esp_rand_bytes) above 255 (RFC 4303
 * §2.1) and checked unique against the SPI index, so a UE cannot guess the
 * next one and two sets never share one.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth/auth_codec.h"
#include "core/log.h"
#include "core/mem.h"
#include "ipsec/ipsec_sa.h"

struct ipsec_ent {
	struct hash_entry he;
	struct ipsec_set *set;
	enum ipsec_sa_role role;
};

struct ipsec_set {
	uint64_t id, owner, deadline_ms;
	enum ipsec_set_state state;
	struct net_addr ue, local;
	uint16_t ue_port_c, ue_port_s, port_c, port_s;
	uint32_t spi_c, spi_s;	     /* ours (inbound) */
	uint32_t ue_spi_c, ue_spi_s; /* the UE's (outbound) */
	enum esp_aalg aalg;
	enum esp_ealg ealg;
	struct esp_keys keys; /* owned, wiped */
	/* the Security-Server value, printed once at creation: the 401 says
	 * it and the Security-Verify is first compared with it byte for byte */
	char server_txt[SEC_AGREE_VALUE_MAX];
	size_t server_len;
	struct esp_sa *sa[IPSEC_ROLE_COUNT];
	struct ipsec_ent ent[IPSEC_ROLE_COUNT];
	struct hash_entry by_id;
};

struct ipsec_table {
	struct hash *by_spi, *by_flow, *by_id;
	uint64_t next_id;
	size_t max_sets;
	struct ipsec_table_stats st;
	struct net_addr locals[IPSEC_TABLE_LOCALS_MAX]; /* IPs that carry SAs */
	size_t nlocals;
};

struct flow_key {
	const struct net_addr *ue;
	uint16_t ue_port, local_port;
};

static uint64_t flow_hash(const struct net_addr *ue, uint16_t ue_port, uint16_t local_port)
{
	return hash_mix(((uint64_t)net_addr_hash_ip(ue) << 32) | (uint64_t)ue_port << 16 |
			local_port);
}

static bool spi_match(const struct hash_entry *e, const void *key)
{
	const struct ipsec_ent *x = HASH_OBJ(e, struct ipsec_ent, he);
	uint32_t spi = *(const uint32_t *)key;

	return (x->role == IPSEC_IN_S ? x->set->spi_s : x->set->spi_c) == spi;
}

static bool flow_match(const struct hash_entry *e, const void *key)
{
	const struct ipsec_ent *x = HASH_OBJ(e, struct ipsec_ent, he);
	const struct flow_key *k = key;
	const struct ipsec_set *s = x->set;
	bool out_c = x->role == IPSEC_OUT_C;

	return (out_c ? s->ue_port_c : s->ue_port_s) == k->ue_port &&
	       (out_c ? s->port_s : s->port_c) == k->local_port && ipsec_addr_eq(&s->ue, k->ue, false);
}

static bool id_match(const struct hash_entry *e, const void *key)
{
	return HASH_OBJ(e, struct ipsec_set, by_id)->id == *(const uint64_t *)key;
}

int ipsec_table_alloc(struct ipsec_table **tp, size_t max_sets)
{
	struct ipsec_table *t = calloc(1, sizeof(*t));
	int err = ENOMEM;

	if (!t)
		return ENOMEM;
	if (hash_alloc(&t->by_spi, 64) || hash_alloc(&t->by_flow, 64) || hash_alloc(&t->by_id, 32))
		goto out;
	t->max_sets = max_sets ? max_sets : 100000;
	t->next_id = 1;
	*tp = t;
	return 0;
out:
	ipsec_table_free(t);
	return err;
}

static void set_free(struct ipsec_set *s)
{
	for (int r = 0; r < IPSEC_ROLE_COUNT; r++)
		esp_sa_free(s->sa[r]);
	OPENSSL_cleanse(s, sizeof(*s));
	free(s);
}

static void set_unlink(struct ipsec_table *t, struct ipsec_set *s)
{
	hash_remove(t->by_spi, &s->ent[IPSEC_IN_S].he);
	hash_remove(t->by_spi, &s->ent[IPSEC_IN_C].he);
	hash_remove(t->by_flow, &s->ent[IPSEC_OUT_C].he);
	hash_remove(t->by_flow, &s->ent[IPSEC_OUT_S].he);
	hash_remove(t->by_id, &s->by_id);
	t->st.sets--;
}

void ipsec_table_free(struct ipsec_table *t)
{
	struct hash_iter it;
	struct hash_entry *e;

	if (!t)
		return;
	if (t->by_id) {
		hash_iter_init(&it, t->by_id);
		while ((e = hash_iter_next(&it))) {
			struct ipsec_set *s = HASH_OBJ(e, struct ipsec_set, by_id);

			set_unlink(t, s);
			set_free(s);
		}
	}
	mem_deref(t->by_spi);
	mem_deref(t->by_flow);
	mem_deref(t->by_id);
	free(t);
}

void ipsec_table_stats(const struct ipsec_table *t, struct ipsec_table_stats *st)
{
	*st = t->st;
}

/* A fresh SPI of ours, not in use and not `other`. */
static int spi_pick(struct ipsec_table *t, uint32_t other, uint32_t *spi)
{
	for (int i = 0; i < 64; i++) {
		uint32_t v;
		enum ipsec_sa_role r;

		if (esp_rand_bytes((uint8_t *)&v, sizeof(v)))
			return EIO;
		if (v < 256 || v == other || ipsec_table_by_spi(t, v, &r)) {
			t->st.spi_collisions++;
			continue;
		}
		*spi = v;
		return 0;
	}
	return EEXIST;
}

static uint32_t role_spi(const struct ipsec_set *s, enum ipsec_sa_role r)
{
	const uint32_t spi[IPSEC_ROLE_COUNT] = {s->spi_s, s->ue_spi_c, s->ue_spi_s, s->spi_c};

	return spi[r];
}

/* The keyed ESP SA of role r (esp_sa_alloc), of its direction only. */
static int sa_make(struct ipsec_set *s, enum ipsec_sa_role r)
{
	bool in = r == IPSEC_IN_S || r == IPSEC_IN_C;
	struct esp_sa_prm p = {.spi = role_spi(s, r), .aalg = s->aalg, .ealg = s->ealg,
			       .keys = &s->keys, .dir = in ? ESP_DIR_IN : ESP_DIR_OUT};

	return esp_sa_alloc(&s->sa[r], &p);
}

static int prm_check(const struct ipsec_set_prm *p)
{
	const struct sec_offer *o = p ? p->ue_offer : NULL;

	if (!o || !p->ck || !p->ik || !p->port_c || !p->port_s || p->port_c == p->port_s ||
	    !net_addr_isset(&p->ue) || net_addr_af(&p->ue) != net_addr_af(&p->local) ||
	    !o->alg_known || !o->ealg_known || !esp_alg_pair_valid(o->aalg, o->ealg) ||
	    !o->spi_c || !o->spi_s || !o->port_c || !o->port_s)
		return EINVAL;
	return 0;
}

/*
 * One line per SA at info level; with ipsec.key=1 it carries the keys as
 * Wireshark's esp_sa table wants them: the encryption key followed by the
 * salt for aes-ctr/aes-gcm, the authentication key as used (HMAC-SHA-1:
 * IK || 32 zero bits; aes-gmac: its key and salt).
 */
static void set_log(const struct ipsec_set *s, const char *what)
{
	char src[NET_ADDR_STRLEN], dst[NET_ADDR_STRLEN];
	char ek[AUTH_HEX_SIZE(ESP_KEY_MAX + ESP_SALT_LEN)] = "";
	char ak[AUTH_HEX_SIZE(ESP_KEY_MAX + ESP_SALT_LEN)] = "";
	uint8_t buf[ESP_KEY_MAX + ESP_SALT_LEN];
	struct ipsec_sa_info in;
	bool keys = log_key(LOG_IPSEC);

	if (!log_on(LOG_IPSEC, LOG_LVL_INFO))
		return;
	if (keys) {
		memcpy(buf, s->keys.ekey, s->keys.ekey_len);
		memcpy(buf + s->keys.ekey_len, s->keys.esalt, ESP_SALT_LEN);
		auth_hex_encode(buf, s->keys.ekey_len +
				       (s->ealg == ESP_EALG_AES_CTR || s->ealg == ESP_EALG_AES_GCM
					    ? ESP_SALT_LEN
					    : 0),
				ek);
		memcpy(buf, s->keys.akey, s->keys.akey_len);
		memcpy(buf + s->keys.akey_len, s->keys.asalt, ESP_SALT_LEN);
		auth_hex_encode(buf, s->keys.akey_len +
				       (s->aalg == ESP_AALG_AES_GMAC ? ESP_SALT_LEN : 0),
				ak);
		OPENSSL_cleanse(buf, sizeof(buf));
	}
	for (int r = 0; r < IPSEC_ROLE_COUNT; r++) {
		if (ipsec_set_sa_info(s, (enum ipsec_sa_role)r, &in))
			continue;
		esp_keys_wipe(&in.keys);
		log_write(LOG_IPSEC, LOG_LVL_INFO, in.in ? LOG_DIR_FROM : LOG_DIR_TO, "-",
			  "sa %s set=%llu spi=0x%08x dir=%s src=%s dst=%s alg=%s ealg=%s%s%s%s%s",
			  what, (unsigned long long)s->id, in.spi, in.in ? "in" : "out",
			  net_addr_print(&in.src, src, sizeof(src)),
			  net_addr_print(&in.dst, dst, sizeof(dst)), esp_aalg_name(s->aalg),
			  esp_ealg_name(s->ealg), keys ? " ekey=" : "", keys ? ek : "",
			  keys ? " akey=" : "", keys ? ak : "");
	}
	OPENSSL_cleanse(ek, sizeof(ek));
	OPENSSL_cleanse(ak, sizeof(ak));
}

static int server_txt_make(struct ipsec_set *s)
{
	struct sec_offer o;
	int err;

	ipsec_set_server_offer(s, &o);
	err = sec_agree_print(&o, s->server_txt, sizeof(s->server_txt));
	s->server_len = err ? 0 : strlen(s->server_txt);
	return err;
}

int ipsec_set_add(struct ipsec_table *t, const struct ipsec_set_prm *prm, uint64_t *idp)
{
	struct ipsec_set *s;
	int err;

	if (!t || !idp || prm_check(prm))
		return EINVAL;
	if (t->st.sets >= t->max_sets)
		return ENOSPC;
	s = calloc(1, sizeof(*s));
	if (!s)
		return ENOMEM;
	s->ue = prm->ue;
	s->local = prm->local;
	s->ue_port_c = prm->ue_offer->port_c;
	s->ue_port_s = prm->ue_offer->port_s;
	s->ue_spi_c = prm->ue_offer->spi_c;
	s->ue_spi_s = prm->ue_offer->spi_s;
	s->port_c = prm->port_c;
	s->port_s = prm->port_s;
	s->aalg = prm->ue_offer->aalg;
	s->ealg = prm->ue_offer->ealg;
	s->owner = prm->owner;
	s->deadline_ms = prm->deadline_ms;
	if ((err = spi_pick(t, 0, &s->spi_s)) || (err = spi_pick(t, s->spi_s, &s->spi_c)) ||
	    (err = esp_key_expand(s->aalg, s->ealg, prm->ck, prm->ik, &s->keys)))
		goto out;
	for (int r = 0; r < IPSEC_ROLE_COUNT; r++) {
		s->ent[r].set = s;
		s->ent[r].role = (enum ipsec_sa_role)r;
	}
	/* The pair a registration uses (the second REGISTER in, its 200 out)
	 * now, which also shows a missing algorithm before the 401 offers it;
	 * the pair of imsd's own requests to the UE (out_s, in_c) when first
	 * used (ipsec_set_sa): many registrations never use it, and a pending
	 * set that is never taken up then costs two SAs, not four. */
	if ((err = sa_make(s, IPSEC_IN_S)) || (err = sa_make(s, IPSEC_OUT_C)) ||
	    (err = server_txt_make(s)))
		goto out;
	s->id = t->next_id++;
	hash_insert(t->by_id, &s->by_id, hash_mix(s->id));
	hash_insert(t->by_spi, &s->ent[IPSEC_IN_S].he, hash_mix(s->spi_s));
	hash_insert(t->by_spi, &s->ent[IPSEC_IN_C].he, hash_mix(s->spi_c));
	hash_insert(t->by_flow, &s->ent[IPSEC_OUT_C].he,
		    flow_hash(&s->ue, s->ue_port_c, s->port_s));
	hash_insert(t->by_flow, &s->ent[IPSEC_OUT_S].he,
		    flow_hash(&s->ue, s->ue_port_s, s->port_c));
	t->st.sets++;
	t->st.sets_created++;
	*idp = s->id;
	set_log(s, "add");
	return 0;
out:
	set_free(s);
	return err;
}

struct ipsec_set *ipsec_set_get(const struct ipsec_table *t, uint64_t id)
{
	struct hash_entry *e = t ? hash_lookup(t->by_id, hash_mix(id), id_match, &id) : NULL;

	return e ? HASH_OBJ(e, struct ipsec_set, by_id) : NULL;
}

int ipsec_set_del(struct ipsec_table *t, uint64_t id)
{
	struct ipsec_set *s = ipsec_set_get(t, id);

	if (!s)
		return ENOENT;
	set_log(s, "del");
	set_unlink(t, s);
	set_free(s);
	t->st.sets_deleted++;
	return 0;
}

void ipsec_set_activate(struct ipsec_set *s)
{
	s->state = IPSEC_SET_ACTIVE;
}

#define PRUNE_MAX 256 /* sets a prune removes at most (the walk is bounded) */

/* Ids of the ACTIVE sets of s's owner on s's outbound flow of role r,
 * other than s and keep, appended to ids (at most PRUNE_MAX in all). */
static size_t prune_collect(const struct ipsec_table *t, const struct ipsec_set *s,
			    enum ipsec_sa_role r, uint64_t keep, uint64_t *ids, size_t n)
{
	bool out_c = r == IPSEC_OUT_C;
	struct flow_key k = {&s->ue, out_c ? s->ue_port_c : s->ue_port_s,
			     out_c ? s->port_s : s->port_c};
	struct hash_entry *e = hash_lookup(t->by_flow, flow_hash(k.ue, k.ue_port, k.local_port),
					   flow_match, &k);

	for (int guard = 0; e && guard < 4 * PRUNE_MAX && n < PRUNE_MAX; guard++) {
		const struct ipsec_ent *x = HASH_OBJ(e, struct ipsec_ent, he);
		const struct ipsec_set *o = x->set;

		if (x->role == r && o != s && o->id != keep && o->owner == s->owner &&
		    o->state == IPSEC_SET_ACTIVE)
			ids[n++] = o->id;
		e = hash_lookup_next(t->by_flow, e, flow_match, &k);
	}
	return n;
}

size_t ipsec_table_prune_flow(struct ipsec_table *t, const struct ipsec_set *s, uint64_t keep)
{
	uint64_t ids[PRUNE_MAX];
	size_t n = 0, del = 0;

	if (!t || !s)
		return 0;
	n = prune_collect(t, s, IPSEC_OUT_C, keep, ids, n);
	n = prune_collect(t, s, IPSEC_OUT_S, keep, ids, n);
	for (size_t i = 0; i < n; i++)
		del += ipsec_set_del(t, ids[i]) == 0; /* a set on both flows: listed twice */
	return del;
}

/* Removes the sets for which pick() holds; returns how many. */
static size_t sweep(struct ipsec_table *t, bool (*pick)(const struct ipsec_set *, uint64_t),
		    uint64_t arg)
{
	struct hash_iter it;
	struct hash_entry *e;
	size_t n = 0;

	hash_iter_init(&it, t->by_id);
	while ((e = hash_iter_next(&it))) {
		struct ipsec_set *s = HASH_OBJ(e, struct ipsec_set, by_id);

		if (!pick(s, arg))
			continue;
		set_unlink(t, s);
		set_free(s);
		n++;
	}
	return n;
}

static bool pick_expired(const struct ipsec_set *s, uint64_t now)
{
	return s->state == IPSEC_SET_PENDING && s->deadline_ms && s->deadline_ms <= now;
}

static bool pick_owner(const struct ipsec_set *s, uint64_t owner)
{
	return s->owner == owner;
}

size_t ipsec_table_expire(struct ipsec_table *t, uint64_t now_ms)
{
	size_t n = sweep(t, pick_expired, now_ms);

	t->st.sets_expired += n;
	return n;
}

size_t ipsec_table_del_owner(struct ipsec_table *t, uint64_t owner)
{
	size_t n = sweep(t, pick_owner, owner);

	t->st.sets_deleted += n;
	return n;
}

uint64_t ipsec_set_id(const struct ipsec_set *s)
{
	return s->id;
}

uint64_t ipsec_set_owner(const struct ipsec_set *s)
{
	return s->owner;
}

enum ipsec_set_state ipsec_set_state(const struct ipsec_set *s)
{
	return s->state;
}

const struct net_addr *ipsec_set_ue(const struct ipsec_set *s)
{
	return &s->ue;
}

uint16_t ipsec_set_ue_port(const struct ipsec_set *s, bool server)
{
	return server ? s->ue_port_s : s->ue_port_c;
}

struct esp_sa *ipsec_set_sa(const struct ipsec_set *s, enum ipsec_sa_role r)
{
	/* made on first use: a cache of the set, not a change of what it is
	 * (the keys and SPIs are fixed at ipsec_set_add) */
	struct ipsec_set *m = (struct ipsec_set *)(uintptr_t)s;

	if ((unsigned)r >= IPSEC_ROLE_COUNT)
		return NULL;
	if (!m->sa[r] && sa_make(m, r))
		return NULL;
	return m->sa[r];
}

void ipsec_set_server_offer(const struct ipsec_set *s, struct sec_offer *o)
{
	memset(o, 0, sizeof(*o));
	o->mech = pl_from_str(SEC_AGREE_MECH_IPSEC);
	o->ipsec = o->alg_known = o->ealg_known = true;
	o->aalg = s->aalg;
	o->ealg = s->ealg;
	o->spi_c = s->spi_c;
	o->spi_s = s->spi_s;
	o->port_c = s->port_c;
	o->port_s = s->port_s;
	o->q = 100; /* TS 33.203 §7.1 example: q=0.1 */
	o->has = SEC_HAS_IPSEC_ALL | SEC_HAS_EALG | SEC_HAS_Q;
}

struct pl ipsec_set_server_text(const struct ipsec_set *s)
{
	return (struct pl){s->server_txt, s->server_len};
}

int ipsec_set_sa_flow(const struct ipsec_set *s, enum ipsec_sa_role r, struct net_addr *src,
		      struct net_addr *dst)
{
	bool in = r == IPSEC_IN_S || r == IPSEC_IN_C;
	uint16_t ue_port = r == IPSEC_IN_S || r == IPSEC_OUT_C ? s->ue_port_c : s->ue_port_s;
	uint16_t our_port = r == IPSEC_IN_S || r == IPSEC_OUT_C ? s->port_s : s->port_c;

	if ((unsigned)r >= IPSEC_ROLE_COUNT)
		return EINVAL;
	*src = in ? s->ue : s->local;
	*dst = in ? s->local : s->ue;
	net_addr_set_port(src, in ? ue_port : our_port);
	net_addr_set_port(dst, in ? our_port : ue_port);
	return 0;
}

int ipsec_set_sa_info(const struct ipsec_set *s, enum ipsec_sa_role r,
		      struct ipsec_sa_info *info)
{
	if ((unsigned)r >= IPSEC_ROLE_COUNT)
		return EINVAL;
	memset(info, 0, sizeof(*info));
	info->role = r;
	info->in = r == IPSEC_IN_S || r == IPSEC_IN_C;
	info->spi = role_spi(s, r);
	ipsec_set_sa_flow(s, r, &info->src, &info->dst);
	info->aalg = s->aalg;
	info->ealg = s->ealg;
	info->keys = s->keys;
	if (s->sa[r]) /* else not made yet: nothing went through it */
		info->st = *esp_sa_stats(s->sa[r]);
	return 0;
}

struct ipsec_set *ipsec_table_by_spi(const struct ipsec_table *t, uint32_t spi,
				     enum ipsec_sa_role *role)
{
	struct hash_entry *e = hash_lookup(t->by_spi, hash_mix(spi), spi_match, &spi);
	struct ipsec_ent *x;

	if (!e)
		return NULL;
	x = HASH_OBJ(e, struct ipsec_ent, he);
	*role = x->role;
	return x->set;
}

static bool better(const struct ipsec_set *a, const struct ipsec_set *b)
{
	if (!b)
		return true;
	if (a->state != b->state)
		return a->state == IPSEC_SET_ACTIVE;
	return a->id > b->id;
}

struct ipsec_set *ipsec_table_by_flow(const struct ipsec_table *t, const struct net_addr *ue,
				      uint16_t ue_port, uint16_t local_port,
				      enum ipsec_sa_role *role)
{
	struct flow_key k = {ue, ue_port, local_port};
	struct hash_entry *e =
	    hash_lookup(t->by_flow, flow_hash(ue, ue_port, local_port), flow_match, &k);
	struct ipsec_ent *best = NULL;

	for (int guard = 0; e && guard < 64; guard++) {
		struct ipsec_ent *x = HASH_OBJ(e, struct ipsec_ent, he);

		if (better(x->set, best ? best->set : NULL))
			best = x;
		e = hash_lookup_next(t->by_flow, e, flow_match, &k);
	}
	if (!best)
		return NULL;
	*role = best->role;
	return best->set;
}

bool ipsec_addr_eq(const struct net_addr *a, const struct net_addr *b, bool any_zone)
{
	uint32_t za, zb;

	if (net_addr_af(a) != AF_INET6 || net_addr_af(b) != AF_INET6)
		return net_addr_eq_ip(a, b);
	if (memcmp(&a->u.in6.sin6_addr, &b->u.in6.sin6_addr, sizeof(a->u.in6.sin6_addr)))
		return false;
	za = a->u.in6.sin6_scope_id;
	zb = b->u.in6.sin6_scope_id;
	if (any_zone || !IN6_IS_ADDR_LINKLOCAL(&a->u.in6.sin6_addr))
		return true;
	return za == zb || !za || !zb;
}

int ipsec_table_locals_set(struct ipsec_table *t, const struct net_addr *ips, size_t n)
{
	if (!t || (n && !ips) || n > IPSEC_TABLE_LOCALS_MAX)
		return EINVAL;
	memcpy(t->locals, ips, n * sizeof(*ips));
	t->nlocals = n;
	return 0;
}

bool ipsec_table_local(const struct ipsec_table *t, const struct net_addr *ip)
{
	if (!t || !ip)
		return false;
	for (size_t i = 0; i < t->nlocals; i++)
		if (ipsec_addr_eq(&t->locals[i], ip, false))
			return true;
	return !t->nlocals;
}

void ipsec_table_walk(const struct ipsec_table *t, ipsec_set_h *h, void *arg)
{
	struct hash_iter it;
	struct hash_entry *e;

	hash_iter_init(&it, t->by_id);
	while ((e = hash_iter_next(&it)))
		h(HASH_OBJ(e, struct ipsec_set, by_id), arg);
}

struct sa_walk {
	ipsec_sa_info_h *h;
	void *arg;
};

static void sa_walk_set_h(const struct ipsec_set *s, void *arg)
{
	const struct sa_walk *w = arg;
	struct ipsec_sa_info in;

	for (int r = 0; r < IPSEC_ROLE_COUNT; r++) {
		if (ipsec_set_sa_info(s, (enum ipsec_sa_role)r, &in))
			continue;
		w->h(s, &in, w->arg);
		esp_keys_wipe(&in.keys);
	}
}

void ipsec_table_sa_walk(const struct ipsec_table *t, ipsec_sa_info_h *h, void *arg)
{
	struct sa_walk w = {h, arg};

	ipsec_table_walk(t, sa_walk_set_h, &w);
}
