/*
 * store — the state file (manual §5.2 `ue_db_filename`): an SQLite database
 * in WAL mode where the services keep what must survive a restart (the
 * registrar: registrations, SQN_HE, subscriptions; later the SMS store).
 *
 * This module owns the connection, the file's identity and schema version,
 * and transactions; each service creates and reads its own tables
 * (registrar_store.c). Writes are grouped: a service marks what changed and
 * writes it in one transaction before the loop sleeps, so a restart or a
 * crash of the process loses nothing that was answered (WAL with
 * synchronous=NORMAL: a power cut may lose the last transactions, never
 * the file).
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

/* "imsd" in the SQLite header's application_id field */
#define STORE_APP_ID 0x696d7364
/* Schema version (PRAGMA user_version) this imsd writes. */
#define STORE_VERSION 1

/*
 * Opens or creates path. A file set aside (see above) is reported through
 * note (may be NULL) and is not an error. err receives the reason of a
 * failure, such as a directory that cannot be written.
 */
int store_open(struct store **sp, const char *path, char *note, size_t notelen, char *err,
	       size_t errlen);

const char *store_path(const struct store *st);
struct sqlite3 *store_db(struct store *st);

/* Runs one or more SQL statements without results. */
int store_exec(struct store *st, const char *sql);
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);

/* Counts of what was written and failed, for `stats`. */
struct store_stats {
	uint64_t commits, rows, errors;
};
void store_stats_get(const struct store *st, struct store_stats *out);
void store_count_rows(struct store *st, uint64_t n);
/* Logs an SQLite error of st's connection with what was being done. */
int store_fail(struct store *st, const char *what);

#endif
