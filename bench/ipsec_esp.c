/*
 * bench/ipsec_esp — CPU time per ESP packet of imsd's codec (ipsec/esp):
 * encapsulation and decapsulation of a 700-byte SIP message, for every
 * alg x ealg pair (issue 18's target: at most 2 µs added per SIP packet
 * with AES-CBC + HMAC-SHA-1-96), and what one SA of a set costs to make
 * and free (esp_sa_alloc + esp_sa_free: its keyed OpenSSL contexts, of its
 * direction only; inbound and outbound alternately, as a registration's
 * set has two of each). CPU time of the process
 * (CLOCK_PROCESS_CPUTIME_ID), so a busy machine slows it less than wall
 * time would; still read it as ±15 % on the shared machines.
 *
 * Usage: bench_ipsec_esp [iterations]   (default 100000)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ipsec/esp.h"

static double cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static struct esp_sa *sa_make(enum esp_aalg a, enum esp_ealg e, enum esp_dir dir)
{
	static const uint8_t ck[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	static const uint8_t ik[16] = {16, 15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1};
	struct esp_keys k;
	struct esp_sa *sa = NULL;
	struct esp_sa_prm p = {.spi = 0x1000, .aalg = a, .ealg = e, .keys = &k, .dir = dir};

	if (esp_key_expand(a, e, ck, ik, &k) || esp_sa_alloc(&sa, &p))
		return NULL;
	esp_keys_wipe(&k);
	return sa;
}

int main(int argc, char **argv)
{
	long n = argc > 1 ? atol(argv[1]) : 100000;
	static uint8_t msg[700], pkt[700 + ESP_OVERHEAD_MAX], back[700 + ESP_OVERHEAD_MAX];
	size_t plen = 0, blen = 0;
	uint8_t nh;

	memset(msg, 'x', sizeof(msg));
	printf("%-16s %-14s %10s %10s %10s\n", "alg", "ealg", "encap_ns", "decap_ns", "sa_ns");
	for (int a = 0; a < ESP_AALG_COUNT; a++) {
		for (int e = 0; e < ESP_EALG_COUNT; e++) {
			struct esp_sa *out, *in;
			double t0, t1, t2, t3;
			long ns = n / 20 > 0 ? n / 20 : 1;

			if (!esp_alg_pair_valid((enum esp_aalg)a, (enum esp_ealg)e))
				continue;
			out = sa_make((enum esp_aalg)a, (enum esp_ealg)e, ESP_DIR_OUT);
			in = sa_make((enum esp_aalg)a, (enum esp_ealg)e, ESP_DIR_IN);
			if (!out || !in)
				return 1;
			t0 = cpu_ns();
			for (long i = 0; i < n; i++)
				esp_encap(out, 17, msg, sizeof(msg), pkt, sizeof(pkt), &plen);
			t1 = cpu_ns();
			for (long i = 0; i < n; i++) {
				esp_sa_set_seq(in, 0); /* the same packet, accepted each time */
				if (esp_decap(in, pkt, plen, back, sizeof(back), &blen, &nh))
					return 1;
			}
			t2 = cpu_ns();
			for (long i = 0; i < ns; i++)
				esp_sa_free(sa_make((enum esp_aalg)a, (enum esp_ealg)e,
						    i % 2 ? ESP_DIR_OUT : ESP_DIR_IN));
			t3 = cpu_ns();
			printf("%-16s %-14s %10.0f %10.0f %10.0f\n", esp_aalg_name((enum esp_aalg)a),
			       esp_ealg_name((enum esp_ealg)e), (t1 - t0) / (double)n,
			       (t2 - t1) / (double)n, (t3 - t2) / (double)ns);
			esp_sa_free(out);
			esp_sa_free(in);
		}
	}
	return 0;
}
