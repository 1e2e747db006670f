/*
 * Fuzz target: restoring the registrar from a state file (ue_db_filename)
 * whose rows are outside input. The input is a list of rows, each a table
 * byte (0 reg_user, 1 reg_binding, 2 reg_sub) and then, per column of that
 * table, a type byte (0 NULL, 1 INTEGER + 8 bytes little-endian, 2 TEXT,
 * 3 BLOB + 1 length byte and the bytes). The rows go into an in-memory
 * database through SQLite, a registrar is restored from it (row decoders,
 * user lookup by stored name, bindings, subscriptions, SQN_HE, keys), the
 * clock jumps past every expiry and the registrar is freed, writing back.
 * A first byte of 0xf0 or more makes the file a version-1 one (schema 1:
 * sock_idx where version 2 has local; same column counts): the registrar
 * then migrates it before restoring (registrar_store_schema.c).
 * Invariants: no crash or leak; everything restored expires; the file is
 * at the current version afterwards.
 */
#include <assert.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/ims_cfg.h"
#include "core/log.h"
#include "core/mem.h"
#include "hss/hss.h"
#include "loop/loop.h"
#include "registrar/registrar.h"
#include "store/store.h"
#include "fuzz_reg_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char cfg_text[] =
    "{\"sip_addr\": \"127.0.0.1\", \"domain\": \"ims.test\", \"ue_db\": ["
    "{\"imsi\": \"001010000000001\", \"impi\": \"alice@ims.test\","
    " \"K\": \"465b5ce8b199b49faa5f0a2ee238a6bc\","
    " \"opc\": \"cd63cb71954a9f4e48a5994e37a02baf\", \"impu\": [\"sip:alice\"]},"
    "{\"imsi\": \"001010000000003\", \"authent_type\": \"none\", \"impu\": "
    "[\"sip:dave\"]},"
    "{\"nai\": \"erin@nai.test\", \"authent_type\": \"none\", \"impu\": [\"sip:erin\"]},"
    "{\"imsi\": \"001010000000005\", \"multi_sim\": true, \"sim_algo\": \"xor\", "
    "\"authent_type\": \"none\","
    " \"impu\": [{\"impu\": \"sip:sim\", \"imei\": \"35000000000001\"}]},"
    "{\"imsi\": \"001010000000005\", \"multi_sim\": true, \"sim_algo\": \"xor\", "
    "\"authent_type\": \"none\","
    " \"impu\": [{\"impu\": \"sip:sim\", \"imei\": \"35000000000002\"}]}"
    "]}";

static const char *const insert_sql[3] = {
    "INSERT OR REPLACE INTO reg_user VALUES (?,?,?,?,?,?)",
    "INSERT OR REPLACE INTO reg_binding VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
    "INSERT OR REPLACE INTO reg_sub VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
};
static const int ncols[3] = {6, 15, 18};

/* The version-1 tables, as imsd 1 created them. */
static const char v1_schema[] =
    "PRAGMA user_version=1;"
    "CREATE TABLE reg_user (user TEXT NOT NULL, nth INTEGER NOT NULL,"
    " sqn_he INTEGER NOT NULL, algo INTEGER NOT NULL, ck BLOB, ik BLOB,"
    " PRIMARY KEY (user, nth)) WITHOUT ROWID;"
    "CREATE TABLE reg_binding (user TEXT NOT NULL, nth INTEGER NOT NULL,"
    " bid INTEGER NOT NULL, contact TEXT, callid TEXT, cseq INTEGER, reg_id INTEGER,"
    " expires INTEGER, expires_at INTEGER, q1000 INTEGER, imei TEXT, event INTEGER,"
    " peer TEXT, sock_idx INTEGER, tcp INTEGER, PRIMARY KEY (user, nth, bid))"
    " WITHOUT ROWID;"
    "CREATE TABLE reg_sub (user TEXT NOT NULL, nth INTEGER NOT NULL,"
    " callid TEXT NOT NULL, local_tag TEXT, remote_tag TEXT, remote_uri TEXT,"
    " local_uri TEXT, target TEXT, routes TEXT, event_id TEXT, cseq INTEGER,"
    " version INTEGER, expires INTEGER, expires_at INTEGER, remote_cseq INTEGER,"
    " peer TEXT, sock_idx INTEGER, tcp INTEGER, PRIMARY KEY (user, nth, callid))"
    " WITHOUT ROWID;";

static struct ims_cfg *cfg;
static struct hss *hss;

static int fz_reply(struct sip_tsx *tsx, uint16_t scode, const char *reason,
		    const struct sip_tsx_reply_prm *prm, void *arg)
{
	(void)tsx, (void)scode, (void)reason, (void)prm, (void)arg;
	return 0;
}

/* One column from the input at *off; false when the input ends. */
static bool column_bind(sqlite3_stmt *s, int col, const uint8_t *d, size_t size,
			size_t *off)
{
	uint8_t type, len;
	uint64_t v = 0;

	if (*off >= size)
		return false;
	type = d[(*off)++] % 4;
	if (type == 0)
		return sqlite3_bind_null(s, col) == SQLITE_OK;
	if (type == 1) {
		if (size - *off < 8)
			return false;
		for (int i = 7; i >= 0; i--)
			v = v << 8 | d[*off + (size_t)i];
		*off += 8;
		return sqlite3_bind_int64(s, col, (sqlite3_int64)v) == SQLITE_OK;
	}
	if (*off >= size)
		return false;
	len = d[(*off)++];
	if (size - *off < len)
		return false;
	*off += len;
	if (type == 2)
		return sqlite3_bind_text(s, col, (const char *)d + *off - len, len,
					 SQLITE_TRANSIENT) == SQLITE_OK;
	return sqlite3_bind_blob(s, col, d + *off - len, len, SQLITE_TRANSIENT) ==
	       SQLITE_OK;
}

/* No request is sent here: no held answer looks for its transaction. */
static struct sip_tsx *fz_tsx_find(struct sip_stack *stack, uint64_t id, void *arg)
{
	(void)stack, (void)id, (void)arg;
	return NULL;
}

static struct registrar *reg_new(struct store *st)
{
	static const struct registrar_ops ops = {.reply = fz_reply,
						 .request = fz_request,
						 .now_ms = fz_now,
						 .tsx_find = fz_tsx_find};
	struct registrar_prm prm = {
	    .cfg = cfg, .hss = hss, .ops = &ops, .host = "127.0.0.1:5060"};
	struct registrar *reg = NULL;
	char err[256];

	if (registrar_alloc(&reg, &prm))
		abort();
	if (registrar_store_attach(reg, st, err, sizeof(err)))
		reg = mem_deref(reg);
	return reg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store *st = NULL;
	struct registrar *reg;
	char err[256];
	size_t off = 0;

	if (!cfg)
		fz_reg_setup(cfg_text, &cfg, &hss);
	fz_clock = 1000000;
	if (store_open(&st, ":memory:", NULL, 0, err, sizeof(err)))
		abort();
	if (size && data[0] >= 0xf0) {
		off = 1;
		if (sqlite3_exec(store_db(st), v1_schema, NULL, NULL, NULL) != SQLITE_OK)
			abort();
	} else {
		/* the first registrar creates the tables */
		reg = reg_new(st);
		assert(reg);
		mem_deref(reg);
	}
	while (off < size) {
		unsigned t = data[off++] % 3;
		sqlite3_stmt *s = NULL;
		bool ok = true;

		if (sqlite3_prepare_v2(store_db(st), insert_sql[t], -1, &s, NULL) !=
		    SQLITE_OK)
			abort();
		for (int c = 1; c <= ncols[t] && ok; c++)
			ok = column_bind(s, c, data, size, &off);
		if (ok)
			sqlite3_step(s); /* constraint failures are fine */
		sqlite3_finalize(s);
	}
	reg = reg_new(st);
	assert(reg);
	assert(store_version(st) == STORE_VERSION);
	fz_clock += 3000ull * 1000 * 1000 * 1000; /* past INT32_MAX s */
	registrar_expire_run(reg);
	assert(registrar_binding_count(reg) == 0 && registrar_sub_count(reg) == 0);
	mem_deref(reg);
	mem_deref(st);
	return 0;
}
