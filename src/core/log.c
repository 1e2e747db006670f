/*
 * core/log — state, start and stop, and the write path (see log.h).
 *
 * A write formats the message and its data lines into one heap record
 * outside the lock (the costly part), then under the lock stamps it, turns
 * it into file lines in the output buffer and moves it into the history
 * ring. log_on() reads a lock-free copy of the levels so that a disabled
 * layer costs one load.
 */
#include "core/log_int.h"
#include "core/strutil.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/mbuf.h"

#define LAYER_DEFAULT {LOG_LVL_INFO, LOG_MAX_SIZE_DEFAULT, false, false, false, false}

struct log_state log_g = {
    .lock = PTHREAD_MUTEX_INITIALIZER,
    .cfg =
	{
	    .layer = {LAYER_DEFAULT, LAYER_DEFAULT, LAYER_DEFAULT, LAYER_DEFAULT,
		      LAYER_DEFAULT, LAYER_DEFAULT, LAYER_DEFAULT},
	    .time_fmt = LOG_TIME_SHORT,
	},
    .fd = 2,
    .err = {.orig = 2, .fd = 2},
    .sync = true, /* nobody flushes before log_init */
    .tc_sec = -1,
    .ring_cap = LOG_RING_DEFAULT,
};

#define PUB_DEFAULT {LOG_LVL_INFO, 0, LOG_MAX_SIZE_DEFAULT}
struct log_pub log_pub[LOG_LAYER_COUNT] = {PUB_DEFAULT, PUB_DEFAULT, PUB_DEFAULT,
					   PUB_DEFAULT, PUB_DEFAULT, PUB_DEFAULT,
					   PUB_DEFAULT};

static const char *const layer_names[LOG_LAYER_COUNT] = {
	"ims", "sip", "media", "rx", "cx", "n5", "ipsec"};
/* The layer column: fixed width so that the columns after it line up. */
static const char *const layer_tags[LOG_LAYER_COUNT] = {
	"[IMS]  ", "[SIP]  ", "[MEDIA]", "[RX]   ", "[CX]   ", "[N5]   ", "[IPSEC]"};
static const char *const level_names[] = {"none", "error", "warn", "info", "debug"};
static const char *const dir_names[] = {"-   ", "FROM", "TO  "};

enum dump_kind { DUMP_NONE, DUMP_TEXT, DUMP_HEX };

void log_lock(void)
{
	pthread_mutex_lock(&log_g.lock);
}

void log_unlock(void)
{
	pthread_mutex_unlock(&log_g.lock);
}

void log_cfg_default(struct log_cfg *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (int i = 0; i < LOG_LAYER_COUNT; i++) {
		cfg->layer[i].level = LOG_LVL_INFO;
		cfg->layer[i].max_size = LOG_MAX_SIZE_DEFAULT;
	}
	cfg->time_fmt = LOG_TIME_SHORT;
}

void log_cfg_publish(const struct log_cfg *cfg)
{
	for (int i = 0; i < LOG_LAYER_COUNT; i++) {
		const struct log_layer_opts *l = &cfg->layer[i];
		unsigned char flags = (l->payload ? LOG_PUB_PAYLOAD : 0) |
				      (l->key ? LOG_PUB_KEY : 0) |
				      (l->crypto ? LOG_PUB_CRYPTO : 0) |
				      (l->verbose ? LOG_PUB_VERBOSE : 0);

		__atomic_store_n(&log_pub[i].max_size, l->max_size, __ATOMIC_RELAXED);
		__atomic_store_n(&log_pub[i].flags, flags, __ATOMIC_RELAXED);
		__atomic_store_n(&log_pub[i].level, (unsigned char)l->level,
				 __ATOMIC_RELAXED);
	}
}

void log_clock_set(log_clock_h *h)
{
	log_lock();
	log_g.clock = h;
	log_g.tc_sec = -1;
	log_unlock();
}

void log_now(struct timespec *ts)
{
	if (log_g.clock)
		log_g.clock(ts);
	else
		clock_gettime(CLOCK_REALTIME, ts);
}

size_t log_time_format(char *buf, size_t size, const struct timespec *ts)
{
	const struct log_cfg *cfg = &log_g.cfg;
	int64_t sec = (int64_t)ts->tv_sec;
	long frac = cfg->time_us ? ts->tv_nsec / 1000 : ts->tv_nsec / 1000000;
	int n;

	/* localtime_r is the cost here, and it changes once a second */
	if (sec != log_g.tc_sec || (int)cfg->time_fmt != log_g.tc_fmt) {
		struct tm tm;
		time_t t = (time_t)sec;

		if (cfg->time_fmt == LOG_TIME_SEC) {
			snprintf(log_g.tc_buf, sizeof(log_g.tc_buf), "%lld", (long long)sec);
		} else if (!localtime_r(&t, &tm)) {
			snprintf(log_g.tc_buf, sizeof(log_g.tc_buf), "?");
		} else if (cfg->time_fmt == LOG_TIME_FULL) {
			strftime(log_g.tc_buf, sizeof(log_g.tc_buf), "%Y-%m-%dT%H:%M:%S", &tm);
		} else {
			strftime(log_g.tc_buf, sizeof(log_g.tc_buf), "%H:%M:%S", &tm);
		}
		log_g.tc_sec = sec;
		log_g.tc_fmt = (int)cfg->time_fmt;
	}
	n = snprintf(buf, size, cfg->time_us ? "%s.%06ld" : "%s.%03ld", log_g.tc_buf,
		     frac);
	if (n < 0)
		return 0;
	return (size_t)n < size ? (size_t)n : size - 1;
}

const char *log_layer_name(enum log_layer layer)
{
	return (unsigned)layer < LOG_LAYER_COUNT ? layer_names[layer] : "?";
}

int log_layer_from_name(const char *name, enum log_layer *layer)
{
	for (int i = 0; i < LOG_LAYER_COUNT; i++) {
		if (!strcasecmp(name, layer_names[i])) {
			*layer = (enum log_layer)i;
			return 0;
		}
	}
	return ENOENT;
}

const char *log_level_name(enum log_level level)
{
	return (unsigned)level <= LOG_LVL_DEBUG ? level_names[level] : "?";
}

int log_level_from_name(const char *name, enum log_level *level)
{
	for (int i = 0; i <= LOG_LVL_DEBUG; i++) {
		if (!strcasecmp(name, level_names[i])) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	return EINVAL;
}

bool log_on(enum log_layer layer, enum log_level level)
{
	return (unsigned)layer < LOG_LAYER_COUNT && level != LOG_LVL_NONE &&
	       (unsigned)level <= __atomic_load_n(&log_pub[layer].level, __ATOMIC_RELAXED);
}

size_t log_max_size(enum log_layer layer)
{
	if ((unsigned)layer >= LOG_LAYER_COUNT)
		return 0;
	return __atomic_load_n(&log_pub[layer].max_size, __ATOMIC_RELAXED);
}

static bool pub_flag(enum log_layer layer, unsigned flag)
{
	if ((unsigned)layer >= LOG_LAYER_COUNT)
		return false;
	return __atomic_load_n(&log_pub[layer].flags, __ATOMIC_RELAXED) & flag;
}

bool log_payload(enum log_layer layer)
{
	return pub_flag(layer, LOG_PUB_PAYLOAD);
}

bool log_key(enum log_layer layer)
{
	return pub_flag(layer, LOG_PUB_KEY);
}

bool log_crypto(enum log_layer layer)
{
	return pub_flag(layer, LOG_PUB_CRYPTO);
}

bool log_verbose(enum log_layer layer)
{
	return pub_flag(layer, LOG_PUB_VERBOSE);
}

/* Length of the valid UTF-8 sequence at p (2..4), or 0. */
static size_t utf8_len(const unsigned char *p, size_t n)
{
	size_t len;
	unsigned cp;

	if (p[0] >= 0xc2 && p[0] <= 0xdf) {
		len = 2;
		cp = p[0] & 0x1f;
	} else if (p[0] >= 0xe0 && p[0] <= 0xef) {
		len = 3;
		cp = p[0] & 0x0f;
	} else if (p[0] >= 0xf0 && p[0] <= 0xf4) {
		len = 4;
		cp = p[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (p[i] & 0x3f);
	}
	/* overlong forms, surrogates, beyond U+10FFFF */
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

/* Appends p with control bytes and invalid UTF-8 as \xNN, so that a line
 * stays one line and the history converts to JSON strings as is. */
static int text_escape(struct mbuf *mb, const unsigned char *p, size_t n)
{
	size_t i = 0, run = 0;
	int err = 0;

	while (i < n && !err) {
		unsigned char c = p[i];
		size_t u = 0;

		if ((c >= 0x20 && c < 0x7f) || c == '\t') {
			i++;
			continue;
		}
		if (c >= 0x80)
			u = utf8_len(p + i, n - i);
		if (u) {
			i += u;
			continue;
		}
		err = mbuf_write(mb, p + run, i - run);
		if (!err)
			err = mbuf_printf(mb, "\\x%02x", c);
		run = ++i;
	}
	if (!err)
		err = mbuf_write(mb, p + run, i - run);
	return err;
}

static int dump_text(struct mbuf *mb, const unsigned char *p, size_t n, uint32_t *lines)
{
	size_t i = 0;
	int err = 0;

	while (i < n && !err) {
		size_t start = i, end;

		while (i < n && p[i] != '\n')
			i++;
		end = i;
		if (end > start && p[end - 1] == '\r' && end < n)
			end--; /* CRLF */
		if (i < n)
			i++;
		/* the blank line ending a bodiless SIP message says nothing */
		if (end == start && i == n && *lines > 1)
			break;
		err = mbuf_write(mb, "\n", 1);
		if (!err)
			err = text_escape(mb, p + start, end - start);
		(*lines)++;
	}
	return err;
}

static int dump_hex(struct mbuf *mb, const unsigned char *p, size_t n, uint32_t *lines)
{
	static const char hex[] = "0123456789abcdef";
	int err = 0;

	for (size_t off = 0; off < n && !err; off += 16) {
		char line[96];
		size_t k = 0, cnt = n - off < 16 ? n - off : 16;

		k += (size_t)snprintf(line, sizeof(line), "%04zx:", off & 0xffffffff);
		for (size_t j = 0; j < 16; j++) {
			line[k++] = ' ';
			line[k++] = j < cnt ? hex[p[off + j] >> 4] : ' ';
			line[k++] = j < cnt ? hex[p[off + j] & 15] : ' ';
		}
		line[k++] = ' ';
		line[k++] = ' ';
		for (size_t j = 0; j < cnt; j++) {
			unsigned char c = p[off + j];

			line[k++] = c >= 0x20 && c < 0x7f ? (char)c : '.';
		}
		err = mbuf_write(mb, "\n", 1);
		if (!err)
			err = mbuf_write(mb, line, k);
		(*lines)++;
	}
	return err;
}

static enum dump_kind layer_dump_kind(enum log_layer layer)
{
	switch (layer) {
	case LOG_IMS:
	case LOG_SIP:
	case LOG_N5:
		return DUMP_TEXT;
	default:
		return DUMP_HEX;
	}
}

/* Appends the data lines allowed by the layer's level and max_size. */
static int dump_data(struct mbuf *mb, enum log_layer layer, enum dump_kind kind,
		     const void *data, size_t len, uint32_t *lines)
{
	size_t cap = log_max_size(layer);
	size_t n = len < cap ? len : cap;
	int err;

	if (kind == DUMP_NONE || !data || !len || !cap ||
	    __atomic_load_n(&log_pub[layer].level, __ATOMIC_RELAXED) < LOG_LVL_DEBUG)
		return 0;
	err = kind == DUMP_TEXT ? dump_text(mb, data, n, lines) : dump_hex(mb, data, n, lines);
	if (!err && n < len) {
		err = mbuf_printf(mb, "\n[%zu of %zu bytes shown]", n, len);
		(*lines)++;
	}
	return err;
}

/* Builds the record: escaped id, escaped message, data lines. */
static struct log_rec *rec_build(enum log_layer layer, enum log_level level,
				 enum log_dir dir, const char *id, const void *data,
				 size_t len, enum dump_kind kind, const char *fmt,
				 va_list ap)
{
	char stack[1024], *msg = stack;
	size_t idlen = 0, first;
	uint32_t lines = 1;
	struct mbuf mb;
	struct log_rec *rec = NULL;
	va_list aq;
	int n;

	va_copy(aq, ap);
	n = vsnprintf(stack, sizeof(stack), fmt, aq);
	va_end(aq);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(stack)) {
		size_t sz = (size_t)n < LOG_MSG_MAX ? (size_t)n + 1 : LOG_MSG_MAX + 1;

		msg = malloc(sz);
		if (!msg)
			return NULL;
		vsnprintf(msg, sz, fmt, ap);
		n = (int)strlen(msg);
	}
	mbuf_init(&mb, 0);
	if (text_escape(&mb, (const unsigned char *)msg, (size_t)n))
		goto out;
	first = mb.end;
	if (dump_data(&mb, layer, kind, data, len, &lines))
		goto out;
	if (id) {
		idlen = strlen(id);
		if (idlen > LOG_ID_MAX)
			idlen = LOG_ID_MAX;
	}
	rec = malloc(sizeof(*rec) + idlen + 1 + mb.end + 1);
	if (!rec)
		goto out;
	memset(&rec->e, 0, sizeof(rec->e));
	/* the id is one column: no blanks or control bytes in it */
	for (size_t i = 0; i < idlen; i++) {
		unsigned char c = (unsigned char)id[i];

		rec->buf[i] = c <= 0x20 || c == 0x7f ? '_' : (char)c;
	}
	rec->buf[idlen] = '\0';
	if (mb.end)
		memcpy(rec->buf + idlen + 1, mb.buf, mb.end);
	rec->buf[idlen + 1 + mb.end] = '\0';
	rec->e.layer = layer;
	rec->e.level = level;
	rec->e.dir = (unsigned)dir <= LOG_DIR_TO ? dir : LOG_DIR_NONE;
	rec->e.id = rec->buf;
	rec->e.text = rec->buf + idlen + 1;
	rec->e.text_len = mb.end;
	rec->e.first_len = first;
	rec->e.line_count = lines;
out:
	mbuf_reset(&mb);
	if (msg != stack)
		free(msg);
	return rec;
}

/* The file lines of one entry; data lines are indented by two blanks. */
static void rec_output_locked(const struct log_rec *rec, const struct timespec *ts)
{
	const struct log_entry *e = &rec->e;
	const char *id = *e->id ? e->id : "-";
	const char *text = e->text, *end = e->text + e->text_len;
	const char *tag = e->level == LOG_LVL_ERROR ? "ERROR: "
			  : e->level == LOG_LVL_WARN ? "WARN: "
						     : "";
	char pre[64 + LOG_ID_MAX + 32];
	size_t tl;
	int n;

	tl = log_time_format(pre, 64, ts);
	if (e->layer == LOG_MEDIA) /* §8.3: id before dir */
		n = snprintf(pre + tl, sizeof(pre) - tl, " %s %s %s %s", layer_tags[e->layer],
			     id, dir_names[e->dir], tag);
	else
		n = snprintf(pre + tl, sizeof(pre) - tl, " %s %s %s %s", layer_tags[e->layer],
			     dir_names[e->dir], id, tag);
	if (n < 0)
		n = 0;
	/* the entry's lines: the data lines get two blanks each */
	if (!log_out_entry_begin_locked(tl + (size_t)n + e->text_len + 1 +
					2 * (size_t)e->line_count))
		return;
	log_out_put_locked(pre, tl + (size_t)n);
	log_out_put_locked(text, e->first_len);
	log_out_put_locked("\n", 1);
	if (log_g.also_stderr && log_g.filename && e->level == LOG_LVL_ERROR)
		log_err_copy_locked(pre, tl + (size_t)n, text, e->first_len);
	text += e->first_len;
	while (text < end) {
		const char *nl;

		text++; /* the '\n' before each data line */
		nl = memchr(text, '\n', (size_t)(end - text));
		if (!nl)
			nl = end;
		log_out_put_locked("  ", 2);
		log_out_put_locked(text, (size_t)(nl - text));
		log_out_put_locked("\n", 1);
		text = nl;
	}
}

static void log_emit(enum log_layer layer, enum log_level level, enum log_dir dir,
		     const char *id, const void *data, size_t len, enum dump_kind kind,
		     const char *fmt, va_list ap)
{
	struct log_rec *rec, *old;
	struct timespec ts;

	if (!fmt || !log_on(layer, level))
		return;
	rec = rec_build(layer, level, dir, id, data, len, kind, fmt, ap);
	if (!rec)
		return;
	log_lock();
	log_now(&ts);
	rec->e.ts_us = (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
	rec_output_locked(rec, &ts);
	old = log_ring_push_locked(rec);
	log_file_entry_done_locked();
	log_unlock();
	free(old);
}

void log_vwrite(enum log_layer layer, enum log_level level, enum log_dir dir,
		const char *id, const char *fmt, va_list ap)
{
	log_emit(layer, level, dir, id, NULL, 0, DUMP_NONE, fmt, ap);
}

void log_write(enum log_layer layer, enum log_level level, enum log_dir dir,
	       const char *id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(layer, level, dir, id, NULL, 0, DUMP_NONE, fmt, ap);
	va_end(ap);
}

void log_write_data(enum log_layer layer, enum log_level level,
		    enum log_dir dir, const char *id, const void *data,
		    size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(layer, level, dir, id, data, len,
		 (unsigned)layer < LOG_LAYER_COUNT ? layer_dump_kind(layer) : DUMP_NONE,
		 fmt, ap);
	va_end(ap);
}

void log_write_hex(enum log_layer layer, enum log_level level,
		   enum log_dir dir, const char *id, const void *data,
		   size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_emit(layer, level, dir, id, data, len, DUMP_HEX, fmt, ap);
	va_end(ap);
}

static void log_atexit(void)
{
	/* a thread may still hold the lock at exit: never wait for it */
	if (pthread_mutex_trylock(&log_g.lock) != 0)
		return;
	log_out_drain_locked();
	log_unlock();
}

static void atexit_register(void)
{
	atexit(log_atexit);
}

static int init_check(const struct log_prm *prm, unsigned *ring, char *err, size_t errlen)
{
	*ring = prm->ring_count ? prm->ring_count : LOG_RING_DEFAULT;
	if (*ring < LOG_RING_MIN || *ring > LOG_RING_MAX) {
		log_err(err, errlen, "com_log_count %u out of range (%u..%u)", *ring,
			LOG_RING_MIN, LOG_RING_MAX);
		return EINVAL;
	}
	if (prm->filename && strlen(prm->filename) >= LOG_PATH_MAX) {
		log_err(err, errlen, "log_filename too long (%zu bytes max)",
			(size_t)LOG_PATH_MAX - 1);
		return ENAMETOOLONG;
	}
	return 0;
}

int log_init(const struct log_prm *prm, char *err, size_t errlen)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	bool have_file;
	struct log_cfg *cfg = NULL;
	struct log_act act = {0};
	char *base = NULL;
	unsigned ring;
	int rc;

	if (err && errlen)
		*err = '\0';
	if (!prm)
		return EINVAL;
	have_file = prm->filename && *prm->filename;
	rc = init_check(prm, &ring, err, errlen);
	if (rc)
		return rc;
	cfg = malloc(sizeof(*cfg));
	base = have_file ? str_path_dir(prm->filename) : NULL;
	if (!cfg || (have_file && !base)) {
		rc = ENOMEM;
		goto out;
	}
	log_lock();
	if (log_g.inited) {
		log_err(err, errlen, "log already initialised");
		rc = EALREADY;
		goto unlock;
	}
	*cfg = log_g.cfg;
	rc = log_opt_parse(prm->options ? prm->options : "", cfg, &act, have_file, base, err,
			   errlen);
	if (rc)
		goto unlock;
	rc = log_ring_alloc_locked(ring);
	if (rc)
		goto unlock;
	if (have_file) {
		log_g.filename = strdup(prm->filename);
		if (!log_g.filename) {
			rc = ENOMEM;
			goto unlock;
		}
		log_g.cfg = *cfg; /* the header line and time format use it */
		rc = log_file_open_locked(!cfg->append, err, errlen);
		if (rc) {
			free(log_g.filename);
			log_g.filename = NULL;
			log_cfg_default(&log_g.cfg);
			goto unlock;
		}
	}
	log_g.cfg = *cfg;
	log_g.tc_sec = -1;
	log_cfg_publish(cfg);
	log_g.sync = prm->sync;
	log_g.also_stderr = prm->also_stderr;
	log_g.ring_us = prm->ring_us;
	log_g.inited = true;
	if (act.cut)
		rc = log_file_cut_locked(err, errlen);
	if (!rc && act.rotate)
		rc = log_file_rotate_locked(err, errlen);
unlock:
	log_unlock();
	if (!rc)
		pthread_once(&once, atexit_register);
out:
	free(cfg);
	free(base);
	return rc;
}

void log_close(void)
{
	log_lock();
	log_out_drain_locked();
	log_file_close_locked();
	log_header_free_locked();
	log_ring_free_locked();
	free(log_g.obuf);
	log_g.obuf = NULL;
	log_g.olen = log_g.ocap = log_g.ooff = 0;
	log_cfg_default(&log_g.cfg);
	log_cfg_publish(&log_g.cfg);
	log_g.sync = true;
	log_g.also_stderr = false;
	log_err_copy_reset_locked();
	log_g.out_dropped = 0;
	log_g.ring_us = false;
	log_g.ring_cap = LOG_RING_DEFAULT;
	log_g.next_idx = 0;
	log_g.reset_end = 0;
	log_g.tc_sec = -1;
	log_g.write_failed = false;
	memset(log_g.watch, 0, sizeof(log_g.watch));
	log_g.inited = false;
	log_unlock();
}

void log_info_get(struct log_info *info)
{
	memset(info, 0, sizeof(*info));
	log_lock();
	memcpy(info->layers, log_g.cfg.layer, sizeof(info->layers));
	info->time_fmt = log_g.cfg.time_fmt;
	info->time_us = log_g.cfg.time_us;
	info->append = log_g.cfg.append;
	info->sync = log_g.sync;
	info->rotate_size = log_g.cfg.rotate_size;
	info->rotate_count = log_g.cfg.rotate_count;
	if (log_g.filename)
		snprintf(info->filename, sizeof(info->filename), "%s", log_g.filename);
	snprintf(info->rotate_path, sizeof(info->rotate_path), "%s", log_g.cfg.rotate_path);
	info->ring_count = (unsigned)log_g.ring_cap;
	info->ring_us = log_g.ring_us;
	info->file_bytes = log_g.file_bytes;
	info->file_entries = log_g.file_entries;
	log_unlock();
}
