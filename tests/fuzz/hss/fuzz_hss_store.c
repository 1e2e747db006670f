/*
 * Fuzz target: restoring the users added at run time from a state file
 * (ue_db_filename, src/hss/hss_store.c) whose rows are outside input. The
 * input is a list of rows, each a table byte (0 hss_added, 1 hss_changed,
 * 2 hss_echo_added) and then, per column of that table, a type byte (0
 * NULL, 1 INTEGER + 8 bytes little-endian, 2 TEXT, 3 BLOB, both + 2 length
 * bytes little-endian and the bytes). The rows go into an in-memory
 * database through SQLite and a hss is attached to it (hss_store_attach:
 * JSON of the users_add calls, their changed entries put in place, the
 * configuration reader and hss_users_add, the echo IMPUs). Then, as the
 * API would, each restored user gets a user_set (hss_store_user_change on
 * the restored entry), the echo list is saved, and one users_add is made
 * and saved; a second hss attached to the same file must then restore as
 * many users as the first had. That one edits each user's first IMPU
 * (impu_set) and a third reads the file again.
 * Invariants: no crash or leak; an attach error has a message; at most
 * HSS_ADD_MAX users added; saves on a restored file commit (no row id
 * taken twice); the restore is the same twice.
 */
#include <errno.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/ims_cfg.h"
#include "core/log.h"
#include "core/mem.h"
#include "hss/hss.h"
#include "store/store.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char cfg_text[] =
    "{\"sip_addr\": \"127.0.0.1\", \"domain\": \"ims.test\", \"echo\": \"sip:echo\","
    " \"ue_db\": [{\"imsi\": \"001010000000001\", \"impi\": \"alice@ims.test\","
    " \"authent_type\": \"none\", \"impu\": [\"sip:alice\", \"tel:+331\"]}]}";

/* users_add made after the restore (its IMSI and IMPU may be taken) */
static const char add_text[] =
    "[{\"imsi\":\"001010000000099\",\"authent_type\":\"none\",\"impu\":[\"sip:fz99\"]}]";

static const char *const insert_sql[3] = {
    "INSERT OR REPLACE INTO hss_added VALUES (?,?)",
    "INSERT OR REPLACE INTO hss_changed VALUES (?,?,?)",
    "INSERT OR REPLACE INTO hss_echo_added VALUES (?,?)",
};
static const int ncols[3] = {2, 3, 2};

static struct ims_cfg *cfg;

static void setup(void)
{
	char e[256];
	struct cfg_diag d = {e, sizeof(e), NULL, NULL};
	json_t *root = json_loads(cfg_text, 0, NULL);

	if (!root || ims_cfg_from_json(root, NULL, &cfg, &d))
		abort();
	json_decref(root);
	/* the restore logs each row it skips: not what is fuzzed
	 * (FUZZ_HSS_STORE_LOG shows it) */
	(void)log_options_apply(getenv("FUZZ_HSS_STORE_LOG") ? "all.level=debug"
							     : "all.level=none",
				e, sizeof(e));
}

/* One column from the input at *off; false when the input ends. */
static bool column_bind(sqlite3_stmt *s, int col, const uint8_t *d, size_t size,
			size_t *off)
{
	uint8_t type;
	uint64_t v = 0;
	size_t len;

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
	if (size - *off < 2)
		return false;
	len = (size_t)d[*off] | (size_t)d[*off + 1] << 8;
	*off += 2;
	if (size - *off < len)
		return false;
	*off += len;
	if (type == 2)
		return sqlite3_bind_text(s, col, (const char *)d + *off - len, (int)len,
					 SQLITE_TRANSIENT) == SQLITE_OK;
	return sqlite3_bind_blob(s, col, d + *off - len, (int)len, SQLITE_TRANSIENT) ==
	       SQLITE_OK;
}

/* A hss on cfg attached to st; NULL when the attach fails (with a message). */
static struct hss *hss_open(struct store *st)
{
	struct hss *hss = NULL;
	char err[512] = "";

	if (hss_alloc(&hss, cfg, err, sizeof(err)))
		abort();
	if (hss_store_attach(hss, st, err, sizeof(err))) {
		if (!err[0])
			abort();
		return mem_deref(hss);
	}
	if (hss_user_count(hss) - 1 > HSS_ADD_MAX)
		abort();
	return hss;
}

/* impu_set of every restored user's first IMPU, as the API would after
 * hss_user_update: the restored entry edited (its IMPUs may be anything
 * the reader took). Not checked against a restore: the API's own check
 * (hss_user_update) is not made here. */
static void impu_set_all(struct hss *hss)
{
	json_t *impu = json_pack("{sb}", "ring_only", 1);

	for (uint32_t i = 1; impu && i < hss_user_count(hss); i++) {
		struct hss_change c = {.op = HSS_CHANGE_IMPU_SET, .idx = 0, .impu = impu};
		int e = hss_store_user_change(hss, hss_user_at(hss, i), &c, NULL, NULL);

		if (e && e != ENOENT && e != EINVAL)
			abort();
	}
	json_decref(impu);
}

/* The API's user_set on every restored user, the echo list saved, and one
 * users_add; the users there are then. */
static uint32_t changes_make(struct hss *hss)
{
	struct cfg_diag d = {NULL, 0, NULL, NULL};
	struct ims_cfg *set = NULL;
	json_t *users;
	char err[256];

	for (uint32_t i = 1; i < hss_user_count(hss); i++) {
		struct hss_change c = {.op = HSS_CHANGE_USER_SET, .force_sms_over_sg = i & 1};
		int e = hss_store_user_change(hss, hss_user_at(hss, i), &c, NULL, NULL);

		if (e && e != ENOENT)
			abort();
	}
	if (hss_store_echo_save(hss, NULL, NULL))
		abort();
	users = json_loads(add_text, 0, NULL);
	if (!users)
		abort();
	if (!ims_cfg_ue_from_json(cfg, users, &set, &d) &&
	    !hss_users_add(hss, set, err, sizeof(err)) &&
	    hss_store_save(hss, add_text, sizeof(add_text) - 1, NULL, NULL))
		abort(); /* a restored file takes new rows */
	json_decref(users);
	return hss_user_count(hss);
}

static void rows_insert(struct store *st, const uint8_t *data, size_t size)
{
	size_t off = 0;

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
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct store *st = NULL;
	struct hss *hss;
	char err[256];
	uint32_t n;

	if (!cfg)
		setup();
	if (size > 1 << 20)
		return 0;
	if (store_open(&st, ":memory:", NULL, 0, err, sizeof(err)))
		abort();
	/* the first attach creates the tables */
	hss = hss_open(st);
	if (!hss)
		abort();
	mem_deref(hss);
	rows_insert(st, data, size);
	hss = hss_open(st);
	if (hss) {
		n = changes_make(hss);
		mem_deref(hss);
		hss = hss_open(st);
		if (!hss || hss_user_count(hss) != n)
			abort();
		impu_set_all(hss);
		mem_deref(hss);
		mem_deref(hss_open(st)); /* the edited entries read back */
	}
	mem_deref(st);
	return 0;
}
