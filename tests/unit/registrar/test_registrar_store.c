/* Unit tests: the state file's row decoders (registrar_store_load.c), each
 * column of a valid row replaced by bad values, one at a time; the
 * migration of a version-1 file (registrar_store_schema.c), made here with
 * the version-1 schema. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/mem.h"
#include "store/store.h"
#include "registrar/registrar_int.h"

static struct reg_store_col I(int64_t v) {
	return (struct reg_store_col){.type = REG_COL_INT, .i = v};
}

static struct reg_store_col
S(const char *t) {
	return (struct reg_store_col){.type = REG_COL_TEXT, .s = pl_from_str(t)};
}

static struct reg_store_col
B(const char *t, size_t len) {
	return (struct reg_store_col){.type = REG_COL_BLOB, .s = {t, len}};
}

static const struct reg_store_col NUL = {.type = REG_COL_NULL};

/* A valid reg_binding row. */
static void binding_row(struct reg_store_col c[REG_STORE_BINDING_COLS])
{
	const struct reg_store_col row[REG_STORE_BINDING_COLS] = {
	    S("impi:alice@ims.test"),
	    I(0),
	    I(7),
	    S("<sip:alice@10.0.0.1:5060>;+sip.instance=\"<urn:gsma:imei:35000000-000001-"
	      "0>\""),
	    S("abc-123@10.0.0.1"),
	    I(2),
	    I(1),
	    I(600),
	    I(1800000000),
	    I(500),
	    S("35000000000001"),
	    I(REG_EV_REFRESHED),
	    S("[2001:db8::1]:5060"),
	    S("[2001:db8::5]:5061"),
	    I(1),
	};
	memcpy(c, row, sizeof(row));
}

static void sub_row(struct reg_store_col c[REG_STORE_SUB_COLS])
{
	const struct reg_store_col row[REG_STORE_SUB_COLS] = {
	    S("imsi:001010000000005"),
	    I(1),
	    S("sub-1@ue"),
	    S("0a1b2c"),
	    S("f1"),
	    S("<sip:alice@ims.test>"),
	    S("<sip:alice@ims.test>"),
	    S("sip:alice@10.0.0.1:5060"),
	    S("<sip:p1.ims.test;lr>"),
	    S(""),
	    I(3),
	    I(4),
	    I(600000),
	    I(1800000000),
	    I(9),
	    S("10.0.0.1:5060"),
	    S("10.0.0.5:5060"),
	    I(0),
	};
	memcpy(c, row, sizeof(row));
}

static void test_binding_row(void **state)
{
	struct reg_store_col c[REG_STORE_BINDING_COLS];
	struct reg_store_binding_rec r;
	struct net_flow fl;
	char a[NET_ADDR_STRLEN];

	(void)state;
	binding_row(c);
	assert_int_equal(reg_store_binding_decode(c, REG_STORE_BINDING_COLS, &r), 0);
	assert_int_equal(r.key.kind, 'i');
	assert_true(pl_eq_str(r.key.id, "alice@ims.test"));
	assert_int_equal(r.bid, 7);
	assert_int_equal(r.q1000, 500);
	assert_string_equal(r.imei, "35000000000001");
	fl = r.flow; /* the decoded flow, interned once applied */
	assert_int_equal(net_addr_af(&fl.peer), AF_INET6);
	assert_int_equal(net_addr_port(&fl.peer), 5060);
	assert_string_equal(net_addr_print(&fl.local, a, sizeof(a)), "[2001:db8::5]:5061");
	assert_true(fl.reliable);
	/* a link-local IPv6 peer keeps its scope (net_addr_print's form) */
	c[12] = S("[fe80::1%2]:5062");
	c[13] = S("[fe80::2%2]:5060");
	assert_int_equal(reg_store_binding_decode(c, REG_STORE_BINDING_COLS, &r), 0);
	fl = r.flow; /* the decoded flow, interned once applied */
	assert_int_equal(fl.peer.u.in6.sin6_scope_id, 2);
	assert_int_equal(net_addr_port(&fl.peer), 5062);
	assert_int_equal(fl.local.u.in6.sin6_scope_id, 2);
	/* local unknown (a version-1 index beyond the list): a flow still */
	c[13] = S("");
	assert_int_equal(reg_store_binding_decode(c, REG_STORE_BINDING_COLS, &r), 0);
	fl = r.flow; /* the decoded flow, interned once applied */
	assert_true(net_addr_isset(&fl.peer));
	assert_false(net_addr_isset(&fl.local));
	/* no IMEI, no flow */
	c[10] = S("");
	c[12] = S("");
	assert_int_equal(reg_store_binding_decode(c, REG_STORE_BINDING_COLS, &r), 0);
	fl = r.flow; /* the decoded flow, interned once applied */
	assert_false(net_addr_isset(&fl.peer));
	/* wrong column count */
	assert_int_equal(reg_store_binding_decode(c, REG_STORE_BINDING_COLS - 1, &r),
			 EBADMSG);
}

static void test_binding_row_bad_columns(void **state)
{
	static const char big[] = "<sip:a@b>;x=";
	char huge[9000];
	const struct {
		int col;
		struct reg_store_col v;
	} bad[] = {
	    {0, S("alice@ims.test")},	   /* no kind */
	    {0, S("impx:alice@ims.test")}, /* unknown kind */
	    {0, I(5)},			   /* not text */
	    {1, I(16)},			   /* nth out of range */
	    {1, I(-1)},
	    {2, I(0)}, /* binding id 0 */
	    {2, I((int64_t)UINT32_MAX + 1)},
	    {3, S("sip:alice@10.0.0.1")},		 /* not <uri> */
	    {3, S("<sip:alice@10.0.0.1>\r\nX-Evil: 1")}, /* header injection */
	    {3, S("<sip:alice@10.0.0.1")},		 /* unterminated */
	    {3, NUL},
	    {4, S("a b@c")}, /* not a Call-ID */
	    {4, S("")},
	    {5, I(-1)}, /* CSeq */
	    {5, I((int64_t)INT32_MAX + 1)},
	    {7, I(0)},	/* expires 0 */
	    {8, I(-5)}, /* expires_at */
	    {8, S("1800000000")},
	    {9, I(1001)},	      /* q */
	    {10, S("3500000000000")}, /* 13 digits */
	    {10, S("3500000000000a")},
	    {11, I(REG_EV_EXPIRED)}, /* a terminated event */
	    {12, S("10.0.0.1")},     /* no port */
	    {12, S("10.0.0.1:0")},
	    {12, S("10.0.0.1:70000")},
	    {12, S("10.0.0.300:5060")},
	    {12, S("[2001:db8::1:5060")},
	    {12, S("[zz::1]:5060")},
	    {12, S("pcscf.ims.test:5060")}, /* a name */
	    {12, S("[::1]")},
	    {13, I(1)},			  /* a version-1 sock_idx */
	    {13, NUL},
	    {13, S("10.0.0.5:5060")},	  /* another family than the peer's */
	    {13, S("[2001:db8::5]")},	  /* no port */
	    {13, S("[2001:db8::5]:0")},
	    {13, S("pcscf.ims.test:5060")},
	    {13, S("[2001:db8::5]:5060\r\n")},
	    {14, I(2)},			  /* tcp flag */
	    {3, B(big, sizeof(big) - 1)}, /* a BLOB where TEXT goes */
	    {3, {.type = REG_COL_TEXT, .s = {huge, sizeof(huge)}}}, /* too long */
	};
	struct reg_store_col c[REG_STORE_BINDING_COLS];
	struct reg_store_binding_rec r;

	(void)state;
	memset(huge, 'a', sizeof(huge));
	huge[0] = '<';
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		binding_row(c);
		c[bad[i].col] = bad[i].v;
		if (reg_store_binding_decode(c, REG_STORE_BINDING_COLS, &r) != EBADMSG)
			fail_msg("bad value %zu (column %d) accepted", i, bad[i].col);
	}
}

static void test_sub_row(void **state)
{
	const struct {
		int col;
		struct reg_store_col v;
	} bad[] = {
	    {2, S("x y")},
	    {3, S("")},
	    {3, S("a;b")},
	    {4, S("f\x01")},
	    {5, S("sip:x@y")},
	    {6, NUL},
	    {7, S("")},
	    {8, S("<sip:a>\n")},
	    {9, S("a b")},
	    {10, I(-1)},
	    {12, I(-1)},
	    {13, S("x")},
	    {15, S("1.2.3.4:99999")},
	    {15, S("")}, /* a local address without a peer */
	    {16, S("10.0.0.5")},
	    {16, I(0)},
	};
	struct reg_store_col c[REG_STORE_SUB_COLS];
	struct reg_store_sub_rec r;

	(void)state;
	sub_row(c);
	assert_int_equal(reg_store_sub_decode(c, REG_STORE_SUB_COLS, &r), 0);
	assert_int_equal(r.key.kind, 'm');
	assert_int_equal(r.key.nth, 1);
	assert_true(pl_eq_str(r.str[REG_SUB_ROUTES], "<sip:p1.ims.test;lr>"));
	assert_int_equal(r.str[REG_SUB_EVENT_ID].l, 0);
	assert_int_equal(r.version, 4);
	assert_int_equal(net_addr_af(&r.flow.peer), AF_INET);
	assert_int_equal(net_addr_port(&r.flow.local), 5060);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		sub_row(c);
		c[bad[i].col] = bad[i].v;
		if (reg_store_sub_decode(c, REG_STORE_SUB_COLS, &r) != EBADMSG)
			fail_msg("bad value %zu (column %d) accepted", i, bad[i].col);
	}
}

static void test_user_row(void **state)
{
	static const char key[32] = {1, 2, 3};
	struct reg_store_col c[REG_STORE_USER_COLS] = {
	    S("impu:sip:carol@ims.test"), I(0),	      I(0x20),
	    I(DIGEST_ALGO_AKAV1_MD5),	  B(key, 16), B(key, 16)};
	struct reg_store_user_rec r;

	(void)state;
	assert_int_equal(reg_store_user_decode(c, REG_STORE_USER_COLS, &r), 0);
	assert_int_equal(r.key.kind, 'u');
	assert_int_equal(r.sqn_he, 0x20);
	assert_int_equal(r.ck.l, 16);
	c[4] = NUL;
	c[5] = NUL;
	c[3] = I(-1);
	assert_int_equal(reg_store_user_decode(c, REG_STORE_USER_COLS, &r), 0);
	assert_int_equal(r.algo, -1);
	c[2] = I((int64_t)1 << 48); /* SQN is 48 bits */
	assert_int_equal(reg_store_user_decode(c, REG_STORE_USER_COLS, &r), EBADMSG);
	c[2] = I(1);
	c[3] = I(DIGEST_ALGO_AKAV2_SHA256 + 1);
	assert_int_equal(reg_store_user_decode(c, REG_STORE_USER_COLS, &r), EBADMSG);
	c[3] = I(0);
	c[4] = B(key, 33); /* longer than any CK */
	assert_int_equal(reg_store_user_decode(c, REG_STORE_USER_COLS, &r), EBADMSG);
	c[4] = S("ck");
	assert_int_equal(reg_store_user_decode(c, REG_STORE_USER_COLS, &r), EBADMSG);
}

/* ---- migration from schema version 1 ---- */

/* The version-1 tables as imsd 1 created them, and rows: bindings on
 * sockets 1 and 0, one with an index beyond today's list, one without a
 * flow; a subscription on socket 1. */
static const char v1_file[] =
    "PRAGMA application_id=1768780644; PRAGMA user_version=1;"
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
    " WITHOUT ROWID;"
    "INSERT INTO reg_user VALUES ('impi:alice@ims.test', 0, 32, 0, NULL, NULL);"
    "INSERT INTO reg_binding VALUES ('impi:alice@ims.test', 0, 1, '<sip:a@10.0.0.1>',"
    " 'c1@ue', 1, 0, 600, 1800000000, 1000, '', 0, '10.0.0.1:5060', 1, 0);"
    "INSERT INTO reg_binding VALUES ('impi:alice@ims.test', 0, 2, '<sip:a@10.0.0.1>',"
    " 'c2@ue', 1, 0, 600, 1800000000, 1000, '', 0, '10.0.0.1:5062', 0, 1);"
    "INSERT INTO reg_binding VALUES ('impi:alice@ims.test', 0, 3, '<sip:a@10.0.0.1>',"
    " 'c3@ue', 1, 0, 600, 1800000000, 1000, '', 0, '10.0.0.1:5064', 7, 0);"
    "INSERT INTO reg_binding VALUES ('impi:alice@ims.test', 0, 4, '<sip:a@10.0.0.1>',"
    " 'c4@ue', 1, 0, 600, 1800000000, 1000, '', 0, '', 0, 0);"
    "INSERT INTO reg_sub VALUES ('impi:alice@ims.test', 0, 's1@ue', 't1', 'f1',"
    " '<sip:a@ims.test>', '<sip:a@ims.test>', 'sip:a@10.0.0.1', '', '', 1, 2, 600,"
    " 1800000000, 3, '10.0.0.1:5060', 1, 0);";

struct mig_fix {
	char dir[64], path[96];
	struct store *st;
};

/* A version-1 file (plus extra SQL), opened by store_open. */
static void v1_open(struct mig_fix *m, const char *extra)
{
	char note[256], err[256];
	sqlite3 *db = NULL;

	snprintf(m->dir, sizeof(m->dir), "/tmp/imsd-regmig-XXXXXX");
	assert_non_null(mkdtemp(m->dir));
	snprintf(m->path, sizeof(m->path), "%s/ims.state", m->dir);
	assert_int_equal(sqlite3_open(m->path, &db), SQLITE_OK);
	assert_int_equal(sqlite3_exec(db, v1_file, NULL, NULL, NULL), SQLITE_OK);
	if (extra)
		assert_int_equal(sqlite3_exec(db, extra, NULL, NULL, NULL), SQLITE_OK);
	sqlite3_close(db);
	assert_int_equal(store_open(&m->st, m->path, note, sizeof(note), err, sizeof(err)),
			 0);
	assert_string_equal(note, ""); /* kept, not set aside */
	assert_int_equal(store_version(m->st), 1);
}

static void mig_close(struct mig_fix *m)
{
	char p[128];

	mem_deref(m->st);
	for (int i = 0; i < 3; i++) {
		snprintf(p, sizeof(p), "%s%s", m->path, i == 0 ? "" : i == 1 ? "-wal" : "-shm");
		unlink(p);
	}
	rmdir(m->dir);
}

/* The text of column col of the first row of sql ("NULL" for NULL). */
static void query_text(struct store *st, const char *sql, char *out, size_t size)
{
	sqlite3_stmt *s = NULL;

	assert_int_equal(sqlite3_prepare_v2(store_db(st), sql, -1, &s, NULL), SQLITE_OK);
	assert_int_equal(sqlite3_step(s), SQLITE_ROW);
	snprintf(out, size, "%s",
		 sqlite3_column_type(s, 0) == SQLITE_NULL
		     ? "NULL"
		     : (const char *)sqlite3_column_text(s, 0));
	sqlite3_finalize(s);
}

static void test_migrate_v1(void **state)
{
	struct mig_fix m;
	struct reg_store_mig r;
	struct net_addr locals[2];
	char t[256];

	(void)state;
	v1_open(&m, NULL);
	/* today's list: the entry that was second is first */
	assert_int_equal(net_addr_parse_str(&locals[0], "192.0.2.2", 5070), 0);
	assert_int_equal(net_addr_parse_str(&locals[1], "[2001:db8::1]", 5060), 0);
	assert_int_equal(reg_store_migrate(m.st, locals, 2, &r), 0);
	assert_true(r.migrated);
	assert_int_equal(r.from, 1);
	assert_int_equal(r.rows, 5);
	assert_int_equal(r.unmapped, 1);
	assert_int_equal(store_version(m.st), STORE_VERSION);
	query_text(m.st, "SELECT group_concat(bid || '=' || local, ',') FROM "
			 "(SELECT bid, local FROM reg_binding ORDER BY bid)",
		   t, sizeof(t));
	assert_string_equal(t, "1=[2001:db8::1]:5060,2=192.0.2.2:5070,3=,4=");
	query_text(m.st, "SELECT local || ' ' || peer || ' ' || tcp || ' ' || remote_cseq "
			 "FROM reg_sub", t, sizeof(t));
	assert_string_equal(t, "[2001:db8::1]:5060 10.0.0.1:5060 0 3");
	query_text(m.st, "SELECT count(*) FROM pragma_table_info('reg_binding') WHERE "
			 "name = 'sock_idx'", t, sizeof(t));
	assert_string_equal(t, "0");
	query_text(m.st, "SELECT count(*) FROM sqlite_temp_schema", t, sizeof(t));
	assert_string_equal(t, "0");
	query_text(m.st, "SELECT sqn_he FROM reg_user", t, sizeof(t));
	assert_string_equal(t, "32");
	/* once only */
	assert_int_equal(reg_store_migrate(m.st, locals, 2, &r), 0);
	assert_false(r.migrated);
	mig_close(&m);
}

/* A migration that fails half-way leaves the file as it was: version 1,
 * sock_idx, every row. */
static void test_migrate_v1_rolls_back(void **state)
{
	struct mig_fix m;
	struct reg_store_mig r;
	struct net_addr local;
	char t[64];

	(void)state;
	/* the name the subscription table is rebuilt under is taken */
	v1_open(&m, "CREATE TABLE reg_sub_v2 (x INTEGER);");
	assert_int_equal(net_addr_parse_str(&local, "192.0.2.2", 5070), 0);
	assert_int_equal(reg_store_migrate(m.st, &local, 1, &r), EIO);
	assert_false(r.migrated);
	assert_int_equal(store_version(m.st), 1);
	query_text(m.st, "SELECT group_concat(sock_idx) FROM reg_binding", t, sizeof(t));
	assert_string_equal(t, "1,0,7,0");
	query_text(m.st, "SELECT count(*) FROM sqlite_temp_schema", t, sizeof(t));
	assert_string_equal(t, "0");
	mig_close(&m);
}

/* A new file is created at the current version, with nothing to migrate. */
static void test_migrate_new_file(void **state)
{
	struct reg_store_mig r;
	struct store *st = NULL;
	char err[256], t[64];

	(void)state;
	assert_int_equal(store_open(&st, ":memory:", NULL, 0, err, sizeof(err)), 0);
	assert_int_equal(store_version(st), STORE_VERSION);
	assert_int_equal(reg_store_migrate(st, NULL, 0, &r), 0);
	assert_false(r.migrated);
	query_text(st, "SELECT group_concat(name) FROM pragma_table_info('reg_binding') "
		       "WHERE name IN ('peer', 'local', 'tcp', 'sock_idx')",
		   t, sizeof(t));
	assert_string_equal(t, "peer,local,tcp");
	mem_deref(st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_binding_row),
	    cmocka_unit_test(test_binding_row_bad_columns),
	    cmocka_unit_test(test_sub_row),
	    cmocka_unit_test(test_user_row),
	    cmocka_unit_test(test_migrate_v1),
	    cmocka_unit_test(test_migrate_v1_rolls_back),
	    cmocka_unit_test(test_migrate_new_file),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
