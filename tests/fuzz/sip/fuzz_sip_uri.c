/* Fuzz target: URI decode, parameters, unescaping and comparison. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "sip/sip_uri.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pl all = {(const char *)data, size}, a = all, b = {NULL, 0};
	const char *nl = memchr(data, '\n', size);
	struct sip_uri u;
	struct pl it, n, v;
	char buf[128];

	/* "uriA\nuriB" compares two URIs */
	if (nl) {
		a.l = (size_t)(nl - a.p);
		b = (struct pl){nl + 1, size - a.l - 1};
	}
	if (sip_uri_decode(&u, a) == 0) {
		sip_uri_param_get(&u, "transport", &v);
		it = u.params;
		while (sip_uri_param_next(&it, ';', &n, &v))
			sip_pl_unescape(v, buf, sizeof(buf), NULL);
		it = u.headers;
		while (sip_uri_param_next(&it, '&', &n, &v))
			sip_pl_unescape(n, buf, sizeof(buf), NULL);
		sip_pl_unescape(u.user, buf, sizeof(buf), NULL);
		sip_uri_eq(&u, &u);
	}
	sip_host_check(a);
	if (nl)
		sip_uri_cmp(a, b);
	return 0;
}
