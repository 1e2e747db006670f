/*
 * config/cfg_merge — JSON merge rules of manual §5.1.1, complex values and
 * the strict JSON dump behind `imsd --dump-config`.
 *
 * Merge: objects merge recursively, arrays element-wise (the result is as
 * long as the longest, each element merged where both are defined), any
 * other pair is replaced by the overriding value. A complex number is a
 * scalar here even though it is stored as an object.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_lang_int.h"

bool cfg_lang_complex_get(const json_t *v, double *re, double *im)
{
	const json_t *a;

	if (!json_is_object(v) || json_object_size(v) != 1)
		return false;
	a = json_object_get(v, CFG_LANG_COMPLEX_KEY);
	if (!json_is_array(a) || json_array_size(a) != 2 ||
	    !json_is_number(json_array_get(a, 0)) ||
	    !json_is_number(json_array_get(a, 1)))
		return false;
	*re = json_number_value(json_array_get(a, 0));
	*im = json_number_value(json_array_get(a, 1));
	return true;
}

bool cfg_lang_is_complex(const json_t *v)
{
	double re, im;

	return cfg_lang_complex_get(v, &re, &im);
}

static bool mergeable(const json_t *a, const json_t *b)
{
	if (json_is_array(a) && json_is_array(b))
		return true;
	return json_is_object(a) && json_is_object(b) && !cfg_lang_is_complex(a) &&
	       !cfg_lang_is_complex(b);
}

/* dst and src are both objects or both arrays; src's nodes become shared with dst. */
static int merge_into(json_t *dst, json_t *src)
{
	const char *k;
	json_t *s, *d;
	size_t i;
	int err = 0;

	if (json_is_object(dst)) {
		json_object_foreach(src, k, s)
		{
			d = json_object_get(dst, k);
			if (d && mergeable(d, s))
				err = merge_into(d, s);
			else if (json_object_set_nocheck(dst, k, s))
				err = ENOMEM;
			if (err)
				return err;
		}
		return 0;
	}
	json_array_foreach(src, i, s)
	{
		if (i < json_array_size(dst)) {
			d = json_array_get(dst, i);
			if (mergeable(d, s))
				err = merge_into(d, s);
			else if (json_array_set(dst, i, s))
				err = ENOMEM;
		} else if (json_array_append(dst, s)) {
			err = ENOMEM;
		}
		if (err)
			return err;
	}
	return 0;
}

int cfg_merge_member(json_t *obj, const char *key, size_t klen, json_t *val)
{
	json_t *d = json_object_getn(obj, key, klen);
	int err = 0;

	if (d && mergeable(d, val)) {
		err = merge_into(d, val);
		json_decref(val);
		return err;
	}
	/* Replacing keeps the member's first position (jansson keeps it). */
	return json_object_setn_new_nocheck(obj, key, klen, val) ? ENOMEM : 0;
}

int cfg_merge_objects(json_t *dst, json_t *src)
{
	return merge_into(dst, src);
}

int cfg_lang_merge(json_t *dst, const json_t *src)
{
	json_t *copy;
	int err;

	if (!mergeable(dst, src))
		return EINVAL;
	copy = json_deep_copy(src);
	if (!copy)
		return ENOMEM;
	err = merge_into(dst, copy);
	json_decref(copy);
	return err;
}

void cfg_fmt_real(double d, char *buf, size_t size)
{
	if (d == floor(d) && fabs(d) < 1e17) {
		snprintf(buf, size, "%.0f", d);
		return;
	}
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, size, "%.*g", prec, d);
		if (strtod(buf, NULL) == d)
			return;
	}
}

static void dump_string(const char *s, size_t len, FILE *f)
{
	size_t run = 0;

	fputc('"', f);
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];
		const char *esc = NULL;
		char ubuf[8];

		if (ch >= 0x20 && ch != '"' && ch != '\\')
			continue;
		switch (ch) {
		case '"':
			esc = "\\\"";
			break;
		case '\\':
			esc = "\\\\";
			break;
		case '\n':
			esc = "\\n";
			break;
		case '\t':
			esc = "\\t";
			break;
		case '\r':
			esc = "\\r";
			break;
		case '\b':
			esc = "\\b";
			break;
		case '\f':
			esc = "\\f";
			break;
		default:
			snprintf(ubuf, sizeof(ubuf), "\\u%04x", ch);
			esc = ubuf;
		}
		fwrite(s + run, 1, i - run, f);
		fputs(esc, f);
		run = i + 1;
	}
	fwrite(s + run, 1, len - run, f);
	fputc('"', f);
}

static void dump_indent(unsigned n, FILE *f)
{
	for (unsigned i = 0; i < n; i++)
		fputs("  ", f);
}

static void dump_value(const json_t *v, unsigned lvl, FILE *f)
{
	char buf[40];
	const char *k;
	json_t *e;
	size_t i, n;

	switch (json_typeof(v)) {
	case JSON_OBJECT:
		n = json_object_size(v);
		fputs(n ? "{\n" : "{", f);
		i = 0;
		json_object_foreach((json_t *)v, k, e)
		{
			dump_indent(lvl + 1, f);
			dump_string(k, strlen(k), f);
			fputs(": ", f);
			dump_value(e, lvl + 1, f);
			fputs(++i < n ? ",\n" : "\n", f);
		}
		if (n)
			dump_indent(lvl, f);
		fputc('}', f);
		break;
	case JSON_ARRAY:
		n = json_array_size(v);
		fputs(n ? "[\n" : "[", f);
		json_array_foreach(v, i, e)
		{
			dump_indent(lvl + 1, f);
			dump_value(e, lvl + 1, f);
			fputs(i + 1 < n ? ",\n" : "\n", f);
		}
		if (n)
			dump_indent(lvl, f);
		fputc(']', f);
		break;
	case JSON_STRING:
		dump_string(json_string_value(v), json_string_length(v), f);
		break;
	case JSON_INTEGER:
		fprintf(f, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_REAL:
		cfg_fmt_real(json_real_value(v), buf, sizeof(buf));
		fputs(buf, f);
		break;
	case JSON_TRUE:
		fputs("true", f);
		break;
	case JSON_FALSE:
		fputs("false", f);
		break;
	case JSON_NULL:
		fputs("null", f);
		break;
	}
}

int cfg_lang_dump(const json_t *root, FILE *f)
{
	dump_value(root, 0, f);
	fputc('\n', f);
	return fflush(f) || ferror(f) ? EIO : 0;
}
