/*
 * core/log — the server log (manual §8) and its in-memory history.
 *
 * Every line is `time layer dir id message` (§8.1; for cx/rx the id column
 * holds the peer address, §8.2; media lines are `time layer id dir
 * proto/media message`, §8.3). Each layer has its own level and dump options
 * set by log_options (§5.2), at start from the configuration and at run time
 * from the monitor's `log` command or the remote API. The last
 * `com_log_count` entries stay in a ring, indexed and timestamped, for the
 * remote API's log_get.
 *
 * Callers check log_on() before formatting anything costly.
 */
#ifndef CORE_LOG_H
#define CORE_LOG_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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

/* Start-up parameters (from the configuration). All strings borrowed. */
struct log_prm {
	const char *filename;  /* NULL: stderr only */
	const char *options;   /* log_options string, may be NULL */
	bool sync;             /* log_sync: write(2) each line at once */
	unsigned ring_count;   /* com_log_count (4096..2097152) */
	bool ring_us;          /* com_log_us */
	bool also_stderr;      /* copy error-level lines to stderr */
};

int log_init(const struct log_prm *prm, char *err, size_t errlen);
void log_close(void);
void log_flush(void);

/* Applies a log_options string (§5.2). On error nothing is changed and a
 * message naming the bad item is written to err. */
int log_options_apply(const char *opts, char *err, size_t errlen);
/* Appends the current log state, one item a line, for the monitor. */
int log_state_print(struct mbuf *mb);

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
 * lines are the text `data` (e.g. a SIP message) cut at the layer's
 * max_size. */
void log_write_data(enum log_layer layer, enum log_level level,
		    enum log_dir dir, const char *id, const void *data,
		    size_t len, const char *fmt, ...)
	__attribute__((format(printf, 7, 8)));

/* Layer dump options, for modules deciding what to dump. */
size_t log_max_size(enum log_layer layer);
bool log_payload(enum log_layer layer);
bool log_key(enum log_layer layer);

#endif
