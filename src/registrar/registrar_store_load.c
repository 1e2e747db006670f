/*
 * registrar_store_load — reading the state file back at start: the row
 * decoders (every column checked as outside input: the file may have been
 * edited, damaged or written by someone else) and the rebuilding of users,
 * bindings and subscriptions from them. Layout in registrar_store.c.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdlib.h>
#include <string.h>

#include "auth/sqn.h"
#include "core/log.h"
#include "sip/sip_hdr.h"
#include "store/store.h"
#include "registrar/registrar_int.h"

/* Longest stored text: SIP fields come from messages of at most 128 KiB,
 * but no single one of ours is allowed to be that long. */
#define COL_TEXT_MAX 16384
#define CONTACT_MAX 8192
#define CALLID_MAX 1024

/* ---- column checks ---- */

static int col_int(const struct reg_store_col *c, int64_t min, int64_t max, int64_t *v)
{
	if (c->type != REG_COL_INT || c->i < min || c->i > max)
		return EBADMSG;
	*v = c->i;
	return 0;
}

static int col_u32(const struct reg_store_col *c, uint32_t max, uint32_t *v)
{
	int64_t x;
	int err = col_int(c, 0, max, &x);

	if (!err)
		*v = (uint32_t)x;
	return err;
}

/* Text without control characters (it goes back into SIP headers and the
 * log), at most max bytes; empty allowed when min is 0. */
static int col_text(const struct reg_store_col *c, size_t min, size_t max, struct pl *out)
{
	if (c->type != REG_COL_TEXT || c->s.l < min || c->s.l > max)
		return EBADMSG;
	for (size_t i = 0; i < c->s.l; i++) {
		unsigned char ch = (unsigned char)c->s.p[i];

		if (ch < 0x20 || ch == 0x7f)
			return EBADMSG;
	}
	*out = c->s;
	return 0;
}

static int col_callid(const struct reg_store_col *c, struct pl *out)
{
	struct pl id;

	if (col_text(c, 1, CALLID_MAX, out) || sip_callid_decode(*out, &id) ||
	    id.l != out->l)
		return EBADMSG;
	return 0;
}

/* A name-addr as we keep it: "<uri>" and parameters. */
static int col_addr(const struct reg_store_col *c, size_t max, struct pl *out)
{
	struct sip_addr a;

	if (col_text(c, 3, max, out) || out->p[0] != '<' || sip_addr_decode(&a, *out))
		return EBADMSG;
	return 0;
}

static int col_token(const struct reg_store_col *c, bool empty_ok, struct pl *out)
{
	struct pl tok;

	if (col_text(c, empty_ok ? 0 : 1, 256, out))
		return EBADMSG;
	if (out->l && (sip_token_decode(*out, &tok) || tok.l != out->l))
		return EBADMSG;
	return 0;
}

/* An address as net_addr_print writes it ("a.b.c.d:port", "[v6]:port"),
 * port not 0, or "" (none). The address is parsed by net_addr. */
static int col_net_addr(const struct reg_store_col *c, struct net_addr *a)
{
	struct pl t;

	if (col_text(c, 0, NET_ADDR_STRLEN - 1, &t))
		return EBADMSG;
	if (t.l && (net_addr_parse(a, t, 0) || !net_addr_port(a)))
		return EBADMSG;
	return 0;
}

/* The flow: the peer ("" no flow), our local address ("" unknown; none
 * without a peer; the peer's family), then tcp. */
static int col_flow(const struct reg_store_col *c, struct net_flow *f)
{
	struct net_flow src = {0};
	uint32_t tcp;

	if (col_net_addr(&c[0], &src.peer) || col_net_addr(&c[1], &src.local) ||
	    col_u32(&c[2], 1, &tcp))
		return EBADMSG;
	if (net_addr_isset(&src.local) &&
	    net_addr_af(&src.local) != net_addr_af(&src.peer))
		return EBADMSG;
	src.reliable = tcp;
	*f = src;
	return 0;
}

static int col_key(const struct reg_store_col *c, struct reg_store_key *k)
{
	struct pl t;

	if (col_text(&c[0], 6, HSS_URI_MAX + 5, &t) ||
	    col_u32(&c[1], REG_STORE_NTH_MAX - 1, &k->nth))
		return EBADMSG;
	if (!memcmp(t.p, "impi:", 5))
		k->kind = 'i';
	else if (!memcmp(t.p, "imsi:", 5))
		k->kind = 'm';
	else if (!memcmp(t.p, "impu:", 5))
		k->kind = 'u';
	else
		return EBADMSG;
	k->id = (struct pl){t.p + 5, t.l - 5};
	return 0;
}

/* ---- row decoders ---- */

int reg_store_user_decode(const struct reg_store_col *c, size_t n,
			  struct reg_store_user_rec *r)
{
	int64_t sqn, algo;

	memset(r, 0, sizeof(*r));
	if (n != REG_STORE_USER_COLS || col_key(c, &r->key) ||
	    col_int(&c[2], 0, (int64_t)SQN_MAX, &sqn) ||
	    col_int(&c[3], -1, DIGEST_ALGO_AKAV2_SHA256, &algo))
		return EBADMSG;
	r->sqn_he = (uint64_t)sqn;
	r->algo = (int)algo;
	for (int i = 0; i < 2; i++) {
		const struct reg_store_col *k = &c[4 + i];
		struct pl *out = i ? &r->ik : &r->ck;

		if (k->type == REG_COL_NULL)
			continue;
		if (k->type != REG_COL_BLOB || k->s.l > 32)
			return EBADMSG;
		*out = k->s;
	}
	return 0;
}

int reg_store_binding_decode(const struct reg_store_col *c, size_t n,
			     struct reg_store_binding_rec *r)
{
	struct pl imei;
	uint32_t q, ev;
	int64_t at;

	memset(r, 0, sizeof(*r));
	if (n != REG_STORE_BINDING_COLS || col_key(c, &r->key) ||
	    col_u32(&c[2], UINT32_MAX, &r->bid) || !r->bid ||
	    col_addr(&c[3], CONTACT_MAX, &r->contact) || col_callid(&c[4], &r->callid) ||
	    col_u32(&c[5], INT32_MAX, &r->cseq) ||
	    col_u32(&c[6], UINT32_MAX, &r->reg_id) ||
	    col_u32(&c[7], INT32_MAX, &r->expires) || !r->expires ||
	    col_int(&c[8], 0, INT64_MAX / 2, &at) || col_u32(&c[9], 1000, &q) ||
	    col_text(&c[10], 0, 14, &imei) || col_u32(&c[11], REG_EV_SHORTENED, &ev) ||
	    col_flow(&c[12], &r->flow))
		return EBADMSG;
	if (imei.l && imei.l != 14)
		return EBADMSG;
	for (size_t i = 0; i < imei.l; i++) {
		if (imei.p[i] < '0' || imei.p[i] > '9')
			return EBADMSG;
	}
	if (imei.l)
		memcpy(r->imei, imei.p, imei.l);
	r->expires_at = at;
	r->q1000 = (uint16_t)q;
	r->event = (uint8_t)ev;
	return 0;
}

int reg_store_sub_decode(const struct reg_store_col *c, size_t n,
			 struct reg_store_sub_rec *r)
{
	int64_t at;

	memset(r, 0, sizeof(*r));
	if (n != REG_STORE_SUB_COLS || col_key(c, &r->key) ||
	    col_callid(&c[2], &r->str[REG_SUB_CALLID]) ||
	    col_token(&c[3], false, &r->str[REG_SUB_LOCAL_TAG]) ||
	    col_token(&c[4], true, &r->str[REG_SUB_REMOTE_TAG]) ||
	    col_addr(&c[5], COL_TEXT_MAX, &r->str[REG_SUB_REMOTE_URI]) ||
	    col_addr(&c[6], COL_TEXT_MAX, &r->str[REG_SUB_LOCAL_URI]) ||
	    col_text(&c[7], 1, COL_TEXT_MAX, &r->str[REG_SUB_TARGET]) ||
	    col_text(&c[8], 0, COL_TEXT_MAX, &r->str[REG_SUB_ROUTES]) ||
	    col_token(&c[9], true, &r->str[REG_SUB_EVENT_ID]) ||
	    col_u32(&c[10], UINT32_MAX, &r->cseq) ||
	    col_u32(&c[11], UINT32_MAX, &r->version) ||
	    col_u32(&c[12], INT32_MAX, &r->expires) ||
	    col_int(&c[13], 0, INT64_MAX / 2, &at) ||
	    col_u32(&c[14], UINT32_MAX, &r->remote_cseq) || col_flow(&c[15], &r->flow))
		return EBADMSG;
	r->expires_at = at;
	return 0;
}

/* ---- rebuilding ---- */

/* ms from now until a stored Unix time, capped at `cap` seconds */
static uint64_t due_of(const struct registrar *reg, int64_t at, uint32_t cap)
{
	int64_t left = at - reg_store_wall_now();

	if (left < 0)
		left = 0;
	if (left > (int64_t)cap)
		left = cap;
	return reg_now(reg) + (uint64_t)left * 1000;
}

static int binding_restore(struct registrar *reg, struct reg_user *ru,
			   const struct reg_store_binding_rec *r)
{
	struct reg_binding *b;

	if (ru->nbind >= REGISTRAR_BINDINGS_MAX)
		return EBADMSG;
	for (b = ru->bindings; b; b = b->next) {
		if (b->id == r->bid)
			return EBADMSG;
	}
	b = reg_binding_alloc(ru, r->contact, r->callid);
	if (!b)
		return ENOMEM;
	reg_flow_set(reg, &b->flow, &r->flow);
	b->id = r->bid;
	b->cseq = r->cseq;
	b->reg_id = r->reg_id;
	b->expires = r->expires;
	b->q1000 = r->q1000;
	b->event = r->event;
	memcpy(b->imei, r->imei, sizeof(b->imei));
	reg_binding_link(reg, b);
	if (r->bid >= reg->next_id)
		reg->next_id = r->bid + 1;
	reg_tmr_set(reg, &b->tmr, due_of(reg, r->expires_at, r->expires));
	return 0;
}

static int sub_restore(struct registrar *reg, struct reg_user *ru,
		       const struct reg_store_sub_rec *r)
{
	struct reg_sub *s;
	int err;

	if (ru->nsub >= REGISTRAR_SUBS_MAX)
		return EBADMSG;
	/* the dialog is restored from the stored fields */
	err = reg_sub_alloc(&s, r->str, r->cseq, r->remote_cseq);
	if (err)
		return err == ENOMEM ? err : EBADMSG;
	reg_flow_set(reg, &s->flow, &r->flow);
	s->version = r->version;
	s->expires = r->expires;
	err = reg_sub_link(reg, ru, s);
	if (err) {
		reg_sub_destroy(s);
		return err == EEXIST ? EBADMSG : err;
	}
	reg_tmr_set(reg, &s->tmr, due_of(reg, r->expires_at, r->expires));
	return 0;
}

static void user_restore(struct registrar *reg, struct hss_user *u,
			 const struct reg_store_user_rec *r)
{
	struct reg_user *ru = reg_user_find(reg, u);

	/* the file's SQN unless the configuration moved ahead of it */
	if (sqn_seq(r->sqn_he) >= sqn_seq(hss_user_cfg(u)->isim.sqn))
		hss_user_sqn_set(u, r->sqn_he);
	if (!ru || r->algo < 0)
		return;
	ru->algo = (int8_t)r->algo;
	ru->ck_len = (uint8_t)r->ck.l;
	ru->ik_len = (uint8_t)r->ik.l;
	if (r->ck.l) /* an empty BLOB's pointer is NULL */
		memcpy(ru->ck, r->ck.p, r->ck.l);
	if (r->ik.l)
		memcpy(ru->ik, r->ik.p, r->ik.l);
}

static void row_cols(sqlite3_stmt *s, struct reg_store_col *c, int n)
{
	for (int i = 0; i < n; i++) {
		memset(&c[i], 0, sizeof(c[i]));
		switch (sqlite3_column_type(s, i)) {
		case SQLITE_INTEGER:
			c[i].type = REG_COL_INT;
			c[i].i = sqlite3_column_int64(s, i);
			break;
		case SQLITE_TEXT:
			c[i].type = REG_COL_TEXT;
			c[i].s.p = (const char *)sqlite3_column_text(s, i);
			c[i].s.l = (size_t)sqlite3_column_bytes(s, i);
			break;
		case SQLITE_BLOB:
			c[i].type = REG_COL_BLOB;
			c[i].s.p = sqlite3_column_blob(s, i);
			c[i].s.l = (size_t)sqlite3_column_bytes(s, i);
			break;
		default: /* NULL, REAL */
			c[i].type = REG_COL_NULL;
			break;
		}
	}
}

enum load_table { LOAD_BIND = 0, LOAD_SUB, LOAD_USER };

/* One row: decode, find its user, rebuild. */
static int row_load(struct registrar *reg, enum load_table t,
		    const struct reg_store_col *c, int n, struct reg_store_load_stats *ls)
{
	union {
		struct reg_store_binding_rec b;
		struct reg_store_sub_rec s;
		struct reg_store_user_rec u;
	} r;
	struct reg_store_key key;
	struct hss_user *u = NULL;
	struct reg_user *ru;
	int err;

	/* the user first (the decoders read the same key columns): the
	 * file's rows of a known user are its own to replace, and a bad one
	 * is deleted when the user is written next */
	if (n >= 2 && !col_key(c, &key))
		u = reg_store_user_find(reg, &key);
	if (u && t != LOAD_USER)
		reg_store_file_rows(reg, u, t == LOAD_BIND);
	err = t == LOAD_BIND  ? reg_store_binding_decode(c, (size_t)n, &r.b)
	      : t == LOAD_SUB ? reg_store_sub_decode(c, (size_t)n, &r.s)
			      : reg_store_user_decode(c, (size_t)n, &r.u);
	if (err && u && t != LOAD_USER)
		reg_store_gone(reg, u, t == LOAD_BIND);
	if (err)
		return err;
	if (!u) {
		ls->unknown++;
		return 0;
	}
	if (t == LOAD_USER) {
		user_restore(reg, u, &r.u);
		ls->users++;
		return 0;
	}
	ru = reg_user_get(reg, u);
	if (!ru)
		return ENOMEM;
	err =
	    t == LOAD_BIND ? binding_restore(reg, ru, &r.b) : sub_restore(reg, ru, &r.s);
	if (err == EBADMSG) /* a duplicate, or one too many */
		reg_store_gone(reg, u, t == LOAD_BIND);
	if (!err && t == LOAD_BIND)
		ls->bindings++;
	else if (!err)
		ls->subs++;
	reg_user_release(reg, ru);
	return err;
}

int reg_store_load(struct registrar *reg, struct reg_store_load_stats *ls)
{
	static const char *const sql[] = {"SELECT * FROM reg_binding",
					  "SELECT * FROM reg_sub",
					  "SELECT * FROM reg_user"};
	struct reg_store_col c[REG_STORE_SUB_COLS];
	struct store *st = reg_store_st(reg);
	int err = 0;

	memset(ls, 0, sizeof(*ls));
	for (int t = LOAD_BIND; t <= LOAD_USER && !err; t++) {
		sqlite3_stmt *s = NULL;
		int rc, n;

		if (sqlite3_prepare_v2(store_db(st), sql[t], -1, &s, NULL) != SQLITE_OK)
			return store_fail(st, sql[t]);
		n = sqlite3_column_count(s);
		if (n > REG_STORE_SUB_COLS)
			n = REG_STORE_SUB_COLS;
		while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
			int e;

			row_cols(s, c, n);
			e = row_load(reg, (enum load_table)t, c, n, ls);
			if (e == ENOMEM) {
				err = ENOMEM;
				break;
			}
			if (e) {
				ls->bad++;
				log_write(LOG_IMS, LOG_LVL_DEBUG, LOG_DIR_NONE, NULL,
					  "store: %s: bad row skipped", sql[t] + 14);
			}
		}
		if (!err && rc != SQLITE_DONE)
			err = store_fail(st, sql[t]);
		sqlite3_finalize(s);
	}
	return err;
}
