/*
 * core/pl — pointer+length string views.
 *
 * Parsers return views into a buffer they (or their caller) hold; nothing is
 * copied until a caller asks with pl_strdup(). A view is not NUL-terminated.
 */
#ifndef CORE_PL_H
#define CORE_PL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct pl {
	const char *p; /* borrowed */
	size_t l;
};

#define PL(s) ((struct pl){(s), sizeof(s) - 1})
#define PL_INIT {NULL, 0}

struct pl pl_from_str(const char *s);
bool pl_isset(struct pl pl);
bool pl_eq(struct pl a, struct pl b);
bool pl_caseeq(struct pl a, struct pl b);
bool pl_eq_str(struct pl a, const char *s);
bool pl_caseeq_str(struct pl a, const char *s);
struct pl pl_trim(struct pl pl);
/* Unsigned decimal; EBADMSG on non-digits or empty, ERANGE on overflow. */
int pl_u64(struct pl pl, uint64_t *v);
int pl_u32(struct pl pl, uint32_t *v);
/* Case-insensitive search; returns offset or -1. */
long pl_casefind(struct pl hay, const char *needle);
/* malloc'd NUL-terminated copy, or NULL on ENOMEM. */
char *pl_strdup(struct pl pl);
/* Copies at most size-1 bytes and always terminates; returns ENOSPC if cut. */
int pl_strcpy(struct pl pl, char *dst, size_t size);

#endif
