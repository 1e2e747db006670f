/*
 * core/log — the server log (manual §8) and its in-memory history.
 *
 * Every line is `time layer dir id message` (§8.1; for cx/rx the id column
 * holds the peer address, §8.2; media lines are `time layer id dir
 * proto/media message`, §8.3). Each layer has its own level and dump options
 * set by log_options (§5.2), at start from the configuration and at run time
 * from the monitor's `log` command or the remote API. The last
 * `com_log_count` entries stay in a ring, indexed and timestamped, for the
 * remote API's log_get (§6.5).
 *
 * Callers check log_on() before formatting anything costly. Every function
 * may be called from any thread; one mutex serialises writers. Lines are
 * buffered and written by log_flush(), which the event loop calls before it
 * sleeps (and log_close() at exit), unless log_sync is set.
 *
 * The line format, every option and the rotation naming are described for
 * users in docs/logging.md.
 */
#ifndef CORE_LOG_H
#define CORE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct mbuf;

enum log_layer {
	LOG_IMS = 0,
	LOG_SIP,
	LOG_MEDIA,
	LOG_RX,
	LOG_CX,
	LOG_N5,
	LOG_IPSEC,
	LOG_LAYER_COUNT
};

enum log_level {
	LOG_LVL_NONE = 0,
	LOG_LVL_ERROR,
	LOG_LVL_WARN,
	LOG_LVL_INFO,
	LOG_LVL_DEBUG,
};

enum log_dir {
	LOG_DIR_NONE = 0, /* printed as "-" */
	LOG_DIR_FROM,
	LOG_DIR_TO,
};

/* time= option */
enum log_time_fmt {
	LOG_TIME_SEC = 0, /* seconds since the epoch: 1718288701.123 */
	LOG_TIME_SHORT,   /* local time of day: 14:25:01.123 (default) */
	LOG_TIME_FULL,    /* local date and time: 2024-06-13T14:25:01.123 */
};

/* Bounds (also in docs/logging.md). */
#define LOG_RING_MIN 4096u
#define LOG_RING_MAX 2097152u
#define LOG_RING_DEFAULT 8192u
#define LOG_MAX_SIZE_MAX 1048576u     /* largest layer.max_size */
#define LOG_MAX_SIZE_DEFAULT 65536u   /* layer.max_size when not set */
#define LOG_MSG_MAX 16384u            /* a message's first line is cut here */
#define LOG_HEADER_MAX_LINES 32u
#define LOG_HEADER_LINE_MAX 512u
#define LOG_ID_MAX 128u               /* id column is cut here */
#define LOG_OPTIONS_MAX 65536u        /* longest log_options string */
#define LOG_WATCH_MAX 16u
#define LOG_PATH_MAX 4096u            /* file name and file.path, with NUL */

/* Start-up parameters (from the configuration). All strings borrowed. */
struct log_prm {
	const char *filename;  /* NULL or "": stderr only */
	const char *options;   /* log_options string, may be NULL */
	bool sync;             /* log_sync: write(2) each line at once */
	unsigned ring_count;   /* com_log_count (4096..2097152), 0: 8192 */
	bool ring_us;          /* com_log_us */
	bool also_stderr;      /* copy error-level lines to stderr */
};

/* Opens the log file (truncated unless append=1 is in the options), writes
 * the header block and applies the options. Fails with a message in err on
 * a bad option, a bad ring_count or a file that cannot be opened; nothing is
 * kept then. EALREADY when already initialised (call log_close first). */
int log_init(const struct log_prm *prm, char *err, size_t errlen);
/* Flushes, closes the file, frees the history and the header, and returns
 * to the pre-init state (stderr, every layer at info, synchronous). */
void log_close(void);
/* Writes buffered lines out. Cheap when nothing is buffered. True when
 * some are left: stderr as the log (no log_filename) is written without
 * blocking, so the caller should try again a little later. */
bool log_flush(void);

/* Applies a log_options string (§5.2). On error nothing is changed and a
 * message naming the bad item is written to err. file=cut and
 * file.rotate=now run after the settings are committed; if that I/O fails
 * the error is returned but the settings stay. */
int log_options_apply(const char *opts, char *err, size_t errlen);
/* Appends the current log state, one item a line, for the monitor. */
int log_state_print(struct mbuf *mb);
/* Appends a log_options string that reproduces the current settings
 * (no trailing newline). */
int log_options_print(struct mbuf *mb);

const char *log_layer_name(enum log_layer layer);
int log_layer_from_name(const char *name, enum log_layer *layer);
const char *log_level_name(enum log_level level);
int log_level_from_name(const char *name, enum log_level *level);

bool log_on(enum log_layer layer, enum log_level level);

void log_write(enum log_layer layer, enum log_level level, enum log_dir dir,
	       const char *id, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
void log_vwrite(enum log_layer layer, enum log_level level, enum log_dir dir,
		const char *id, const char *fmt, va_list ap);
/* One entry whose first line is the formatted message and whose following
 * lines are `data`, shown only when the layer is at debug and cut at the
 * layer's max_size (max_size=0: no data lines). Layers ims, sip and n5 carry
 * text (split into lines at LF or CRLF, control bytes shown as \xNN); the
 * others carry binary payloads, shown as a hex dump. */
void log_write_data(enum log_layer layer, enum log_level level,
		    enum log_dir dir, const char *id, const void *data,
		    size_t len, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));
/* Same as log_write_data but always a hex dump, for binary payloads on any
 * layer (e.g. a SIP body carrying an SMS TPDU, a Diameter message when
 * log_payload() is set). */
void log_write_hex(enum log_layer layer, enum log_level level,
		   enum log_dir dir, const char *id, const void *data,
		   size_t len, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/* Layer dump options, for modules deciding what to dump. For decoded
 * structures (Diameter AVPs, NAS) the manual's rule is: show them in full
 * when log_max_size() > 0. */
size_t log_max_size(enum log_layer layer);
bool log_payload(enum log_layer layer);
bool log_key(enum log_layer layer);
bool log_crypto(enum log_layer layer);
bool log_verbose(enum log_layer layer);

/* One layer's settings, as config_get reports them. */
struct log_layer_opts {
	enum log_level level;
	uint32_t max_size;
	bool payload;
	bool key;
	bool crypto;
	bool verbose;
};

/* Everything else log_options and the start-up parameters set. */
struct log_info {
	struct log_layer_opts layers[LOG_LAYER_COUNT];
	enum log_time_fmt time_fmt;
	bool time_us;
	bool append;
	bool sync;
	uint64_t rotate_size;   /* bytes, 0: off */
	uint64_t rotate_count;  /* entries, 0: off */
	char filename[LOG_PATH_MAX];    /* "" when logging to stderr */
	char rotate_path[LOG_PATH_MAX]; /* "" when rotating next to the file */
	unsigned ring_count;    /* com_log_count */
	bool ring_us;           /* com_log_us */
	uint64_t file_bytes;    /* bytes in the current file */
	uint64_t file_entries;  /* entries in the current file */
};
void log_info_get(struct log_info *info);

/* File actions (log_set's rotate and cut, the same as file.rotate=now and
 * file=cut). ENOENT when logging to stderr. */
int log_file_rotate(char *err, size_t errlen);
int log_file_cut(char *err, size_t errlen);

/*
 * Header block: lines written, each prefixed "# ", at the top of every log
 * file, and again at the top of each file opened by rotation or cut
 * ("Headers are kept"). Set it before log_init (product and version, start
 * time, configuration file, options); lines set later are also written to
 * the current file at once. Lines are copied, cut at LOG_HEADER_LINE_MAX,
 * and control bytes replaced; at most LOG_HEADER_MAX_LINES (ENOSPC).
 */
int log_header_set(const char *const *lines, size_t count);
int log_header_add(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
typedef void(log_header_h)(const char *line, void *arg);
/* Calls h for each header line (without the "# "), in order. */
void log_header_foreach(log_header_h *h, void *arg);

/*
 * History ring for log_get. Entries are numbered from 0 upward (idx) and
 * never renumbered; the oldest are dropped when com_log_count is reached.
 */
struct log_entry {
	uint64_t idx;
	int64_t ts_us;          /* microseconds since the epoch */
	enum log_layer layer;
	enum log_level level;
	enum log_dir dir;
	const char *id;         /* "" when none */
	const char *text;       /* lines joined by '\n', no final newline:
				 * the message, then the data lines */
	size_t text_len;
	size_t first_len;       /* length of the first line (log_get short) */
	uint32_t line_count;    /* >= 1 */
};

struct log_ring_pos {
	uint64_t next;          /* idx to pass as from_idx next time */
	uint64_t discontinuity; /* entries from from_idx on lost to overflow */
	size_t count;           /* entries handed to the handler */
};

/* Called for each entry, with the log lock held: copy what you need, don't
 * call log functions. Return nonzero to stop before this entry (it is then
 * not counted and pos->next is its idx). */
typedef int(log_ring_h)(const struct log_entry *e, void *arg);
/* Hands the held entries with idx >= from_idx (at most max) to h, oldest
 * first. pos->discontinuity counts the entries in [from_idx, oldest held)
 * dropped by overflow (not those cleared by log_ring_reset). */
int log_ring_read(uint64_t from_idx, size_t max, log_ring_h *h, void *arg,
		  struct log_ring_pos *pos);
/* Oldest held idx and the idx the next entry will get. */
void log_ring_bounds(uint64_t *first, uint64_t *next);
/* log_reset: drops every held entry; numbering continues. */
void log_ring_reset(void);
bool log_ring_us(void);

/* Called after each new entry, with the log lock held and from whichever
 * thread wrote it: keep it short (set a flag, write an eventfd) and call no
 * log function. ENOSPC beyond LOG_WATCH_MAX watchers. */
typedef void(log_watch_h)(uint64_t next_idx, void *arg);
int log_ring_watch_add(log_watch_h *h, void *arg);
void log_ring_watch_remove(log_watch_h *h, void *arg);

/* Test hook: replaces the wall clock (NULL restores CLOCK_REALTIME). */
typedef void(log_clock_h)(struct timespec *ts);
void log_clock_set(log_clock_h *h);

#endif
