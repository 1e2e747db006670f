/* config/cfg_read — arena, property paths, typed getters, table reading. */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_read.h"
#include "core/strutil.h"

/* --- arena --- */

/* Blocks big enough that a million short strings cost a few hundred
 * allocations; a request over a quarter block gets a block of its own. */
#define CFG_ARENA_BLOCK (256u * 1024u)
#define CFG_ARENA_ALIGN 16u

struct cfg_arena {
	struct cfg_arena *next;
	size_t used;
	size_t size;
	/* data follows the header, rounded up to CFG_ARENA_ALIGN */
};

static size_t arena_hdr_size(void)
{
	return (sizeof(struct cfg_arena) + CFG_ARENA_ALIGN - 1) &
	       ~(size_t)(CFG_ARENA_ALIGN - 1);
}

static struct cfg_arena *arena_block_new(size_t size)
{
	struct cfg_arena *b;

	if (size > SIZE_MAX - arena_hdr_size())
		return NULL;
	b = calloc(1, arena_hdr_size() + size);
	if (!b)
		return NULL;
	b->size = size;
	return b;
}

void *cfg_arena_alloc(struct cfg_arena **ap, size_t size)
{
	struct cfg_arena *b = *ap;
	unsigned char *p;

	if (size == 0)
		size = 1;
	if (size > SIZE_MAX - CFG_ARENA_ALIGN)
		return NULL;
	size = (size + CFG_ARENA_ALIGN - 1) & ~(size_t)(CFG_ARENA_ALIGN - 1);
	if (!b || b->size - b->used < size) {
		if (size > CFG_ARENA_BLOCK / 4) {
			/* A dedicated block, kept behind the current one so the
			 * current one keeps serving small requests. */
			struct cfg_arena *d = arena_block_new(size);

			if (!d)
				return NULL;
			d->used = size;
			if (b) {
				d->next = b->next;
				b->next = d;
			} else {
				*ap = d;
			}
			return (unsigned char *)d + arena_hdr_size();
		}
		b = arena_block_new(CFG_ARENA_BLOCK);
		if (!b)
			return NULL;
		b->next = *ap;
		*ap = b;
	}
	p = (unsigned char *)b + arena_hdr_size() + b->used;
	b->used += size;
	return p;
}

char *cfg_arena_strdup(struct cfg_arena **ap, const char *s)
{
	size_t n = strlen(s);
	char *d = cfg_arena_alloc(ap, n + 1);

	if (d)
		memcpy(d, s, n + 1);
	return d;
}

void cfg_arena_free(struct cfg_arena *a)
{
	while (a) {
		struct cfg_arena *n = a->next;

		free(a);
		a = n;
	}
}

/* --- path and diagnostics --- */

void cfg_rd_push_key(struct cfg_rd *rd, const char *key)
{
	assert(rd->depth < CFG_PATH_DEPTH);
	rd->seg[rd->depth].key = key;
	rd->seg[rd->depth].idx = 0;
	rd->depth++;
}

void cfg_rd_push_idx(struct cfg_rd *rd, size_t idx)
{
	assert(rd->depth < CFG_PATH_DEPTH);
	rd->seg[rd->depth].key = NULL;
	rd->seg[rd->depth].idx = idx;
	rd->depth++;
}

void cfg_rd_pop(struct cfg_rd *rd)
{
	assert(rd->depth > 0);
	rd->depth--;
}

void cfg_rd_path(const struct cfg_rd *rd, char *buf, size_t len)
{
	size_t o = 0;

	if (!len)
		return;
	buf[0] = '\0';
	for (unsigned i = 0; i < rd->depth && o < len; i++) {
		int n;

		if (rd->seg[i].key)
			n = snprintf(buf + o, len - o, "%s%s", i ? "." : "",
				     rd->seg[i].key);
		else
			n = snprintf(buf + o, len - o, "[%zu]", rd->seg[i].idx);
		if (n < 0)
			break;
		o += (size_t)n;
	}
}

static int rd_verr(struct cfg_rd *rd, const char *key, const char *fmt, va_list ap)
{
	char path[256], msg[256];

	if (rd->err)
		return rd->err;
	rd->err = EINVAL;
	if (!rd->diag || !rd->diag->err || !rd->diag->errlen)
		return rd->err;
	cfg_rd_path(rd, path, sizeof(path));
	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (key)
		snprintf(rd->diag->err, rd->diag->errlen, "%s%s%s: %s", path,
			 path[0] ? "." : "", key, msg);
	else if (path[0])
		snprintf(rd->diag->err, rd->diag->errlen, "%s: %s", path, msg);
	else
		snprintf(rd->diag->err, rd->diag->errlen, "%s", msg);
	return rd->err;
}

int cfg_rd_err(struct cfg_rd *rd, const char *fmt, ...)
{
	va_list ap;
	int e;

	va_start(ap, fmt);
	e = rd_verr(rd, NULL, fmt, ap);
	va_end(ap);
	return e;
}

int cfg_rd_err_at(struct cfg_rd *rd, const char *key, const char *fmt, ...)
{
	va_list ap;
	int e;

	va_start(ap, fmt);
	e = rd_verr(rd, key, fmt, ap);
	va_end(ap);
	return e;
}

int cfg_rd_nomem(struct cfg_rd *rd)
{
	if (!rd->err) {
		rd->err = ENOMEM;
		if (rd->diag && rd->diag->err && rd->diag->errlen)
			snprintf(rd->diag->err, rd->diag->errlen, "out of memory");
	}
	return rd->err;
}

void cfg_rd_warn(struct cfg_rd *rd, const char *fmt, ...)
{
	char path[256], msg[256];
	va_list ap;

	if (!rd->diag || !rd->diag->warn_h)
		return;
	cfg_rd_path(rd, path, sizeof(path));
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	rd->diag->warn_h(path, msg, rd->diag->arg);
}

/* --- typed getters --- */

bool cfg_is_complex(const json_t *v)
{
	return json_is_object(v) && json_object_size(v) == 1 &&
	       json_object_get(v, "__complex__") != NULL;
}

static int reject_complex(struct cfg_rd *rd, const json_t *v)
{
	if (cfg_is_complex(v))
		return cfg_rd_err(rd, "cannot be a complex number");
	return 0;
}

int cfg_get_bool(struct cfg_rd *rd, const json_t *v, bool *out)
{
	if (reject_complex(rd, v))
		return rd->err;
	if (json_is_boolean(v)) {
		*out = json_is_true(v);
		return 0;
	}
	/* The language accepts 0 and 1 as false and true (§5.1). */
	if (json_is_integer(v) &&
	    (json_integer_value(v) == 0 || json_integer_value(v) == 1)) {
		*out = json_integer_value(v) == 1;
		return 0;
	}
	if (json_is_real(v) && (json_real_value(v) == 0.0 || json_real_value(v) == 1.0)) {
		*out = json_real_value(v) == 1.0;
		return 0;
	}
	return cfg_rd_err(rd, "expected boolean");
}

static bool as_int(const json_t *v, int64_t *out)
{
	double d;

	if (json_is_integer(v)) {
		*out = json_integer_value(v);
		return true;
	}
	if (!json_is_real(v))
		return false;
	/* Numbers of the language are doubles: take integral ones. */
	d = json_real_value(v);
	if (!isfinite(d) || d != trunc(d) || d < -9.2e18 || d > 9.2e18)
		return false;
	*out = (int64_t)d;
	return true;
}

int cfg_get_int(struct cfg_rd *rd, const json_t *v, int64_t min, int64_t max,
		int64_t *out)
{
	int64_t x;

	if (reject_complex(rd, v))
		return rd->err;
	if (!as_int(v, &x))
		return cfg_rd_err(rd, "expected integer");
	if (x < min || x > max)
		return cfg_rd_err(rd, "%lld out of range (%lld..%lld)", (long long)x,
				  (long long)min, (long long)max);
	*out = x;
	return 0;
}

int cfg_get_num(struct cfg_rd *rd, const json_t *v, double min, double max, double *out)
{
	double d;

	if (reject_complex(rd, v))
		return rd->err;
	if (json_is_integer(v))
		d = (double)json_integer_value(v);
	else if (json_is_real(v))
		d = json_real_value(v);
	else
		return cfg_rd_err(rd, "expected number");
	if (!isfinite(d))
		return cfg_rd_err(rd, "expected a finite number");
	if (d < min || d > max)
		return cfg_rd_err(rd, "%g out of range (%g..%g)", d, min, max);
	*out = d;
	return 0;
}

static int get_cstr(struct cfg_rd *rd, const json_t *v, const char **s)
{
	int err = reject_complex(rd, v);

	*s = ""; /* set on every path: callers return on an error anyway */
	if (err)
		return err;
	if (!json_is_string(v))
		return cfg_rd_err(rd, "expected string");
	*s = json_string_value(v);
	if (strlen(*s) != json_string_length(v))
		return cfg_rd_err(rd, "string contains a NUL character");
	return 0;
}

int cfg_get_str(struct cfg_rd *rd, const json_t *v, const char **out)
{
	const char *s;
	char *d;
	int err = get_cstr(rd, v, &s);

	if (err)
		return err;
	d = cfg_arena_strdup(rd->arena, s);
	if (!d)
		return cfg_rd_nomem(rd);
	*out = d;
	return 0;
}

/* RFC 3261 §25.1 host: a name of letters, digits, '-' and '.', an IPv4
 * address, or an IPv6 reference in brackets. */
static bool host_valid(const char *s)
{
	size_t n = strlen(s);

	if (!n || n > 253)
		return false;
	if (s[0] == '[') {
		if (n < 4 || s[n - 1] != ']')
			return false;
		for (size_t i = 1; i < n - 1; i++) {
			if (!isxdigit((unsigned char)s[i]) && s[i] != ':' && s[i] != '.')
				return false;
		}
		return true;
	}
	for (size_t i = 0; i < n; i++) {
		if (!isalnum((unsigned char)s[i]) && s[i] != '-' && s[i] != '.')
			return false;
	}
	return true;
}

static int cfg_get_host(struct cfg_rd *rd, const json_t *v, const char **out)
{
	if (cfg_get_str(rd, v, out))
		return rd->err;
	if (!host_valid(*out))
		return cfg_rd_err(
		    rd,
		    "invalid host \"%.64s\" (a domain name, IPv4 address or "
		    "[IPv6] address)",
		    *out);
	return 0;
}

int cfg_get_file(struct cfg_rd *rd, const json_t *v, const char **out)
{
	const char *s;
	size_t dl, sl;
	char *d;

	if (get_cstr(rd, v, &s))
		return rd->err;
	if (s[0] == '/' || !s[0] || !rd->cfg_dir || !rd->cfg_dir[0])
		return cfg_get_str(rd, v, out);
	dl = strlen(rd->cfg_dir);
	sl = strlen(s);
	d = cfg_arena_alloc(rd->arena, dl + sl + 2);
	if (!d)
		return cfg_rd_nomem(rd);
	memcpy(d, rd->cfg_dir, dl);
	if (d[dl - 1] != '/')
		d[dl++] = '/';
	memcpy(d + dl, s, sl + 1);
	*out = d;
	return 0;
}

int cfg_get_enum(struct cfg_rd *rd, const json_t *v, const char *const *names, int *out)
{
	char list[256];
	const char *s;
	size_t o = 0;

	if (get_cstr(rd, v, &s))
		return rd->err;
	for (int i = 0; names[i]; i++) {
		if (!strcasecmp(s, names[i])) {
			*out = i;
			return 0;
		}
	}
	list[0] = '\0';
	for (int i = 0; names[i] && o < sizeof(list); i++) {
		int n = snprintf(list + o, sizeof(list) - o, "%s\"%s\"", i ? ", " : "",
				 names[i]);
		if (n < 0)
			break;
		o += (size_t)n;
	}
	return cfg_rd_err(rd, "\"%.64s\" is not one of %s", s, list);
}

int cfg_get_addr(struct cfg_rd *rd, const json_t *v, uint16_t def_port,
		 struct ims_cfg_addr *out)
{
	char host[256];
	const char *s;
	uint16_t port;
	int e;

	if (get_cstr(rd, v, &s))
		return rd->err;
	e = ims_cfg_addr_parse(s, def_port, host, sizeof(host), &port);
	if (e)
		return cfg_rd_err(rd, "invalid address \"%.64s\"", s);
	out->host = cfg_arena_strdup(rd->arena, host);
	if (!out->host)
		return cfg_rd_nomem(rd);
	out->port = port;
	return 0;
}

int cfg_expect_object(struct cfg_rd *rd, const json_t *v)
{
	if (reject_complex(rd, v))
		return rd->err;
	if (!json_is_object(v))
		return cfg_rd_err(rd, "expected object");
	return 0;
}

int cfg_expect_array(struct cfg_rd *rd, const json_t *v)
{
	if (reject_complex(rd, v))
		return rd->err;
	if (!json_is_array(v))
		return cfg_rd_err(rd, "expected array");
	return 0;
}

void *cfg_list_alloc(struct cfg_rd *rd, size_t n, size_t max, size_t item)
{
	void *arr;

	if (n > max) {
		cfg_rd_err(rd, "too many items (max %zu)", max);
		return NULL;
	}
	arr = cfg_arena_alloc(rd->arena, (n ? n : 1) * item);
	if (!arr)
		cfg_rd_nomem(rd);
	return arr;
}

int cfg_get_hex(struct cfg_rd *rd, const json_t *v, uint8_t *out, size_t len)
{
	const char *s;
	int err = get_cstr(rd, v, &s);

	if (err)
		return err;
	if (ims_cfg_hex_decode(s, out, len))
		return cfg_rd_err(rd, "expected %zu hex digits (%zu bits)", 2 * len,
				  8 * len);
	return 0;
}

int cfg_get_str_list(struct cfg_rd *rd, const json_t *v, bool single_ok,
		     const char *const **out, uint32_t *count)
{
	const char **arr;
	size_t n;

	if (single_ok && json_is_string(v)) {
		arr = cfg_arena_alloc(rd->arena, sizeof(*arr));
		if (!arr)
			return cfg_rd_nomem(rd);
		if (cfg_get_str(rd, v, &arr[0]))
			return rd->err;
		*out = arr;
		*count = 1;
		return 0;
	}
	if (cfg_expect_array(rd, v))
		return rd->err;
	n = json_array_size(v);
	if (n > UINT32_MAX / sizeof(*arr))
		return cfg_rd_err(rd, "too many items");
	arr = cfg_arena_alloc(rd->arena, n * sizeof(*arr));
	if (!arr)
		return cfg_rd_nomem(rd);
	for (size_t i = 0; i < n; i++) {
		cfg_rd_push_idx(rd, i);
		if (cfg_get_str(rd, json_array_get(v, i), &arr[i]))
			return rd->err;
		cfg_rd_pop(rd);
	}
	*out = arr;
	*count = (uint32_t)n;
	return 0;
}

/* --- tables --- */

int cfg_field_read(struct cfg_rd *rd, const json_t *v, const struct cfg_field *f,
		   void *base)
{
	void *p = (char *)base + f->off;
	int64_t x = 0; /* read only after a success */
	int idx = 0;

	switch (f->type) {
	case CFG_T_BOOL:
		return cfg_get_bool(rd, v, (bool *)p);
	case CFG_T_INT:
		if (cfg_get_int(rd, v, (int64_t)f->min, (int64_t)f->max, &x))
			return rd->err;
		*(uint32_t *)p = (uint32_t)x;
		return 0;
	case CFG_T_U16:
		if (cfg_get_int(rd, v, (int64_t)f->min, (int64_t)f->max, &x))
			return rd->err;
		*(uint16_t *)p = (uint16_t)x;
		return 0;
	case CFG_T_U8:
		if (cfg_get_int(rd, v, (int64_t)f->min, (int64_t)f->max, &x))
			return rd->err;
		*(uint8_t *)p = (uint8_t)x;
		return 0;
	case CFG_T_NUM:
		return cfg_get_num(rd, v, f->min, f->max, (double *)p);
	case CFG_T_STR:
		return cfg_get_str(rd, v, (const char **)p);
	case CFG_T_HOST:
		return cfg_get_host(rd, v, (const char **)p);
	case CFG_T_FILE:
		return cfg_get_file(rd, v, (const char **)p);
	case CFG_T_ENUM:
		if (cfg_get_enum(rd, v, f->names, &idx))
			return rd->err;
		*(uint8_t *)p = (uint8_t)idx;
		return 0;
	case CFG_T_ADDR:
		return cfg_get_addr(rd, v, (uint16_t)f->min, (struct ims_cfg_addr *)p);
	case CFG_T_FN:
		return f->fn(rd, v, base, f);
	}
	assert(0 && "bad field type");
	return EINVAL;
}

static int field_cmp(const void *key, const void *elem)
{
	return strcmp(key, ((const struct cfg_field *)elem)->name);
}

void cfg_table_check(const struct cfg_field *fields, size_t count)
{
	for (size_t i = 1; i < count; i++)
		assert(strcmp(fields[i - 1].name, fields[i].name) < 0 &&
		       "table not sorted");
	(void)fields;
	(void)count;
}

int cfg_obj_read(struct cfg_rd *rd, const json_t *v, const struct cfg_table *tabs,
		 size_t ntabs)
{
	const char *key;
	json_t *val;

	if (cfg_expect_object(rd, v))
		return rd->err;
	json_object_foreach((json_t *)v, key, val)
	{
		const struct cfg_field *f = NULL;
		size_t t;

		for (t = 0; t < ntabs && !f; t++)
			f = bsearch(key, tabs[t].fields, tabs[t].count, sizeof(*f),
				    field_cmp);
		cfg_rd_push_key(rd, key);
		if (!f) {
			cfg_rd_warn(rd, "unknown property");
		} else {
			if (f->flags & CFG_F_OPTS) {
				rd->opts_touched = true;
				cfg_opts_own_mark(tabs[t - 1].base, f);
			}
			if (cfg_field_read(rd, val, f, tabs[t - 1].base))
				return rd->err;
			if (f->flags & CFG_F_DEPRECATED)
				cfg_rd_warn(rd, "deprecated, use %s", f->alias);
		}
		cfg_rd_pop(rd);
	}
	return 0;
}

/* --- public helpers --- */

int ims_cfg_addr_parse(const char *s, uint16_t def_port, char *host, size_t hostsz,
		       uint16_t *port)
{
	const char *h = s, *p = NULL;
	size_t hl;

	if (!s || !*s)
		return EINVAL;
	if (s[0] == '[') {
		const char *e = strchr(s, ']');

		if (!e || e == s + 1)
			return EINVAL;
		h = s + 1;
		hl = (size_t)(e - h);
		if (e[1] == ':')
			p = e + 2;
		else if (e[1])
			return EINVAL;
	} else {
		const char *c = strchr(s, ':');

		if (c && strchr(c + 1, ':')) {
			hl = strlen(s); /* bare IPv6 address, no port */
		} else if (c) {
			hl = (size_t)(c - s);
			p = c + 1;
		} else {
			hl = strlen(s);
		}
	}
	if (!hl)
		return EINVAL;
	for (size_t i = 0; i < hl; i++) {
		unsigned char ch = (unsigned char)h[i];

		if (ch <= ' ' || ch >= 0x7f || ch == '[' || ch == ']' || ch == '/')
			return EINVAL;
	}
	if (p) {
		unsigned long v = 0;
		size_t n = strlen(p);

		if (!n || n > 5)
			return EINVAL;
		for (size_t i = 0; i < n; i++) {
			if (!isdigit((unsigned char)p[i]))
				return EINVAL;
			v = v * 10 + (unsigned long)(p[i] - '0');
		}
		if (v == 0 || v > 65535)
			return EINVAL;
		*port = (uint16_t)v;
	} else {
		*port = def_port;
	}
	if (hl >= hostsz)
		return ENAMETOOLONG;
	memcpy(host, h, hl);
	host[hl] = '\0';
	return 0;
}

int ims_cfg_hex_decode(const char *s, uint8_t *out, size_t len)
{
	if (!s || strlen(s) != 2 * len)
		return EINVAL;
	return str_hex_decode(s, out, len) ? EINVAL : 0;
}
