/*
 * esp_tool — imsd's ESP codec on a pipe, for the cross-check against an
 * independent implementation (tests/integ/test_ipsec_esp.py drives it with
 * scapy). One command a line on stdin, one answer a line on stdout:
 *
 *   encap AALG EALG SPI SEQ CK IK NH PAYLOAD [IV]  ->  ok ESP
 *   decap AALG EALG SPI CK IK ESP                  ->  ok NH PAYLOAD
 *   keys  AALG EALG CK IK                          ->  ok EKEY ESALT AKEY ASALT
 *
 * Numbers are decimal, byte strings lower-case hex ("-" for empty). SEQ is
 * the sequence number the packet gets. A decap runs on a fresh SA (window
 * empty). Failures answer "err <errno>".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth/auth_codec.h"
#include "ipsec/esp.h"

#define TOOL_MAX 4096

static int hex_in(const char *s, uint8_t *out, size_t size, size_t *len)
{
	if (!strcmp(s, "-")) {
		*len = 0;
		return 0;
	}
	return auth_hex_decode(s, strlen(s), out, size, len);
}

static void hex_out(const uint8_t *p, size_t n)
{
	static char buf[2 * (TOOL_MAX + ESP_OVERHEAD_MAX) + 1];

	if (!n) {
		fputs(" -", stdout);
		return;
	}
	auth_hex_encode(p, n, buf);
	printf(" %s", buf);
}

static int sa_make(char **f, struct esp_sa **sa, const char *spi_s, int ck_i)
{
	enum esp_aalg a;
	enum esp_ealg e;
	uint8_t ck[16], ik[16];
	size_t n1 = 0, n2 = 0;
	struct esp_keys k;
	struct esp_sa_prm p = {.keys = &k};
	int err;

	if (esp_aalg_from_str(f[1], strlen(f[1]), &a) ||
	    esp_ealg_from_str(f[2], strlen(f[2]), &e) || hex_in(f[ck_i], ck, 16, &n1) ||
	    hex_in(f[ck_i + 1], ik, 16, &n2) || n1 != 16 || n2 != 16)
		return EINVAL;
	if ((err = esp_key_expand(a, e, ck, ik, &k)))
		return err;
	p.spi = (uint32_t)strtoul(spi_s, NULL, 10);
	p.aalg = a;
	p.ealg = e;
	err = esp_sa_alloc(sa, &p);
	esp_keys_wipe(&k);
	return err;
}

static int cmd_encap(char **f, int n)
{
	struct esp_sa *sa = NULL;
	static uint8_t pl[TOOL_MAX], out[TOOL_MAX + ESP_OVERHEAD_MAX];
	uint8_t iv[ESP_IV_MAX];
	size_t len = 0, ivl = 0, olen = 0;
	int err;

	if (n < 9)
		return EINVAL;
	if ((err = sa_make(f, &sa, f[3], 5)))
		return err;
	err = hex_in(f[8], pl, sizeof(pl), &len);
	if (!err && n > 9)
		err = hex_in(f[9], iv, sizeof(iv), &ivl);
	if (!err) {
		esp_sa_set_iv(sa, iv, ivl);
		esp_sa_set_seq(sa, (uint32_t)strtoul(f[4], NULL, 10) - 1);
		err = esp_encap(sa, (uint8_t)atoi(f[7]), pl, len, out, sizeof(out), &olen);
	}
	if (!err) {
		fputs("ok", stdout);
		hex_out(out, olen);
		putchar('\n');
	}
	esp_sa_free(sa);
	return err;
}

static int cmd_decap(char **f, int n)
{
	struct esp_sa *sa = NULL;
	static uint8_t pkt[TOOL_MAX + ESP_OVERHEAD_MAX], out[TOOL_MAX + ESP_OVERHEAD_MAX];
	size_t len = 0, olen = 0;
	uint8_t nh = 0;
	int err;

	if (n < 7)
		return EINVAL;
	if ((err = sa_make(f, &sa, f[3], 4)))
		return err;
	err = hex_in(f[6], pkt, sizeof(pkt), &len);
	if (!err)
		err = esp_decap(sa, pkt, len, out, sizeof(out), &olen, &nh);
	if (!err) {
		printf("ok %u", nh);
		hex_out(out, olen);
		putchar('\n');
	}
	esp_sa_free(sa);
	return err;
}

static int cmd_keys(char **f, int n)
{
	enum esp_aalg a;
	enum esp_ealg e;
	uint8_t ck[16], ik[16];
	size_t n1 = 0, n2 = 0;
	struct esp_keys k;

	if (n < 5 || esp_aalg_from_str(f[1], strlen(f[1]), &a) ||
	    esp_ealg_from_str(f[2], strlen(f[2]), &e) || hex_in(f[3], ck, 16, &n1) ||
	    hex_in(f[4], ik, 16, &n2) || n1 != 16 || n2 != 16 ||
	    esp_key_expand(a, e, ck, ik, &k))
		return EINVAL;
	fputs("ok", stdout);
	hex_out(k.ekey, k.ekey_len);
	hex_out(k.esalt, ESP_SALT_LEN);
	hex_out(k.akey, k.akey_len);
	hex_out(k.asalt, ESP_SALT_LEN);
	putchar('\n');
	esp_keys_wipe(&k);
	return 0;
}

int main(void)
{
	static char line[4 * TOOL_MAX];
	char *f[12], *save = NULL;
	int n, err;

	while (fgets(line, sizeof(line), stdin)) {
		n = 0;
		for (char *t = strtok_r(line, " \t\r\n", &save); t && n < 12;
		     t = strtok_r(NULL, " \t\r\n", &save))
			f[n++] = t;
		if (!n)
			continue;
		if (!strcmp(f[0], "encap"))
			err = cmd_encap(f, n);
		else if (!strcmp(f[0], "decap"))
			err = cmd_decap(f, n);
		else if (!strcmp(f[0], "keys"))
			err = cmd_keys(f, n);
		else
			err = EINVAL;
		if (err)
			printf("err %d\n", err);
		fflush(stdout);
	}
	return 0;
}
