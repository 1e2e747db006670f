/*
 * config/cfg_lang — loading a configuration: sources and includes, the
 * JSON structure (objects, arrays, optional top-level braces, unquoted
 * property names, trailing commas, duplicate properties merged, `include`),
 * and error reporting. Expressions are in cfg_eval.c, tokens in cfg_lex.c,
 * directives in cfg_pp.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/cfg_lang_int.h"
#include "core/strutil.h"

/* Work allowed to variable copies and concatenation beyond the input size. */
#define CFG_BUDGET_BASE ((uint64_t)64 << 20)
#define CFG_BUDGET_PER_BYTE 64

int cfg_err_set(struct cfg_ctx *c, const struct cfg_loc *loc, int code, const char *fmt,
		...)
{
	struct cfg_lang_err *e = c->err;
	va_list ap;

	if (c->errcode)
		return c->errcode;
	c->errcode = code;
	snprintf(e->file, sizeof(e->file), "%s", loc && loc->file ? loc->file : "");
	e->line = loc ? loc->line : 0;
	e->col = loc ? loc->col : 0;
	va_start(ap, fmt);
	vsnprintf(e->msg, sizeof(e->msg), fmt, ap);
	va_end(ap);
	return code;
}

void cfg_lang_err_print(const struct cfg_lang_err *err, FILE *f)
{
	fprintf(f, "%s:%u:%u: %s\n", err->file[0] ? err->file : "<config>", err->line,
		err->col, err->msg);
}

/* Names live until the end of the load: token locations point to them. */
static const char *name_keep(struct cfg_ctx *c, const char *name)
{
	size_t n = strlen(name) + 1;
	struct cfg_name *nm = malloc(sizeof(*nm) + n);

	if (!nm)
		return NULL;
	memcpy(nm->name, name, n);
	nm->next = c->names;
	c->names = nm;
	return nm->name;
}

void cfg_src_pop(struct cfg_ctx *c)
{
	struct cfg_src *s = c->src[--c->nsrc];

	free(s->own);
	free(s->dir);
	free(s);
}

static int src_push(struct cfg_ctx *c, const char *name, char *dir, char *own,
		    const char *buf, size_t len, bool barrier)
{
	struct cfg_src *s = calloc(1, sizeof(*s));

	if (!s) {
		free(dir);
		free(own);
		return ENOMEM;
	}
	/* A UTF-8 byte order mark, as some editors write, is not content. */
	if (len >= 3 && !memcmp(buf, "\xef\xbb\xbf", 3)) {
		buf += 3;
		len -= 3;
	}
	s->name = name;
	s->dir = dir;
	s->own = own;
	s->p = s->line_start = buf;
	s->end = buf + len;
	s->line = 1;
	s->bol = true;
	s->barrier = barrier;
	s->cond_base = c->ncond;
	c->src[c->nsrc++] = s;
	return 0;
}

static int read_all(int fd, char *buf, size_t len)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = read(fd, buf + got, len - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? errno : EIO;
		got += (size_t)n;
	}
	return 0;
}

/* Open path (already resolved), check limits and cycles, push it. */
static int open_file(struct cfg_ctx *c, const struct cfg_loc *at, const char *path,
		     bool barrier)
{
	const char *name = name_keep(c, path);
	char *buf = NULL, *dir = NULL;
	struct stat st;
	int fd, err;

	if (!name)
		return cfg_err_set(c, at, ENOMEM, "out of memory");
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0) {
		err = errno;
		if (fd >= 0)
			close(fd);
		return cfg_err_set(c, at, err, "cannot open '%s': %s", path,
				   strerror(err));
	}
	err = !S_ISREG(st.st_mode)			    ? EISDIR
	      : (size_t)st.st_size > CFG_LANG_MAX_FILE_SIZE ? EFBIG
							    : 0;
	if (err) {
		close(fd);
		return cfg_err_set(c, at, err, "cannot read '%s': %s", path,
				   err == EISDIR ? "not a regular file"
						 : "file too large");
	}
	for (unsigned i = 0; i < c->nsrc; i++) {
		if (c->src[i]->has_id && c->src[i]->dev == st.st_dev &&
		    c->src[i]->ino == st.st_ino) {
			close(fd);
			return cfg_err_set(c, at, ELOOP,
					   "include cycle: '%s' is already being read",
					   path);
		}
	}
	buf = malloc((size_t)st.st_size + 1);
	dir = str_path_dir(path);
	err = !buf || !dir ? ENOMEM : read_all(fd, buf, (size_t)st.st_size);
	close(fd);
	if (!err)
		err = src_push(c, name, dir, buf, buf, (size_t)st.st_size, barrier);
	else {
		free(buf);
		free(dir);
	}
	if (err)
		return cfg_err_set(c, at, err, "cannot read '%s': %s", path,
				   strerror(err));
	c->src[c->nsrc - 1]->dev = st.st_dev;
	c->src[c->nsrc - 1]->ino = st.st_ino;
	c->src[c->nsrc - 1]->has_id = true;
	c->budget += (uint64_t)st.st_size * CFG_BUDGET_PER_BYTE;
	return 0;
}

int cfg_src_push_file(struct cfg_ctx *c, const struct cfg_loc *at, const char *rel,
		      bool barrier)
{
	const char *dir = c->src[c->nsrc - 1]->dir;
	char path[CFG_LANG_MAX_PATH + 1];
	int n;

	if (!dir)
		return cfg_err_set(c, at, EPERM, "include is not allowed here");
	if (!rel[0])
		return cfg_err_set(c, at, EBADMSG, "empty include file name");
	if (c->nsrc >= CFG_LANG_MAX_INCLUDE_DEPTH)
		return cfg_err_set(c, at, E2BIG, "includes nested too deeply (limit %d)",
				   CFG_LANG_MAX_INCLUDE_DEPTH);
	if (++c->nincludes > CFG_LANG_MAX_INCLUDES)
		return cfg_err_set(c, at, E2BIG, "too many includes (limit %d)",
				   CFG_LANG_MAX_INCLUDES);
	if (rel[0] == '/' || !strcmp(dir, "."))
		n = snprintf(path, sizeof(path), "%s", rel);
	else
		n = snprintf(path, sizeof(path), "%s%s%s", dir,
			     dir[strlen(dir) - 1] == '/' ? "" : "/", rel);
	if (n < 0 || (size_t)n >= sizeof(path))
		return cfg_err_set(c, at, ENAMETOOLONG, "include path too long");
	return open_file(c, at, path, barrier);
}

static int parse_members(struct cfg_parser *p, json_t *obj, enum cfg_tk close);

/* A file's content: members with or without enclosing braces, up to its end. */
static int parse_body(struct cfg_parser *p, json_t *obj)
{
	char nb[64];
	int err;

	if (p->tok.kind != TK_LBRACE)
		return parse_members(p, obj, TK_EOF);
	err = cfg_advance(p);
	if (!err)
		err = parse_members(p, obj, TK_RBRACE);
	if (!err)
		err = cfg_advance(p);
	if (!err && p->tok.kind != TK_EOF)
		err = cfg_err_set(p->ctx, &p->tok.loc, EBADMSG,
				  "expected end of file after the closing '}', found %s",
				  cfg_tok_name(&p->tok, nb, sizeof(nb)));
	return err;
}

/* `include expr,` in place of a property: merge the file's members here. */
static int parse_include(struct cfg_parser *p, json_t *obj, enum cfg_tk close)
{
	struct cfg_ctx *c = p->ctx;
	struct cfg_loc vloc = p->tok.loc;
	struct cfg_val v = {0};
	struct cfg_tok saved;
	json_t *inc = NULL;
	int err;

	err = cfg_expr_parse(p, &v);
	if (err)
		return err;
	if (v.t != CV_STR)
		err =
		    cfg_err_set(c, &vloc, EBADMSG, "include file name must be a string");
	else if (p->tok.kind != TK_COMMA && p->tok.kind != close)
		err = cfg_err_set(c, &p->tok.loc, EBADMSG,
				  "expected ',' after include file name");
	if (!err)
		err = cfg_src_push_file(c, &vloc, v.s, true);
	cfg_val_clear(&v);
	if (err)
		return err;
	saved = p->tok;
	inc = json_object();
	if (!inc)
		err = cfg_err_set(c, &vloc, ENOMEM, "out of memory");
	if (!err)
		err = cfg_advance(p);
	if (!err)
		err = parse_body(p, inc);
	if (!err) {
		cfg_src_pop(c);
		p->tok = saved;
		if (cfg_merge_objects(obj, inc))
			err = cfg_err_set(c, &vloc, ENOMEM, "out of memory");
	}
	json_decref(inc);
	return err;
}

/* Property name at the current token into key (NUL-terminated), then advance. */
static int parse_key(struct cfg_parser *p, char *key, size_t *klen)
{
	struct cfg_tok *t = &p->tok;
	const char *s = t->s;
	size_t n = t->len;
	const json_t *var;
	char nb[64];

	if (t->kind == TK_IDENT) {
		/* A defined variable is replaced here too (§5.1 item 8). */
		var = json_object_getn(p->ctx->vars, s, n);
		if (var && !json_is_string(var))
			return cfg_err_set(
			    p->ctx, &t->loc, EBADMSG,
			    "variable '%.*s' used as a property name is not a string",
			    n > 60 ? 60 : (int)n, s);
		if (var) {
			s = json_string_value(var);
			n = json_string_length(var);
		}
	} else if (t->kind != TK_STR) {
		return cfg_err_set(p->ctx, &t->loc, EBADMSG,
				   "expected a property name, found %s",
				   cfg_tok_name(t, nb, sizeof(nb)));
	}
	if (n > CFG_LANG_MAX_KEY)
		return cfg_err_set(p->ctx, &t->loc, EBADMSG,
				   "property name too long (limit %d)", CFG_LANG_MAX_KEY);
	memcpy(key, s, n);
	key[n] = '\0';
	*klen = n;
	return cfg_advance(p);
}

static int parse_member(struct cfg_parser *p, json_t *obj, enum cfg_tk close)
{
	char key[CFG_LANG_MAX_KEY + 1], nb[64];
	struct cfg_val v = {0};
	struct cfg_loc vloc;
	size_t klen = 0;
	json_t *j;
	int err;

	if (cfg_is_ident(&p->tok, "include")) {
		err = cfg_advance(p);
		if (err)
			return err;
		if (p->tok.kind != TK_COLON)
			return parse_include(p, obj, close);
		memcpy(key, "include", 8);
		klen = 7;
	} else {
		err = parse_key(p, key, &klen);
		if (err)
			return err;
	}
	if (p->tok.kind != TK_COLON)
		return cfg_err_set(p->ctx, &p->tok.loc, EBADMSG,
				   "expected ':' after '%s', found %s", key,
				   cfg_tok_name(&p->tok, nb, sizeof(nb)));
	err = cfg_advance(p);
	if (err)
		return err;
	vloc = p->tok.loc;
	err = cfg_expr_parse(p, &v);
	if (!err)
		err = cfg_val_to_json(p, &v, &vloc, &j);
	if (!err && cfg_merge_member(obj, key, klen, j))
		err = cfg_err_set(p->ctx, &vloc, ENOMEM, "out of memory");
	return err;
}

static int parse_members(struct cfg_parser *p, json_t *obj, enum cfg_tk close)
{
	char nb[64];
	int err;

	while (p->tok.kind != close) {
		err = parse_member(p, obj, close);
		if (err)
			return err;
		if (p->tok.kind == TK_COMMA) {
			err = cfg_advance(p);
			if (err)
				return err;
		} else if (p->tok.kind != close) {
			return cfg_err_set(p->ctx, &p->tok.loc, EBADMSG,
					   "expected ',' or %s, found %s",
					   close == TK_EOF ? "end of file" : "'}'",
					   cfg_tok_name(&p->tok, nb, sizeof(nb)));
		}
	}
	return 0;
}

static int nest_enter(struct cfg_parser *p)
{
	if (p->nest >= CFG_LANG_MAX_NEST || p->depth >= CFG_LANG_MAX_EXPR_DEPTH)
		return cfg_err_set(p->ctx, &p->tok.loc, E2BIG,
				   "objects and arrays nested too deeply (limit %d)",
				   CFG_LANG_MAX_NEST);
	p->nest++;
	p->depth++;
	return 0;
}

int cfg_parse_object_value(struct cfg_parser *p, struct cfg_val *v)
{
	json_t *obj;
	int err;

	err = nest_enter(p);
	if (err)
		return err;
	obj = json_object();
	if (!obj)
		err = cfg_err_set(p->ctx, &p->tok.loc, ENOMEM, "out of memory");
	if (!err)
		err = cfg_advance(p);
	if (!err)
		err = parse_members(p, obj, TK_RBRACE);
	if (!err)
		err = cfg_advance(p);
	p->nest--;
	p->depth--;
	if (err) {
		json_decref(obj);
		return err;
	}
	v->t = CV_JSON;
	v->j = obj;
	return 0;
}

static int parse_elements(struct cfg_parser *p, json_t *arr)
{
	char nb[64];
	int err = 0;

	while (!err && p->tok.kind != TK_RBRACK) {
		struct cfg_loc vloc = p->tok.loc;
		struct cfg_val v = {0};
		json_t *j;

		err = cfg_expr_parse(p, &v);
		if (!err)
			err = cfg_val_to_json(p, &v, &vloc, &j);
		if (!err && json_array_append_new(arr, j))
			err = cfg_err_set(p->ctx, &vloc, ENOMEM, "out of memory");
		if (err)
			break;
		if (p->tok.kind == TK_COMMA)
			err = cfg_advance(p);
		else if (p->tok.kind != TK_RBRACK)
			err = cfg_err_set(p->ctx, &p->tok.loc, EBADMSG,
					  "expected ',' or ']', found %s",
					  cfg_tok_name(&p->tok, nb, sizeof(nb)));
	}
	return err;
}

int cfg_parse_array_value(struct cfg_parser *p, struct cfg_val *v)
{
	json_t *arr;
	int err;

	err = nest_enter(p);
	if (err)
		return err;
	arr = json_array();
	if (!arr)
		err = cfg_err_set(p->ctx, &p->tok.loc, ENOMEM, "out of memory");
	if (!err)
		err = cfg_advance(p);
	if (!err)
		err = parse_elements(p, arr);
	if (!err)
		err = cfg_advance(p);
	p->nest--;
	p->depth--;
	if (err) {
		json_decref(arr);
		return err;
	}
	v->t = CV_JSON;
	v->j = arr;
	return 0;
}

static void ctx_init(struct cfg_ctx *c, struct cfg_lang_err *err)
{
	memset(c, 0, sizeof(*c));
	memset(err, 0, sizeof(*err));
	c->err = err;
	c->budget = CFG_BUDGET_BASE;
}

static int ctx_run(struct cfg_ctx *c, json_t **rootp)
{
	struct cfg_parser p = {.ctx = c};
	json_t *root = NULL;
	int err = c->errcode;

	c->vars = json_object();
	if (!err && !c->vars)
		err = cfg_err_set(c, NULL, ENOMEM, "out of memory");
	if (!err && !(root = json_object()))
		err = cfg_err_set(c, NULL, ENOMEM, "out of memory");
	if (!err)
		err = cfg_advance(&p);
	if (!err)
		err = parse_body(&p, root);
	while (c->nsrc)
		cfg_src_pop(c);
	while (c->names) {
		struct cfg_name *n = c->names;

		c->names = n->next;
		free(n);
	}
	json_decref(c->vars);
	free(c->sbuf);
	if (err) {
		json_decref(root);
		root = NULL;
	}
	*rootp = root;
	return err;
}

int cfg_lang_load_file(const char *path, json_t **rootp, struct cfg_lang_err *err)
{
	struct cfg_ctx c;
	struct cfg_loc at = {.line = 1, .col = 1};

	ctx_init(&c, err);
	at.file = name_keep(&c, path);
	if (!at.file)
		cfg_err_set(&c, NULL, ENOMEM, "out of memory");
	else if (strlen(path) > CFG_LANG_MAX_PATH)
		cfg_err_set(&c, &at, ENAMETOOLONG, "path too long");
	else
		open_file(&c, &at, path, false);
	return ctx_run(&c, rootp);
}

int cfg_lang_load_buf(const char *buf, size_t len, const char *name, const char *basedir,
		      json_t **rootp, struct cfg_lang_err *err)
{
	struct cfg_ctx c;
	const char *nm;
	char *dir = NULL;
	struct cfg_loc at = {.line = 1, .col = 1};

	ctx_init(&c, err);
	if (!buf)
		buf = "";
	nm = name_keep(&c, name ? name : "<config>");
	at.file = nm;
	if (nm && basedir)
		dir = strdup(basedir);
	if (!nm || (basedir && !dir)) {
		free(dir);
		cfg_err_set(&c, &at, ENOMEM, "out of memory");
	} else if (len > CFG_LANG_MAX_FILE_SIZE) {
		free(dir);
		cfg_err_set(&c, &at, EFBIG, "configuration too large");
	} else if (src_push(&c, nm, dir, NULL, buf, len, false)) {
		cfg_err_set(&c, &at, ENOMEM, "out of memory");
	}
	c.budget += (uint64_t)len * CFG_BUDGET_PER_BYTE;
	return ctx_run(&c, rootp);
}
