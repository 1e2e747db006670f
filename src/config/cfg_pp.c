/*
 * config/cfg_pp — the C-like preprocessor of manual §5.1 item 8.
 *
 * Directives: #define var expr (expr is evaluated now, not stored as text),
 * #undef, #include expr (textual, the expression must give a string), #if,
 * #elif, #else, #endif, #ifdef, #ifndef. A directive is a line whose first
 * non-blank character is '#'. Inactive branches are skipped line by line:
 * only the directive lines there are looked at (to track nesting), so text
 * in a skipped branch need not be valid.
 */
#include <errno.h>
#include <string.h>

#include "config/cfg_lang_int.h"

static inline struct cfg_src *top(const struct cfg_ctx *c)
{
	return c->src[c->nsrc - 1];
}

static bool word_is(const char *s, size_t len, const char *w)
{
	return strlen(w) == len && !memcmp(s, w, len);
}

static int expect_eol(struct cfg_parser *p, const char *dir)
{
	char nb[64];

	if (p->tok.kind == TK_EOL)
		return 0;
	return cfg_err_set(p->ctx, &p->tok.loc, EBADMSG, "unexpected %s after #%s",
			   cfg_tok_name(&p->tok, nb, sizeof(nb)), dir);
}

/* Evaluate the rest of a directive line as a condition. */
static int eval_cond(struct cfg_parser *p, const char *dir, bool *truth)
{
	struct cfg_val v = {0};
	struct cfg_loc loc = p->tok.loc;
	int err;

	if (p->tok.kind == TK_EOL)
		return cfg_err_set(p->ctx, &loc, EBADMSG, "#%s without an expression",
				   dir);
	err = cfg_expr_parse(p, &v);
	if (!err)
		err = expect_eol(p, dir);
	if (!err) {
		if (v.t == CV_BOOL)
			*truth = v.b;
		else if (v.t == CV_INT)
			*truth = v.i != 0;
		else if (v.t == CV_REAL)
			*truth = v.re != 0;
		else
			err = cfg_err_set(p->ctx, &loc, EBADMSG,
					  "#%s expression must be a boolean or a number",
					  dir);
	}
	cfg_val_clear(&v);
	return err;
}

static int cond_push(struct cfg_ctx *c, const struct cfg_loc *at, bool truth)
{
	struct cfg_cond *cd;

	if (c->ncond >= CFG_LANG_MAX_COND)
		return cfg_err_set(c, at, E2BIG, "#if nested too deeply (limit %d)",
				   CFG_LANG_MAX_COND);
	cd = &c->cond[c->ncond++];
	cd->loc = *at;
	cd->active = truth;
	cd->taken = truth;
	cd->seen_else = false;
	return 0;
}

static int read_name(struct cfg_parser *p, const char *dir, char *name, size_t size,
		     struct cfg_loc *loc)
{
	int err;

	err = cfg_advance(p);
	if (err)
		return err;
	*loc = p->tok.loc;
	if (p->tok.kind != TK_IDENT)
		return cfg_err_set(p->ctx, &p->tok.loc, EBADMSG,
				   "#%s needs a variable name", dir);
	if (p->tok.len >= size)
		return cfg_err_set(p->ctx, &p->tok.loc, EBADMSG,
				   "variable name too long");
	memcpy(name, p->tok.s, p->tok.len);
	name[p->tok.len] = '\0';
	return cfg_advance(p);
}

static bool reserved(const char *name)
{
	static const char *const words[] = {"true", "false",   "null",
					    "I",    "defined", "include"};

	for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcmp(name, words[i]))
			return true;
	return false;
}

static int do_define(struct cfg_parser *p)
{
	struct cfg_ctx *c = p->ctx;
	char name[CFG_LANG_MAX_KEY + 1];
	struct cfg_loc nloc, vloc;
	struct cfg_val v = {0};
	json_t *j = NULL;
	int err;

	err = read_name(p, "define", name, sizeof(name), &nloc);
	if (err)
		return err;
	if (reserved(name))
		return cfg_err_set(c, &nloc, EBADMSG,
				   "'%s' is reserved and cannot be defined", name);
	vloc = p->tok.loc;
	if (p->tok.kind == TK_EOL) {
		/* Like `cc -DNAME`: a bare #define makes the variable 1. */
		j = json_integer(1);
	} else {
		err = cfg_expr_parse(p, &v);
		if (!err)
			err = expect_eol(p, "define");
		if (!err)
			err = cfg_val_to_json(p, &v, &vloc, &j);
		cfg_val_clear(&v);
		if (err)
			return err;
	}
	if (!j || json_object_set_new_nocheck(c->vars, name, j))
		return cfg_err_set(c, &nloc, ENOMEM, "out of memory");
	return 0;
}

static int do_include(struct cfg_parser *p, const struct cfg_loc *at)
{
	struct cfg_ctx *c = p->ctx;
	struct cfg_val v = {0};
	struct cfg_loc vloc;
	int err;

	err = cfg_advance(p);
	if (err)
		return err;
	vloc = p->tok.loc;
	if (p->tok.kind == TK_EOL)
		return cfg_err_set(c, at, EBADMSG, "#include needs a file name");
	err = cfg_expr_parse(p, &v);
	if (!err)
		err = expect_eol(p, "include");
	if (!err && v.t != CV_STR)
		err =
		    cfg_err_set(c, &vloc, EBADMSG, "#include file name must be a string");
	if (!err) {
		c->directive = false;
		err = cfg_src_push_file(c, &vloc, v.s, false);
	}
	cfg_val_clear(&v);
	return err;
}

/* #elif, #else, #endif reached while the current branch is active. */
static int do_branch(struct cfg_parser *p, const char *dir, const struct cfg_loc *at)
{
	struct cfg_ctx *c = p->ctx;
	struct cfg_cond *cd;
	int err;

	if (c->ncond <= top(c)->cond_base)
		return cfg_err_set(c, at, EBADMSG, "#%s without #if", dir);
	cd = &c->cond[c->ncond - 1];
	if (!strcmp(dir, "endif")) {
		c->ncond--;
	} else {
		if (cd->seen_else)
			return cfg_err_set(c, at, EBADMSG, "#%s after #else", dir);
		cd->active = false;
		cd->taken = true;
		if (!strcmp(dir, "elif")) {
			/* A branch was taken: the condition is not evaluated. */
			cfg_lex_skip_line(c);
			return 0;
		}
		cd->seen_else = true;
	}
	err = cfg_advance(p);
	if (err)
		return err;
	return expect_eol(p, dir);
}

static int dispatch(struct cfg_parser *p, const struct cfg_loc *at)
{
	struct cfg_ctx *c = p->ctx;
	const char *w = p->tok.s;
	size_t n = p->tok.len;
	char name[CFG_LANG_MAX_KEY + 1];
	struct cfg_loc nloc;
	bool truth = false;
	int err;

	if (word_is(w, n, "define"))
		return do_define(p);
	if (word_is(w, n, "include"))
		return do_include(p, at);
	if (word_is(w, n, "undef")) {
		err = read_name(p, "undef", name, sizeof(name), &nloc);
		if (!err)
			err = expect_eol(p, "undef");
		if (!err)
			json_object_del(c->vars, name);
		return err;
	}
	if (word_is(w, n, "ifdef") || word_is(w, n, "ifndef")) {
		bool def = n == 5;

		err = read_name(p, def ? "ifdef" : "ifndef", name, sizeof(name), &nloc);
		if (!err)
			err = expect_eol(p, def ? "ifdef" : "ifndef");
		if (err)
			return err;
		truth = json_object_get(c->vars, name) != NULL;
		return cond_push(c, at, def ? truth : !truth);
	}
	if (word_is(w, n, "if")) {
		err = cfg_advance(p);
		if (!err)
			err = eval_cond(p, "if", &truth);
		if (!err)
			err = cond_push(c, at, truth);
		return err;
	}
	if (word_is(w, n, "elif") || word_is(w, n, "else") || word_is(w, n, "endif")) {
		char dir[8];

		memcpy(dir, w, n);
		dir[n] = '\0';
		return do_branch(p, dir, at);
	}
	return cfg_err_set(c, at, EBADMSG, "unknown directive '#%.*s'",
			   n > 40 ? 40 : (int)n, w);
}

int cfg_pp_directive(struct cfg_ctx *c)
{
	struct cfg_parser p = {.ctx = c};
	struct cfg_loc at;
	int err;

	cfg_lex_loc(c, &at);
	top(c)->p++; /* '#' */
	c->directive = true;
	err = cfg_advance(&p);
	if (!err && p.tok.kind != TK_IDENT)
		err = cfg_err_set(c, &at, EBADMSG, "missing directive name after '#'");
	if (!err)
		err = dispatch(&p, &at);
	c->directive = false;
	return err;
}

/* In a skipped branch: #elif at the branch's own level. */
static int skip_elif(struct cfg_ctx *c, struct cfg_cond *cd, bool *resume)
{
	struct cfg_parser p = {.ctx = c};
	bool truth = false;
	int err;

	c->directive = true;
	err = cfg_advance(&p);
	if (!err)
		err = eval_cond(&p, "elif", &truth);
	c->directive = false;
	if (err)
		return err;
	if (truth) {
		cd->active = true;
		cd->taken = true;
		*resume = true;
	}
	return 0;
}

/* Handle a directive line met in a skipped branch; *depth counts nested #if. */
static int skip_directive(struct cfg_ctx *c, const struct cfg_loc *at, const char *w,
			  size_t n, unsigned *depth, bool *resume)
{
	struct cfg_src *s = top(c);
	struct cfg_cond *cd = &c->cond[c->ncond - 1];

	if (word_is(w, n, "if") || word_is(w, n, "ifdef") || word_is(w, n, "ifndef")) {
		(*depth)++;
	} else if (word_is(w, n, "endif")) {
		if (*depth) {
			(*depth)--;
		} else {
			c->ncond--;
			*resume = true;
		}
	} else if (*depth == 0 && (word_is(w, n, "else") || word_is(w, n, "elif"))) {
		if (cd->seen_else)
			return cfg_err_set(c, at, EBADMSG, "#%.*s after #else", (int)n,
					   w);
		if (n == 4 && w[1] == 'l' && w[2] == 'i') {
			if (cd->taken)
				return 0;
			s->p = w + n;
			return skip_elif(c, cd, resume);
		}
		cd->seen_else = true;
		if (!cd->taken) {
			cd->active = true;
			cd->taken = true;
			*resume = true;
		}
	}
	return 0;
}

int cfg_pp_skip_inactive(struct cfg_ctx *c)
{
	struct cfg_src *s = top(c);
	unsigned depth = 0;
	bool resume = false;
	int err;

	while (s->p < s->end && !resume) {
		const char *p = s->p, *e = s->end, *w;
		struct cfg_loc at;

		while (p < e && (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\f' ||
				 *p == '\v'))
			p++;
		if (p < e && *p == '#') {
			at.file = s->name;
			at.line = s->line;
			at.col = (unsigned)(p - s->line_start) + 1;
			p++;
			while (p < e && (*p == ' ' || *p == '\t'))
				p++;
			w = p;
			while (p < e && ((*p >= 'a' && *p <= 'z')))
				p++;
			s->p = p;
			err = skip_directive(c, &at, w, (size_t)(p - w), &depth, &resume);
			if (err)
				return err;
			/* An evaluated #elif consumed its line already. */
			if (s->line != at.line)
				continue;
		}
		s->p = p;
		cfg_lex_skip_line(c);
	}
	return 0;
}
