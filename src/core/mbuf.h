/*
 * core/mbuf — growable byte buffers for building messages and text.
 *
 * A buffer has a hard cap (`max`, 0 = 64 MiB) so that nothing driven from
 * outside can make it grow without bound: writes past it fail with ENOSPC.
 * A buffer with `wipe` set (keys, secrets) never leaves its bytes behind in
 * freed memory: growth copies into a new block and zeroes the old one, and
 * mbuf_reset zeroes before it frees.
 */
#ifndef CORE_MBUF_H
#define CORE_MBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pl.h"

struct mbuf {
	uint8_t *buf; /* owned */
	size_t size;  /* allocated */
	size_t end;   /* bytes written */
	size_t max;   /* hard cap */
	bool wipe;    /* zero storage before it is freed; kept by mbuf_reset */
};

void mbuf_init(struct mbuf *mb, size_t max);
void mbuf_reset(struct mbuf *mb); /* frees the storage */
void mbuf_clear(struct mbuf *mb); /* keeps the storage */
int mbuf_reserve(struct mbuf *mb, size_t extra);
int mbuf_write(struct mbuf *mb, const void *data, size_t len);
int mbuf_write_str(struct mbuf *mb, const char *s);
int mbuf_write_pl(struct mbuf *mb, struct pl pl);
int mbuf_printf(struct mbuf *mb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int mbuf_vprintf(struct mbuf *mb, const char *fmt, va_list ap);
/* NUL-terminates without counting the NUL; returns the text or NULL. */
const char *mbuf_str(struct mbuf *mb);

#endif
