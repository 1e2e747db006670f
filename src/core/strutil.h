/*
 * core/strutil — small text helpers shared by the codecs: hexadecimal
 * digits and strings, and the directory part of a path.
 */
#ifndef CORE_STRUTIL_H
#define CORE_STRUTIL_H

#include <stddef.h>
#include <stdint.h>

/* Value of one hex digit (either case), or -1. */
int str_hex_digit(char c);
/* Decodes exactly 2*len hex digits of s[0..2*len) into out[0..len);
 * EBADMSG on a non-hex digit (out may then be partly written). */
int str_hex_decode(const char *s, uint8_t *out, size_t len);
/* malloc'd directory part of path: "." without a slash, "/" for "/x";
 * NULL on ENOMEM. */
char *str_path_dir(const char *path);

#endif
