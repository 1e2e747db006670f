/*
 * core/log internals shared by log.c (write path, init), log_opt.c (the
 * log_options parser and state printing), log_file.c (output, header,
 * rotation) and log_ring.c (history). Not for other modules.
 *
 * Everything in struct log_state is protected by log_g.lock, except the
 * published per-layer copies in log_pub, which log_on() and the dump-option
 * getters read without the lock (relaxed atomics).
 */
#ifndef CORE_LOG_INT_H
#define CORE_LOG_INT_H

#include <pthread.h>

#include "core/log.h"
#include "core/nbfd.h"

struct mbuf;

/* Everything log_options sets; parsed into a copy, committed whole. */
struct log_cfg {
	struct log_layer_opts layer[LOG_LAYER_COUNT];
	enum log_time_fmt time_fmt;
	bool time_us;
	bool append;
	uint64_t rotate_size;  /* 0: off */
	uint64_t rotate_count; /* 0: off */
	char rotate_path[LOG_PATH_MAX];
};

/* One-shot actions requested by an options string. */
struct log_act {
	bool cut;
	bool rotate;
};

/* A history entry: the public view followed by its strings. */
struct log_rec {
	struct log_entry e;
	char buf[]; /* id NUL text NUL */
};

struct log_state {
	pthread_mutex_t lock;
	bool inited;
	struct log_cfg cfg;

	/* output */
	int fd;              /* 2 when no file */
	char *filename;      /* owned; NULL: stderr */
	bool sync;
	bool also_stderr;
	struct nbfd err;      /* stderr written without blocking (core/nbfd) */
	uint64_t err_dropped; /* copies not written since the last that was */
	uint64_t out_dropped; /* entries not written to stderr as the log */
	bool err_gone;        /* stderr as the log failed for good */
	char *obuf;          /* owned; pending output */
	size_t olen, ocap;
	size_t ooff;	       /* start of what is pending (stderr without blocking) */
	uint64_t file_bytes;   /* size of the current file, buffered included */
	uint64_t file_entries; /* entries in the current file */
	char *prev_name;     /* owned; where the last rotation moved the file */
	bool write_failed;   /* reported once to stderr */
	bool in_rotate;      /* no rotation from inside a rotation */

	/* header lines, owned */
	char *hdr[LOG_HEADER_MAX_LINES];
	size_t hdr_n;

	/* time: clock hook and a per-second cache of the formatted prefix */
	log_clock_h *clock;
	int64_t tc_sec;
	int tc_fmt;
	char tc_buf[32];

	/* history */
	struct log_rec **ring; /* owned, ring_cap slots */
	size_t ring_cap;       /* com_log_count */
	size_t ring_n;         /* held */
	size_t ring_head;      /* slot of the oldest */
	uint64_t next_idx;
	uint64_t reset_end;    /* next_idx at the last log_ring_reset */
	bool ring_us;
	struct {
		log_watch_h *h;
		void *arg;
	} watch[LOG_WATCH_MAX];
};

extern struct log_state log_g;

/* Lock-free copies of what the hot path needs. */
struct log_pub {
	unsigned char level;
	unsigned char flags; /* LOG_PUB_* */
	uint32_t max_size;
};
enum {
	LOG_PUB_PAYLOAD = 1,
	LOG_PUB_KEY = 2,
	LOG_PUB_CRYPTO = 4,
	LOG_PUB_VERBOSE = 8,
};
extern struct log_pub log_pub[LOG_LAYER_COUNT];

/* log.c */
void log_cfg_default(struct log_cfg *cfg);
void log_cfg_publish(const struct log_cfg *cfg);
void log_now(struct timespec *ts);
/* Formats ts in the configured time format; returns the length. */
size_t log_time_format(char *buf, size_t size, const struct timespec *ts);
void log_lock(void);
void log_unlock(void);

/* log_opt.c */
/* Parses opts into cfg (which holds the current settings on entry) and act.
 * have_file tells whether file actions are possible; base_dir resolves a
 * relative file.path (NULL: the working directory). */
int log_opt_parse(const char *opts, struct log_cfg *cfg, struct log_act *act,
		  bool have_file, const char *base_dir, char *err, size_t errlen);
/* Appends the log_options string that reproduces cfg. */
int log_opt_print_cfg(struct mbuf *mb, const struct log_cfg *cfg);
void log_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* log_file.c, all with the lock held */
int log_file_open_locked(bool truncate, char *err, size_t errlen);
void log_file_close_locked(void);
void log_out_put_locked(const char *s, size_t len);
void log_out_flush_locked(void);
/* Before the len bytes of an entry's lines: false when the entry must be
 * dropped (stderr as the log, not writable, its buffer full; counted and
 * told before the next entry that fits). Always true for a file. */
bool log_out_entry_begin_locked(size_t len);
/* Flushes, giving stderr as the log a bounded time to take the rest
 * (close, exit). */
void log_out_drain_locked(void);
/* The copy of an error line on stderr (log_prm.also_stderr): prefix and
 * first text line, then '\n', cut to LOG_ERRCP_MAX bytes. Never blocks: a
 * copy stderr cannot take at once is dropped and counted, and the next one
 * that goes through is preceded by a note with the count. */
#define LOG_ERRCP_MAX 4096
void log_err_copy_locked(const char *pre, size_t plen, const char *text, size_t tlen);
/* Closes what log_err_copy_locked opened; the next copy looks again. */
void log_err_copy_reset_locked(void);
void log_file_entry_done_locked(void);
int log_file_rotate_locked(char *err, size_t errlen);
int log_file_cut_locked(char *err, size_t errlen);
void log_header_write_locked(void);
void log_header_free_locked(void);
/* Directory of the log file (malloc'd), or NULL when there is none. */
char *log_file_dir_locked(void);

/* log_ring.c, all with the lock held */
int log_ring_alloc_locked(size_t cap);
/* Stores rec, returns the record pushed out (to free after unlocking). */
struct log_rec *log_ring_push_locked(struct log_rec *rec);
void log_ring_free_locked(void);

#endif
