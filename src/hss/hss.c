/*
 * hss/hss — the user database: building the indexes over the ue_db
 * entries and looking users up (manual §5.2.1). See hss.h.
 *
 * The records borrow everything from the configuration; an index entry is
 * 16 to 24 bytes and the tables are sized for their final count up front,
 * so loading a million users never rehashes. Duplicate identities are
 * found while inserting: each key is looked up before it goes in.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/mem.h"
#include "hss/hss_int.h"

/* Up to this many users share a key (multi_sim groups) in a lookup. */
#define HSS_MATCH_MAX 64

static void hss_destroy(void *data)
{
	struct hss *hss = data;

	mem_deref(hss->by_impi);
	mem_deref(hss->by_imsi);
	mem_deref(hss->by_impu);
	mem_deref(hss->by_nai);
	hss_store_detach(hss);
	hss_added_free(hss);
	for (uint32_t i = 0; i < hss->echo_added_n; i++)
		free(hss->echo_added[i]);
	free(hss->echo_added);
	free(hss->users);
	free(hss->impus);
	free(hss->nais);
}

static int load_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int load_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err && errlen) {
		va_start(ap, fmt);
		vsnprintf(err, errlen, fmt, ap);
		va_end(ap);
	}
	return EINVAL;
}

/* multi_sim entries with the same IMSI may share identities. */
static bool same_multi_sim(const struct ims_cfg_ue *a, const struct ims_cfg_ue *b)
{
	return a->multi_sim && b->multi_sim && a->imsi && b->imsi &&
	       !strcmp(a->imsi, b->imsi);
}

struct pl hss_ent_text(const struct hss *hss, const struct hss_key_ent *e)
{
	if (e->user == HSS_ECHO && e->item < hss->cfg->echo_count)
		return pl_from_str(hss->cfg->echo[e->item]);
	if (e->user == HSS_ECHO) /* added at run time (hss_echo_add) */
		return pl_from_str(hss->echo_added[e->item - hss->cfg->echo_count]->text);
	return pl_from_str(hss->users[e->user].ue->impu[e->item].impu);
}

/* ---- IMPU index ---- */

struct impu_key {
	const struct hss *hss;
	const struct hss_uri *uri;
	bool conflict; /* compare stored against stored */
	/* Where the stored URI last matched is left (may be NULL), so that
	 * the caller does not parse it a second time. */
	struct hss_uri *last;
};

static bool impu_match_h(const struct hash_entry *he, const void *arg)
{
	const struct impu_key *k = arg;
	const struct hss_key_ent *e = HASH_OBJ(he, struct hss_key_ent, he);
	struct hss_uri scratch;
	/* scratch is output only: hss_uri_parse fills it */
	// cppcheck-suppress uninitvar
	struct hss_uri *st = k->last ? k->last : &scratch;
	struct pl text = hss_ent_text(k->hss, e);

	/* The domain completes the IMPUs we write (P-Associated-URI,
	 * reginfo); it is not used to recover them (manual §5.2 `domain`):
	 * a host-less `sip:user` is found at any host. */
	if (hss_uri_parse(text, NULL, st))
		return false; /* cannot happen: checked at insert */
	return k->conflict ? hss_uri_conflict(k->uri, st) : hss_uri_match(k->uri, st);
}

static const char *ent_name(const struct hss_key_ent *e, char *buf, size_t size)
{
	if (e->user == HSS_ECHO)
		snprintf(buf, size, "echo[%u]", e->item);
	else
		snprintf(buf, size, "ue_db[%u].impu[%u]", e->user, e->item);
	return buf;
}

int hss_impu_insert(struct hss *hss, struct hss_key_ent *e, char *err, size_t errlen)
{
	struct hss_uri uri;
	struct impu_key k = {hss, &uri, true, NULL};
	const struct hash_entry *dup;
	struct pl text = hss_ent_text(hss, e);
	char n1[48], n2[48];
	uint64_t hv;

	if (hss_uri_parse(text, NULL, &uri))
		return load_err(err, errlen, "%s: invalid IMPU \"%.64s\"",
				ent_name(e, n1, sizeof(n1)), text.p);
	hv = hss_uri_hash(&uri);
	for (dup = hash_lookup(hss->by_impu, hv, impu_match_h, &k); dup;
	     dup = hash_lookup_next(hss->by_impu, dup, impu_match_h, &k)) {
		const struct hss_key_ent *o = HASH_OBJ(dup, struct hss_key_ent, he);

		/* sip: and tel: forms of one number in one user are normal. */
		if (o->user == e->user)
			continue;
		if (o->user != HSS_ECHO && e->user != HSS_ECHO &&
		    same_multi_sim(hss->users[o->user].ue, hss->users[e->user].ue))
			continue;
		return load_err(err, errlen, "%s: IMPU \"%.64s\" already used by %s",
				ent_name(e, n1, sizeof(n1)), text.p,
				ent_name(o, n2, sizeof(n2)));
	}
	hash_insert(hss->by_impu, &e->he, hv);
	return 0;
}

/* ---- IMPI, IMSI, NAI indexes ---- */

static bool impi_match_h(const struct hash_entry *he, const void *arg)
{
	const struct hss_user *u = HASH_OBJ(he, struct hss_user, he_impi);

	return hss_nai_eq(pl_from_str(u->ue->impi), *(const struct pl *)arg);
}

static bool imsi_match_h(const struct hash_entry *he, const void *arg)
{
	const struct hss_user *u = HASH_OBJ(he, struct hss_user, he_imsi);

	return pl_eq_str(*(const struct pl *)arg, u->ue->imsi);
}

struct nai_key {
	const struct hss *hss;
	struct pl nai;
};

static bool nai_match_h(const struct hash_entry *he, const void *arg)
{
	const struct hss_key_ent *e = HASH_OBJ(he, struct hss_key_ent, he);
	const struct nai_key *k = arg;

	return hss_nai_eq(pl_from_str(k->hss->users[e->user].ue->nai), k->nai);
}

/* Refuses an identity of user i another user has (multi_sim aside);
 * nothing is inserted. */
static int user_keys_check(struct hss *hss, uint32_t i, char *err, size_t errlen)
{
	const struct ims_cfg_ue *ue = hss->users[i].ue;
	const struct hash_entry *o;

	if (ue->impi) {
		struct pl impi = pl_from_str(ue->impi);

		if (impi.l >= HSS_KEY_MAX)
			return load_err(err, errlen, "ue_db[%u].impi: too long", i);
		o = hash_lookup(hss->by_impi, hss_nai_hash(impi), impi_match_h, &impi);
		if (o) {
			const struct hss_user *ou = HASH_OBJ(o, struct hss_user, he_impi);

			if (!same_multi_sim(ou->ue, ue))
				return load_err(
				    err, errlen,
				    "ue_db[%u].impi: \"%.64s\" already used by "
				    "ue_db[%u]",
				    i, ue->impi, hss_user_index(hss, ou));
		}
	}
	if (ue->imsi) {
		struct pl imsi = pl_from_str(ue->imsi);

		o = hash_lookup(hss->by_imsi, hash_bytes(imsi.p, imsi.l), imsi_match_h, &imsi);
		if (o) {
			const struct hss_user *ou = HASH_OBJ(o, struct hss_user, he_imsi);

			if (!ou->ue->multi_sim || !ue->multi_sim)
				return load_err(err, errlen,
						"ue_db[%u].imsi: \"%s\" already used by "
						"ue_db[%u] (allowed only when both set "
						"multi_sim)",
						i, ue->imsi, hss_user_index(hss, ou));
		}
	}
	if (ue->nai) {
		struct nai_key k = {hss, pl_from_str(ue->nai)};

		if (k.nai.l >= HSS_KEY_MAX)
			return load_err(err, errlen, "ue_db[%u].nai: too long", i);
		o = hash_lookup(hss->by_nai, hss_nai_hash(k.nai), nai_match_h, &k);
		if (o) {
			const struct hss_key_ent *oe =
			    HASH_OBJ(o, struct hss_key_ent, he);

			if (!same_multi_sim(hss->users[oe->user].ue, ue))
				return load_err(
				    err, errlen,
				    "ue_db[%u].nai: \"%.64s\" already used by "
				    "ue_db[%u]",
				    i, ue->nai, oe->user);
		}
	}
	return 0;
}

int hss_user_keys_index(struct hss *hss, uint32_t i, struct hss_key_ent *nai_ent, char *err,
			size_t errlen)
{
	struct hss_user *u = &hss->users[i];
	const struct ims_cfg_ue *ue = u->ue;
	int e = user_keys_check(hss, i, err, errlen);

	if (e)
		return e;
	if (ue->impi)
		hash_insert(hss->by_impi, &u->he_impi, hss_nai_hash(pl_from_str(ue->impi)));
	if (ue->imsi)
		hash_insert(hss->by_imsi, &u->he_imsi, hash_bytes(ue->imsi, strlen(ue->imsi)));
	if (ue->nai) {
		nai_ent->user = i;
		hash_insert(hss->by_nai, &nai_ent->he, hss_nai_hash(pl_from_str(ue->nai)));
	}
	return 0;
}

static int hss_index(struct hss *hss, char *err, size_t errlen)
{
	const struct ims_cfg *cfg = hss->cfg;
	uint32_t n = 0;
	int e;

	for (uint32_t i = 0; i < hss->user_count; i++) {
		struct hss_user *u = &hss->users[i];

		u->ue = &cfg->ue[i];
		u->sqn_he = u->ue->isim.sqn;
		e = hss_user_keys_index(hss, i, &hss->nais[hss->nai_count], err, errlen);
		if (e)
			return e;
		hss->nai_count += u->ue->nai != NULL;
		for (uint32_t j = 0; j < u->ue->impu_count; j++) {
			hss->impus[n] = (struct hss_key_ent){.user = i, .item = j};
			e = hss_impu_insert(hss, &hss->impus[n++], err, errlen);
			if (e)
				return e;
		}
	}
	for (uint32_t j = 0; j < hss->echo_count; j++) {
		hss->impus[n] = (struct hss_key_ent){.user = HSS_ECHO, .item = j};
		e = hss_impu_insert(hss, &hss->impus[n++], err, errlen);
		if (e)
			return e;
	}
	return 0;
}

int hss_alloc(struct hss **hssp, const struct ims_cfg *cfg, char *err, size_t errlen)
{
	uint64_t impus = 0, nais = 0;
	struct hss *hss;
	int e;

	if (!hssp || !cfg || (cfg->ue_count && !cfg->ue))
		return EINVAL;
	if (err && errlen)
		err[0] = '\0';
	for (uint32_t i = 0; i < cfg->ue_count; i++) {
		impus += cfg->ue[i].impu_count;
		nais += cfg->ue[i].nai != NULL;
	}
	if (impus + cfg->echo_count >= UINT32_MAX)
		return load_err(err, errlen, "ue_db: too many IMPUs");
	hss = mem_zalloc(sizeof(*hss), hss_destroy);
	if (!hss)
		return ENOMEM;
	hss->cfg = cfg;
	hss->user_count = cfg->ue_count;
	hss->impu_count = (uint32_t)impus;
	hss->echo_count = cfg->echo_count;
	/* room for the users added at run time (hss_users_add), so that no
	 * hss_user ever moves; pages never written are never touched */
	hss->users = calloc((size_t)cfg->ue_count + HSS_ADD_MAX, sizeof(*hss->users));
	hss->impus = calloc(impus + cfg->echo_count ? impus + cfg->echo_count : 1,
			    sizeof(*hss->impus));
	hss->nais = calloc(nais ? nais : 1, sizeof(*hss->nais));
	if (!hss->users || !hss->impus || !hss->nais) {
		e = ENOMEM;
		goto out;
	}
	e = hash_alloc(&hss->by_impi, cfg->ue_count);
	if (!e)
		e = hash_alloc(&hss->by_imsi, cfg->ue_count);
	if (!e)
		e = hash_alloc(&hss->by_impu, impus + cfg->echo_count);
	if (!e)
		e = hash_alloc(&hss->by_nai, nais);
	if (!e)
		e = hss_index(hss, err, errlen);
out:
	if (e) {
		mem_deref(hss);
		return e;
	}
	*hssp = hss;
	return 0;
}

uint32_t hss_user_count(const struct hss *hss)
{
	return hss ? hss->user_count : 0;
}

uint32_t hss_impu_count(const struct hss *hss)
{
	return hss ? hss->impu_count : 0;
}

uint32_t hss_echo_count(const struct hss *hss)
{
	return hss ? hss->echo_count : 0;
}

struct hss_user *hss_user_at(const struct hss *hss, uint32_t idx)
{
	if (!hss || idx >= hss->user_count)
		return NULL;
	return &hss->users[idx];
}

uint32_t hss_user_index(const struct hss *hss, const struct hss_user *u)
{
	return (uint32_t)(u - hss->users);
}

size_t hss_mem_usage(const struct hss *hss)
{
	size_t n = sizeof(*hss);
	struct hash *tabs[] = {hss->by_impi, hss->by_imsi, hss->by_impu, hss->by_nai};

	n += (size_t)hss->user_count * sizeof(*hss->users);
	n += ((size_t)hss->impu_count + hss->echo_count) * sizeof(*hss->impus);
	n += (size_t)hss->nai_count * sizeof(*hss->nais);
	n += hss->added_bytes;
	for (size_t i = 0; i < sizeof(tabs) / sizeof(tabs[0]); i++)
		n += hash_buckets(tabs[i]) * sizeof(void *);
	return n;
}

/* ---- lookups ---- */

/* Keeps out[] in configuration order (it is short: multi_sim groups);
 * returns the new match count, which may exceed max. */
static size_t add_sorted(struct hss_user **out, size_t n, size_t max, struct hss_user *u)
{
	size_t cnt = n < max ? n : max, i = cnt;

	while (i > 0 && out[i - 1] > u)
		i--;
	if (i < max) {
		size_t last = cnt < max ? cnt : max - 1;

		memmove(&out[i + 1], &out[i], (last - i) * sizeof(*out));
		out[i] = u;
	}
	return n + 1;
}

/* TS 23.003 §13.3: "<IMSI>@ims.mnc<MNC>.mcc<MCC>.3gppnetwork.org". */
static bool derived_impi_of(struct pl host, const char *imsi)
{
	char mnc[4], mcc[4];
	size_t l = strlen(imsi);

	if (host.l != 33 || strncasecmp(host.p, "ims.mnc", 7) ||
	    strncasecmp(host.p + 10, ".mcc", 4) ||
	    strncasecmp(host.p + 17, ".3gppnetwork.org", 16))
		return false;
	memcpy(mnc, host.p + 7, 3);
	memcpy(mcc, host.p + 14, 3);
	mnc[3] = mcc[3] = '\0';
	if (l < 6 || strncmp(imsi, mcc, 3))
		return false;
	/* A 2-digit MNC is written with a leading 0. */
	return !strncmp(imsi + 3, mnc, 3) ||
	       (mnc[0] == '0' && !strncmp(imsi + 3, mnc + 1, 2));
}

size_t hss_users_by_impi(const struct hss *hss, struct pl impi, struct hss_user **out,
			 size_t max)
{
	const struct hash_entry *he;
	struct pl user, host;
	size_t n = 0;

	if (!hss || !impi.p || !impi.l || impi.l >= HSS_KEY_MAX)
		return 0;
	for (he = hash_lookup(hss->by_impi, hss_nai_hash(impi), impi_match_h, &impi); he;
	     he = hash_lookup_next(hss->by_impi, he, impi_match_h, &impi))
		n = add_sorted(out, n, max, HASH_OBJ(he, struct hss_user, he_impi));
	if (n)
		return n;
	hss_nai_split(impi, &user, &host);
	if (!host.p)
		return 0;
	for (he = hash_lookup(hss->by_imsi, hash_bytes(user.p, user.l), imsi_match_h,
			      &user);
	     he; he = hash_lookup_next(hss->by_imsi, he, imsi_match_h, &user)) {
		struct hss_user *u = HASH_OBJ(he, struct hss_user, he_imsi);

		if (!u->ue->impi && derived_impi_of(host, u->ue->imsi))
			n = add_sorted(out, n, max, u);
	}
	return n;
}

struct hss_user *hss_user_by_impi(const struct hss *hss, struct pl impi)
{
	struct hss_user *u = NULL;

	return hss_users_by_impi(hss, impi, &u, 1) ? u : NULL;
}

size_t hss_users_by_imsi(const struct hss *hss, struct pl imsi, struct hss_user **out,
			 size_t max)
{
	const struct hash_entry *he;
	size_t n = 0;

	if (!hss || !imsi.p || !imsi.l)
		return 0;
	for (he = hash_lookup(hss->by_imsi, hash_bytes(imsi.p, imsi.l), imsi_match_h,
			      &imsi);
	     he; he = hash_lookup_next(hss->by_imsi, he, imsi_match_h, &imsi))
		n = add_sorted(out, n, max, HASH_OBJ(he, struct hss_user, he_imsi));
	return n;
}

struct hss_user *hss_user_by_imsi(const struct hss *hss, struct pl imsi)
{
	struct hss_user *u = NULL;

	return hss_users_by_imsi(hss, imsi, &u, 1) ? u : NULL;
}

struct hss_user *hss_user_by_nai(const struct hss *hss, struct pl nai)
{
	struct nai_key k = {hss, nai};
	const struct hash_entry *he;

	if (!hss || !nai.p || !nai.l || nai.l >= HSS_KEY_MAX)
		return NULL;
	he = hash_lookup(hss->by_nai, hss_nai_hash(nai), nai_match_h, &k);
	if (!he)
		return NULL;
	return &hss->users[HASH_OBJ(he, struct hss_key_ent, he)->user];
}

size_t hss_users_by_impu(const struct hss *hss, struct pl uri, struct hss_impu_match *out,
			 size_t max)
{
	struct hss_uri in, st;
	struct impu_key k = {hss, &in, false, &st};
	struct hss_user *users[HSS_MATCH_MAX];
	uint32_t item[HSS_MATCH_MAX];
	int score[HSS_MATCH_MAX];
	const struct hash_entry *he;
	size_t n = 0;

	if (!hss || hss_uri_parse(uri, NULL, &in))
		return 0;
	for (he = hash_lookup(hss->by_impu, hss_uri_hash(&in), impu_match_h, &k); he;
	     he = hash_lookup_next(hss->by_impu, he, impu_match_h, &k)) {
		const struct hss_key_ent *e = HASH_OBJ(he, struct hss_key_ent, he);
		struct hss_user *u;
		size_t i;
		int s;

		if (e->user == HSS_ECHO)
			continue;
		u = &hss->users[e->user];
		/* the same written form (tel for tel) wins over another form of
		 * the same number; st is e's URI, parsed by impu_match_h */
		s = 1 + (st.tel == in.tel);
		for (i = 0; i < n && users[i] != u; i++)
			;
		if (i < n) {
			if (s > score[i] || (s == score[i] && e->item < item[i])) {
				score[i] = s;
				item[i] = e->item;
			}
			continue;
		}
		if (n == HSS_MATCH_MAX)
			break;
		users[n] = u;
		item[n] = e->item;
		score[n++] = s;
	}
	/* configuration order */
	for (size_t i = 1; i < n; i++) {
		for (size_t j = i; j > 0 && users[j - 1] > users[j]; j--) {
			struct hss_user *tu = users[j];
			uint32_t ti = item[j];

			users[j] = users[j - 1];
			item[j] = item[j - 1];
			users[j - 1] = tu;
			item[j - 1] = ti;
		}
	}
	for (size_t i = 0; i < n && i < max; i++)
		out[i] = (struct hss_impu_match){users[i], item[i]};
	return n;
}

struct hss_user *hss_user_by_impu(const struct hss *hss, struct pl uri,
				  uint32_t *impu_idx)
{
	struct hss_impu_match m;

	if (!hss_users_by_impu(hss, uri, &m, 1)) {
		if (impu_idx)
			*impu_idx = HSS_IMPU_NONE;
		return NULL;
	}
	if (impu_idx)
		*impu_idx = m.impu;
	return m.user;
}

bool hss_is_echo(const struct hss *hss, struct pl uri)
{
	struct hss_uri in;
	struct impu_key k = {hss, &in, false, NULL};
	const struct hash_entry *he;

	if (!hss || !hss->echo_count || hss_uri_parse(uri, NULL, &in))
		return false;
	for (he = hash_lookup(hss->by_impu, hss_uri_hash(&in), impu_match_h, &k); he;
	     he = hash_lookup_next(hss->by_impu, he, impu_match_h, &k)) {
		if (HASH_OBJ(he, struct hss_key_ent, he)->user == HSS_ECHO)
			return true;
	}
	return false;
}

struct hss_user *hss_user_pick_imei(struct hss_user *const *users, size_t n,
				    struct pl instance)
{
	struct hss_user *bare = NULL;
	size_t bare_count = 0;
	char want[15], have[15];
	bool valid = !hss_imei_parse(instance, want);

	for (size_t i = 0; i < n; i++) {
		const struct ims_cfg_ue *ue = users[i]->ue;
		bool any = false;

		for (uint32_t j = 0; j < ue->impu_count; j++) {
			const char *imei = ue->impu[j].imei;

			if (!imei)
				continue;
			any = true;
			if (valid && !hss_imei_parse(pl_from_str(imei), have) &&
			    !memcmp(want, have, 14))
				return users[i];
		}
		if (!any) {
			bare = users[i];
			bare_count++;
		}
	}
	return bare_count == 1 ? bare : NULL;
}
