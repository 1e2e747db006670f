/*
 * core/log — the log_options language (manual §5.2) and the state report
 * for the monitor's `log` command (§7).
 *
 * An options string is a comma-separated list of name=value items, applied
 * in order to a copy of the settings; the copy replaces the settings only
 * when every item is valid, so a typo changes nothing. Names and keyword
 * values are case-insensitive; blanks around items, names and values are
 * ignored. The full grammar is in docs/logging.md.
 */
#include "core/log_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/mbuf.h"
#include "core/pl.h"

#define ITEM_SHOW_MAX 80

enum layer_prop { PROP_LEVEL, PROP_MAX_SIZE, PROP_PAYLOAD, PROP_KEY, PROP_CRYPTO,
		  PROP_VERBOSE, PROP_COUNT };
static const char *const prop_names[PROP_COUNT] = {"level",  "max_size", "payload",
						   "key",    "crypto",   "verbose"};
static const char *const time_names[] = {"sec", "short", "full"};

struct item {
	struct pl all;   /* the whole item, for messages */
	struct pl name;  /* before '=' */
	struct pl value; /* after '=' */
	char show[ITEM_SHOW_MAX + 4];
};

void log_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* The item as shown in a message: cut, control bytes as '?'. */
static void item_show(struct item *it)
{
	size_t n = it->all.l > ITEM_SHOW_MAX ? ITEM_SHOW_MAX : it->all.l;

	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)it->all.p[i];

		it->show[i] = c < 0x20 || c >= 0x7f ? '?' : (char)c;
	}
	strcpy(it->show + n, it->all.l > n ? "..." : "");
}

static int bad(const struct item *it, char *err, size_t errlen, const char *why)
{
	log_err(err, errlen, "log_options: '%s': %s", it->show, why);
	return EINVAL;
}

static int parse_bool(const struct item *it, bool *v, char *err, size_t errlen)
{
	if (pl_eq_str(it->value, "0") || pl_eq_str(it->value, "1")) {
		*v = it->value.p[0] == '1';
		return 0;
	}
	return bad(it, err, errlen, "value must be 0 or 1");
}

/* Decimal with an optional K, M or G suffix (times mult, mult^2, mult^3). */
static int parse_num(struct pl pl, uint64_t mult, uint64_t *v)
{
	uint64_t m = 1;
	char last;

	if (!pl.l)
		return EBADMSG;
	last = pl.p[pl.l - 1];
	switch (last) {
	case 'G':
	case 'g':
		m *= mult; /* fall through */
	case 'M':
	case 'm':
		m *= mult; /* fall through */
	case 'K':
	case 'k':
		m *= mult;
		pl.l--;
		break;
	default:
		break;
	}
	if (pl_u64(pl, v))
		return EBADMSG;
	if (*v > UINT64_MAX / m)
		return ERANGE;
	*v *= m;
	return 0;
}

static int parse_level(const struct item *it, enum log_level *lvl, char *err, size_t errlen)
{
	char buf[8];

	if (!pl_strcpy(it->value, buf, sizeof(buf)) && !log_level_from_name(buf, lvl))
		return 0;
	return bad(it, err, errlen, "level must be none, error, warn, info or debug");
}

static int parse_layer_prop(const struct item *it, struct log_layer_opts *l,
			    enum layer_prop prop, char *err, size_t errlen)
{
	uint64_t n;

	switch (prop) {
	case PROP_LEVEL:
		return parse_level(it, &l->level, err, errlen);
	case PROP_MAX_SIZE:
		if (parse_num(it->value, 1024, &n) || n > LOG_MAX_SIZE_MAX) {
			char why[64];

			snprintf(why, sizeof(why), "max_size must be a number from 0 to %u",
				 LOG_MAX_SIZE_MAX);
			return bad(it, err, errlen, why);
		}
		l->max_size = (uint32_t)n;
		return 0;
	case PROP_PAYLOAD:
		return parse_bool(it, &l->payload, err, errlen);
	case PROP_KEY:
		return parse_bool(it, &l->key, err, errlen);
	case PROP_CRYPTO:
		return parse_bool(it, &l->crypto, err, errlen);
	default:
		return parse_bool(it, &l->verbose, err, errlen);
	}
}

/* <layer|all>.<prop>=value */
static int parse_layer_item(const struct item *it, struct pl head, struct pl prop,
			    struct log_cfg *cfg, char *err, size_t errlen)
{
	struct log_layer_opts tmp;
	enum log_layer layer = LOG_IMS;
	bool all = pl_caseeq_str(head, "all");
	char name[8];
	int p, rc;

	if (!all && (pl_strcpy(head, name, sizeof(name)) || log_layer_from_name(name, &layer)))
		return bad(it, err, errlen,
			   "unknown layer (ims, sip, media, rx, cx, n5, ipsec or all)");
	for (p = 0; p < PROP_COUNT; p++) {
		if (pl_caseeq_str(prop, prop_names[p]))
			break;
	}
	if (p == PROP_COUNT)
		return bad(it, err, errlen,
			   "unknown layer option (level, max_size, payload, key, crypto, "
			   "verbose)");
	tmp = cfg->layer[layer];
	rc = parse_layer_prop(it, &tmp, (enum layer_prop)p, err, errlen);
	if (rc)
		return rc;
	for (int i = 0; i < LOG_LAYER_COUNT; i++) {
		struct log_layer_opts *l = &cfg->layer[i];

		if (!all && i != (int)layer)
			continue;
		switch ((enum layer_prop)p) {
		case PROP_LEVEL: l->level = tmp.level; break;
		case PROP_MAX_SIZE: l->max_size = tmp.max_size; break;
		case PROP_PAYLOAD: l->payload = tmp.payload; break;
		case PROP_KEY: l->key = tmp.key; break;
		case PROP_CRYPTO: l->crypto = tmp.crypto; break;
		default: l->verbose = tmp.verbose; break;
		}
	}
	return 0;
}

static int parse_rotate(const struct item *it, struct log_cfg *cfg, struct log_act *act,
			bool have_file, char *err, size_t errlen)
{
	struct pl v = it->value;
	uint64_t n;

	if (pl_caseeq_str(v, "now")) {
		if (!have_file)
			return bad(it, err, errlen, "no log file to rotate (logging to stderr)");
		act->rotate = true;
		return 0;
	}
	if (v.l && v.p[0] == '#') {
		v.p++;
		v.l--;
		if (parse_num(v, 1000, &n))
			return bad(it, err, errlen, "count must be #N with an optional K, M or G");
		cfg->rotate_count = n;
		return 0;
	}
	if (parse_num(v, 1024, &n))
		return bad(it, err, errlen,
			   "value must be now, a size (N with an optional K, M or G) or #count");
	cfg->rotate_size = n;
	return 0;
}

static int parse_path(const struct item *it, struct log_cfg *cfg, const char *base_dir,
		      char *err, size_t errlen)
{
	char path[LOG_PATH_MAX], full[LOG_PATH_MAX * 2 + 2], why[160];
	struct stat st;
	int e = 0;

	if (memchr(it->value.p, '\0', it->value.l) || pl_strcpy(it->value, path, sizeof(path)))
		return bad(it, err, errlen, "path too long");
	if (!*path) { /* back to rotating next to the file */
		cfg->rotate_path[0] = '\0';
		return 0;
	}
	if (*path != '/' && base_dir)
		snprintf(full, sizeof(full), "%s/%s", base_dir, path);
	else
		snprintf(full, sizeof(full), "%s", path);
	if (stat(full, &st) != 0)
		e = errno;
	else if (!S_ISDIR(st.st_mode))
		e = ENOTDIR;
	else if (access(full, W_OK | X_OK) != 0)
		e = errno;
	if (e) {
		snprintf(why, sizeof(why), "not a writable directory (%s)", strerror(e));
		return bad(it, err, errlen, why);
	}
	memcpy(cfg->rotate_path, path, strlen(path) + 1);
	return 0;
}

static int parse_item(struct item *it, struct log_cfg *cfg, struct log_act *act,
		      bool have_file, const char *base_dir, char *err, size_t errlen)
{
	long eq = -1, dot = -1;
	struct pl head, prop = PL_INIT;
	bool v;
	int i;

	for (size_t k = 0; k < it->all.l && eq < 0; k++) {
		if (it->all.p[k] == '=')
			eq = (long)k;
	}
	if (eq < 0)
		return bad(it, err, errlen, "expected name=value");
	it->name = pl_trim((struct pl){it->all.p, (size_t)eq});
	it->value = pl_trim((struct pl){it->all.p + eq + 1, it->all.l - (size_t)eq - 1});
	for (size_t k = 0; k < it->name.l && dot < 0; k++) {
		if (it->name.p[k] == '.')
			dot = (long)k;
	}
	head = it->name;
	if (dot >= 0) {
		head.l = (size_t)dot;
		prop = (struct pl){it->name.p + dot + 1, it->name.l - (size_t)dot - 1};
	}
	if (pl_caseeq_str(head, "time") && dot < 0) {
		for (i = 0; i < 3 && !pl_caseeq_str(it->value, time_names[i]); i++)
			;
		if (i == 3)
			return bad(it, err, errlen, "time must be sec, short or full");
		cfg->time_fmt = (enum log_time_fmt)i;
		return 0;
	}
	if (pl_caseeq_str(head, "time") && pl_caseeq_str(prop, "us"))
		return parse_bool(it, &cfg->time_us, err, errlen);
	if (pl_caseeq_str(head, "file") && dot < 0) {
		if (!pl_caseeq_str(it->value, "cut"))
			return bad(it, err, errlen, "the only value of file is cut");
		if (!have_file)
			return bad(it, err, errlen, "no log file to cut (logging to stderr)");
		act->cut = true;
		return 0;
	}
	if (pl_caseeq_str(head, "file") && pl_caseeq_str(prop, "rotate"))
		return parse_rotate(it, cfg, act, have_file, err, errlen);
	if (pl_caseeq_str(head, "file") && pl_caseeq_str(prop, "path"))
		return parse_path(it, cfg, base_dir, err, errlen);
	if (pl_caseeq_str(head, "append") && dot < 0) {
		if (parse_bool(it, &v, err, errlen))
			return EINVAL;
		cfg->append = v;
		return 0;
	}
	if (dot < 0 || pl_caseeq_str(head, "time") || pl_caseeq_str(head, "file") ||
	    pl_caseeq_str(head, "append"))
		return bad(it, err, errlen, "unknown option");
	return parse_layer_item(it, head, prop, cfg, err, errlen);
}

int log_opt_parse(const char *opts, struct log_cfg *cfg, struct log_act *act,
		  bool have_file, const char *base_dir, char *err, size_t errlen)
{
	size_t len = strnlen(opts, LOG_OPTIONS_MAX + 1);
	const char *p = opts, *end = opts + len;
	struct item it;
	int rc;

	memset(act, 0, sizeof(*act));
	if (len > LOG_OPTIONS_MAX) {
		log_err(err, errlen, "log_options: longer than %u bytes", LOG_OPTIONS_MAX);
		return EINVAL;
	}
	if (!pl_trim((struct pl){opts, len}).l)
		return 0;
	for (;;) {
		const char *c = memchr(p, ',', (size_t)(end - p));

		if (!c)
			c = end;
		memset(&it, 0, sizeof(it));
		it.all = pl_trim((struct pl){p, (size_t)(c - p)});
		item_show(&it);
		if (!it.all.l) {
			log_err(err, errlen, "log_options: empty item at offset %zu",
				(size_t)(p - opts));
			return EINVAL;
		}
		rc = parse_item(&it, cfg, act, have_file, base_dir, err, errlen);
		if (rc)
			return rc;
		if (c == end)
			return 0;
		p = c + 1;
	}
}

/* A number with the largest exact K/M/G suffix. */
static int print_num(struct mbuf *mb, uint64_t v, uint64_t mult)
{
	static const char sfx[] = "KMG";
	int s = -1;

	while (v && s < 2 && v % mult == 0) {
		v /= mult;
		s++;
	}
	if (s < 0)
		return mbuf_printf(mb, "%llu", (unsigned long long)v);
	return mbuf_printf(mb, "%llu%c", (unsigned long long)v, sfx[s]);
}

static unsigned prop_value(const struct log_layer_opts *l, int p)
{
	switch ((enum layer_prop)p) {
	case PROP_LEVEL: return (unsigned)l->level;
	case PROP_MAX_SIZE: return l->max_size;
	case PROP_PAYLOAD: return l->payload;
	case PROP_KEY: return l->key;
	case PROP_CRYPTO: return l->crypto;
	default: return l->verbose;
	}
}

static int print_prop(struct mbuf *mb, const char *layer, int p, unsigned v)
{
	if (p == PROP_LEVEL)
		return mbuf_printf(mb, "%s.%s=%s,", layer, prop_names[p],
				   log_level_name((enum log_level)v));
	return mbuf_printf(mb, "%s.%s=%u,", layer, prop_names[p], v);
}

/* The value most layers share: printed as all.<prop>, then the others. */
static unsigned prop_common(const struct log_cfg *cfg, int p)
{
	unsigned best = prop_value(&cfg->layer[0], p);
	int best_n = 0;

	for (int i = 0; i < LOG_LAYER_COUNT; i++) {
		unsigned v = prop_value(&cfg->layer[i], p);
		int n = 0;

		for (int j = 0; j < LOG_LAYER_COUNT; j++)
			n += prop_value(&cfg->layer[j], p) == v;
		if (n > best_n) {
			best = v;
			best_n = n;
		}
	}
	return best;
}

int log_opt_print_cfg(struct mbuf *mb, const struct log_cfg *cfg)
{
	int err = 0;

	for (int p = 0; p < PROP_COUNT && !err; p++) {
		unsigned common = prop_common(cfg, p);

		err = print_prop(mb, "all", p, common);
		for (int i = 0; i < LOG_LAYER_COUNT && !err; i++) {
			unsigned v = prop_value(&cfg->layer[i], p);

			if (v != common)
				err = print_prop(mb, log_layer_name((enum log_layer)i), p, v);
		}
	}
	if (!err)
		err = mbuf_printf(mb, "time=%s,time.us=%d,file.rotate=", time_names[cfg->time_fmt],
				  cfg->time_us);
	if (!err)
		err = print_num(mb, cfg->rotate_size, 1024);
	if (!err)
		err = mbuf_write_str(mb, ",file.rotate=#");
	if (!err)
		err = print_num(mb, cfg->rotate_count, 1000);
	if (!err)
		err = mbuf_printf(mb, ",file.path=%s,append=%d", cfg->rotate_path, cfg->append);
	return err;
}

int log_options_print(struct mbuf *mb)
{
	int err;

	log_lock();
	err = log_opt_print_cfg(mb, &log_g.cfg);
	log_unlock();
	return err;
}

int log_options_apply(const char *opts, char *err, size_t errlen)
{
	struct log_cfg *cfg;
	struct log_act act;
	char *base;
	int rc;

	if (err && errlen)
		*err = '\0';
	if (!opts) {
		log_err(err, errlen, "log_options: missing");
		return EINVAL;
	}
	cfg = malloc(sizeof(*cfg));
	if (!cfg)
		return ENOMEM;
	log_lock();
	*cfg = log_g.cfg;
	base = log_file_dir_locked();
	if (log_g.filename && !base) {
		rc = ENOMEM;
		goto out;
	}
	rc = log_opt_parse(opts, cfg, &act, log_g.filename != NULL, base, err, errlen);
	if (rc)
		goto out;
	log_g.cfg = *cfg;
	log_g.tc_sec = -1;
	log_cfg_publish(cfg);
	if (act.cut)
		rc = log_file_cut_locked(err, errlen);
	if (!rc && act.rotate)
		rc = log_file_rotate_locked(err, errlen);
out:
	log_unlock();
	free(base);
	free(cfg);
	return rc;
}

static int print_rotation(struct mbuf *mb, const struct log_cfg *cfg)
{
	int err = mbuf_write_str(mb, "Rotation: size=");

	if (!err)
		err = cfg->rotate_size ? print_num(mb, cfg->rotate_size, 1024)
				       : mbuf_write_str(mb, "off");
	if (!err)
		err = mbuf_write_str(mb, ", count=");
	if (!err)
		err = cfg->rotate_count ? print_num(mb, cfg->rotate_count, 1000)
					: mbuf_write_str(mb, "off");
	if (!err)
		err = mbuf_printf(mb, ", path=%s\n",
				  *cfg->rotate_path ? cfg->rotate_path : "(log file directory)");
	return err;
}

int log_state_print(struct mbuf *mb)
{
	const struct log_cfg *cfg = &log_g.cfg;
	int err;

	log_lock();
	if (log_g.filename)
		err = mbuf_printf(mb,
				  "Log file: %s (append=%d, sync=%d, %llu bytes, %llu entries)\n",
				  log_g.filename, cfg->append, log_g.sync,
				  (unsigned long long)log_g.file_bytes,
				  (unsigned long long)log_g.file_entries);
	else
		err = mbuf_printf(mb, "Log file: none, logging to stderr (sync=%d)\n",
				  log_g.sync);
	if (!err)
		err = mbuf_printf(mb, "Time: %s, microseconds=%d\n", time_names[cfg->time_fmt],
				  cfg->time_us);
	if (!err)
		err = print_rotation(mb, cfg);
	if (!err)
		err = mbuf_printf(mb, "History: %zu entries max, %zu held, next idx %llu%s\n",
				  log_g.ring_cap, log_g.ring_n,
				  (unsigned long long)log_g.next_idx,
				  log_g.ring_us ? ", timestamps in us" : "");
	if (!err)
		err = mbuf_write_str(mb, "Layer  Level  Max_size  Payload  Key  Crypto  Verbose\n");
	for (int i = 0; i < LOG_LAYER_COUNT && !err; i++) {
		const struct log_layer_opts *l = &cfg->layer[i];

		err = mbuf_printf(mb, "%-6s %-6s %-9u %-8d %-4d %-7d %d\n",
				  log_layer_name((enum log_layer)i), log_level_name(l->level),
				  l->max_size, l->payload, l->key, l->crypto, l->verbose);
	}
	if (!err)
		err = mbuf_write_str(mb, "Options: ");
	if (!err)
		err = log_opt_print_cfg(mb, cfg);
	if (!err)
		err = mbuf_write_str(mb, "\n");
	log_unlock();
	return err;
}
