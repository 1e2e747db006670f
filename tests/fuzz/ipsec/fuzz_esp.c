/*
 * Fuzz target: ESP decapsulation (ipsec/esp). The first byte picks the
 * algorithm pair (among the valid ones, in esp.h order) and whether the SA
 * has already seen packets (window not empty); the rest is the packet from
 * the SPI on, decapsulated with fixed keys (TS 35.208 set 1 CK/IK) and an
 * SA whose SPI is the packet's own, so the fuzzer reaches the ICV check.
 * An accepted packet is re-encapsulated and must decapsulate to the same
 * payload; a replay of it must be refused.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "ipsec/esp.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const uint8_t ck[16] = {0xb4, 0x0b, 0xa9, 0xa3, 0xc5, 0x8b, 0x2a, 0x05,
			       0xbb, 0xf0, 0xd9, 0x87, 0xb2, 0x1b, 0xf8, 0xcb};
static const uint8_t ik[16] = {0xf7, 0x69, 0xbc, 0xd7, 0x51, 0x04, 0x46, 0x04,
			       0x12, 0x76, 0x72, 0x71, 0x1c, 0x6d, 0x34, 0x41};

static int pair_pick(unsigned sel, enum esp_aalg *a, enum esp_ealg *e)
{
	unsigned n = 0;

	for (int i = 0; i < ESP_AALG_COUNT; i++) {
		for (int j = 0; j < ESP_EALG_COUNT; j++) {
			if (!esp_alg_pair_valid((enum esp_aalg)i, (enum esp_ealg)j))
				continue;
			if (n++ == sel % 44) {
				*a = (enum esp_aalg)i;
				*e = (enum esp_ealg)j;
				return 0;
			}
		}
	}
	return -1;
}

static struct esp_sa *sa_make(enum esp_aalg a, enum esp_ealg e, uint32_t spi)
{
	struct esp_keys k;
	struct esp_sa *sa = NULL;
	struct esp_sa_prm p = {.spi = spi, .aalg = a, .ealg = e, .keys = &k};

	if (esp_key_expand(a, e, ck, ik, &k) || esp_sa_alloc(&sa, &p))
		abort();
	esp_keys_wipe(&k);
	return sa;
}

static void recheck(enum esp_aalg a, enum esp_ealg e, uint32_t spi, uint8_t nh,
		    const uint8_t *pl, size_t len)
{
	struct esp_sa *out = sa_make(a, e, spi), *in = sa_make(a, e, spi);
	static uint8_t pkt[65536 + ESP_OVERHEAD_MAX], back[65536 + ESP_OVERHEAD_MAX];
	size_t plen = 0, blen = 0;
	uint8_t nh2 = 0;

	if (esp_encap(out, nh, pl, len, pkt, sizeof(pkt), &plen) ||
	    esp_decap(in, pkt, plen, back, sizeof(back), &blen, &nh2) || nh2 != nh ||
	    (nh != 59 && (blen != len || (len && memcmp(back, pl, len)))))
		abort();
	esp_sa_free(out);
	esp_sa_free(in);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static uint8_t out[65536 + ESP_OVERHEAD_MAX];
	enum esp_aalg a;
	enum esp_ealg e;
	struct esp_sa *sa;
	uint32_t spi = 0, seq = 0;
	size_t len = 0;
	uint8_t nh = 0;

	if (size < 1 || pair_pick(data[0] & 0x3f, &a, &e))
		return 0;
	if (esp_hdr_parse(data + 1, size - 1, &spi, &seq))
		return 0;
	sa = sa_make(a, e, spi);
	if (data[0] & 0x40)
		esp_sa_set_seq(sa, 1000); /* a window that has moved */
	if (esp_decap(sa, data + 1, size - 1, out, sizeof(out), &len, &nh) == 0) {
		if (esp_decap(sa, data + 1, size - 1, out + 0, sizeof(out), &len, &nh) == 0)
			abort(); /* the same packet twice: a replay */
		esp_sa_free(sa);
		sa = sa_make(a, e, spi);
		if (esp_decap(sa, data + 1, size - 1, out, sizeof(out), &len, &nh))
			abort();
		recheck(a, e, spi, nh, out, len);
	}
	esp_sa_free(sa);
	return 0;
}
