/*
 * config/cfg_eval — expressions of the configuration language (§5.1 items
 * 1, 2, 8, 9), evaluated while they are parsed.
 *
 * Precedence as in C, lowest first: ||, &&, == !=, < <= > >=, + -, * /, then
 * unary ! - +. && and || short-circuit: the side not evaluated is parsed in
 * "skip" mode (no type checks, undefined variables allowed) so that
 * `defined(X) && X > 2` works. Integers stay integers while exact; any real
 * makes the result real; I is the imaginary unit. Strings are built in place
 * (amortised append) so long concatenation chains stay linear.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_lang_int.h"

enum { PREC_OR = 1, PREC_AND, PREC_EQ, PREC_REL, PREC_ADD, PREC_MUL };

static int parse_binary(struct cfg_parser *p, int prec, struct cfg_val *v);
static int parse_unary(struct cfg_parser *p, struct cfg_val *v);

int cfg_advance(struct cfg_parser *p)
{
	return cfg_lex_next(p->ctx, &p->tok);
}

bool cfg_is_ident(const struct cfg_tok *t, const char *word)
{
	size_t n = strlen(word);

	return t->kind == TK_IDENT && t->len == n && !memcmp(t->s, word, n);
}

void cfg_val_clear(struct cfg_val *v)
{
	free(v->s);
	json_decref(v->j);
	memset(v, 0, sizeof(*v));
}

static const char *type_name(const struct cfg_val *v)
{
	switch (v->t) {
	case CV_NULL:
		return "null";
	case CV_BOOL:
		return "boolean";
	case CV_INT:
	case CV_REAL:
		return "number";
	case CV_CPLX:
		return "complex number";
	case CV_STR:
		return "string";
	default:
		return json_is_array(v->j) ? "array" : "object";
	}
}

static int charge(struct cfg_parser *p, const struct cfg_loc *loc, uint64_t cost)
{
	if (cost > p->ctx->budget)
		return cfg_err_set(p->ctx, loc, E2BIG,
				   "expansion too large (variables or concatenation)");
	p->ctx->budget -= cost;
	return 0;
}

static int str_append(struct cfg_parser *p, struct cfg_val *v, const char *s, size_t n,
		      const struct cfg_loc *loc)
{
	if (v->len + n > CFG_LANG_MAX_STRING)
		return cfg_err_set(p->ctx, loc, E2BIG, "string too long");
	if (v->len + n + 1 > v->cap) {
		size_t cap = v->cap ? v->cap : 32;
		char *ns;

		while (cap < v->len + n + 1)
			cap *= 2;
		ns = realloc(v->s, cap);
		if (!ns)
			return cfg_err_set(p->ctx, loc, ENOMEM, "out of memory");
		v->s = ns;
		v->cap = cap;
	}
	memcpy(v->s + v->len, s, n);
	v->len += n;
	v->s[v->len] = '\0';
	return 0;
}

static int str_set(struct cfg_parser *p, struct cfg_val *v, const char *s, size_t n,
		   const struct cfg_loc *loc)
{
	v->t = CV_STR;
	return str_append(p, v, s, n, loc);
}

/* Text of a scalar for concatenation and ${}; false if v has no text form. */
static bool val_text(const struct cfg_val *v, bool templ, char *buf, size_t size)
{
	char re[40], im[40];

	switch (v->t) {
	case CV_INT:
		snprintf(buf, size, "%" PRId64, v->i);
		return true;
	case CV_REAL:
		cfg_fmt_real(v->re, buf, size);
		return true;
	case CV_CPLX:
		cfg_fmt_real(v->re, re, sizeof(re));
		cfg_fmt_real(fabs(v->im), im, sizeof(im));
		snprintf(buf, size, "%s%s%s*I", re, signbit(v->im) ? "-" : "+", im);
		return true;
	case CV_BOOL:
		snprintf(buf, size, "%s", v->b ? "true" : "false");
		return templ;
	case CV_NULL:
		snprintf(buf, size, "null");
		return templ;
	default:
		return false;
	}
}

static int type_error(struct cfg_parser *p, const struct cfg_loc *loc, const char *op,
		      const struct cfg_val *a, const struct cfg_val *b)
{
	if (!b)
		return cfg_err_set(p->ctx, loc, EBADMSG,
				   "operator '%s' cannot be applied to %s", op,
				   type_name(a));
	return cfg_err_set(p->ctx, loc, EBADMSG,
			   "operator '%s' cannot be applied to %s and %s", op,
			   type_name(a), type_name(b));
}

static bool is_num(const struct cfg_val *v)
{
	return v->t == CV_INT || v->t == CV_REAL || v->t == CV_CPLX;
}

static double as_real(const struct cfg_val *v)
{
	return v->t == CV_INT ? (double)v->i : v->re;
}

static int set_real(struct cfg_parser *p, struct cfg_val *v, double re, double im,
		    bool cplx, const struct cfg_loc *loc)
{
	if (!isfinite(re) || !isfinite(im))
		return cfg_err_set(p->ctx, loc, EBADMSG, "numeric overflow");
	v->t = cplx ? CV_CPLX : CV_REAL;
	v->re = re;
	v->im = cplx ? im : 0;
	return 0;
}

static int arith_int(struct cfg_parser *p, enum cfg_tk op, struct cfg_val *a,
		     const struct cfg_val *b, const struct cfg_loc *loc)
{
	int64_t r;
	bool ovf;

	switch (op) {
	case TK_PLUS:
		ovf = __builtin_add_overflow(a->i, b->i, &r);
		break;
	case TK_MINUS:
		ovf = __builtin_sub_overflow(a->i, b->i, &r);
		break;
	case TK_STAR:
		ovf = __builtin_mul_overflow(a->i, b->i, &r);
		break;
	default:
		if (b->i == 0)
			return cfg_err_set(p->ctx, loc, EBADMSG, "division by zero");
		ovf = (a->i == INT64_MIN && b->i == -1) || a->i % b->i != 0;
		if (!ovf)
			r = a->i / b->i;
		break;
	}
	if (!ovf) {
		a->i = r;
		return 0;
	}
	switch (op) {
	case TK_PLUS:
		return set_real(p, a, (double)a->i + (double)b->i, 0, false, loc);
	case TK_MINUS:
		return set_real(p, a, (double)a->i - (double)b->i, 0, false, loc);
	case TK_STAR:
		return set_real(p, a, (double)a->i * (double)b->i, 0, false, loc);
	default:
		return set_real(p, a, (double)a->i / (double)b->i, 0, false, loc);
	}
}

static int arith(struct cfg_parser *p, enum cfg_tk op, struct cfg_val *a,
		 const struct cfg_val *b, const struct cfg_loc *loc)
{
	double ar = as_real(a), ai = a->t == CV_CPLX ? a->im : 0;
	double br = as_real(b), bi = b->t == CV_CPLX ? b->im : 0;
	bool cplx = a->t == CV_CPLX || b->t == CV_CPLX;
	double den;

	if (a->t == CV_INT && b->t == CV_INT)
		return arith_int(p, op, a, b, loc);
	switch (op) {
	case TK_PLUS:
		return set_real(p, a, ar + br, ai + bi, cplx, loc);
	case TK_MINUS:
		return set_real(p, a, ar - br, ai - bi, cplx, loc);
	case TK_STAR:
		return set_real(p, a, ar * br - ai * bi, ar * bi + ai * br, cplx, loc);
	default:
		den = br * br + bi * bi;
		if (br == 0 && bi == 0)
			return cfg_err_set(p->ctx, loc, EBADMSG, "division by zero");
		if (!cplx)
			return set_real(p, a, ar / br, 0, false, loc);
		if (!isfinite(den))
			return cfg_err_set(p->ctx, loc, EBADMSG, "numeric overflow");
		return set_real(p, a, (ar * br + ai * bi) / den,
				(ai * br - ar * bi) / den, true, loc);
	}
}

static int concat(struct cfg_parser *p, struct cfg_val *a, struct cfg_val *b,
		  const struct cfg_loc *loc)
{
	char buf[96];
	int err;

	if (a->t != CV_STR) {
		struct cfg_val s = {0};

		if (!val_text(a, false, buf, sizeof(buf)))
			return type_error(p, loc, "+", a, b);
		err = str_set(p, &s, buf, strlen(buf), loc);
		if (!err)
			err = str_append(p, &s, b->s, b->len, loc);
		cfg_val_clear(a);
		*a = s;
		if (!err)
			err = charge(p, loc, a->len);
		return err;
	}
	if (b->t == CV_STR) {
		err = str_append(p, a, b->s, b->len, loc);
	} else if (val_text(b, false, buf, sizeof(buf))) {
		err = str_append(p, a, buf, strlen(buf), loc);
	} else {
		return type_error(p, loc, "+", a, b);
	}
	if (!err)
		err = charge(p, loc, b->t == CV_STR ? b->len : strlen(buf));
	return err;
}

static int compare(struct cfg_parser *p, enum cfg_tk op, const char *opname,
		   struct cfg_val *a, const struct cfg_val *b, const struct cfg_loc *loc)
{
	int c;

	if (a->t == CV_STR && b->t == CV_STR) {
		size_t n = a->len < b->len ? a->len : b->len;

		c = memcmp(a->s, b->s, n);
		if (!c)
			c = a->len < b->len ? -1 : a->len > b->len;
	} else if ((a->t == CV_INT || a->t == CV_REAL) &&
		   (b->t == CV_INT || b->t == CV_REAL)) {
		if (a->t == CV_INT && b->t == CV_INT)
			c = a->i < b->i ? -1 : a->i > b->i;
		else
			c = as_real(a) < as_real(b) ? -1 : as_real(a) > as_real(b);
	} else {
		return type_error(p, loc, opname, a, b);
	}
	cfg_val_clear(a);
	a->t = CV_BOOL;
	a->b = op == TK_LT ? c < 0 : op == TK_LE ? c <= 0 : op == TK_GT ? c > 0 : c >= 0;
	return 0;
}

static bool equal(const struct cfg_val *a, const struct cfg_val *b)
{
	const struct cfg_val *x = a, *y = b;

	if (a->t == CV_BOOL && b->t == CV_BOOL)
		return a->b == b->b;
	if (a->t == CV_BOOL || b->t == CV_BOOL) {
		/* 0 and 1 are synonyms of false and true (§5.1 item 3). */
		const struct cfg_val *bv = a->t == CV_BOOL ? a : b,
				     *n = a->t == CV_BOOL ? b : a;

		return (n->t == CV_INT || n->t == CV_REAL) &&
		       as_real(n) == (bv->b ? 1.0 : 0.0);
	}
	if (is_num(a) && is_num(b)) {
		if (a->t == CV_INT && b->t == CV_INT)
			return a->i == b->i;
		return as_real(x) == as_real(y) &&
		       (x->t == CV_CPLX ? x->im : 0) == (y->t == CV_CPLX ? y->im : 0);
	}
	if (a->t != b->t)
		return false;
	if (a->t == CV_NULL)
		return true;
	if (a->t == CV_STR)
		return a->len == b->len && !memcmp(a->s, b->s, a->len);
	return json_equal(a->j, b->j);
}

static const char *op_text(enum cfg_tk k)
{
	switch (k) {
	case TK_PLUS:
		return "+";
	case TK_MINUS:
		return "-";
	case TK_STAR:
		return "*";
	case TK_SLASH:
		return "/";
	case TK_EQ:
		return "==";
	case TK_NE:
		return "!=";
	case TK_LT:
		return "<";
	case TK_LE:
		return "<=";
	case TK_GT:
		return ">";
	default:
		return ">=";
	}
}

static int apply(struct cfg_parser *p, const struct cfg_tok *op, struct cfg_val *a,
		 struct cfg_val *b)
{
	const struct cfg_loc *loc = &op->loc;
	const char *opname = op_text(op->kind);
	bool eq;

	if (p->skip) {
		cfg_val_clear(a);
		return 0;
	}
	switch (op->kind) {
	case TK_PLUS:
		if (a->t == CV_STR || b->t == CV_STR)
			return concat(p, a, b, loc);
		/* fall through */
	case TK_MINUS:
	case TK_STAR:
	case TK_SLASH:
		if (!is_num(a) || !is_num(b))
			return type_error(p, loc, opname, a, b);
		return arith(p, op->kind, a, b, loc);
	case TK_EQ:
	case TK_NE:
		eq = equal(a, b);
		cfg_val_clear(a);
		a->t = CV_BOOL;
		a->b = op->kind == TK_EQ ? eq : !eq;
		return 0;
	default:
		return compare(p, op->kind, opname, a, b, loc);
	}
}

static int truth(struct cfg_parser *p, const struct cfg_val *v, const struct cfg_loc *loc,
		 const char *op, bool *t)
{
	switch (v->t) {
	case CV_BOOL:
		*t = v->b;
		return 0;
	case CV_INT:
		*t = v->i != 0;
		return 0;
	case CV_REAL:
		*t = v->re != 0;
		return 0;
	default:
		return type_error(p, loc, op, v, NULL);
	}
}

static int prec_of(enum cfg_tk k)
{
	switch (k) {
	case TK_OR:
		return PREC_OR;
	case TK_AND:
		return PREC_AND;
	case TK_EQ:
	case TK_NE:
		return PREC_EQ;
	case TK_LT:
	case TK_LE:
	case TK_GT:
	case TK_GE:
		return PREC_REL;
	case TK_PLUS:
	case TK_MINUS:
		return PREC_ADD;
	case TK_STAR:
	case TK_SLASH:
		return PREC_MUL;
	default:
		return 0;
	}
}

/* a && b, a || b: b is evaluated only if it decides the result. */
static int logical(struct cfg_parser *p, const struct cfg_tok *op, int prec,
		   struct cfg_val *v)
{
	const char *name = op->kind == TK_AND ? "&&" : "||";
	struct cfg_val r = {0};
	bool l = false, rt = false, decided;
	int err = 0;

	if (!p->skip)
		err = truth(p, v, &op->loc, name, &l);
	if (err)
		return err;
	decided = op->kind == TK_AND ? !l : l;
	err = cfg_advance(p);
	if (err)
		return err;
	if (decided)
		p->skip++;
	err = parse_binary(p, prec + 1, &r);
	if (decided)
		p->skip--;
	if (!err && !p->skip && !decided)
		err = truth(p, &r, &op->loc, name, &rt);
	cfg_val_clear(&r);
	cfg_val_clear(v);
	v->t = CV_BOOL;
	v->b = decided ? l : rt;
	return err;
}

static int parse_binary(struct cfg_parser *p, int prec, struct cfg_val *v)
{
	int err = parse_unary(p, v);

	while (!err) {
		struct cfg_tok op = p->tok;
		int oprec = prec_of(op.kind);
		struct cfg_val r = {0};

		if (!oprec || oprec < prec)
			break;
		if (op.kind == TK_AND || op.kind == TK_OR) {
			err = logical(p, &op, oprec, v);
			continue;
		}
		err = cfg_advance(p);
		if (!err)
			err = parse_binary(p, oprec + 1, &r);
		if (!err)
			err = apply(p, &op, v, &r);
		cfg_val_clear(&r);
	}
	return err;
}

int cfg_expr_parse(struct cfg_parser *p, struct cfg_val *v)
{
	int err = parse_binary(p, PREC_OR, v);

	if (err)
		cfg_val_clear(v);
	return err;
}

/* Cost of copying a variable's value: nodes plus string bytes, capped at limit+1. */
static uint64_t json_cost(const json_t *j, uint64_t limit)
{
	uint64_t cost = 16;
	const char *k;
	json_t *e;
	size_t i;

	if (json_is_string(j))
		return cost + json_string_length(j);
	if (json_is_object(j)) {
		json_object_foreach((json_t *)j, k, e)
		{
			cost += strlen(k) + json_cost(e, limit);
			if (cost > limit)
				return limit + 1;
		}
	} else if (json_is_array(j)) {
		json_array_foreach(j, i, e)
		{
			cost += json_cost(e, limit);
			if (cost > limit)
				return limit + 1;
		}
	}
	return cost;
}

static int json_to_val(struct cfg_parser *p, const json_t *j, const struct cfg_loc *loc,
		       struct cfg_val *v)
{
	int err;

	switch (json_typeof(j)) {
	case JSON_INTEGER:
		v->t = CV_INT;
		v->i = json_integer_value(j);
		return 0;
	case JSON_REAL:
		v->t = CV_REAL;
		v->re = json_real_value(j);
		return 0;
	case JSON_TRUE:
	case JSON_FALSE:
		v->t = CV_BOOL;
		v->b = json_is_true(j);
		return 0;
	case JSON_NULL:
		v->t = CV_NULL;
		return 0;
	case JSON_STRING:
		err = charge(p, loc, json_string_length(j));
		if (!err)
			err = str_set(p, v, json_string_value(j), json_string_length(j),
				      loc);
		return err;
	default:
		if (cfg_lang_complex_get(j, &v->re, &v->im)) {
			v->t = CV_CPLX;
			return 0;
		}
		err = charge(p, loc, json_cost(j, p->ctx->budget));
		if (err)
			return err;
		v->j = json_deep_copy(j);
		if (!v->j)
			return cfg_err_set(p->ctx, loc, ENOMEM, "out of memory");
		v->t = CV_JSON;
		return 0;
	}
}

int cfg_val_to_json(struct cfg_parser *p, struct cfg_val *v, const struct cfg_loc *loc,
		    json_t **jp)
{
	json_t *j = NULL, *a;

	switch (v->t) {
	case CV_NULL:
		j = json_null();
		break;
	case CV_BOOL:
		j = json_boolean(v->b);
		break;
	case CV_INT:
		j = json_integer(v->i);
		break;
	case CV_REAL:
		j = json_real(v->re);
		break;
	case CV_STR:
		j = json_stringn_nocheck(v->s ? v->s : "", v->len);
		break;
	case CV_JSON:
		j = v->j;
		v->j = NULL;
		break;
	case CV_CPLX:
		j = json_object();
		a = json_pack("[ff]", v->re, v->im);
		if (!j || !a || json_object_set_new_nocheck(j, CFG_LANG_COMPLEX_KEY, a)) {
			json_decref(j);
			j = NULL;
		}
		break;
	}
	cfg_val_clear(v);
	*jp = j;
	if (!j)
		return cfg_err_set(p->ctx, loc, ENOMEM, "out of memory");
	return 0;
}

static int depth_enter(struct cfg_parser *p, const struct cfg_loc *loc)
{
	if (p->depth >= CFG_LANG_MAX_EXPR_DEPTH)
		return cfg_err_set(p->ctx, loc, E2BIG,
				   "expression nested too deeply (limit %d)",
				   CFG_LANG_MAX_EXPR_DEPTH);
	p->depth++;
	return 0;
}

static int parse_defined(struct cfg_parser *p, struct cfg_val *v)
{
	bool paren;
	int err;

	err = cfg_advance(p);
	if (err)
		return err;
	paren = p->tok.kind == TK_LPAREN;
	if (paren && (err = cfg_advance(p)))
		return err;
	if (p->tok.kind != TK_IDENT)
		return cfg_err_set(p->ctx, &p->tok.loc, EBADMSG,
				   "defined needs a variable name");
	v->t = CV_BOOL;
	v->b = json_object_getn(p->ctx->vars, p->tok.s, p->tok.len) != NULL;
	err = cfg_advance(p);
	if (err || !paren)
		return err;
	if (p->tok.kind != TK_RPAREN)
		return cfg_err_set(p->ctx, &p->tok.loc, EBADMSG,
				   "expected ')' after defined(name");
	return cfg_advance(p);
}

static int parse_ident(struct cfg_parser *p, struct cfg_val *v)
{
	struct cfg_tok *t = &p->tok;
	const json_t *j;
	int err;

	if (cfg_is_ident(t, "true") || cfg_is_ident(t, "false")) {
		v->t = CV_BOOL;
		v->b = t->len == 4;
	} else if (cfg_is_ident(t, "null")) {
		v->t = CV_NULL;
	} else if (cfg_is_ident(t, "I")) {
		v->t = CV_CPLX;
		v->re = 0;
		v->im = 1;
	} else if (cfg_is_ident(t, "defined")) {
		return parse_defined(p, v);
	} else if (cfg_is_ident(t, "include")) {
		return cfg_err_set(p->ctx, &t->loc, EBADMSG,
				   "'include' is only allowed in place of a property "
				   "(files cannot be included in arrays or values)");
	} else {
		j = json_object_getn(p->ctx->vars, t->s, t->len);
		if (!j && !p->skip)
			return cfg_err_set(p->ctx, &t->loc, EBADMSG,
					   "undefined variable '%.*s'",
					   t->len > 60 ? 60 : (int)t->len, t->s);
		if (j && !p->skip && (err = json_to_val(p, j, &t->loc, v)))
			return err;
	}
	return cfg_advance(p);
}

/* `text${expr}text...`: the lexer gives the literal parts, we evaluate the rest. */
static int parse_template(struct cfg_parser *p, struct cfg_val *v)
{
	struct cfg_loc start = p->tok.loc;
	char buf[96];
	int err;

	err = str_set(p, v, p->tok.s, p->tok.len, &start);
	while (!err && p->tok.bq_more) {
		struct cfg_val e = {0};
		struct cfg_loc eloc;

		err = depth_enter(p, &p->tok.loc);
		if (err)
			break;
		err = cfg_advance(p);
		eloc = p->tok.loc;
		if (!err)
			err = cfg_expr_parse(p, &e);
		if (!err && p->tok.kind != TK_RBRACE)
			err = cfg_err_set(p->ctx, &p->tok.loc, EBADMSG,
					  "expected '}' to close '${'");
		if (!err && !p->skip) {
			if (e.t == CV_STR)
				err = str_append(p, v, e.s, e.len, &eloc);
			else if (val_text(&e, true, buf, sizeof(buf)))
				err = str_append(p, v, buf, strlen(buf), &eloc);
			else
				err =
				    cfg_err_set(p->ctx, &eloc, EBADMSG,
						"cannot insert %s in a backquote string",
						type_name(&e));
			if (!err)
				err =
				    charge(p, &eloc, e.t == CV_STR ? e.len : strlen(buf));
		}
		cfg_val_clear(&e);
		p->depth--;
		if (!err)
			err = cfg_lex_bq_part(p->ctx, &p->tok, &start);
		if (!err)
			err = str_append(p, v, p->tok.s, p->tok.len, &start);
	}
	if (!err)
		err = cfg_advance(p);
	return err;
}

static int parse_primary(struct cfg_parser *p, struct cfg_val *v)
{
	struct cfg_tok *t = &p->tok;
	struct cfg_loc loc = t->loc;
	char nb[64];
	int err;

	switch (t->kind) {
	case TK_INT:
		v->t = CV_INT;
		v->i = t->i;
		return cfg_advance(p);
	case TK_REAL:
		v->t = CV_REAL;
		v->re = t->d;
		return cfg_advance(p);
	case TK_STR:
		err = str_set(p, v, t->s, t->len, &loc);
		return err ? err : cfg_advance(p);
	case TK_BQ:
		return parse_template(p, v);
	case TK_IDENT:
		return parse_ident(p, v);
	case TK_LBRACE:
		return cfg_parse_object_value(p, v);
	case TK_LBRACK:
		return cfg_parse_array_value(p, v);
	case TK_LPAREN:
		err = depth_enter(p, &loc);
		if (err)
			return err;
		err = cfg_advance(p);
		if (!err)
			err = cfg_expr_parse(p, v);
		if (!err && t->kind != TK_RPAREN)
			err = cfg_err_set(p->ctx, &t->loc, EBADMSG,
					  "expected ')', found %s",
					  cfg_tok_name(t, nb, sizeof(nb)));
		p->depth--;
		return err ? err : cfg_advance(p);
	default:
		return cfg_err_set(p->ctx, &loc, EBADMSG, "expected a value, found %s",
				   cfg_tok_name(t, nb, sizeof(nb)));
	}
}

static int negate(struct cfg_parser *p, const struct cfg_tok *op, struct cfg_val *v)
{
	bool t;
	int err;

	switch (op->kind) {
	case TK_NOT:
		err = truth(p, v, &op->loc, "!", &t);
		if (err)
			return err;
		cfg_val_clear(v);
		v->t = CV_BOOL;
		v->b = !t;
		return 0;
	case TK_MINUS:
		if (v->t == CV_INT && v->i != INT64_MIN) {
			v->i = -v->i;
			return 0;
		}
		if (v->t == CV_INT)
			return set_real(p, v, -(double)v->i, 0, false, &op->loc);
		if (v->t == CV_REAL || v->t == CV_CPLX) {
			v->re = -v->re;
			v->im = -v->im;
			return 0;
		}
		return type_error(p, &op->loc, "-", v, NULL);
	default:
		return is_num(v) ? 0 : type_error(p, &op->loc, "+", v, NULL);
	}
}

static int parse_unary(struct cfg_parser *p, struct cfg_val *v)
{
	struct cfg_tok op = p->tok;
	int err;

	if (op.kind != TK_NOT && op.kind != TK_MINUS && op.kind != TK_PLUS)
		return parse_primary(p, v);
	err = depth_enter(p, &op.loc);
	if (err)
		return err;
	err = cfg_advance(p);
	if (!err)
		err = parse_unary(p, v);
	p->depth--;
	if (err)
		return err;
	if (p->skip) {
		cfg_val_clear(v);
		return 0;
	}
	return negate(p, &op, v);
}
