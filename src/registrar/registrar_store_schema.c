/*
 * registrar_store_schema — the registrar's tables in the state file and
 * their migration from older schema versions (store.h STORE_VERSION,
 * docs/registrar.md "State file"). Layout and writing in
 * registrar_store.c, reading in registrar_store_load.c.
 *
 * Version 2 (this one): a flow is stored by value, as our local address
 * ("local": "ip:port" as net_addr_print writes it, "" when unknown) beside
 * the peer's, so that a reordered or changed sip_addr list cannot make a
 * restored flow leave from another address.
 *
 * Version 1 stored "sock_idx", the index of the flow's socket in the
 * sip_addr list of the configuration that wrote the row. Migrating a
 * version-1 file (once, at start, in one transaction that ends by stamping
 * the file version 2; a failure rolls everything back and stops the
 * start) turns each index into the bound address of the sip_addr entry at
 * that index in the current configuration — the best guess available, as
 * the old list is not recorded — and an index beyond the list into "" (the
 * SIP stack then sends from its first socket of the peer's family). What
 * was migrated is logged.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "net/net.h"
#include "store/store.h"
#include "registrar/registrar_int.h"

#define BIND_COLS                                                                     \
	"user TEXT NOT NULL, nth INTEGER NOT NULL, bid INTEGER NOT NULL, contact TEXT," \
	" callid TEXT, cseq INTEGER, reg_id INTEGER, expires INTEGER,"                  \
	" expires_at INTEGER, q1000 INTEGER, imei TEXT, event INTEGER, peer TEXT,"      \
	" local TEXT, tcp INTEGER, PRIMARY KEY (user, nth, bid)"
#define SUB_COLS                                                                       \
	"user TEXT NOT NULL, nth INTEGER NOT NULL, callid TEXT NOT NULL,"             \
	" local_tag TEXT, remote_tag TEXT, remote_uri TEXT, local_uri TEXT,"           \
	" target TEXT, routes TEXT, event_id TEXT, cseq INTEGER, version INTEGER,"     \
	" expires INTEGER, expires_at INTEGER, remote_cseq INTEGER, peer TEXT,"        \
	" local TEXT, tcp INTEGER, PRIMARY KEY (user, nth, callid)"

static const char *const schema =
    "CREATE TABLE IF NOT EXISTS reg_user (user TEXT NOT NULL, nth INTEGER NOT NULL,"
    " sqn_he INTEGER NOT NULL, algo INTEGER NOT NULL, ck BLOB, ik BLOB,"
    " PRIMARY KEY (user, nth)) WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS reg_binding (" BIND_COLS ") WITHOUT ROWID;"
    "CREATE TABLE IF NOT EXISTS reg_sub (" SUB_COLS ") WITHOUT ROWID;";

/* The version-1 tables rebuilt: the columns before the flow are copied,
 * sock_idx becomes local through temp.reg_mig_local (idx -> address). */
#define MIG_LOCAL                                                                   \
	"CASE WHEN peer IS NULL OR peer = '' THEN '' ELSE coalesce((SELECT addr FROM" \
	" temp.reg_mig_local WHERE idx = sock_idx), '') END"

static const struct mig_table {
	const char *name;
	const char *rebuild;
} mig_tables[] = {
    {"reg_binding",
     "CREATE TABLE reg_binding_v2 (" BIND_COLS ") WITHOUT ROWID;"
     "INSERT INTO reg_binding_v2 SELECT user, nth, bid, contact, callid, cseq, reg_id,"
     " expires, expires_at, q1000, imei, event, peer, " MIG_LOCAL ", tcp"
     " FROM reg_binding;"
     "DROP TABLE reg_binding;"
     "ALTER TABLE reg_binding_v2 RENAME TO reg_binding;"},
    {"reg_sub",
     "CREATE TABLE reg_sub_v2 (" SUB_COLS ") WITHOUT ROWID;"
     "INSERT INTO reg_sub_v2 SELECT user, nth, callid, local_tag, remote_tag,"
     " remote_uri, local_uri, target, routes, event_id, cseq, version, expires,"
     " expires_at, remote_cseq, peer, " MIG_LOCAL ", tcp FROM reg_sub;"
     "DROP TABLE reg_sub;"
     "ALTER TABLE reg_sub_v2 RENAME TO reg_sub;"},
};

/* One integer from a query with text parameter p (NULL: none); -1 on
 * failure. */
static int64_t query_int(struct store *st, const char *sql, const char *p)
{
	sqlite3_stmt *s = NULL;
	int64_t v = -1;

	if (sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL) == SQLITE_OK &&
	    (!p || sqlite3_bind_text(s, 1, p, -1, SQLITE_STATIC) == SQLITE_OK) &&
	    sqlite3_step(s) == SQLITE_ROW)
		v = sqlite3_column_int64(s, 0);
	if (v < 0)
		store_fail(st, sql);
	sqlite3_finalize(s);
	return v;
}

/* temp.reg_mig_local: the current sip_addr entries' bound addresses. */
static int mig_locals(struct store *st, const struct net_addr *locals, size_t n)
{
	static const char ins[] = "INSERT INTO temp.reg_mig_local VALUES (?, ?)";
	sqlite3_stmt *s = NULL;
	int err;

	err = store_exec(st, "CREATE TEMP TABLE reg_mig_local (idx INTEGER PRIMARY KEY,"
			     " addr TEXT NOT NULL)");
	if (err)
		return err;
	if (sqlite3_prepare_v2(store_db(st), ins, -1, &s, NULL) != SQLITE_OK)
		return store_fail(st, ins);
	for (size_t i = 0; i < n && !err; i++) {
		char a[NET_ADDR_STRLEN];

		net_addr_print(&locals[i], a, sizeof(a));
		if (sqlite3_bind_int64(s, 1, (sqlite3_int64)i) != SQLITE_OK ||
		    sqlite3_bind_text(s, 2, a, -1, SQLITE_TRANSIENT) != SQLITE_OK ||
		    sqlite3_step(s) != SQLITE_DONE)
			err = store_fail(st, ins);
		sqlite3_reset(s);
	}
	sqlite3_finalize(s);
	return err;
}

/* Rebuilds table t if it still has sock_idx; counts its rows and those
 * whose index named no entry. */
static int mig_table(struct store *st, const struct mig_table *t, size_t n,
		     struct reg_store_mig *m)
{
	char sql[256];
	int64_t has, rows, lost;

	has = query_int(st, "SELECT count(*) FROM pragma_table_info(?) WHERE name = 'sock_idx'",
			t->name);
	if (has <= 0)
		return has < 0 ? EIO : 0;
	snprintf(sql, sizeof(sql), "SELECT count(*) FROM %s", t->name);
	rows = query_int(st, sql, NULL);
	snprintf(sql, sizeof(sql),
		 "SELECT count(*) FROM %s WHERE peer <> '' AND (typeof(sock_idx) <> "
		 "'integer' OR sock_idx < 0 OR sock_idx >= %zu)",
		 t->name, n);
	lost = query_int(st, sql, NULL);
	if (rows < 0 || lost < 0)
		return EIO;
	m->rows += (uint32_t)rows;
	m->unmapped += (uint32_t)lost;
	return store_exec(st, t->rebuild);
}

int reg_store_migrate(struct store *st, const struct net_addr *locals, size_t n,
		      struct reg_store_mig *m)
{
	int ver = store_version(st);
	int err;

	memset(m, 0, sizeof(*m));
	if (ver < 0)
		return EIO;
	m->from = (uint32_t)ver;
	if (ver >= STORE_VERSION)
		return store_exec(st, schema) ? EIO : 0;
	err = store_exec(st, "BEGIN IMMEDIATE");
	if (err)
		return err;
	err = mig_locals(st, locals, n);
	for (size_t i = 0; i < sizeof(mig_tables) / sizeof(mig_tables[0]) && !err; i++)
		err = mig_table(st, &mig_tables[i], n, m);
	if (!err)
		err = store_exec(st, "DROP TABLE temp.reg_mig_local");
	if (!err)
		err = store_exec(st, schema);
	if (!err)
		err = store_version_set(st, STORE_VERSION);
	if (!err)
		err = store_exec(st, "COMMIT");
	if (err) {
		/* the file stays as it was, version included */
		sqlite3_exec(store_db(st), "ROLLBACK", NULL, NULL, NULL);
		memset(m, 0, sizeof(*m));
		m->from = (uint32_t)ver;
		return EIO;
	}
	m->migrated = true;
	return 0;
}

int reg_store_schema_setup(struct registrar *reg, struct store *st)
{
	struct net *net = reg->stack ? sip_stack_net(reg->stack) : NULL;
	size_t n = net ? net_sock_count(net) : 0;
	struct net_addr *locals = calloc(n + 1, sizeof(*locals));
	struct reg_store_mig m;
	int err;

	if (!locals)
		return ENOMEM;
	for (size_t i = 0; i < n; i++)
		locals[i] = *net_sock_laddr(net_sock_get(net, i), NET_UDP);
	err = reg_store_migrate(st, locals, n, &m);
	free(locals);
	if (!err && m.migrated)
		log_write(LOG_IMS, m.unmapped ? LOG_LVL_WARN : LOG_LVL_INFO, LOG_DIR_NONE,
			  NULL,
			  "store: %s: schema %u migrated to %d: the flows of %u row(s) now name "
			  "the address of the sip_addr entry at their old index; %u had an "
			  "index beyond the list and will leave from the first address of "
			  "their family",
			  store_path(st), m.from, STORE_VERSION, m.rows, m.unmapped);
	return err;
}
