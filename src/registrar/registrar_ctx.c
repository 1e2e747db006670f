/*
 * registrar_ctx — the registrar's state: users, bindings, the expiry heap
 * and its loop timer, allocation and teardown.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/rand.h>

#include "core/log.h"
#include "core/mem.h"
#include "sip/sip_hdr.h"
#include "registrar/registrar_int.h"

uint64_t reg_now(const struct registrar *reg)
{
	if (reg->ops.now_ms)
		return reg->ops.now_ms(reg->ops.arg);
	return loop_now_ms();
}

/* ---- expiry heap: 4-ary min-heap of (due, struct reg_tmr *) ---- */

enum {
	REG_HEAP_D = 4, /* half the depth of a binary heap; 4 children = 1 cache line */
	REG_EXPIRY_SLACK_MS = 50,
};

static void heap_place(struct registrar *reg, uint32_t i, struct reg_heap_ent ent)
{
	reg->heap[i] = ent;
	ent.t->idx = i + 1;
}

static void heap_up(struct registrar *reg, uint32_t i)
{
	struct reg_heap_ent ent = reg->heap[i];

	while (i > 0) {
		uint32_t p = (i - 1) / REG_HEAP_D;

		if (reg->heap[p].due <= ent.due)
			break;
		heap_place(reg, i, reg->heap[p]);
		i = p;
	}
	heap_place(reg, i, ent);
}

static void heap_down(struct registrar *reg, uint32_t i)
{
	struct reg_heap_ent ent = reg->heap[i];

	for (;;) {
		uint64_t c = (uint64_t)i * REG_HEAP_D + 1, end = c + REG_HEAP_D, m = c;

		if (c >= reg->heap_n)
			break;
		if (end > reg->heap_n)
			end = reg->heap_n;
		for (uint64_t k = c + 1; k < end; k++) {
			if (reg->heap[k].due < reg->heap[m].due)
				m = k;
		}
		if (ent.due <= reg->heap[m].due)
			break;
		heap_place(reg, i, reg->heap[m]);
		i = (uint32_t)m;
	}
	heap_place(reg, i, ent);
}

static void reg_timer_h(void *arg);

/* Arms the loop timer for the heap's top when it moved earlier or went. */
static void reg_timer_arm(struct registrar *reg)
{
	uint64_t now, due;

	if (!reg->timer)
		return;
	if (!reg->heap_n) {
		loop_timer_cancel(reg->timer);
		reg->timer_due = 0;
		return;
	}
	/* Expiries (challenges after seconds, bindings after minutes) need
	 * no millisecond precision: wake up to REG_EXPIRY_SLACK_MS late and
	 * expire everything due by then at once, rather than once per ms. */
	due = reg->heap[0].due + REG_EXPIRY_SLACK_MS;
	if (reg->timer_due && reg->timer_due <= due && loop_timer_pending(reg->timer))
		return;
	now = reg_now(reg);
	loop_timer_start(reg->timer, due > now ? due - now : 0, reg_timer_h, reg);
	reg->timer_due = due;
}

void reg_tmr_del(struct registrar *reg, struct reg_tmr *t)
{
	struct reg_heap_ent last;
	uint32_t i;

	if (!t->idx)
		return;
	i = t->idx - 1;
	t->idx = 0;
	last = reg->heap[--reg->heap_n];
	if (last.t != t) {
		heap_place(reg, i, last);
		heap_up(reg, i);
		heap_down(reg, last.t->idx - 1);
	}
}

void reg_tmr_set(struct registrar *reg, struct reg_tmr *t, uint64_t due)
{
	reg_tmr_del(reg, t);
	if (reg->heap_n == reg->heap_cap) {
		uint32_t cap = reg->heap_cap ? reg->heap_cap * 2 : 64;
		struct reg_heap_ent *h = realloc(reg->heap, cap * sizeof(*h));

		if (!h) {
			/* The object stays valid but has no timer until its next
			 * refresh sets one: say so loudly. */
			log_write(LOG_IMS, LOG_LVL_ERROR, LOG_DIR_NONE, NULL,
				  "registrar: out of memory for the expiry heap, an entry "
				  "will not expire");
			return;
		}
		reg->heap = h;
		reg->heap_cap = cap;
	}
	t->due = due;
	heap_place(reg, reg->heap_n++, (struct reg_heap_ent){due, t});
	heap_up(reg, reg->heap_n - 1);
	reg_timer_arm(reg);
}

static void reg_binding_expired(struct registrar *reg, struct reg_binding *b)
{
	struct reg_user *ru = b->user;

	b->terminated = true;
	b->event = REG_EV_EXPIRED;
	log_write(LOG_IMS, LOG_LVL_INFO, LOG_DIR_NONE, NULL,
		  "registrar: binding %.*s expired", (int)b->contact_len, b->data);
	reg_sub_notify_all(reg, ru);
	if (!reg_user_active(ru))
		reg_sub_terminate_all(reg, ru, "noresource");
	reg_bindings_purge(reg, ru);
	reg_store_mark(reg, ru->u, REG_STORE_ALL);
	reg_user_release(reg, ru);
}

void registrar_expire_run(struct registrar *reg)
{
	uint64_t now = reg_now(reg);

	while (reg->heap_n && reg->heap[0].due <= now) {
		struct reg_tmr *t = reg->heap[0].t;

		/* the handlers below free t, but reg_tmr_del took it out of the
		 * heap first, so heap[0] is another entry on the next turn: the
		 * analyzer does not follow the heap's invariant */
		// NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
		reg_tmr_del(reg, t);
		switch (t->kind) {
		case REG_TMR_BINDING:
			reg_binding_expired(reg, (struct reg_binding *)(void *)t);
			break;
		case REG_TMR_CHAL:
			reg_chal_free(reg, (struct reg_chal *)(void *)t);
			break;
		case REG_TMR_GUARD:
			reg_guard_expired(reg, (struct reg_guard *)(void *)t);
			break;
		default:
			reg_sub_expired(reg, (struct reg_sub *)(void *)t);
			break;
		}
	}
	reg->timer_due = 0;
	reg_timer_arm(reg);
}

static void reg_timer_h(void *arg)
{
	struct registrar *reg = arg;

	reg->timer_due = 0;
	registrar_expire_run(reg);
}

/* ---- users ---- */

static bool user_match(const struct hash_entry *e, const void *key)
{
	return HASH_OBJ(e, struct reg_user, he)->u == key;
}

static uint64_t ptr_hash(const void *p)
{
	return hash_mix((uint64_t)(uintptr_t)p);
}

struct reg_user *reg_user_find(const struct registrar *reg, const struct hss_user *u)
{
	struct hash_entry *e;

	if (reg->slots)
		return hss_user_slot(u, HSS_SLOT_REG_USER);
	e = hash_lookup(reg->users, ptr_hash(u), user_match, u);

	return e ? HASH_OBJ(e, struct reg_user, he) : NULL;
}

struct reg_user *reg_user_get(struct registrar *reg, struct hss_user *u)
{
	struct reg_user *ru = reg_user_find(reg, u);

	if (ru)
		return ru;
	ru = calloc(1, sizeof(*ru));
	if (!ru)
		return NULL;
	ru->u = u;
	ru->algo = -1;
	hash_insert(reg->users, &ru->he, ptr_hash(u));
	if (reg->slots)
		hss_user_slot_set(u, HSS_SLOT_REG_USER, ru);
	return ru;
}

bool reg_user_active(const struct reg_user *ru)
{
	for (const struct reg_binding *b = ru->bindings; b; b = b->next) {
		if (!b->terminated)
			return true;
	}
	return false;
}

void reg_user_release(struct registrar *reg, struct reg_user *ru)
{
	if (!ru->bindings)
		reg_ipsec_user_gone(reg, ru);
	if (ru->bindings || ru->subs)
		return;
	hash_remove(reg->users, &ru->he);
	if (reg->slots)
		hss_user_slot_set(ru->u, HSS_SLOT_REG_USER, NULL);
	explicit_bzero(ru->ck, sizeof(ru->ck));
	explicit_bzero(ru->ik, sizeof(ru->ik));
	free(ru);
}

/* ---- bindings ---- */

uint32_t reg_binding_left(const struct registrar *reg, const struct reg_binding *b)
{
	uint64_t now = reg_now(reg);

	if (b->terminated || b->tmr.due <= now)
		return 0;
	return (uint32_t)((b->tmr.due - now + 999) / 1000);
}

struct reg_binding *reg_binding_alloc(struct reg_user *ru, struct pl contact,
				      struct pl callid)
{
	struct reg_binding *b;

	if (contact.l > UINT16_MAX || callid.l > UINT16_MAX)
		return NULL;
	b = calloc(1, sizeof(*b) + contact.l + callid.l + 2);
	if (!b)
		return NULL;
	b->tmr.kind = REG_TMR_BINDING;
	b->user = ru;
	b->contact_len = (uint16_t)contact.l;
	b->callid_len = (uint16_t)callid.l;
	memcpy(b->data, contact.p, contact.l);
	memcpy(b->data + contact.l + 1, callid.p, callid.l);
	return b;
}

void reg_binding_link(struct registrar *reg, struct reg_binding *b)
{
	struct reg_user *ru = b->user;

	b->next = ru->bindings;
	ru->bindings = b;
	ru->nbind++;
	reg->nbindings++;
}

void reg_binding_replace(struct registrar *reg, struct reg_binding *old,
			 struct reg_binding *nb)
{
	struct reg_user *ru = old->user;

	nb->next = old->next;
	for (struct reg_binding **pp = &ru->bindings; *pp; pp = &(*pp)->next) {
		if (*pp == old) {
			*pp = nb;
			break;
		}
	}
	reg_tmr_del(reg, &old->tmr);
	free(old);
}

void reg_binding_unlink(struct registrar *reg, struct reg_binding *b)
{
	struct reg_user *ru = b->user;

	for (struct reg_binding **pp = &ru->bindings; *pp; pp = &(*pp)->next) {
		if (*pp == b) {
			*pp = b->next;
			ru->nbind--;
			reg->nbindings--;
			reg_store_gone(reg, ru->u, true);
			break;
		}
	}
	reg_tmr_del(reg, &b->tmr);
	free(b);
}

void reg_bindings_purge(struct registrar *reg, struct reg_user *ru)
{
	struct reg_binding *b = ru->bindings, *next;

	for (; b; b = next) {
		next = b->next;
		if (!b->terminated)
			continue;
		reg_watch_emit(reg, b);
		reg_binding_unlink(reg, b);
	}
}

/* a's IP, port and scope into the packed form; false when a is not af */
static bool flow_pack(const struct net_addr *a, int af, uint8_t ip[16], uint16_t *port,
		      uint32_t *scope)
{
	if (net_addr_af(a) != af)
		return false;
	if (af == AF_INET6) {
		memcpy(ip, &a->u.in6.sin6_addr, 16);
		*scope = a->u.in6.sin6_scope_id;
	} else {
		memcpy(ip, &a->u.in.sin_addr, 4);
	}
	*port = net_addr_port(a);
	return true;
}

static void flow_unpack(struct net_addr *a, int af, const uint8_t ip[16], uint16_t port,
			uint32_t scope)
{
	net_addr_init(a, af);
	if (af == AF_INET6) {
		memcpy(&a->u.in6.sin6_addr, ip, 16);
		a->u.in6.sin6_scope_id = scope;
	} else {
		memcpy(&a->u.in.sin_addr, ip, 4);
	}
	net_addr_set_port(a, port);
}

/* The slot of registrar.locals holding a, added if new; NULL when full. */
static const struct net_addr *reg_local_intern(struct registrar *reg,
					       const struct net_addr *a)
{
	struct net_addr *n;

	for (uint32_t i = 0; i < reg->nlocals; i++) {
		if (net_addr_eq(reg->locals[i], a))
			return reg->locals[i];
	}
	n = reg->nlocals < REG_LOCALS_MAX ? malloc(sizeof(*n)) : NULL;
	if (!n) {
		if (!reg->locals_full_logged)
			log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
				  "registrar: over %u local addresses for flows (or no "
				  "memory): new ones are kept as none (the first socket of "
				  "the family)",
				  (unsigned)REG_LOCALS_MAX);
		reg->locals_full_logged = true;
		return NULL;
	}
	*n = *a;
	reg->locals[reg->nlocals++] = n;
	return n;
}

void reg_flow_set(struct registrar *reg, struct reg_flow *f, const struct net_flow *src)
{
	uint32_t scope = 0;
	uint16_t port = 0;
	uint8_t ip[16];
	int af;

	memset(f, 0, sizeof(*f));
	if (!src)
		return;
	af = net_addr_af(&src->peer);
	if (af == AF_INET || af == AF_INET6) {
		f->af = (uint8_t)af;
		flow_pack(&src->peer, af, f->peer_ip, &f->peer_port, &f->peer_scope);
		/* a local address of another family is no address of this flow */
		if (flow_pack(&src->local, af, ip, &port, &scope))
			f->local = reg_local_intern(reg, &src->local);
	}
	f->conn_id = src->conn_id;
	f->reliable = src->reliable;
}

void reg_flow_get(const struct reg_flow *f, struct net_flow *src)
{
	memset(src, 0, sizeof(*src));
	if (f->af == AF_INET || f->af == AF_INET6) {
		flow_unpack(&src->peer, f->af, f->peer_ip, f->peer_port, f->peer_scope);
		if (f->local)
			src->local = *f->local;
	}
	src->conn_id = f->conn_id;
	src->reliable = f->reliable;
}

/* ---- replies ---- */

static int reg_reply_default(struct sip_tsx *tsx, uint16_t scode, const char *reason,
			     const struct sip_tsx_reply_prm *prm, void *arg)
{
	(void)arg;
	return sip_tsx_reply(tsx, scode, reason, prm);
}

/* Without ops.request there is nowhere to send: registrar_app.c plugs in
 * sip_stack_request (kept out of this file so that the registrar links
 * without a stack, e.g. in the unit tests). */
static int reg_request_none(struct sip_stack *stack, const struct sip_stack_req_prm *prm,
			    void *arg)
{
	(void)stack;
	(void)prm;
	(void)arg;
	return ENOTCONN;
}

static void reg_peer_prove_default(struct sip_stack *stack, const struct net_flow *flow,
				   void *arg)
{
	(void)arg;
	sip_stack_peer_prove(stack, flow);
}

int reg_reply(struct registrar *reg, struct sip_tsx *tsx, uint16_t scode,
	      const char *reason, const struct sip_tsx_reply_prm *prm)
{
	int err = reg->ops.reply(tsx, scode, reason, prm, reg->ops.arg);

	if (err)
		log_write(LOG_IMS, LOG_LVL_WARN, LOG_DIR_NONE, NULL,
			  "registrar: cannot send %u %s: %s", scode, reason,
			  strerror(err));
	return err;
}

/* ---- allocation ---- */

static bool chal_match(const struct hash_entry *e, const void *key)
{
	return HASH_OBJ(e, struct reg_chal, he)->u == key;
}

struct reg_chal *reg_chal_first(const struct registrar *reg, const struct hss_user *u)
{
	struct hash_entry *e;

	if (reg->slots)
		return hss_user_slot(u, HSS_SLOT_REG_CHAL);
	e = hash_lookup(reg->chals, ptr_hash(u), chal_match, u);
	return e ? HASH_OBJ(e, struct reg_chal, he) : NULL;
}

/* The head of u's challenges goes from old to nw (either may be NULL): the
 * head is in registrar.chals (iteration, and lookups without the slots) and
 * in the user's slot. */
static void chal_head_set(struct registrar *reg, struct hss_user *u, struct reg_chal *old,
			  struct reg_chal *nw)
{
	if (old)
		hash_remove(reg->chals, &old->he);
	if (nw)
		hash_insert(reg->chals, &nw->he, ptr_hash(u));
	if (reg->slots)
		hss_user_slot_set(u, HSS_SLOT_REG_CHAL, nw);
}

void reg_chal_link(struct registrar *reg, struct reg_chal *c)
{
	struct reg_chal *head = reg_chal_first(reg, c->u);

	c->next = head;
	chal_head_set(reg, c->u, head, c);
	reg->nchals++;
}

void reg_chal_free(struct registrar *reg, struct reg_chal *c)
{
	struct reg_chal *head = reg_chal_first(reg, c->u);

	reg_ipsec_chal_drop(reg, c);
	reg_tmr_del(reg, &c->tmr);
	if (head == c) {
		chal_head_set(reg, c->u, c, c->next);
	} else {
		for (struct reg_chal **pp = head ? &head->next : NULL; pp && *pp;
		     pp = &(*pp)->next) {
			if (*pp == c) {
				*pp = c->next;
				break;
			}
		}
	}
	reg->nchals--;
	explicit_bzero(c, sizeof(*c));
	free(c);
}

static void reg_destroy(void *data)
{
	struct registrar *reg = data;
	struct hash_iter it;
	struct hash_entry *e;

	reg_store_detach(reg); /* writes what is marked, before anything is freed */
	if (reg->timer)
		loop_timer_free(reg->timer);
	reg->timer = NULL;
	if (reg->chals) {
		hash_iter_init(&it, reg->chals);
		while ((e = hash_iter_next(&it))) {
			struct reg_chal *head = HASH_OBJ(e, struct reg_chal, he);
			struct reg_chal *c = head->next, *n;

			/* the others first, taken off the list: freeing the head
			 * alone then removes it from the table and puts nothing
			 * in its place */
			head->next = NULL;
			for (; c; c = n) {
				n = c->next;
				reg_chal_free(reg, c);
			}
			reg_chal_free(reg, head);
		}
	}
	if (reg->users) {
		hash_iter_init(&it, reg->users);
		while ((e = hash_iter_next(&it))) {
			struct reg_user *ru = HASH_OBJ(e, struct reg_user, he);

			while (ru->subs)
				reg_sub_free(reg, ru->subs);
			/* unlink takes the head out of the list before freeing it */
			while (ru->bindings)
				// NOLINTNEXTLINE(clang-analyzer-unix.Malloc)
				reg_binding_unlink(reg, ru->bindings);
			reg_user_release(reg, ru);
		}
	}
	reg_guard_free_all(reg);
	reg_ipsec_free(reg); /* after the users: their sets retire, then go */
	if (reg->slots)
		hss_user_slots_release(reg->hss);
	mem_deref(reg->users);
	mem_deref(reg->chals);
	mem_deref(reg->guards);
	for (uint32_t i = 0; i < reg->nlocals; i++)
		free(reg->locals[i]);
	if (reg->own_dialogs)
		sip_dialogs_free(reg->dialogs);
	free(reg->heap);
	explicit_bzero(reg->secret, sizeof(reg->secret));
}

static int reg_names_set(struct registrar *reg, const struct registrar_prm *prm)
{
	const char *host = prm->host;

	if (!host && prm->cfg->sip_addr_count)
		host = prm->cfg->sip_addr[0].addr.host;
	if (!host)
		host = "localhost";
	if (strlen(host) >= sizeof(reg->host))
		return EINVAL;
	strcpy(reg->host, host);
	if (prm->cfg->domain && strlen(prm->cfg->domain) < sizeof(reg->realm))
		strcpy(reg->realm, prm->cfg->domain);
	return 0;
}

int registrar_alloc(struct registrar **regp, const struct registrar_prm *prm)
{
	struct registrar *reg;
	uint32_t users;
	int err;

	if (!regp || !prm || !prm->cfg || !prm->hss)
		return EINVAL;
	reg = mem_zalloc(sizeof(*reg), reg_destroy);
	if (!reg)
		return ENOMEM;
	reg->cfg = prm->cfg;
	reg->hss = prm->hss;
	reg->slots = hss_user_slots_claim(prm->hss);
	reg->stack = prm->stack;
	if (prm->ops)
		reg->ops = *prm->ops;
	if (!reg->ops.reply)
		reg->ops.reply = reg_reply_default;
	if (!reg->ops.request)
		reg->ops.request = reg_request_none;
	if (!reg->ops.peer_prove)
		reg->ops.peer_prove = reg_peer_prove_default;
	reg->min_expires = prm->min_expires ? prm->min_expires : 1;
	reg->chal_ttl = prm->challenge_ttl ? prm->challenge_ttl : REGISTRAR_CHALLENGE_TTL;
	users = hss_user_count(prm->hss);
	reg->max_chals =
	    prm->max_challenges ? prm->max_challenges : (users > 1024 ? users : 1024);
	reg->next_id = 1;
	reg_guard_prm_set(reg, prm);
	err = reg_names_set(reg, prm);
	if (err)
		goto out;
	if (RAND_bytes(reg->secret, sizeof(reg->secret)) != 1) {
		err = EIO;
		goto out;
	}
	err = hash_alloc(&reg->users, users / 4);
	if (!err)
		err = hash_alloc(&reg->chals, 64);
	if (!err)
		err = hash_alloc(&reg->guards, 64);
	if (err)
		goto out;
	/* the subscriptions' dialogs: in the stack's table, whose dispatch
	 * delivers their in-dialog requests; tests without a stack get one */
	reg->dialogs = sip_stack_dialogs(prm->stack);
	if (!reg->dialogs) {
		err = sip_dialogs_alloc(&reg->dialogs, 0);
		if (err)
			goto out;
		reg->own_dialogs = true;
	}
	reg->timer = loop_timer_alloc();
	if (!reg->timer) {
		err = ENOMEM;
		goto out;
	}
out:
	if (err)
		mem_deref(reg);
	else
		*regp = reg;
	return err;
}

/* ---- queries ---- */

bool registrar_is_registered(const struct registrar *reg, const struct hss_user *u)
{
	const struct reg_user *ru = reg_user_find(reg, u);

	return ru && ru->bindings;
}

size_t registrar_user_count(const struct registrar *reg)
{
	struct hash_iter it;
	struct hash_entry *e;
	size_t n = 0;

	hash_iter_init(&it, reg->users);
	while ((e = hash_iter_next(&it)))
		n += HASH_OBJ(e, struct reg_user, he)->bindings != NULL;
	return n;
}

size_t registrar_binding_count(const struct registrar *reg)
{
	return reg->nbindings;
}

size_t registrar_challenge_count(const struct registrar *reg)
{
	return reg->nchals;
}

size_t registrar_sub_count(const struct registrar *reg)
{
	return reg->nsubs;
}

struct sip_dialogs *registrar_dialogs(struct registrar *reg)
{
	return reg->dialogs;
}

size_t registrar_bindings_foreach(const struct registrar *reg, const struct hss_user *u,
				  registrar_binding_h *h, void *arg)
{
	const struct reg_user *ru = reg_user_find(reg, u);
	size_t n = 0;

	for (const struct reg_binding *b = ru ? ru->bindings : NULL; b; b = b->next) {
		struct registrar_binding_info bi;

		if (b->terminated)
			continue;
		reg_binding_info_fill(reg, b, &bi);
		if (h)
			h(&bi, arg);
		n++;
	}
	return n;
}

bool registrar_user_on_flow(const struct registrar *reg, const struct hss_user *u,
			    const struct net_flow *flow)
{
	const struct reg_user *ru = reg && u && flow ? reg_user_find(reg, u) : NULL;

	/* the user's own bindings (16 at most): found from the user through
	 * its HSS slot, no index of every binding to keep up */
	for (const struct reg_binding *b = ru ? ru->bindings : NULL; b; b = b->next) {
		struct net_flow f;

		if (b->terminated)
			continue;
		reg_flow_get(&b->flow, &f);
		if (f.reliable == flow->reliable && net_addr_eq(&f.peer, &flow->peer))
			return true;
	}
	/* a protected UE's other SA pair (registrar_ipsec.c) */
	return ru && ru->bindings && reg_ipsec_flow_of_user(reg, ru, flow);
}

int registrar_user_algo(const struct registrar *reg, const struct hss_user *u)
{
	const struct reg_user *ru = reg_user_find(reg, u);

	return ru ? ru->algo : -1;
}

int registrar_user_keys(const struct registrar *reg, const struct hss_user *u,
			uint8_t ck[32], size_t *ck_len, uint8_t ik[32], size_t *ik_len)
{
	const struct reg_user *ru = reg_user_find(reg, u);

	if (!ru || !ru->ck_len)
		return ENOENT;
	memcpy(ck, ru->ck, ru->ck_len);
	memcpy(ik, ru->ik, ru->ik_len);
	*ck_len = ru->ck_len;
	*ik_len = ru->ik_len;
	return 0;
}

size_t registrar_mem_usage(const struct registrar *reg)
{
	const size_t ovh = 16; /* glibc chunk header, rounded */
	struct hash_iter it;
	struct hash_entry *e;
	size_t n = sizeof(*reg) + ovh;

	n += (hash_buckets(reg->users) + hash_buckets(reg->chals)) * sizeof(void *);
	n += (size_t)reg->heap_cap * sizeof(*reg->heap) + reg_guard_mem(reg);
	n += reg->nlocals * (sizeof(struct net_addr) + ovh);
	n += reg->nchals * (sizeof(struct reg_chal) + ovh);
	hash_iter_init(&it, reg->users);
	while ((e = hash_iter_next(&it))) {
		const struct reg_user *ru = HASH_OBJ(e, struct reg_user, he);

		n += sizeof(*ru) + ovh;
		for (const struct reg_binding *b = ru->bindings; b; b = b->next)
			n += sizeof(*b) + b->contact_len + b->callid_len + 2 + ovh;
		for (const struct reg_sub *s = ru->subs; s; s = s->next)
			n += sizeof(*s) + strlen(s->event_id) + 1 + ovh +
			     sip_dialog_mem(s->dlg);
	}
	return n;
}
