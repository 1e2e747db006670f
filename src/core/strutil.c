/* core/strutil — small text helpers; see strutil.h. */
#include "core/strutil.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

int str_hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int str_hex_decode(const char *s, uint8_t *out, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		int hi = str_hex_digit(s[2 * i]);
		int lo = hi < 0 ? -1 : str_hex_digit(s[2 * i + 1]);

		if (lo < 0)
			return EBADMSG;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

char *str_path_dir(const char *path)
{
	const char *slash = strrchr(path, '/');

	if (!slash)
		return strdup(".");
	if (slash == path)
		return strdup("/");
	return strndup(path, (size_t)(slash - path));
}
