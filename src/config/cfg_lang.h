/*
 * config/cfg_lang — the configuration language of manual §5.1 and §5.1.1.
 *
 * Reads the extended JSON of the configuration file (comments, unquoted
 * property names, trailing commas, optional top-level braces, duplicate
 * properties merged, `include "file",`, a C-like preprocessor with evaluated
 * #define, expressions with complex numbers, backquote template strings) and
 * produces a plain jansson tree. The typed layer (cfg_ims*, cfg_ue*) reads
 * that tree; nothing else in the server parses configuration text.
 *
 * A complex value is stored in the tree as an object whose only key is
 * "__complex__", holding [re, im]; test it with cfg_lang_is_complex().
 *
 * Every failure fills a struct cfg_lang_err with the file, line and column
 * where the problem is (the included file when it is in an included file)
 * and a message; cfg_lang_err_print() writes it as `FILE:LINE:COL: message`.
 * See docs/config-syntax.md for the language as implemented and its limits.
 */
#ifndef CONFIG_CFG_LANG_H
#define CONFIG_CFG_LANG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

enum {
	CFG_LANG_MAX_NEST = 128,	 /* object/array nesting */
	CFG_LANG_MAX_EXPR_DEPTH = 256,	 /* nesting of (), unary ops, ${}, objects */
	CFG_LANG_MAX_INCLUDE_DEPTH = 32, /* files open at once */
	CFG_LANG_MAX_INCLUDES = 10000,	 /* files opened during one load */
	CFG_LANG_MAX_COND = 64,		 /* nested #if in one load */
	CFG_LANG_MAX_KEY = 255,		 /* bytes in a property name */
	CFG_LANG_MAX_PATH = 4095,	 /* bytes in an include path */
};

#define CFG_LANG_MAX_FILE_SIZE ((size_t)1 << 30) /* bytes per source file */
#define CFG_LANG_MAX_STRING ((size_t)64 << 20)	 /* bytes per string value */
#define CFG_LANG_COMPLEX_KEY "__complex__"

struct cfg_lang_err {
	char file[512]; /* file where the error is ("" if none) */
	unsigned line;	/* 1-based */
	unsigned col;	/* 1-based, in bytes */
	char msg[256];
};

/*
 * Load and evaluate a configuration file. On success *rootp is a new JSON
 * object (the caller owns the reference) and 0 is returned. On failure
 * *rootp is NULL, err is filled and an errno value is returned (EBADMSG for
 * an error in the text, ENOENT/EACCES/... for a file that cannot be read,
 * ELOOP for an include cycle, E2BIG for a limit, ENOMEM).
 */
int cfg_lang_load_file(const char *path, json_t **rootp, struct cfg_lang_err *err);

/*
 * Same for text in memory. name is used in error messages; basedir is the
 * directory relative includes are resolved against, NULL to forbid include
 * and #include altogether.
 */
int cfg_lang_load_buf(const char *buf, size_t len, const char *name, const char *basedir,
		      json_t **rootp, struct cfg_lang_err *err);

/* Print `FILE:LINE:COL: message` and a newline. */
void cfg_lang_err_print(const struct cfg_lang_err *err, FILE *f);

/*
 * Merge src into dst by the rules of §5.1.1, src overriding: objects merge
 * recursively, arrays element-wise (the result is as long as the longer),
 * anything else is replaced. dst and src must both be objects or both arrays
 * (EINVAL otherwise). src is not modified; dst never shares nodes with it.
 */
int cfg_lang_merge(json_t *dst, const json_t *src);

/* True if v is a complex number as produced by the parser. */
bool cfg_lang_is_complex(const json_t *v);

/* Read the parts of a complex value. Returns false if v is not complex. */
bool cfg_lang_complex_get(const json_t *v, double *re, double *im);

/*
 * Write root as strict JSON: 2-space indent, members in insertion order,
 * reals with the shortest representation that reads back identical, reals
 * with an integral value (below 1e17) as integers. Returns 0 or EIO.
 */
int cfg_lang_dump(const json_t *root, FILE *f);

#endif
