/*
 * Fuzz target: the HSS lookups over outside input (Request-URI, To/From
 * IMPUs, Authorization username, +sip.instance, Cx SIP-Authorization).
 * The first byte picks the operation, the rest is the input. Invariants:
 * no crash or over-read; a user found by an IMPU is found again by the
 * full URI of the matched IMPU; a rejected AUTS leaves SQN_HE unchanged.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "config/ims_cfg.h"
#include "hss/hss.h"

static const char cfg_text[] =
    "{\"sip_addr\": \"127.0.0.1\", \"domain\": \"ims.example\","
    " \"echo\": [\"sip:echo\", \"tel:+33999\"], \"ue_db\": ["
    "{\"imsi\": \"001010000000001\", \"K\": \"465b5ce8b199b49faa5f0a2ee238a6bc\","
    " \"opc\": \"cd63cb71954a9f4e48a5994e37a02baf\","
    " \"impi\": \"001010000000001@ims.example\","
    " \"impu\": [\"001010000000001\", \"tel:+33600000001\", \"urn:service:sos\"]},"
    "{\"imsi\": \"001010000000002\", \"pwd\": \"x\", \"domain\": \"a.example\","
    " \"impi\": \"alice@a.example\", \"impu\": [\"alice\", \"sip:+336-02\"]},"
    "{\"nai\": \"user@nai.example\", \"pwd\": \"x\", \"impu\": [\"sip:n@[::1]:5060\"]},"
    "{\"imsi\": \"001010123456789\", \"sim_algo\": \"xor\","
    " \"K\": \"00112233445566778899aabbccddeeff\", \"multi_sim\": true,"
    " \"impu\": [{\"impu\": \"001010123456789\", \"imei\": \"35000000000001\"}]},"
    "{\"imsi\": \"001010123456789\", \"sim_algo\": \"xor\","
    " \"K\": \"00112233445566778899aabbccddeeff\", \"multi_sim\": true,"
    " \"impu\": [{\"impu\": \"001010123456789\", \"imei\": \"35000000000002\"}]}"
    "]}";

static struct ims_cfg *cfg;
static struct hss *hss;

static void setup(void)
{
	json_t *root;

	if (hss)
		return;
	root = json_loads(cfg_text, 0, NULL);
	if (!root || ims_cfg_from_json(root, NULL, &cfg, NULL) ||
	    hss_alloc(&hss, cfg, NULL, 0))
		abort();
	json_decref(root);
}

static void check_impu(struct pl in)
{
	struct hss_impu_match m[4];
	char uri[HSS_URI_MAX];
	size_t n = hss_users_by_impu(hss, in, m, 4);

	(void)hss_is_echo(hss, in);
	for (size_t i = 0; i < n && i < 4; i++) {
		struct hss_impu_match back[4];
		size_t k, j;

		if (hss_impu_uri(hss, m[i].user, m[i].impu, uri, sizeof(uri)))
			abort();
		k = hss_users_by_impu(hss, pl_from_str(uri), back, 4);
		for (j = 0; j < k && j < 4 && back[j].user != m[i].user; j++)
			;
		if (j == k || j == 4)
			abort();
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pl in;
	struct hss_user *c[4];
	char d[15];

	setup();
	if (!size)
		return 0;
	in = (struct pl){(const char *)data + 1, size - 1};
	switch (data[0] % 4) {
	case 0:
		check_impu(in);
		break;
	case 1:
		(void)hss_users_by_impi(hss, in, c, 4);
		(void)hss_user_by_nai(hss, in);
		(void)hss_users_by_imsi(hss, in, c, 4);
		break;
	case 2: {
		size_t n = hss_users_by_imsi(hss, pl_from_str("001010123456789"), c, 4);

		if (!hss_imei_parse(in, d) && strlen(d) != 14)
			abort();
		(void)hss_user_pick_imei(c, n, in);
		break;
	}
	default: {
		struct hss_user *u = hss_user_at(hss, 0);
		uint64_t before = hss_user_sqn_he(u);
		int e = hss_resync_sip_auth(u, data + 1, size - 1, NULL);

		if (e && hss_user_sqn_he(u) != before)
			abort();
		/* keep runs independent */
		hss_user_sqn_set(u, before);
		break;
	}
	}
	return 0;
}
