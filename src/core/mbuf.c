/* core/mbuf — growable byte buffers; see mbuf.h. */
#include "core/mbuf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MBUF_DEFAULT_MAX ((size_t)64 << 20)

void mbuf_init(struct mbuf *mb, size_t max)
{
	memset(mb, 0, sizeof(*mb));
	mb->max = max ? max : MBUF_DEFAULT_MAX;
}

void mbuf_reset(struct mbuf *mb)
{
	size_t max = mb->max;
	bool wipe = mb->wipe;

	if (wipe && mb->buf)
		explicit_bzero(mb->buf, mb->size);
	free(mb->buf);
	mbuf_init(mb, max);
	mb->wipe = wipe;
}

/* realloc, except that a wiped buffer's old block is zeroed, not left */
static uint8_t *mbuf_grow(struct mbuf *mb, size_t nsize)
{
	uint8_t *nbuf;

	if (!mb->wipe)
		return realloc(mb->buf, nsize);
	nbuf = malloc(nsize);
	if (!nbuf)
		return NULL;
	if (mb->buf) {
		memcpy(nbuf, mb->buf, mb->end);
		explicit_bzero(mb->buf, mb->size);
		free(mb->buf);
	}
	return nbuf;
}

void mbuf_clear(struct mbuf *mb)
{
	mb->end = 0;
}

int mbuf_reserve(struct mbuf *mb, size_t extra)
{
	size_t need, nsize;
	uint8_t *nbuf;

	if (!mb->max)
		mb->max = MBUF_DEFAULT_MAX;
	if (extra > mb->max || mb->end > mb->max - extra)
		return ENOSPC;
	need = mb->end + extra + 1; /* room for mbuf_str()'s NUL */
	if (need <= mb->size)
		return 0;
	nsize = mb->size ? mb->size : 256;
	while (nsize < need)
		nsize *= 2;
	nbuf = mbuf_grow(mb, nsize);
	if (!nbuf)
		return ENOMEM;
	mb->buf = nbuf;
	mb->size = nsize;
	return 0;
}

int mbuf_write(struct mbuf *mb, const void *data, size_t len)
{
	int err = mbuf_reserve(mb, len);

	if (err)
		return err;
	if (len)
		memcpy(mb->buf + mb->end, data, len);
	mb->end += len;
	return 0;
}

int mbuf_write_str(struct mbuf *mb, const char *s)
{
	return mbuf_write(mb, s, strlen(s));
}

int mbuf_write_pl(struct mbuf *mb, struct pl pl)
{
	return mbuf_write(mb, pl.p, pl.l);
}

int mbuf_vprintf(struct mbuf *mb, const char *fmt, va_list ap)
{
	va_list ap2;
	int n, err;

	va_copy(ap2, ap);
	n = vsnprintf(NULL, 0, fmt, ap2);
	va_end(ap2);
	if (n < 0)
		return EINVAL;
	err = mbuf_reserve(mb, (size_t)n);
	if (err)
		return err;
	vsnprintf((char *)mb->buf + mb->end, (size_t)n + 1, fmt, ap);
	mb->end += (size_t)n;
	return 0;
}

int mbuf_printf(struct mbuf *mb, const char *fmt, ...)
{
	va_list ap;
	int err;

	va_start(ap, fmt);
	err = mbuf_vprintf(mb, fmt, ap);
	va_end(ap);
	return err;
}

const char *mbuf_str(struct mbuf *mb)
{
	if (mbuf_reserve(mb, 0))
		return NULL;
	mb->buf[mb->end] = '\0';
	return (const char *)mb->buf;
}
