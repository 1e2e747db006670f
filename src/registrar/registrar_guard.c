/*
 * registrar_guard — failed authentications counted per user and per
 * source address, and the lockouts they lead to (docs/security.md,
 * docs/registrar.md "Password guessing").
 *
 * Every wrong answer to a challenge (a wrong Digest response, an answer
 * without the qop directives, a refused resynchronisation) counts once
 * against the user and once against the source IP address; a
 * retransmission (the same Call-ID, CSeq and Authorization) does not.
 * Within a window of `window` seconds:
 *
 *   user_fails wrong answers for one user    -> that user locked `lock` s
 *   src_fails wrong answers from one address  -> that address locked `lock` s
 *
 * A locked user or address gets 403 without a challenge (no vector spent,
 * no guess possible). Neither lock applies to a request coming over a
 * flow the user holds a live binding on: the phone already registered
 * keeps refreshing while someone else guesses, from anywhere, even from
 * behind the same address. A success clears
 * the user's count (not the address's). Entries live in the registrar's
 * expiry heap and go when their window or lock ends; at most
 * REG_GUARD_MAX exist (past that, new addresses are not tracked and the
 * first such miss is logged).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "registrar/registrar_int.h"

enum { GUARD_USER = 0, GUARD_SRC };

struct reg_guard {
	struct reg_tmr tmr; /* first: the heap hands back &g->tmr */
	struct hash_entry he; /* registrar.guards */
	const struct hss_user *u; /* GUARD_USER */
	uint8_t ip[16];		  /* GUARD_SRC: IPv4 in the first 4 bytes */
	uint8_t kind, family;
	uint16_t fails;
	uint64_t since;	 /* monotonic ms: the window's start */
	uint64_t locked; /* monotonic ms: locked until, 0 = not locked */
};

struct guard_key {
	uint8_t kind, family;
	const struct hss_user *u;
	uint8_t ip[16];
};

static void key_user(struct guard_key *k, const struct hss_user *u)
{
	memset(k, 0, sizeof(*k));
	k->kind = GUARD_USER;
	k->u = u;
}

static bool key_src(struct guard_key *k, const struct net_flow *src)
{
	memset(k, 0, sizeof(*k));
	k->kind = GUARD_SRC;
	if (!src)
		return false;
	k->family = (uint8_t)net_addr_af(&src->peer);
	if (k->family == AF_INET)
		memcpy(k->ip, &src->peer.u.in.sin_addr, 4);
	else if (k->family == AF_INET6)
		memcpy(k->ip, &src->peer.u.in6.sin6_addr, 16);
	else
		return false;
	return true;
}

static uint64_t key_hash(const struct guard_key *k)
{
	if (k->kind == GUARD_USER)
		return hash_mix((uint64_t)(uintptr_t)k->u);
	return hash_bytes(k->ip, sizeof(k->ip)) ^ k->family; /* keyed: from the network */
}

static bool guard_match(const struct hash_entry *e, const void *key)
{
	const struct reg_guard *g = HASH_OBJ(e, struct reg_guard, he);
	const struct guard_key *k = key;

	if (g->kind != k->kind)
		return false;
	if (k->kind == GUARD_USER)
		return g->u == k->u;
	return g->family == k->family && !memcmp(g->ip, k->ip, sizeof(g->ip));
}

static struct reg_guard *guard_find(const struct registrar *reg, const struct guard_key *k)
{
	struct hash_entry *e = hash_lookup(reg->guards, key_hash(k), guard_match, k);

	return e ? HASH_OBJ(e, struct reg_guard, he) : NULL;
}

void reg_guard_free(struct registrar *reg, struct reg_guard *g)
{
	reg_tmr_del(reg, &g->tmr);
	hash_remove(reg->guards, &g->he);
	free(g);
}

/* Locked now? */
static bool guard_locked(const struct registrar *reg, const struct reg_guard *g)
{
	return g && g->locked > reg_now(reg);
}

enum reg_guard_verdict reg_guard_check(const struct registrar *reg, const struct hss_user *u,
				       const struct net_flow *src)
{
	struct guard_key k;

	if (!hash_count(reg->guards))
		return REG_GUARD_OK;
	/* its own registered phone: neither lock applies */
	if (registrar_user_on_flow(reg, u, src))
		return REG_GUARD_OK;
	if (key_src(&k, src) && guard_locked(reg, guard_find(reg, &k)))
		return REG_GUARD_SRC_LOCKED;
	key_user(&k, u);
	return guard_locked(reg, guard_find(reg, &k)) ? REG_GUARD_USER_LOCKED : REG_GUARD_OK;
}

static const char *user_name(const struct hss_user *u)
{
	const char *id = hss_user_impi(u);

	return id ? id : hss_user_imsi(u) ? hss_user_imsi(u) : "?";
}

/* One more failure on g (new or found); locks it at max. */
static void guard_count(struct registrar *reg, struct reg_guard *g, unsigned max,
			const char *what)
{
	uint64_t now = reg_now(reg);

	if (g->locked)
		return; /* already locked: the lock runs its course */
	if (now >= g->since + (uint64_t)reg->guard.window_s * 1000) {
		g->since = now;
		g->fails = 0;
	}
	if (g->fails < UINT16_MAX)
		g->fails++;
	if (g->fails < max) {
		reg_tmr_set(reg, &g->tmr, g->since + (uint64_t)reg->guard.window_s * 1000);
		return;
	}
	g->locked = now + (uint64_t)reg->guard.lock_s * 1000;
	reg_tmr_set(reg, &g->tmr, g->locked);
	log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
		  "registrar: %s locked for %u s after %u failed authentications in %u s",
		  what, reg->guard.lock_s, (unsigned)g->fails, reg->guard.window_s);
}

static struct reg_guard *guard_get(struct registrar *reg, const struct guard_key *k)
{
	struct reg_guard *g = guard_find(reg, k);

	if (g)
		return g;
	if (hash_count(reg->guards) >= REG_GUARD_MAX) {
		if (!reg->guard_full_logged)
			log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
				  "registrar: %u sources of failed authentications "
				  "tracked, no more until some expire",
				  (unsigned)REG_GUARD_MAX);
		reg->guard_full_logged = true;
		return NULL;
	}
	g = calloc(1, sizeof(*g));
	if (!g)
		return NULL;
	g->tmr.kind = REG_TMR_GUARD;
	g->kind = k->kind;
	g->family = k->family;
	g->u = k->u;
	memcpy(g->ip, k->ip, sizeof(g->ip));
	g->since = reg_now(reg);
	hash_insert(reg->guards, &g->he, key_hash(k));
	return g;
}

void reg_guard_fail(struct registrar *reg, const struct hss_user *u,
		    const struct net_flow *src)
{
	char what[HSS_URI_MAX + 64], peer[NET_ADDR_STRLEN];
	struct reg_guard *g;
	struct guard_key k;

	key_user(&k, u);
	g = guard_get(reg, &k);
	if (g) {
		snprintf(what, sizeof(what), "%s", user_name(u));
		guard_count(reg, g, reg->guard.user_fails, what);
	}
	if (!key_src(&k, src))
		return;
	g = guard_get(reg, &k);
	if (g) {
		net_addr_print_host(&src->peer, peer, sizeof(peer));
		snprintf(what, sizeof(what), "source %s", peer);
		guard_count(reg, g, reg->guard.src_fails, what);
	}
}

void reg_guard_success(struct registrar *reg, const struct hss_user *u)
{
	struct guard_key k;
	struct reg_guard *g;

	key_user(&k, u);
	g = guard_find(reg, &k);
	if (g && !g->locked)
		reg_guard_free(reg, g);
}

void reg_guard_expired(struct registrar *reg, struct reg_guard *g)
{
	reg->guard_full_logged = false;
	reg_guard_free(reg, g);
}

void reg_guard_free_all(struct registrar *reg)
{
	struct hash_iter it;
	struct hash_entry *e;

	if (!reg->guards)
		return;
	hash_iter_init(&it, reg->guards);
	while ((e = hash_iter_next(&it)))
		reg_guard_free(reg, HASH_OBJ(e, struct reg_guard, he));
}

size_t reg_guard_mem(const struct registrar *reg)
{
	return hash_buckets(reg->guards) * sizeof(void *) +
	       hash_count(reg->guards) * (sizeof(struct reg_guard) + 16);
}

size_t registrar_locked_count(const struct registrar *reg)
{
	struct hash_iter it;
	struct hash_entry *e;
	size_t n = 0;

	hash_iter_init(&it, reg->guards);
	while ((e = hash_iter_next(&it)))
		n += guard_locked(reg, HASH_OBJ(e, struct reg_guard, he));
	return n;
}

void reg_guard_prm_set(struct registrar *reg, const struct registrar_prm *prm)
{
	reg->guard.window_s = prm->guard_window_s ? prm->guard_window_s : REG_GUARD_WINDOW_S;
	reg->guard.lock_s = prm->guard_lock_s ? prm->guard_lock_s : REG_GUARD_LOCK_S;
	reg->guard.user_fails =
	    prm->guard_user_fails ? prm->guard_user_fails : REG_GUARD_USER_FAILS;
	reg->guard.src_fails = prm->guard_src_fails ? prm->guard_src_fails : REG_GUARD_SRC_FAILS;
}
