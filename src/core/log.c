/* core/log — minimal first cut: levels per layer, lines to stderr.
 * (Being replaced by the full §8 implementation with file, rotation, ring.) */
#include "core/log.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "core/mbuf.h"

static const char *const layer_names[LOG_LAYER_COUNT] = {
	"ims", "sip", "media", "rx", "cx", "n5", "ipsec"};
static const char *const level_names[] = {"none", "error", "warn", "info", "debug"};
static enum log_level levels[LOG_LAYER_COUNT] = {
	LOG_LVL_INFO, LOG_LVL_INFO, LOG_LVL_INFO, LOG_LVL_INFO,
	LOG_LVL_INFO, LOG_LVL_INFO, LOG_LVL_INFO};

int log_init(const struct log_prm *prm, char *err, size_t errlen)
{
	return prm->options ? log_options_apply(prm->options, err, errlen) : 0;
}

void log_close(void) {}
void log_flush(void) { fflush(stderr); }

const char *log_layer_name(enum log_layer layer)
{
	return (unsigned)layer < LOG_LAYER_COUNT ? layer_names[layer] : "?";
}

int log_layer_from_name(const char *name, enum log_layer *layer)
{
	for (int i = 0; i < LOG_LAYER_COUNT; i++) {
		if (!strcmp(name, layer_names[i])) {
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
		if (!strcmp(name, level_names[i])) {
			*level = (enum log_level)i;
			return 0;
		}
	}
	return EINVAL;
}

int log_options_apply(const char *opts, char *err, size_t errlen)
{
	(void)opts;
	(void)err;
	(void)errlen;
	return 0;
}

int log_state_print(struct mbuf *mb)
{
	for (int i = 0; i < LOG_LAYER_COUNT; i++)
		mbuf_printf(mb, "%s.level=%s\n", layer_names[i], level_names[levels[i]]);
	return 0;
}

bool log_on(enum log_layer layer, enum log_level level)
{
	return (unsigned)layer < LOG_LAYER_COUNT && level != LOG_LVL_NONE &&
	       level <= levels[layer];
}

void log_vwrite(enum log_layer layer, enum log_level level, enum log_dir dir,
		const char *id, const char *fmt, va_list ap)
{
	static const char *const dirs[] = {"-", "FROM", "TO"};

	if (!log_on(layer, level))
		return;
	fprintf(stderr, "%s %s %s ", layer_names[layer], dirs[dir], id ? id : "-");
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
}

void log_write(enum log_layer layer, enum log_level level, enum log_dir dir,
	       const char *id, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(layer, level, dir, id, fmt, ap);
	va_end(ap);
}

void log_write_data(enum log_layer layer, enum log_level level,
		    enum log_dir dir, const char *id, const void *data,
		    size_t len, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vwrite(layer, level, dir, id, fmt, ap);
	va_end(ap);
	if (log_on(layer, level))
		fprintf(stderr, "%.*s\n", (int)len, (const char *)data);
}

size_t log_max_size(enum log_layer layer) { (void)layer; return 0; }
bool log_payload(enum log_layer layer) { (void)layer; return false; }
bool log_key(enum log_layer layer) { (void)layer; return false; }
