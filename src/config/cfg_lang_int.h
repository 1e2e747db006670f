/*
 * config/cfg_lang_int — internals shared by the configuration language
 * files: the lexer with its source stack (cfg_lex.c), the preprocessor
 * (cfg_pp.c), the expression evaluator (cfg_eval.c), merge and dump
 * (cfg_merge.c) and the JSON parser (cfg_lang.c). Not for other modules.
 *
 * One load is one struct cfg_ctx. Sources (the loaded file, #include'd
 * files, include'd files) form a stack; the lexer reads the top one. A
 * textual #include source is popped silently at its end; an `include` source
 * is a barrier: its end is reported as TK_EOF so that the parser can merge
 * what it read, then pop it.
 */
#ifndef CONFIG_CFG_LANG_INT_H
#define CONFIG_CFG_LANG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "config/cfg_lang.h"

enum cfg_tk {
	TK_EOF = 0,
	TK_EOL,	  /* end of a directive line */
	TK_IDENT, /* text in src */
	TK_INT,	  /* i */
	TK_REAL,  /* d */
	TK_STR,	  /* s/len in the scratch buffer */
	TK_BQ,	  /* a literal part of a backquote string; bq_more: "${" follows */
	TK_LBRACE,
	TK_RBRACE,
	TK_LBRACK,
	TK_RBRACK,
	TK_LPAREN,
	TK_RPAREN,
	TK_COMMA,
	TK_COLON,
	TK_PLUS,
	TK_MINUS,
	TK_STAR,
	TK_SLASH,
	TK_NOT,
	TK_OR,
	TK_AND,
	TK_EQ,
	TK_NE,
	TK_LT,
	TK_LE,
	TK_GT,
	TK_GE,
};

struct cfg_loc {
	const char *file; /* borrowed: lives as long as the ctx */
	unsigned line, col;
};

struct cfg_tok {
	enum cfg_tk kind;
	struct cfg_loc loc;
	const char *s; /* TK_IDENT: in the source; TK_STR/TK_BQ: scratch */
	size_t len;
	int64_t i;
	double d;
	bool bq_more;
};

struct cfg_src {
	const char *name; /* borrowed from ctx->names */
	char *dir;	  /* owned; NULL: includes forbidden */
	char *own;	  /* owned buffer, NULL if borrowed */
	const char *p, *end, *line_start;
	unsigned line;
	dev_t dev;
	ino_t ino;
	bool has_id;	    /* dev/ino are valid */
	bool barrier;	    /* `include`: end of file ends the parse of the body */
	bool bol;	    /* only blanks/comments since the line began */
	unsigned cond_base; /* #if depth when the source was pushed */
};

struct cfg_cond {
	struct cfg_loc loc;
	bool active; /* the current branch is being read */
	bool taken;  /* one branch was (or is) taken */
	bool seen_else;
};

struct cfg_name {
	struct cfg_name *next;
	char name[];
};

struct cfg_ctx {
	struct cfg_src *src[CFG_LANG_MAX_INCLUDE_DEPTH];
	unsigned nsrc;
	unsigned nincludes;
	struct cfg_name *names;
	struct cfg_cond cond[CFG_LANG_MAX_COND];
	unsigned ncond;
	json_t *vars; /* preprocessor variables, name -> value */
	char *sbuf;   /* scratch for string tokens */
	size_t scap;
	bool directive;	 /* lexing a directive line: newline is TK_EOL */
	uint64_t budget; /* bytes/nodes that variable copies and concatenation may still
			    make */
	struct cfg_lang_err *err;
	int errcode; /* first error, 0 if none */
};

/* Value of an expression while it is evaluated. */
enum cfg_vt { CV_NULL = 0, CV_BOOL, CV_INT, CV_REAL, CV_CPLX, CV_STR, CV_JSON };

struct cfg_val {
	enum cfg_vt t;
	bool b;
	int64_t i;
	double re, im; /* CV_REAL: re; CV_CPLX: both */
	char *s;       /* CV_STR: owned, NUL-terminated */
	size_t len, cap;
	json_t *j; /* CV_JSON: owned reference to an object or array */
};

struct cfg_parser {
	struct cfg_ctx *ctx;
	struct cfg_tok tok;
	unsigned depth; /* expression depth */
	unsigned nest;	/* object/array nesting */
	unsigned skip;	/* >0: parse without evaluating (short circuit) */
};

/* cfg_lang.c */
int cfg_err_set(struct cfg_ctx *c, const struct cfg_loc *loc, int code, const char *fmt,
		...) __attribute__((format(printf, 4, 5)));
int cfg_parse_object_value(struct cfg_parser *p, struct cfg_val *v);
int cfg_parse_array_value(struct cfg_parser *p, struct cfg_val *v);
int cfg_src_push_file(struct cfg_ctx *c, const struct cfg_loc *at, const char *rel,
		      bool barrier);
void cfg_src_pop(struct cfg_ctx *c);

/* cfg_lex.c */
int cfg_lex_next(struct cfg_ctx *c, struct cfg_tok *t);
int cfg_lex_bq_part(struct cfg_ctx *c, struct cfg_tok *t, const struct cfg_loc *start);
void cfg_lex_skip_line(struct cfg_ctx *c);
void cfg_lex_loc(const struct cfg_ctx *c, struct cfg_loc *loc);
const char *cfg_tok_name(const struct cfg_tok *t, char *buf, size_t size);

/* cfg_pp.c */
int cfg_pp_directive(struct cfg_ctx *c);
int cfg_pp_skip_inactive(struct cfg_ctx *c);

/* cfg_eval.c */
int cfg_advance(struct cfg_parser *p);
int cfg_expr_parse(struct cfg_parser *p, struct cfg_val *v);
void cfg_val_clear(struct cfg_val *v);
int cfg_val_to_json(struct cfg_parser *p, struct cfg_val *v, const struct cfg_loc *loc,
		    json_t **jp);
bool cfg_is_ident(const struct cfg_tok *t, const char *word);

/* cfg_merge.c */
int cfg_merge_member(json_t *obj, const char *key, size_t klen, json_t *val);
int cfg_merge_objects(json_t *dst, json_t *src);
void cfg_fmt_real(double d, char *buf, size_t size);

#endif
