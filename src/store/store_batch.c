/*
 * store_batch — rows of copied values run in one transaction (store.h).
 *
 * Encoding in one growing buffer: a row is [stmt u8][ncols u8] and its
 * columns, each [type u8] then 8 bytes of integer or [len u32] and the
 * bytes. Written and read by this file only.
 */
#include <errno.h>
#include <stdbool.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "core/mbuf.h"
#include "store/store.h"

/* a batch of a few hundred MB means something is wrong upstream */
#define BATCH_MAX (512u << 20)
#define ROW_COLS_MAX 64

enum { COL_NULL = 0, COL_INT, COL_TEXT, COL_BLOB };

struct store_batch {
	struct mbuf mb;
	size_t rows;
	size_t row_at; /* offset of the current row's header */
	int err;       /* the first failed add; the batch is then refused */
};

int store_batch_alloc(struct store_batch **bp)
{
	struct store_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return ENOMEM;
	mbuf_init(&b->mb, BATCH_MAX);
	b->mb.wipe = true; /* rows may hold CK/IK */
	*bp = b;
	return 0;
}

void store_batch_free(struct store_batch *b)
{
	if (!b)
		return;
	mbuf_reset(&b->mb); /* wipes */
	free(b);
}

size_t store_batch_rows(const struct store_batch *b)
{
	return b->rows;
}

int store_batch_err(const struct store_batch *b)
{
	return b->err;
}

static int batch_fail(struct store_batch *b, int err)
{
	if (!b->err)
		b->err = err;
	return b->err;
}

int store_batch_row(struct store_batch *b, unsigned stmt)
{
	uint8_t h[2] = {(uint8_t)stmt, 0};
	size_t at = b->mb.end;
	int err;

	if (b->err)
		return b->err;
	if (stmt > UINT8_MAX)
		return batch_fail(b, EINVAL);
	err = mbuf_write(&b->mb, h, sizeof(h));
	if (err)
		return batch_fail(b, err);
	b->row_at = at;
	b->rows++;
	return 0;
}

static int col_add(struct store_batch *b, uint8_t type, const void *p, size_t len)
{
	uint32_t l = (uint32_t)len;
	bool sized = type == COL_TEXT || type == COL_BLOB;
	int err;

	if (b->err)
		return b->err;
	if (!b->rows || b->mb.buf[b->row_at + 1] >= ROW_COLS_MAX || len > UINT32_MAX)
		return batch_fail(b, EINVAL);
	/* room first, so that a column is written whole or not at all */
	err = mbuf_reserve(&b->mb, 1 + (sized ? sizeof(l) : 0) + len);
	if (err)
		return batch_fail(b, err);
	b->mb.buf[b->row_at + 1]++;
	mbuf_write(&b->mb, &type, 1);
	if (sized)
		mbuf_write(&b->mb, &l, sizeof(l));
	if (len)
		mbuf_write(&b->mb, p, len);
	return 0;
}

int store_batch_int(struct store_batch *b, int64_t v)
{
	return col_add(b, COL_INT, &v, sizeof(v));
}

int store_batch_text(struct store_batch *b, const char *p, size_t len)
{
	return col_add(b, COL_TEXT, p, len);
}

int store_batch_str(struct store_batch *b, const char *s)
{
	return col_add(b, COL_TEXT, s, strlen(s));
}

int store_batch_blob(struct store_batch *b, const void *p, size_t len)
{
	return col_add(b, COL_BLOB, p, len);
}

int store_batch_null(struct store_batch *b)
{
	return col_add(b, COL_NULL, NULL, 0);
}

/* Binds one column at *off; EBADMSG if the encoding runs out. */
static int col_bind(sqlite3_stmt *s, int col, const uint8_t *p, size_t end, size_t *off)
{
	uint8_t type;
	uint32_t len;
	int64_t v;

	if (*off >= end)
		return EBADMSG;
	type = p[(*off)++];
	if (type == COL_NULL)
		return sqlite3_bind_null(s, col) == SQLITE_OK ? 0 : EIO;
	if (type == COL_INT) {
		if (end - *off < sizeof(v))
			return EBADMSG;
		memcpy(&v, p + *off, sizeof(v));
		*off += sizeof(v);
		return sqlite3_bind_int64(s, col, v) == SQLITE_OK ? 0 : EIO;
	}
	if (end - *off < sizeof(len))
		return EBADMSG;
	memcpy(&len, p + *off, sizeof(len));
	*off += sizeof(len);
	if (end - *off < len)
		return EBADMSG;
	*off += len;
	if (type == COL_TEXT)
		return sqlite3_bind_text(s, col, (const char *)p + *off - len, (int)len,
					 SQLITE_STATIC) == SQLITE_OK
			   ? 0
			   : EIO;
	return sqlite3_bind_blob(s, col, p + *off - len, (int)len, SQLITE_STATIC) ==
		       SQLITE_OK
		   ? 0
		   : EIO;
}

static int rows_run(sqlite3_stmt *const *stmts, unsigned nstmts,
		    const struct store_batch *b)
{
	const uint8_t *p = b->mb.buf;
	size_t off = 0, end = b->mb.end;

	while (off < end) {
		sqlite3_stmt *s;
		unsigned ncols;
		int err = 0, rc;

		if (end - off < 2 || p[off] >= nstmts)
			return EBADMSG;
		s = stmts[p[off]];
		ncols = p[off + 1];
		off += 2;
		for (unsigned c = 0; c < ncols && !err; c++)
			err = col_bind(s, (int)c + 1, p, end, &off);
		rc = err ? SQLITE_MISUSE : sqlite3_step(s);
		sqlite3_reset(s);
		sqlite3_clear_bindings(s);
		if (err)
			return err;
		if (rc != SQLITE_DONE)
			return EIO;
	}
	return 0;
}

int store_batch_exec(struct store *st, struct sqlite3_stmt *const *stmts, unsigned nstmts,
		     const struct store_batch *b, char *err, size_t errlen)
{
	sqlite3 *db = store_db(st);
	int e;

	if (b->err) {
		snprintf(err, errlen, "batch not built: %s", strerror(b->err));
		return b->err;
	}
	if (sqlite3_exec(db, "BEGIN", NULL, NULL, NULL) != SQLITE_OK) {
		snprintf(err, errlen, "BEGIN: %s", sqlite3_errmsg(db));
		return EIO;
	}
	e = rows_run(stmts, nstmts, b);
	if (!e && sqlite3_exec(db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK)
		e = EIO;
	if (e) {
		snprintf(err, errlen, "%s",
			 e == EIO ? sqlite3_errmsg(db) : "malformed batch (a bug)");
		if (!sqlite3_get_autocommit(db))
			sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
	}
	return e;
}
