/*
 * Fuzz target: Security-Client / Security-Verify values (ipsec/sec_agree).
 * The input is one header value. Whatever parses must choose without
 * trouble; the chosen offer, printed as a Security-Server value, must parse
 * back to an equal offer and verify against itself.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipsec/sec_agree.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct sec_list l, back;
	char buf[SEC_AGREE_VALUE_MAX];
	size_t idx = 0;

	memset(&l, 0, sizeof(l));
	if (sec_agree_parse((struct pl){(const char *)data, size}, &l))
		return 0;
	if (l.n == 0 || l.n > SEC_AGREE_OFFER_MAX)
		abort();
	if (sec_agree_choose(&l, 0xffffffffu, 0xffffffffu, &idx))
		return 0;
	if (idx >= l.n || !l.v[idx].ipsec)
		abort();
	if (sec_agree_print(&l.v[idx], buf, sizeof(buf)))
		abort();
	memset(&back, 0, sizeof(back));
	if (sec_agree_parse(pl_from_str(buf), &back) || back.n != 1 ||
	    !sec_offer_eq(&back.v[0], &l.v[idx]))
		abort();
	if (sec_agree_verify(&back, &back))
		abort();
	return 0;
}
