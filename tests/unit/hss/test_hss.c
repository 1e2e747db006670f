/* Unit tests: hss (built-in HSS: user database, vectors, resync, policy). */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "auth/aka.h"
#include "auth/sqn.h"
#include "config/ims_cfg.h"
#include "core/mem.h"
#include "hss/hss.h"

static char err[512];

/* Test texts use ' for " to stay readable. */
static struct ims_cfg *cfg_load(const char *extra)
{
	char text[16384];
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	struct ims_cfg *cfg = NULL;
	json_error_t je;
	json_t *root;

	snprintf(text, sizeof(text), "{'sip_addr': '127.0.0.1', %s}", extra);
	for (char *p = text; *p; p++) {
		if (*p == '\'')
			*p = '"';
	}
	root = json_loads(text, 0, &je);
	if (!root)
		fail_msg("bad test JSON: %s (%s)", je.text, text);
	if (ims_cfg_from_json(root, NULL, &cfg, &d))
		fail_msg("config error: %s (%s)", err, text);
	json_decref(root);
	return cfg;
}

struct db {
	struct ims_cfg *cfg;
	struct hss *hss;
};

static struct db db_load(const char *extra)
{
	struct db db = {cfg_load(extra), NULL};
	int e = hss_alloc(&db.hss, db.cfg, err, sizeof(err));

	if (e)
		fail_msg("hss_alloc: %d %s", e, err);
	return db;
}

static void db_free(struct db *db)
{
	db->hss = mem_deref(db->hss);
	ims_cfg_free(db->cfg);
	db->cfg = NULL;
}

/* Loads and expects hss_alloc to fail with a message containing `want`. */
static void expect_load_err(const char *extra, const char *want)
{
	struct ims_cfg *cfg = cfg_load(extra);
	struct hss *hss = NULL;
	int e = hss_alloc(&hss, cfg, err, sizeof(err));

	assert_int_equal(e, EINVAL);
	assert_null(hss);
	if (!strstr(err, want))
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
	ims_cfg_free(cfg);
}

static struct pl P(const char *s) {
	return pl_from_str(s);
}

#define MIL_K "465b5ce8b199b49faa5f0a2ee238a6bc"
#define MIL_OP "cdc202d5123e20f62b6d676ac72cb318"
#define MIL_OPC "cd63cb71954a9f4e48a5994e37a02baf"
#define XOR_K "00112233445566778899aabbccddeeff"

static const char *const base_db =
    "'domain': 'ims.example', 'echo': ['sip:echo', 'tel:+33999'], 'ue_db': ["
    "{'imsi': '001010000000001', 'K': '" MIL_K "', 'opc': '" MIL_OPC "',"
    " 'impi': '001010000000001@ims.mnc001.mcc001.3gppnetwork.org',"
    " 'impu': ['001010000000001', 'tel:+33600000001', 'urn:service:sos']},"
    "{'imsi': '001010000000002', 'K': '" MIL_K "', 'op': '" MIL_OP "',"
    " 'impi': 'alice@Ims.Example', 'domain': 'a.example',"
    " 'impu': ['sip:alice', 'sip:+33600000002', {'impu': 'bob', 'domain': 'b.example'}]},"
    "{'nai': 'type0.rid0.schid0.userid0001@nai.5gc.example', 'pwd': 'secret',"
    " 'impi': 'carol@ims.example', 'impu': ['sip:carol@elsewhere.example']},"
    "{'imsi': '001010000000004', 'K': '" MIL_K "', 'opc': '" MIL_OPC "',"
    " 'impu': ['tel:0600000004']}"
    "]";

/* The per-user slots: one claimant at a time, set/get per user and slot,
 * released (and cleared) for the next claimant. */
static void test_user_slots(void **state)
{
	struct db db = db_load(base_db);
	struct hss_user *u0 = hss_user_at(db.hss, 0), *u1 = hss_user_at(db.hss, 1);
	int a, b;

	(void)state;
	assert_true(hss_user_slots_claim(db.hss));
	assert_false(hss_user_slots_claim(db.hss));
	assert_null(hss_user_slot(u0, HSS_SLOT_REG_USER));
	hss_user_slot_set(u0, HSS_SLOT_REG_USER, &a);
	hss_user_slot_set(u0, HSS_SLOT_REG_CHAL, &b);
	assert_ptr_equal(hss_user_slot(u0, HSS_SLOT_REG_USER), &a);
	assert_ptr_equal(hss_user_slot(u0, HSS_SLOT_REG_CHAL), &b);
	assert_null(hss_user_slot(u1, HSS_SLOT_REG_USER));
	assert_null(hss_user_slot(u0, (enum hss_user_slot_id)7)); /* out of range */
	hss_user_slots_release(db.hss);
	assert_null(hss_user_slot(u0, HSS_SLOT_REG_USER));
	assert_null(hss_user_slot(u0, HSS_SLOT_REG_CHAL));
	assert_true(hss_user_slots_claim(db.hss));
	db_free(&db);
}

static void test_lookup_keys(void **state)
{
	struct db db = db_load(base_db);
	struct hss_user *u0 = hss_user_at(db.hss, 0), *u1 = hss_user_at(db.hss, 1);
	struct hss_user *u2 = hss_user_at(db.hss, 2), *u3 = hss_user_at(db.hss, 3);
	uint32_t i;

	(void)state;
	assert_int_equal(hss_user_count(db.hss), 4);
	assert_int_equal(hss_impu_count(db.hss), 8);
	assert_int_equal(hss_echo_count(db.hss), 2);
	assert_null(hss_user_at(db.hss, 4));
	assert_int_equal(hss_user_index(db.hss, u2), 2);

	/* IMPI: exact user part, case-insensitive host */
	assert_ptr_equal(
	    hss_user_by_impi(db.hss,
			     P("001010000000001@IMS.mnc001.mcc001.3gppnetwork.org")),
	    u0);
	assert_ptr_equal(hss_user_by_impi(db.hss, P("alice@ims.example")), u1);
	assert_null(hss_user_by_impi(db.hss, P("Alice@ims.example")));
	assert_null(hss_user_by_impi(db.hss, P("alice")));
	assert_null(hss_user_by_impi(db.hss, P("alice@ims.example.org")));
	/* user 3 has no impi: found by its IMSI-derived IMPI (2- or 3-digit MNC) */
	assert_ptr_equal(
	    hss_user_by_impi(db.hss,
			     P("001010000000004@ims.mnc001.mcc001.3gppnetwork.org")),
	    u3);
	assert_ptr_equal(
	    hss_user_by_impi(db.hss,
			     P("001010000000004@ims.mnc002.mcc001.3gppnetwork.org")),
	    NULL);
	assert_null(hss_user_by_impi(db.hss, P("001010000000004@ims.example")));
	/* user 0 has an impi: its derived form is not an alias */
	assert_null(hss_user_by_impi(
	    db.hss, P("001010000000001@ims.mnc01.mcc001.3gppnetwork.org")));

	/* IMSI, NAI */
	assert_ptr_equal(hss_user_by_imsi(db.hss, P("001010000000002")), u1);
	assert_null(hss_user_by_imsi(db.hss, P("00101000000000")));
	assert_ptr_equal(
	    hss_user_by_nai(db.hss, P("type0.rid0.schid0.userid0001@NAI.5gc.example")),
	    u2);
	assert_null(
	    hss_user_by_nai(db.hss, P("type0.rid0.schid0.userid0002@nai.5gc.example")));

	/* IMPU: no scheme = sip, domain completed with the global domain */
	assert_ptr_equal(
	    hss_user_by_impu(db.hss, P("sip:001010000000001@ims.example"), &i), u0);
	assert_int_equal(i, 0);
	assert_ptr_equal(
	    hss_user_by_impu(
		db.hss, P("<sip:001010000000001@IMS.EXAMPLE:5060;transport=tcp>"), &i),
	    u0);
	assert_ptr_equal(hss_user_by_impu(db.hss, P("tel:+33600000001"), &i), u0);
	assert_int_equal(i, 1);
	assert_ptr_equal(hss_user_by_impu(db.hss, P("urn:service:sos"), &i), u0);
	assert_int_equal(i, 2);
	assert_null(hss_user_by_impu(db.hss, P("urn:service:SOS"), NULL));
	assert_null(hss_user_by_impu(db.hss, P("urn:service:sos.police"), NULL));
	/* explicit host kept */
	assert_ptr_equal(hss_user_by_impu(db.hss, P("sip:carol@elsewhere.example"), NULL),
			 u2);
	assert_null(hss_user_by_impu(db.hss, P("sip:carol@ims.example"), NULL));
	assert_ptr_equal(
	    hss_user_by_impu(db.hss, P("tel:0600000004;phone-context=ims.example"), NULL),
	    u3);
	/* echo IMPUs are not users */
	assert_null(hss_user_by_impu(db.hss, P("sip:echo@ims.example"), &i));
	assert_int_equal(i, HSS_IMPU_NONE);
	assert_true(hss_is_echo(db.hss, P("sip:echo@ims.example")));
	assert_true(hss_is_echo(db.hss, P("sip:+33999@x.example;user=phone")));
	assert_true(hss_is_echo(db.hss, P("tel:+33-999")));
	/* the domain completes IMPUs, it does not recover them: any host */
	assert_true(hss_is_echo(db.hss, P("sip:echo@other.example")));
	assert_false(hss_is_echo(db.hss, P("tel:+33600000001")));
	db_free(&db);
}

static void test_tel_sip(void **state)
{
	struct db db = db_load(base_db);
	struct hss_user *u0 = hss_user_at(db.hss, 0), *u1 = hss_user_at(db.hss, 1);
	uint32_t i;

	(void)state;
	/* stored tel:+33600000001 */
	assert_ptr_equal(
	    hss_user_by_impu(db.hss, P("sip:+33600000001@ims.example;user=phone"), &i),
	    u0);
	assert_int_equal(i, 1);
	assert_ptr_equal(hss_user_by_impu(db.hss, P("sip:+33600000001@ims.example"), &i),
			 u0);
	assert_ptr_equal(
	    hss_user_by_impu(db.hss, P("sip:+33-6-00-00-00-01@other.example;user=phone"),
			     NULL),
	    u0);
	assert_ptr_equal(hss_user_by_impu(db.hss, P("tel:+33.6.00.00.00.01"), NULL), u0);
	assert_ptr_equal(
	    hss_user_by_impu(db.hss, P("sips:+33600000001@ims.example"), NULL), u0);
	assert_null(hss_user_by_impu(db.hss, P("tel:+336000000010"), NULL));
	assert_null(hss_user_by_impu(db.hss, P("tel:33600000001"), NULL));
	/* stored sip:+33600000002 (written a.example, found at any host) */
	assert_ptr_equal(hss_user_by_impu(db.hss, P("tel:+33600000002"), &i), u1);
	assert_int_equal(i, 1);
	assert_ptr_equal(hss_user_by_impu(db.hss, P("sip:+33600000002@A.example"), NULL),
			 u1);
	assert_ptr_equal(hss_user_by_impu(db.hss,
					  P("sip:+33600000002@other.example;user=phone"),
					  NULL),
			 u1);
	assert_ptr_equal(
	    hss_user_by_impu(db.hss, P("sip:+33600000002@other.example"), NULL), u1);
	/* the IMSI-named IMPU is a number too */
	assert_ptr_equal(hss_user_by_impu(db.hss, P("tel:001010000000001"), NULL), u0);
	db_free(&db);

	/* one user holding both forms: each form finds its own entry */
	db = db_load(
	    "'ue_db': [{'imsi': '001010000000009', 'authent_type': 'none',"
	    " 'impu': ['sip:+33611', {'impu': 'tel:+33611', 'display_name': 'Tel'}]}]");
	assert_non_null(hss_user_by_impu(db.hss, P("tel:+33611"), &i));
	assert_int_equal(i, 1);
	assert_non_null(hss_user_by_impu(db.hss, P("sip:+33611@any.example"), &i));
	assert_int_equal(i, 0);
	assert_string_equal(hss_impu_display_name(hss_user_at(db.hss, 0), 1), "Tel");
	assert_null(hss_impu_display_name(hss_user_at(db.hss, 0), 0));
	db_free(&db);
}

static void test_domain_completion(void **state)
{
	struct db db = db_load(base_db);
	struct hss_user *u0 = hss_user_at(db.hss, 0), *u1 = hss_user_at(db.hss, 1);
	char buf[HSS_URI_MAX];

	(void)state;
	/* The domain (user domain a.example over the global one, IMPU domain
	 * b.example) completes the IMPUs we write; it is "not used to recover
	 * IMPU" (manual §5.2): a host-less IMPU is found at any host, as a
	 * phone whose ISIM names another home domain writes it. */
	assert_ptr_equal(hss_user_by_impu(db.hss, P("sip:alice@a.example"), NULL), u1);
	assert_ptr_equal(hss_user_by_impu(db.hss, P("sip:alice@ims.example"), NULL), u1);
	assert_ptr_equal(
	    hss_user_by_impu(db.hss, P("sip:alice@ims.mnc001.mcc001.3gppnetwork.org"),
			     NULL),
	    u1);
	assert_ptr_equal(hss_user_by_impu(db.hss, P("sip:bob@b.example"), NULL), u1);
	assert_ptr_equal(hss_user_by_impu(db.hss, P("sip:bob@a.example"), NULL), u1);
	assert_null(hss_user_by_impu(db.hss, P("sip:Bob@b.example"), NULL));
	/* an IMPU written with a host keeps it */
	assert_null(hss_user_by_impu(db.hss, P("sip:carol@ims.example"), NULL));

	assert_int_equal(hss_impu_uri(db.hss, u0, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "sip:001010000000001@ims.example");
	assert_int_equal(hss_impu_uri(db.hss, u0, 1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "tel:+33600000001");
	assert_int_equal(hss_impu_uri(db.hss, u0, 2, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "urn:service:sos");
	assert_int_equal(hss_impu_uri(db.hss, u1, 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "sip:alice@a.example");
	assert_int_equal(hss_impu_uri(db.hss, u1, 2, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "sip:bob@b.example");
	assert_int_equal(
	    hss_impu_uri(db.hss, hss_user_at(db.hss, 2), 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "sip:carol@elsewhere.example");
	assert_int_equal(hss_impu_uri(db.hss, u1, 2, buf, 10), ENOSPC);
	/* exactly the text and its NUL fits; one byte less does not */
	assert_int_equal(hss_impu_uri(db.hss, u1, 2, buf, 18), 0);
	assert_string_equal(buf, "sip:bob@b.example");
	assert_int_equal(hss_impu_uri(db.hss, u1, 2, buf, 17), ENOSPC);
	assert_int_equal(hss_impu_uri(db.hss, u0, 1, buf, 17), 0);
	assert_string_equal(buf, "tel:+33600000001");
	assert_int_equal(hss_impu_uri(db.hss, u0, 1, buf, 16), ENOSPC);
	assert_int_equal(hss_impu_uri(db.hss, u1, 3, buf, sizeof(buf)), EINVAL);
	db_free(&db);

	/* no domain anywhere: the host-less IMPU matches any host */
	db = db_load("'ue_db': [{'imsi': '001010000000009', 'authent_type': 'none',"
		     " 'impu': ['dave']}]");
	assert_non_null(hss_user_by_impu(db.hss, P("sip:dave@whatever.example"), NULL));
	assert_non_null(hss_user_by_impu(db.hss, P("dave"), NULL));
	assert_int_equal(
	    hss_impu_uri(db.hss, hss_user_at(db.hss, 0), 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "sip:dave");
	db_free(&db);
}

static void test_duplicates(void **state)
{
	(void)state;
	expect_load_err(
	    "'ue_db': [{'imsi': '001010000000001', 'pwd': 'x', 'impi': 'a@x.example'},"
	    " {'imsi': '001010000000002', 'pwd': 'x', 'impi': 'a@X.EXAMPLE'}]",
	    "ue_db[1].impi: \"a@X.EXAMPLE\" already used by ue_db[0]");
	expect_load_err("'ue_db': [{'imsi': '001010000000001', 'pwd': 'x'},"
			" {'imsi': '001010000000001', 'pwd': 'x'}]",
			"ue_db[1].imsi: \"001010000000001\" already used by ue_db[0]");
	expect_load_err(
	    "'ue_db': [{'nai': 'n@r', 'pwd': 'x'}, {'nai': 'n@R', 'pwd': 'x'}]",
	    "ue_db[1].nai: \"n@R\" already used by ue_db[0]");
	/* tel and sip forms of one number in two users */
	expect_load_err(
	    "'domain': 'ims.example', 'ue_db': ["
	    "{'imsi': '001010000000001', 'pwd': 'x', 'impu': ['a', 'tel:+331']},"
	    " {'imsi': '001010000000002', 'pwd': 'x', 'impu': "
	    "['sip:+331@other.example']}]",
	    "ue_db[1].impu[0]: IMPU \"sip:+331@other.example\" already used by "
	    "ue_db[0].impu[1]");
	expect_load_err(
	    "'domain': 'ims.example', 'ue_db': ["
	    "{'imsi': '001010000000001', 'pwd': 'x', 'impu': ['a']},"
	    " {'imsi': '001010000000002', 'pwd': 'x', 'impu': ['sip:a@IMS.example']}]",
	    "ue_db[1].impu[0]: IMPU \"sip:a@IMS.example\" already used by "
	    "ue_db[0].impu[0]");
	/* one user part in two domains: an incoming URI would find both */
	expect_load_err("'domain': 'ims.example', 'ue_db': ["
			"{'imsi': '001010000000001', 'pwd': 'x', 'impu': ['a']},"
			" {'imsi': '001010000000002', 'pwd': 'x', 'domain': 'b.example', "
			"'impu': ['a']}]",
			"ue_db[1].impu[0]: IMPU \"a\" already used by ue_db[0].impu[0]");
	expect_load_err("'echo': ['tel:+331'], 'ue_db': ["
			"{'imsi': '001010000000001', 'pwd': 'x', 'impu': ['tel:+331']}]",
			"echo[0]: IMPU \"tel:+331\" already used by ue_db[0].impu[0]");
	expect_load_err(
	    "'ue_db': [{'imsi': '001010000000001', 'pwd': 'x', 'impu': ['mailto:a@b']}]",
	    "ue_db[0].impu[0]: invalid IMPU");
	/* a ':' in a host-less user part would be a password once the host is
	 * added (fuzz_ue_db found it: the IMPU could never be found) */
	expect_load_err(
	    "'ue_db': [{'imsi': '001010000000001', 'pwd': 'x', 'impu': ['a:b']}]",
	    "ue_db[0].impu[0]: invalid IMPU");
	/* multi_sim of one IMSI may share everything, but not with others */
	expect_load_err("'ue_db': ["
			"{'imsi': '001010000000001', 'sim_algo': 'xor', 'K': '" XOR_K "',"
			" 'multi_sim': true, 'impu': ['u1']},"
			"{'imsi': '001010000000002', 'sim_algo': 'xor', 'K': '" XOR_K "',"
			" 'multi_sim': true, 'impu': ['u1']}]",
			"ue_db[1].impu[0]: IMPU \"u1\" already used by ue_db[0].impu[0]");
	/* same name on two hosts is not a duplicate; different users */
	struct db db = db_load(
	    "'ue_db': [{'imsi': '001010000000001', 'pwd': 'x', 'impu': ['sip:a@one']},"
	    " {'imsi': '001010000000002', 'pwd': 'x', 'impu': ['sip:a@two']}]");
	assert_ptr_equal(hss_user_by_impu(db.hss, P("sip:a@TWO"), NULL),
			 hss_user_at(db.hss, 1));
	db_free(&db);
}

static const char *const multi_db =
    "'domain': 'ims.example', 'ue_db': ["
    "{'imsi': '001010123456789', 'sim_algo': 'xor', 'K': '" XOR_K "', 'multi_sim': true,"
    " 'impi': '001010123456789@ims.example',"
    " 'impu': [{'impu': '001010123456789', 'imei': '35000000000001'}]},"
    "{'imsi': '001010123456789', 'sim_algo': 'xor', 'K': '" XOR_K "', 'multi_sim': true,"
    " 'impi': '001010123456789@ims.example',"
    " 'impu': [{'impu': '001010123456789', 'imei': '350000000000026'}]},"
    "{'imsi': '001010123456789', 'sim_algo': 'xor', 'K': '" XOR_K "', 'multi_sim': true,"
    " 'impi': '001010123456789@ims.example', 'impu': ['001010123456789']}"
    "]";

static void test_multi_sim(void **state)
{
	struct db db = db_load(multi_db);
	struct hss_user *c[8];
	struct hss_impu_match m[8];
	char d[15];
	size_t n;

	(void)state;
	n = hss_users_by_impi(db.hss, P("001010123456789@ims.example"), c, 8);
	assert_int_equal(n, 3);
	for (size_t i = 0; i < 3; i++)
		assert_ptr_equal(c[i], hss_user_at(db.hss, (uint32_t)i));
	/* a short output array still counts all of them */
	assert_int_equal(
	    hss_users_by_impi(db.hss, P("001010123456789@ims.example"), c, 2), 3);
	assert_ptr_equal(c[0], hss_user_at(db.hss, 0));
	assert_ptr_equal(c[1], hss_user_at(db.hss, 1));
	assert_int_equal(hss_users_by_imsi(db.hss, P("001010123456789"), c, 8), 3);
	assert_int_equal(hss_users_by_impu(db.hss, P("tel:001010123456789"), m, 8), 3);
	assert_ptr_equal(m[2].user, hss_user_at(db.hss, 2));

	assert_ptr_equal(hss_user_pick_imei(c, 3, P("<urn:gsma:imei:35000000-000002-0>")),
			 hss_user_at(db.hss, 1));
	assert_ptr_equal(
	    hss_user_pick_imei(c, 3, P("\"<urn:gsma:imei:35000000-000001-5;svn=01>\"")),
	    hss_user_at(db.hss, 0));
	assert_ptr_equal(hss_user_pick_imei(c, 3, P("350000000000018")),
			 hss_user_at(db.hss, 0));
	/* unknown IMEI: the one entry without imei catches it */
	assert_ptr_equal(hss_user_pick_imei(c, 3, P("<urn:gsma:imei:35999999-000001-0>")),
			 hss_user_at(db.hss, 2));
	assert_ptr_equal(hss_user_pick_imei(c, 3, P("garbage")), hss_user_at(db.hss, 2));
	assert_null(hss_user_pick_imei(c, 2, P("<urn:gsma:imei:35999999-000001-0>")));
	assert_null(hss_user_pick_imei(c, 0, P("35000000000001")));

	assert_int_equal(hss_imei_parse(P("urn:gsma:imei:35000000-000001-0"), d), 0);
	assert_string_equal(d, "35000000000001");
	assert_int_equal(hss_imei_parse(P("3500000000000"), d), EBADMSG);
	assert_int_equal(hss_imei_parse(P("35000000x000001"), d), EBADMSG);
	assert_int_equal(hss_imei_parse(P("35000000000001234"), d), EBADMSG);
	assert_int_equal(hss_imei_parse(P(""), d), EBADMSG);
	db_free(&db);
}

static void test_associated(void **state)
{
	struct db db =
	    db_load("'domain': 'ims.example', 'ue_db': [{'imsi': '001010000000001',"
		    " 'pwd': 'x', 'display_name': 'User',"
		    " 'impu': ['a', {'impu': 'b', 'associated': false},"
		    " {'impu': 'c', 'preferred': true, 'display_name': 'Cee'},"
		    " {'impu': 'tel:+331', 'asserted': true}, 'd']},"
		    " {'imsi': '001010000000002', 'pwd': 'x',"
		    " 'impu': [{'impu': 'x', 'associated': false}, 'y']},"
		    " {'imsi': '001010000000003', 'pwd': 'x'}]");
	struct hss_user *u = hss_user_at(db.hss, 0);
	uint32_t idx[8];

	(void)state;
	assert_int_equal(hss_user_associated(u, idx, 8), 4);
	assert_int_equal(idx[0], 2);
	assert_int_equal(idx[1], 0);
	assert_int_equal(idx[2], 3);
	assert_int_equal(idx[3], 4);
	assert_int_equal(hss_user_associated(u, idx, 1), 4);
	assert_int_equal(idx[0], 2);
	assert_int_equal(hss_user_asserted(u), 3);
	assert_int_equal(hss_user_preferred(u), 2);
	assert_string_equal(hss_impu_display_name(u, 2), "Cee");
	assert_string_equal(hss_impu_display_name(u, 0), "User");
	assert_string_equal(hss_impu_display_name(u, HSS_IMPU_NONE), "User");
	assert_false(hss_impu_opts(u, 1)->associated);
	assert_null(hss_impu_opts(NULL, 0)); /* no user: a call imsd makes itself */
	assert_string_equal(hss_user_impu(u, 3)->impu, "tel:+331");
	assert_null(hss_user_impu(u, 5));

	u = hss_user_at(db.hss, 1);
	assert_int_equal(hss_user_asserted(u), 0);
	assert_int_equal(hss_user_preferred(u), 1); /* first associated */
	assert_int_equal(hss_user_associated(u, idx, 8), 1);
	u = hss_user_at(db.hss, 2);
	assert_int_equal(hss_user_asserted(u), HSS_IMPU_NONE);
	assert_int_equal(hss_user_preferred(u), HSS_IMPU_NONE);
	assert_int_equal(hss_user_associated(u, idx, 8), 0);
	db_free(&db);
}

/* The UE side of one user, built from the test's own copy of the keys. */
static void ue_cred(struct aka_cred *c, enum aka_algo algo, const char *k,
		    const char *opc)
{
	aka_cred_init(c, algo);
	assert_int_equal(ims_cfg_hex_decode(k, c->k, strlen(k) / 2), 0);
	c->k_len = strlen(k) / 2;
	if (opc)
		assert_int_equal(ims_cfg_hex_decode(opc, c->opc, strlen(opc) / 2), 0);
	c->amf[0] = 0x80;
	c->amf[1] = 0x00;
}

/* UE accepts av: MAC ok, RES == XRES, same CK/IK, fresh SQN. */
static void ue_check(const struct aka_cred *c, const struct aka_vector *av,
		     struct sqn_ms *ms)
{
	struct aka_vector ue;

	assert_int_equal(aka_autn_check(c, av->rand, av->autn, av->autn_len, &ue), 0);
	assert_int_equal(ue.sqn, av->sqn);
	assert_int_equal(ue.xres_len, av->xres_len);
	assert_memory_equal(ue.xres, av->xres, av->xres_len);
	assert_memory_equal(ue.ck, av->ck, av->ck_len);
	assert_memory_equal(ue.ik, av->ik, av->ik_len);
	if (ms) {
		assert_true(sqn_ms_is_fresh(ms, ue.sqn));
		sqn_ms_accept(ms, ue.sqn);
	}
	aka_vector_wipe(&ue);
}

static const char *const tuak_k =
    "abababababababababababababababababababababababababababababababab";
static const char *const tuak_topc =
    "bd04d9530e87513c5d837ac2ad954623a8e2330c115305a73eb45d1f40cccbff";

static const char *const auth_db =
    "'ue_db': ["
    "{'imsi': '001010000000001', 'K': '" MIL_K "', 'opc': '" MIL_OPC
    "', 'sqn': '000000000040'},"
    "{'imsi': '001010000000002', 'K': '" MIL_K "', 'op': '" MIL_OP "', 'sqn': 35},"
    "{'imsi': '001010000000003', 'sim_algo': 'xor', 'K': '" XOR_K "', 'res_len': 16},"
    "{'imsi': '001010000000004', 'sim_algo': 'tuak', 'K': "
    "'abababababababababababababababababababababababababababababababab',"
    " 'topc': 'bd04d9530e87513c5d837ac2ad954623a8e2330c115305a73eb45d1f40cccbff',"
    " 'mac_len': 16, 'res_len': 16, 'ck_len': 32, 'ik_len': 16},"
    "{'imsi': '001010000000005', 'impi': 'alice@ims.example', 'pwd': 'secret',"
    " 'authent_qop': 'auth', 'auth_on_register_only': false},"
    "{'imsi': '001010000000006', 'K': '" MIL_K "', 'opc': '" MIL_OPC "', 'res_len': 4}"
    "]";

static void test_av_generate(void **state)
{
	struct db db = db_load(auth_db);
	struct aka_vector av, av2;
	struct aka_cred c;

	(void)state;
	/* Milenage with OPc; SQN_HE 0x40 = SEQ 2 IND 0 -> SEQ 3 */
	ue_cred(&c, AKA_ALGO_MILENAGE, MIL_K, MIL_OPC);
	assert_int_equal(hss_av_generate(hss_user_at(db.hss, 0), &av), 0);
	assert_int_equal(av.sqn, sqn_make(3, 0));
	assert_int_equal(av.xres_len, 8);
	assert_int_equal(av.autn_len, 16);
	ue_check(&c, &av, NULL);
	assert_int_equal(hss_user_sqn_he(hss_user_at(db.hss, 0)), av.sqn);
	/* RAND is fresh each time */
	assert_int_equal(hss_av_generate(hss_user_at(db.hss, 0), &av2), 0);
	assert_memory_not_equal(av.rand, av2.rand, AKA_RAND_LEN);
	assert_true(av2.sqn > av.sqn);
	aka_vector_wipe(&av2);

	/* Milenage with OP (OPc derived), sqn 35 = SEQ 1 IND 3: IND kept */
	assert_int_equal(hss_av_generate(hss_user_at(db.hss, 1), &av), 0);
	assert_int_equal(av.sqn, sqn_make(2, 3));
	ue_check(&c, &av, NULL);

	/* XOR with a 128-bit RES */
	ue_cred(&c, AKA_ALGO_XOR, XOR_K, NULL);
	c.xor_res_len = 16;
	assert_int_equal(hss_av_generate(hss_user_at(db.hss, 2), &av), 0);
	assert_int_equal(av.xres_len, 16);
	ue_check(&c, &av, NULL);

	/* TUAK, 256-bit K, 128-bit MAC and RES, 256-bit CK */
	ue_cred(&c, AKA_ALGO_TUAK, tuak_k, tuak_topc);
	c.tuak.mac_len = 16;
	c.tuak.res_len = 16;
	c.tuak.ck_len = 32;
	c.tuak.ik_len = 16;
	c.tuak.iterations = 1;
	assert_int_equal(hss_av_generate(hss_user_at(db.hss, 3), &av), 0);
	assert_int_equal(av.autn_len, 24);
	assert_int_equal(av.ck_len, 32);
	ue_check(&c, &av, NULL);

	/* Milenage with res_len 4: the leftmost 32 bits */
	ue_cred(&c, AKA_ALGO_MILENAGE, MIL_K, MIL_OPC);
	assert_int_equal(hss_av_generate(hss_user_at(db.hss, 5), &av), 0);
	assert_int_equal(av.xres_len, 4);
	assert_int_equal(aka_autn_check(&c, av.rand, av.autn, av.autn_len, &av2), 0);
	assert_memory_equal(av2.xres, av.xres, 4);
	aka_vector_wipe(&av2);

	/* no K: MD5 user */
	assert_int_equal(hss_av_generate(hss_user_at(db.hss, 4), &av), ENOKEY);
	assert_int_equal(hss_av_generate(NULL, &av), EINVAL);
	aka_vector_wipe(&av);
	aka_cred_wipe(&c);
	db_free(&db);
}

static void test_sqn_increasing(void **state)
{
	struct db db = db_load(auth_db);
	struct hss_user *u = hss_user_at(db.hss, 0);
	struct aka_vector av;
	struct aka_cred c;
	struct sqn_ms ms;
	uint64_t prev = 0;

	(void)state;
	ue_cred(&c, AKA_ALGO_MILENAGE, MIL_K, MIL_OPC);
	sqn_ms_init(&ms, 0x40, 0);
	for (int i = 0; i < 50; i++) {
		assert_int_equal(hss_av_generate(u, &av), 0);
		assert_true(av.sqn > prev);
		assert_int_equal(sqn_seq(av.sqn), 3 + (uint64_t)i);
		prev = av.sqn;
		ue_check(&c, &av, &ms);
	}
	/* exhausted SEQ */
	assert_int_equal(hss_user_sqn_set(u, SQN_MAX + 1), EINVAL);
	assert_int_equal(hss_user_sqn_set(u, SQN_MAX), 0);
	assert_int_equal(hss_av_generate(u, &av), ERANGE);
	assert_int_equal(hss_user_sqn_he(u), SQN_MAX);
	aka_vector_wipe(&av);
	db_free(&db);
}

/* RES never holds a zero byte (clients that take the AKAv1 password as a C
 * string would fail): of 3000 vectors about 90 would without the redraw. */
static void test_res_without_zero_byte(void **state)
{
	struct db db = db_load(auth_db);
	struct hss_user *u = hss_user_at(db.hss, 0);
	struct aka_vector av;
	struct aka_cred c;
	struct sqn_ms ms;

	(void)state;
	ue_cred(&c, AKA_ALGO_MILENAGE, MIL_K, MIL_OPC);
	sqn_ms_init(&ms, 0x40, 0);
	for (int i = 0; i < 3000; i++) {
		assert_int_equal(hss_av_generate(u, &av), 0);
		assert_null(memchr(av.xres, 0, av.xres_len));
		ue_check(&c, &av, &ms); /* still a valid vector for the UE */
	}
	aka_vector_wipe(&av);
	db_free(&db);
}

static void test_resync(void **state)
{
	struct db db = db_load(auth_db);
	struct hss_user *u = hss_user_at(db.hss, 0);
	uint8_t auts[AKA_AUTS_MAX], sa[AKA_RAND_LEN + AKA_AUTS_MAX];
	struct aka_vector av, ue;
	struct aka_cred c;
	struct sqn_ms ms;
	uint64_t sqn_ms_val = sqn_make(5000, 7), got = 0;
	size_t auts_len;

	(void)state;
	ue_cred(&c, AKA_ALGO_MILENAGE, MIL_K, MIL_OPC);
	/* The SIM's odometer is far ahead of the HSS (field note: MME used it). */
	sqn_ms_init(&ms, sqn_ms_val, 0);
	assert_int_equal(hss_av_generate(u, &av), 0);
	assert_int_equal(aka_autn_check(&c, av.rand, av.autn, av.autn_len, &ue), 0);
	assert_false(sqn_ms_is_fresh(&ms, ue.sqn));
	assert_int_equal(aka_auts_build(&c, av.rand, ms.highest, auts, &auts_len), 0);
	assert_int_equal(auts_len, 14);

	/* wrong MAC-S: rejected, SQN_HE untouched */
	uint64_t before = hss_user_sqn_he(u);

	auts[13] ^= 1;
	assert_int_equal(hss_resync(u, av.rand, auts, auts_len, NULL), EACCES);
	assert_int_equal(hss_user_sqn_he(u), before);
	auts[13] ^= 1;
	/* the AUTS of another RAND is wrong too */
	av.rand[0] ^= 1;
	assert_int_equal(hss_resync(u, av.rand, auts, auts_len, NULL), EACCES);
	assert_int_equal(hss_user_sqn_he(u), before);
	av.rand[0] ^= 1;
	assert_int_equal(hss_resync(u, av.rand, auts, auts_len - 1, NULL), EINVAL);
	assert_int_equal(hss_user_sqn_he(u), before);

	/* right AUTS through the Cx SIP-Authorization form RAND || AUTS */
	memcpy(sa, av.rand, AKA_RAND_LEN);
	memcpy(sa + AKA_RAND_LEN, auts, auts_len);
	assert_int_equal(hss_resync_sip_auth(u, sa, AKA_RAND_LEN + auts_len, &got), 0);
	assert_int_equal(got, sqn_ms_val);
	assert_int_equal(hss_user_sqn_he(u), sqn_ms_val);
	/* the next vector is accepted by that UE */
	assert_int_equal(hss_av_generate(u, &av), 0);
	assert_int_equal(sqn_seq(av.sqn), 5001);
	assert_int_equal(sqn_ind(av.sqn), 0);
	ue_check(&c, &av, &ms);

	/* a replayed old AUTS (SQN_MS behind SQN_HE) does not move it back */
	before = hss_user_sqn_he(u);
	assert_int_equal(hss_resync(u, sa, sa + AKA_RAND_LEN, auts_len, NULL), 0);
	assert_int_equal(hss_user_sqn_he(u), before);

	/* HSS far beyond the USIM's window: restart from SQN_MS */
	assert_int_equal(hss_user_sqn_set(u, sqn_make(5000 + SQN_DELTA_DEFAULT + 10, 0)),
			 0);
	assert_int_equal(hss_resync(u, sa, sa + AKA_RAND_LEN, auts_len, NULL), 0);
	assert_int_equal(hss_user_sqn_he(u), sqn_ms_val);
	assert_int_equal(hss_resync_sip_auth(u, sa, AKA_RAND_LEN, NULL), EINVAL);

	/* TUAK with a 128-bit MAC-S */
	u = hss_user_at(db.hss, 3);
	ue_cred(&c, AKA_ALGO_TUAK, tuak_k, tuak_topc);
	c.tuak.mac_len = 16;
	c.tuak.res_len = 16;
	c.tuak.ck_len = 32;
	c.tuak.ik_len = 16;
	assert_int_equal(hss_av_generate(u, &av), 0);
	assert_int_equal(aka_auts_build(&c, av.rand, sqn_make(77, 1), auts, &auts_len),
			 0);
	assert_int_equal(auts_len, 22);
	assert_int_equal(hss_resync(u, av.rand, auts, auts_len, &got), 0);
	assert_int_equal(got, sqn_make(77, 1));
	assert_int_equal(hss_av_generate(u, &av), 0);
	assert_int_equal(sqn_seq(av.sqn), 78);
	ue_check(&c, &av, NULL);

	/* no K */
	assert_int_equal(hss_resync(hss_user_at(db.hss, 4), av.rand, auts, 14, NULL),
			 ENOKEY);
	aka_vector_wipe(&av);
	aka_vector_wipe(&ue);
	aka_cred_wipe(&c);
	db_free(&db);
}

static void test_md5(void **state)
{
	struct db db = db_load(auth_db);
	struct hss_user *u = hss_user_at(db.hss, 4);
	char ha1[33];
	struct pl pw;

	(void)state;
	/* python3: hashlib.md5(b"alice@ims.example:ims.example:secret") */
	assert_int_equal(hss_md5_ha1(u, (struct pl)PL_INIT, P("ims.example"), ha1), 0);
	assert_string_equal(ha1, "9a80adbdd99ef35a6ed2a838b911765e");
	assert_int_equal(hss_md5_ha1(u, P("bob"), P("realm.x"), ha1), 0);
	assert_string_equal(ha1, "9c06f28ecb4376687ab4c141c178d325");
	pw = hss_user_pwd(u);
	assert_true(pl_eq_str(pw, "secret"));
	assert_int_equal(hss_md5_ha1(hss_user_at(db.hss, 0), P("x"), P("r"), ha1),
			 ENOKEY);
	assert_int_equal(hss_user_pwd(hss_user_at(db.hss, 0)).l, 0);
	db_free(&db);
}

static void test_policy(void **state)
{
	struct db db =
	    db_load("'auth_on_register_only': false, 'ue_db': ["
		    "{'imsi': '001010000000001', 'K': '" MIL_K "', 'opc': '" MIL_OPC "'},"
		    "{'imsi': '001010000000002', 'K': '" MIL_K "', 'opc': '" MIL_OPC "',"
		    " 'authent_type': 'AKAv2', 'authent_qop': 'auth', "
		    "'auth_on_register_only': true},"
		    "{'imsi': '001010000000003', 'pwd': 'pw'},"
		    "{'imsi': '001010000000004', 'pwd': 'pw', 'K': '" MIL_K
		    "', 'opc': '" MIL_OPC "'},"
		    "{'imsi': '001010000000005', 'authent_type': 'none'},"
		    "{'imsi': '001010000000006', 'authentication': false,"
		    " 'impu': ['a', {'impu': 'b', 'authentication': false}]},"
		    "{'imsi': '001010000000007', 'K': '" MIL_K "', 'opc': '" MIL_OPC "',"
		    " 'impu': ['a7', {'impu': 'b7', 'authentication': true}]}]");
	struct hss_user *akav1 = hss_user_at(db.hss, 0), *akav2 = hss_user_at(db.hss, 1);
	struct hss_user *md5 = hss_user_at(db.hss, 2), *both = hss_user_at(db.hss, 3);
	enum digest_algo a, o;

	(void)state;
	/* levels */
	assert_int_equal(hss_authent_level(DIGEST_ALGO_MD5_SESS), IMS_CFG_AUTH_MD5);
	assert_int_equal(hss_authent_level(DIGEST_ALGO_AKAV1_SHA256), IMS_CFG_AUTH_AKAV1);
	assert_true(hss_authent_at_least(DIGEST_ALGO_AKAV2_SHA256, IMS_CFG_AUTH_AKAV2));
	assert_true(hss_authent_at_least(DIGEST_ALGO_AKAV2_MD5, IMS_CFG_AUTH_AKAV2));
	assert_false(hss_authent_at_least(DIGEST_ALGO_AKAV1_MD5, IMS_CFG_AUTH_AKAV2));
	assert_false(hss_authent_at_least(DIGEST_ALGO_MD5, IMS_CFG_AUTH_AKAV1));
	assert_true(hss_authent_at_least(DIGEST_ALGO_MD5, IMS_CFG_AUTH_NONE));

	/* nothing offered: authent_type */
	assert_int_equal(hss_auth_select(akav1, NULL, &a), 0);
	assert_int_equal(a, DIGEST_ALGO_AKAV1_MD5);
	assert_int_equal(hss_auth_select(akav2, NULL, &a), 0);
	assert_int_equal(a, DIGEST_ALGO_AKAV2_MD5);
	assert_int_equal(hss_auth_select(md5, NULL, &a), 0);
	assert_int_equal(a, DIGEST_ALGO_MD5);
	/* stronger or equal accepted, weaker refused */
	o = DIGEST_ALGO_AKAV2_SHA256;
	assert_int_equal(hss_auth_select(akav1, &o, &a), 0);
	assert_int_equal(a, DIGEST_ALGO_AKAV2_SHA256);
	o = DIGEST_ALGO_AKAV1_MD5;
	assert_int_equal(hss_auth_select(akav2, &o, &a), EPERM);
	o = DIGEST_ALGO_MD5;
	assert_int_equal(hss_auth_select(akav1, &o, &a), EPERM);
	/* stronger but no K: challenge with the configured MD5 */
	o = DIGEST_ALGO_AKAV1_MD5;
	assert_int_equal(hss_auth_select(md5, &o, &a), 0);
	assert_int_equal(a, DIGEST_ALGO_MD5);
	/* pwd and K: the UE's AKA wins */
	assert_int_equal(hss_auth_select(both, &o, &a), 0);
	assert_int_equal(a, DIGEST_ALGO_AKAV1_MD5);
	assert_int_equal(hss_auth_select(hss_user_at(db.hss, 4), NULL, &a), EINVAL);

	/* required */
	assert_true(hss_auth_required(akav1, HSS_IMPU_NONE));
	assert_false(hss_auth_required(hss_user_at(db.hss, 4), HSS_IMPU_NONE));
	assert_false(hss_auth_required(hss_user_at(db.hss, 5), HSS_IMPU_NONE));
	assert_false(hss_auth_required(hss_user_at(db.hss, 5), 0));
	/* a user's IMPUs all authenticate or none does (a mix is a load
	 * error: test_cfg_types' test_impu_auth_mix) */
	assert_false(hss_auth_required(hss_user_at(db.hss, 5), 1));
	assert_true(hss_auth_required(hss_user_at(db.hss, 6), 0));
	assert_true(hss_auth_required(hss_user_at(db.hss, 6), 1));

	/* qop, auth_on_register_only (user value, else the global false) */
	assert_int_equal(hss_auth_qop(akav1), DIGEST_QOP_NONE);
	assert_int_equal(hss_auth_qop(akav2), DIGEST_QOP_AUTH);
	assert_false(hss_auth_on_register_only(akav1));
	assert_true(hss_auth_on_register_only(akav2));
	db_free(&db);

	/* global default true */
	db = db_load("'ue_db': [{'imsi': '001010000000001', 'pwd': 'x'}]");
	assert_true(hss_auth_on_register_only(hss_user_at(db.hss, 0)));
	db_free(&db);
}

static void test_bad_input(void **state)
{
	struct db db = db_load(base_db);
	char big[4096];
	static const char *const bad[] = {
	    "",
	    " ",
	    "<>",
	    "sip:",
	    "sip:@ims.example",
	    "sip:a@",
	    "sip:a@[::1",
	    "tel:",
	    "tel:---",
	    "urn:",
	    "mailto:a@b",
	    "http://x",
	    "sip:a@:5060",
	    "sip:+@ims.example;user=phone",
	    ":",
	    "\x01\x02",
	};
	struct hss_user *c[2];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_null(hss_user_by_impu(db.hss, P(bad[i]), NULL));
		assert_false(hss_is_echo(db.hss, P(bad[i])));
		assert_null(hss_user_by_impi(db.hss, P(bad[i])));
		assert_null(hss_user_by_nai(db.hss, P(bad[i])));
		assert_null(hss_user_by_imsi(db.hss, P(bad[i])));
	}
	memset(big, '1', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	assert_null(hss_user_by_impu(db.hss, P(big), NULL));
	assert_null(hss_user_by_impi(db.hss, P(big)));
	memcpy(big, "tel:+", 5);
	assert_null(hss_user_by_impu(db.hss, P(big), NULL));
	assert_null(hss_user_by_impu(db.hss, (struct pl){NULL, 0}, NULL));
	assert_int_equal(hss_users_by_impi(db.hss, (struct pl){NULL, 0}, c, 2), 0);
	assert_null(hss_user_by_impu(NULL, P("tel:+1"), NULL));
	assert_int_equal(hss_alloc(NULL, db.cfg, NULL, 0), EINVAL);
	db_free(&db);
}

/* A million users through the real typed-config loader; correctness only. */
static void test_million(void **state)
{
	const uint32_t n = 1000000;
	struct cfg_diag d = {err, sizeof(err), NULL, NULL};
	json_t *root = json_object(), *arr = json_array();
	json_t *k = json_string(XOR_K), *xor = json_string("xor");
	struct ims_cfg *cfg = NULL;
	struct hss *hss = NULL;
	char s[96];
	uint32_t i;

	(void)state;
	json_object_set_new(root, "sip_addr", json_string("127.0.0.1"));
	json_object_set_new(root, "domain", json_string("ims.example"));
	for (i = 0; i < n; i++) {
		json_t *ue = json_object(), *impu = json_array();

		snprintf(s, sizeof(s), "0010100%08u", i);
		json_object_set_new(ue, "imsi", json_string(s));
		json_object_set(ue, "sim_algo", xor);
		json_object_set(ue, "K", k);
		snprintf(s, sizeof(s), "0010100%08u@ims.example", i);
		json_object_set_new(ue, "impi", json_string(s));
		snprintf(s, sizeof(s), "0010100%08u", i);
		json_array_append_new(impu, json_string(s));
		snprintf(s, sizeof(s), "tel:+336%08u", i);
		json_array_append_new(impu, json_string(s));
		json_object_set_new(ue, "impu", impu);
		json_array_append_new(arr, ue);
	}
	json_decref(k);
	json_decref(xor);
	json_object_set_new(root, "ue_db", arr);
	if (ims_cfg_from_json(root, NULL, &cfg, &d))
		fail_msg("config: %s", err);
	json_decref(root);
	assert_int_equal(hss_alloc(&hss, cfg, err, sizeof(err)), 0);
	assert_int_equal(hss_user_count(hss), n);
	assert_int_equal(hss_impu_count(hss), 2 * n);
	for (i = 0; i < n; i += 997) {
		struct hss_user *u = hss_user_at(hss, i);
		uint32_t idx;

		snprintf(s, sizeof(s), "0010100%08u@IMS.example", i);
		assert_ptr_equal(hss_user_by_impi(hss, P(s)), u);
		snprintf(s, sizeof(s), "0010100%08u", i);
		assert_ptr_equal(hss_user_by_imsi(hss, P(s)), u);
		snprintf(s, sizeof(s), "sip:0010100%08u@ims.example", i);
		assert_ptr_equal(hss_user_by_impu(hss, P(s), &idx), u);
		assert_int_equal(idx, 0);
		snprintf(s, sizeof(s), "sip:+336%08u@ims.example;user=phone", i);
		assert_ptr_equal(hss_user_by_impu(hss, P(s), &idx), u);
		assert_int_equal(idx, 1);
	}
	assert_null(hss_user_by_imsi(hss, P("001010100000000")));
	assert_null(hss_user_by_impu(hss, P("tel:+33610000000"), NULL));
	/* the record itself stays small */
	assert_true(hss_mem_usage(hss) / n < 256);
	mem_deref(hss);
	ims_cfg_free(cfg);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_user_slots),
	    cmocka_unit_test(test_lookup_keys),
	    cmocka_unit_test(test_tel_sip),
	    cmocka_unit_test(test_domain_completion),
	    cmocka_unit_test(test_duplicates),
	    cmocka_unit_test(test_multi_sim),
	    cmocka_unit_test(test_associated),
	    cmocka_unit_test(test_av_generate),
	    cmocka_unit_test(test_sqn_increasing),
	    cmocka_unit_test(test_res_without_zero_byte),
	    cmocka_unit_test(test_resync),
	    cmocka_unit_test(test_md5),
	    cmocka_unit_test(test_policy),
	    cmocka_unit_test(test_bad_input),
	    cmocka_unit_test(test_million),
	};

	return cmocka_run_group_tests_name("hss", tests, NULL, NULL);
}
