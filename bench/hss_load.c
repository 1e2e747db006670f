/*
 * bench/hss_load — loading a million-user ue_db: configuration text ->
 * jansson tree -> typed configuration (ims_cfg_from_json) -> HSS indexes
 * (hss_alloc), with the CPU time and the resident memory added by each step,
 * then lookups by IMPI, IMPU (sip and tel forms) and vector generation.
 *
 * The configuration language parser (config/cfg_lang) is not in this tree
 * yet, so the text step is jansson's strict JSON parser on the same
 * entries written as JSON.
 *
 * Usage: build/bench/hss_load [users]   (default 1000000)
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <malloc.h>

#include <jansson.h>

#include "auth/aka.h"
#include "config/ims_cfg.h"
#include "core/mem.h"
#include "hss/hss.h"

static double cpu_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Heap bytes in use (glibc): RSS alone hides what freed memory is reused. */
static size_t heap_now(void)
{
	struct mallinfo2 mi = mallinfo2();

	return mi.uordblks + mi.hblkhd;
}

/* Resident set size in bytes, from /proc/self/statm. */
static size_t rss_now(void)
{
	unsigned long size = 0, res = 0;
	FILE *f = fopen("/proc/self/statm", "r");

	if (!f)
		return 0;
	if (fscanf(f, "%lu %lu", &size, &res) != 2)
		res = 0;
	fclose(f);
	return (size_t)res * 4096;
}

static char *gen_text(unsigned n, size_t *len)
{
	size_t cap = (size_t)n * 256 + 256, o = 0;
	char *t = malloc(cap);

	if (!t)
		return NULL;
	o +=
	    (size_t)snprintf(t + o, cap - o,
			     "{\"sip_addr\": \"127.0.0.1\", \"domain\": \"ims.example\", "
			     "\"ue_db\": [\n");
	for (unsigned i = 0; i < n; i++) {
		o += (size_t)snprintf(
		    t + o, cap - o,
		    "{\"imsi\": \"0010100%08u\", \"K\": \"%08x5b5ce8b199b49faa5f0a2ee2\","
		    " \"opc\": \"cd63cb71954a9f4e48a5994e37a02baf\","
		    " \"impi\": \"0010100%08u@ims.example\","
		    " \"impu\": [\"0010100%08u\", \"tel:+336%08u\"]}%s\n",
		    i, i, i, i, i, i + 1 < n ? "," : "");
	}
	o += (size_t)snprintf(t + o, cap - o, "]}\n");
	*len = o;
	return t;
}

int main(int argc, char **argv)
{
	unsigned n = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 1000000;
	double c0, c1, c2, c3, c4, c5, c6;
	size_t r0, r1, r2, r3, h0, h1, h2, h3, len = 0;
	struct ims_cfg *cfg = NULL;
	struct hss *hss = NULL;
	char err[256], key[96];
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	struct aka_vector av;
	json_error_t je;
	json_t *root;
	char *text;
	unsigned lookups = 0;

	if (!n)
		return 2;
	text = gen_text(n, &len);
	if (!text)
		return 1;
	r0 = rss_now();
	h0 = heap_now();
	c0 = cpu_now();
	root = json_loadb(text, len, 0, &je);
	c1 = cpu_now();
	/* The text is not part of what stays: take it out of the baseline. */
	{
		size_t hb = heap_now(), rb = rss_now();

		free(text);
		h0 -= hb - heap_now();
		r0 -= rb > rss_now() ? rb - rss_now() : 0;
	}
	if (!root) {
		fprintf(stderr, "json: %s\n", je.text);
		return 1;
	}
	r1 = rss_now();
	h1 = heap_now();
	if (ims_cfg_from_json(root, NULL, &cfg, &d)) {
		fprintf(stderr, "config: %s\n", err);
		return 1;
	}
	c2 = cpu_now();
	json_decref(root);
	r2 = rss_now();
	h2 = heap_now();
	c3 = cpu_now();
	if (hss_alloc(&hss, cfg, err, sizeof(err))) {
		fprintf(stderr, "hss: %s\n", err);
		return 1;
	}
	c4 = cpu_now();
	r3 = rss_now();
	h3 = heap_now();

	/* lookups in a scattered order */
	for (unsigned i = 0, j = 0; i < n; i++, j = (j + 7919) % n) {
		snprintf(key, sizeof(key), "0010100%08u@ims.example", j);
		lookups += hss_user_by_impi(hss, pl_from_str(key)) != NULL;
	}
	c5 = cpu_now();
	for (unsigned i = 0, j = 0; i < n; i++, j = (j + 7919) % n) {
		snprintf(key, sizeof(key), "sip:+336%08u@ims.example;user=phone", j);
		lookups += hss_user_by_impu(hss, pl_from_str(key), NULL) != NULL;
	}
	c6 = cpu_now();
	double cv0 = cpu_now();
	unsigned nav = n < 100000 ? n : 100000;

	for (unsigned i = 0; i < nav; i++) {
		if (hss_av_generate(hss_user_at(hss, i), &av))
			return 1;
	}
	double cv1 = cpu_now();

	aka_vector_wipe(&av);
	if (lookups != 2 * n) {
		fprintf(stderr, "lookups failed: %u of %u\n", lookups, 2 * n);
		return 1;
	}
	printf("users %u, text %.1f MB\n", n, (double)len / 1e6);
	printf(
	    "json parse      %7.3f s CPU  heap +%7.1f MB (%4.0f B/user)  RSS +%.1f MB\n",
	    c1 - c0, (double)(h1 - h0) / 1e6, (double)(h1 - h0) / n,
	    (double)(r1 - r0) / 1e6);
	printf(
	    "typed config    %7.3f s CPU  heap +%7.1f MB (%4.0f B/user) once the tree is "
	    "freed\n",
	    c2 - c1, ((double)h2 - (double)h0) / 1e6, ((double)h2 - (double)h0) / n);
	printf(
	    "hss indexes     %7.3f s CPU  heap +%7.1f MB (%4.0f B/user)  RSS +%.1f MB; "
	    "hss_mem_usage %.0f B/user\n",
	    c4 - c3, (double)(h3 - h2) / 1e6, (double)(h3 - h2) / n,
	    ((double)r3 - (double)r2) / 1e6, (double)hss_mem_usage(hss) / n);
	printf("peak RSS over start %.1f MB\n", ((double)r3 - (double)r0) / 1e6);
	printf("lookup by IMPI  %7.0f ns/op (incl. snprintf)\n", (c5 - c4) * 1e9 / n);
	printf(
	    "lookup by IMPU  %7.0f ns/op (tel form via sip;user=phone, incl. snprintf)\n",
	    (c6 - c5) * 1e9 / n);
	printf("av_generate     %7.0f ns/op (Milenage, OPc)\n", (cv1 - cv0) * 1e9 / nav);
	mem_deref(hss);
	ims_cfg_free(cfg);
	return 0;
}
