/*
 * store — the state file (manual §5.2 `ue_db_filename`): an SQLite database
 * in WAL mode where the services keep what must survive a restart (the
 * registrar: registrations, SQN_HE, subscriptions; later the SMS store).
 *
 * This module owns the connection, the file's identity and schema version,
 * and batches of rows run as transactions; each service creates and reads its own tables
 * (registrar_store.c). Writes are grouped: a service marks what changed and
 * writes it in one transaction before the loop sleeps (group commit).
 *
 * Answered means committed: a service holds an answer that acknowledges a
 * change (the registrar's 200 to a REGISTER or reg SUBSCRIBE,
 * registrar_held.c) until store_batch_exec() of the batch carrying that
 * change has returned 0, i.e. SQLite's COMMIT returned; a failed batch
 * turns its answers into errors. Committed, with WAL and
 * synchronous=NORMAL, means written to the WAL file without an fsync: the
 * rows are in the kernel's page cache, so a restart, a crash or a kill -9
 * of the process loses nothing that was answered; a power cut or a kernel
 * crash may lose the last transactions (not yet checkpointed), never the
 * file.
 *
 * A file that is not an SQLite database, is damaged, or belongs to another
 * program or a newer imsd is not touched: store_open() renames it to
 * "<file>.bad-<unix time>" and starts a fresh one (the error text says so),
 * so the server comes up and nothing is overwritten.
 *
 * Ownership: struct store is refcounted (mem_deref closes the database).
 * Loop thread only. Errors: errno ints (EIO for SQLite failures, with the
 * SQLite message in err / the log).
 */
#ifndef STORE_STORE_H
#define STORE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;
struct sqlite3;
struct sqlite3_stmt;

/* "imsd" in the SQLite header's application_id field */
#define STORE_APP_ID 0x696d7364
/* Schema version (PRAGMA user_version) this imsd writes:
 *   1  first version
 *   2  the registrar's flows name our local address ("local", "ip:port")
 *      instead of an index into the sip_addr list ("sock_idx")
 * A new file is stamped with it at once. An older file keeps its version
 * until the services whose tables changed have migrated them: each does so
 * when it attaches, in one transaction that ends by stamping the file
 * (store_version_set), so a failed migration leaves the file as it was. */
#define STORE_VERSION 2

/*
 * Opens or creates path. A file set aside (see above) is reported through
 * note (may be NULL) and is not an error. err receives the reason of a
 * failure, such as a directory that cannot be written.
 */
int store_open(struct store **sp, const char *path, char *note, size_t notelen, char *err,
	       size_t errlen);

const char *store_path(const struct store *st);
struct sqlite3 *store_db(struct store *st);

/* The file's schema version now (PRAGMA user_version): STORE_VERSION for
 * a new file, less for an older one not migrated yet; -1 on failure. */
int store_version(struct store *st);
/* Stamps the file with version v; for a service's migration, inside its
 * transaction. */
int store_version_set(struct store *st, int v);

/* Runs one or more SQL statements without results. */
int store_exec(struct store *st, const char *sql);

/* Counts of what was written and failed, for `stats`. */
struct store_stats {
	uint64_t commits, rows, errors;
};
void store_stats_get(const struct store *st, struct store_stats *out);
/* Logs an SQLite error of st's connection with what was being done. */
int store_fail(struct store *st, const char *what);

/*
 * A batch: rows of values for prepared statements, built on the loop thread
 * (the values are copied in) and run in one transaction by
 * store_batch_exec(), on the loop thread or on a worker, so that SQLite's
 * work and the fsync of its checkpoints do not hold up signalling. Only
 * one thread may use the connection at a time: the caller keeps at most
 * one batch running and does nothing else with st meanwhile.
 */
struct store_batch;
int store_batch_alloc(struct store_batch **bp);
void store_batch_free(struct store_batch *b);
size_t store_batch_rows(const struct store_batch *b);
/* A new row for statement stmt (an index into store_batch_exec's array),
 * then its values in column order. The first failed add (ENOMEM, or EINVAL
 * for a value before any row) sticks: later adds do nothing, every adder
 * returns it, store_batch_err() says it, and store_batch_exec() refuses the
 * batch. So a builder may add a whole row and look once at the end. */
int store_batch_err(const struct store_batch *b);
int store_batch_row(struct store_batch *b, unsigned stmt);
int store_batch_int(struct store_batch *b, int64_t v);
int store_batch_text(struct store_batch *b, const char *p, size_t len);
int store_batch_str(struct store_batch *b, const char *s);
int store_batch_blob(struct store_batch *b, const void *p, size_t len);
int store_batch_null(struct store_batch *b);
/* BEGIN, every row (bind, step, reset), COMMIT; ROLLBACK on an error,
 * whose SQLite message goes into err. Touches no counter and no log (it
 * may run on a worker): store_batch_done() does that on the loop thread. */
int store_batch_exec(struct store *st, struct sqlite3_stmt *const *stmts, unsigned nstmts,
		     const struct store_batch *b, char *err, size_t errlen);
void store_batch_done(struct store *st, const struct store_batch *b, int result,
		      const char *err);

#endif
