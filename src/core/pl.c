/* core/pl — pointer+length string views; see pl.h. */
#include "core/pl.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct pl pl_from_str(const char *s)
{
	struct pl pl = {s, s ? strlen(s) : 0};
	return pl;
}

bool pl_isset(struct pl pl)
{
	return pl.p != NULL && pl.l > 0;
}

bool pl_eq(struct pl a, struct pl b)
{
	return a.l == b.l && (a.l == 0 || memcmp(a.p, b.p, a.l) == 0);
}

bool pl_caseeq(struct pl a, struct pl b)
{
	return a.l == b.l && (a.l == 0 || strncasecmp(a.p, b.p, a.l) == 0);
}

bool pl_eq_str(struct pl a, const char *s)
{
	return pl_eq(a, pl_from_str(s));
}

bool pl_caseeq_str(struct pl a, const char *s)
{
	return pl_caseeq(a, pl_from_str(s));
}

static bool pl_isws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

struct pl pl_trim(struct pl pl)
{
	while (pl.l && pl_isws(pl.p[0])) {
		pl.p++;
		pl.l--;
	}
	while (pl.l && pl_isws(pl.p[pl.l - 1]))
		pl.l--;
	return pl;
}

int pl_u64(struct pl pl, uint64_t *v)
{
	uint64_t n = 0;

	if (!pl.l)
		return EBADMSG;
	for (size_t i = 0; i < pl.l; i++) {
		unsigned d = (unsigned char)pl.p[i] - '0';

		if (d > 9)
			return EBADMSG;
		if (n > (UINT64_MAX - d) / 10)
			return ERANGE;
		n = n * 10 + d;
	}
	*v = n;
	return 0;
}

int pl_u32(struct pl pl, uint32_t *v)
{
	uint64_t n;
	int err = pl_u64(pl, &n);

	if (err)
		return err;
	if (n > UINT32_MAX)
		return ERANGE;
	*v = (uint32_t)n;
	return 0;
}

long pl_casefind(struct pl hay, const char *needle)
{
	size_t n = strlen(needle);

	if (n == 0)
		return 0;
	for (size_t i = 0; i + n <= hay.l; i++) {
		if (strncasecmp(hay.p + i, needle, n) == 0)
			return (long)i;
	}
	return -1;
}

char *pl_strdup(struct pl pl)
{
	char *s = malloc(pl.l + 1);

	if (!s)
		return NULL;
	if (pl.l)
		memcpy(s, pl.p, pl.l);
	s[pl.l] = '\0';
	return s;
}

int pl_strcpy(struct pl pl, char *dst, size_t size)
{
	size_t n;

	if (!size)
		return ENOSPC;
	n = pl.l < size - 1 ? pl.l : size - 1;
	if (n)
		memcpy(dst, pl.p, n);
	dst[n] = '\0';
	return n < pl.l ? ENOSPC : 0;
}
