/*
 * hss_add — users added at run time (remote API users_add, manual §6.6;
 * docs/hss.md "Run-time provisioning").
 *
 * The users array was allocated with HSS_ADD_MAX spare records, so a new
 * user is the next record: no hss_user moves, the registrar's pointers and
 * slots stay valid, indexes stay dense. Each call's entries (the parsed
 * set) and their IMPU/NAI index entries are one struct hss_added, owned by
 * the hss. A failure on any entry undoes the ones before it in the call.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/hash.h"
#include "hss/hss_int.h"

void hss_added_free(struct hss *hss)
{
	struct hss_added *a = hss->added, *next;

	for (; a; a = next) {
		next = a->next;
		ims_cfg_free(a->set);
		free(a->ents);
		free(a->ue);
		free(a->impus);
		free(a);
	}
	hss->added = NULL;
}

/* Takes users[first..first+n) out of the indexes; impus_in of the last
 * user's IMPUs went in (all of the others' did). */
static void undo(struct hss *hss, const struct hss_added *a, uint32_t first, uint32_t n,
		 size_t ents_in)
{
	for (size_t k = 0; k < ents_in; k++) {
		struct hss_key_ent *e = &a->ents[k];

		if (e->item == HSS_ECHO) /* a NAI entry */
			hash_remove(hss->by_nai, &e->he);
		else
			hash_remove(hss->by_impu, &e->he);
	}
	for (uint32_t i = first; i < first + n; i++) {
		struct hss_user *u = &hss->users[i];

		if (u->ue->impi)
			hash_remove(hss->by_impi, &u->he_impi);
		if (u->ue->imsi)
			hash_remove(hss->by_imsi, &u->he_imsi);
		memset(u, 0, sizeof(*u));
	}
}

/* users[i] indexed: identities, then each IMPU; *ents_in counts the
 * entries of a->ents in the indexes. On error users[i] is in none. */
static int add_one(struct hss *hss, struct hss_added *a, uint32_t i, size_t *ents_in,
		   char *err, size_t errlen)
{
	struct hss_user *u = &hss->users[i];
	struct hss_key_ent *nai = NULL;
	int e;

	if (u->ue->nai) {
		nai = &a->ents[*ents_in];
		nai->item = HSS_ECHO; /* marks a NAI entry for undo() */
	}
	e = hss_user_keys_index(hss, i, nai, err, errlen);
	if (e)
		return e;
	if (nai)
		(*ents_in)++;
	for (uint32_t j = 0; j < u->ue->impu_count; j++) {
		a->ents[*ents_in] = (struct hss_key_ent){.user = i, .item = j};
		e = hss_impu_insert(hss, &a->ents[*ents_in], err, errlen);
		if (e)
			break;
		(*ents_in)++;
	}
	if (e) { /* this user's entries out, then its identities */
		undo(hss, a, i, 0, *ents_in);
		*ents_in = 0;
		if (u->ue->impi)
			hash_remove(hss->by_impi, &u->he_impi);
		if (u->ue->imsi)
			hash_remove(hss->by_imsi, &u->he_imsi);
	}
	return e;
}

int hss_users_add(struct hss *hss, struct ims_cfg *set, char *err, size_t errlen)
{
	uint32_t first = hss ? hss->user_count : 0, done = 0;
	size_t nents = 0, ents_in = 0;
	struct hss_added *a = NULL;
	int e = 0;

	if (!hss || !set || (set->ue_count && !set->ue))
		return EINVAL;
	if (err && errlen)
		err[0] = '\0';
	if (first - hss->cfg->ue_count + (uint64_t)set->ue_count > HSS_ADD_MAX) {
		if (err && errlen)
			snprintf(err, errlen, "at most %u users can be added at run time",
				 HSS_ADD_MAX);
		return ENOSPC;
	}
	for (uint32_t i = 0; i < set->ue_count; i++)
		nents += set->ue[i].impu_count + (set->ue[i].nai != NULL);
	if (hss->impu_count + (uint64_t)nents >= UINT32_MAX)
		return ENOSPC;
	a = calloc(1, sizeof(*a));
	if (a)
		a->ents = calloc(nents ? nents : 1, sizeof(*a->ents));
	if (!a || !a->ents) {
		e = ENOMEM;
		goto out;
	}
	for (; done < set->ue_count; done++) {
		/* the entries of this user start after those already in */
		struct hss_added view = {.ents = a->ents + ents_in};
		size_t in = 0;

		hss->users[first + done].ue = &set->ue[done];
		hss->users[first + done].sqn_he = set->ue[done].isim.sqn;
		e = add_one(hss, &view, first + done, &in, err, errlen);
		if (e) {
			memset(&hss->users[first + done], 0, sizeof(hss->users[0]));
			break;
		}
		ents_in += in;
	}
	if (e) {
		undo(hss, a, first, done, ents_in);
		goto out;
	}
	for (uint32_t i = 0; i < set->ue_count; i++)
		hss->impu_count += set->ue[i].impu_count;
	hss->user_count += set->ue_count;
	hss->added_bytes += nents * sizeof(*a->ents) + sizeof(*a);
	a->set = set;
	a->next = hss->added;
	hss->added = a;
	return 0;
out:
	if (a)
		free(a->ents);
	free(a);
	return e;
}

/* ---- a user's IMPUs and options changed (hss_user_update) ---- */

struct ent_key {
	uint32_t user, item;
};

static bool ent_match_h(const struct hash_entry *he, const void *arg)
{
	const struct hss_key_ent *e = HASH_OBJ(he, struct hss_key_ent, he);
	const struct ent_key *k = arg;

	return e->user == k->user && e->item == k->item;
}

/* The index entry of IMPU j of users[i] (its text parses: it went in). */
static struct hss_key_ent *impu_ent_find(struct hss *hss, uint32_t i, uint32_t j)
{
	struct ent_key k = {i, j};
	struct hss_uri uri;
	struct hash_entry *he;

	if (hss_uri_parse(pl_from_str(hss->users[i].ue->impu[j].impu), NULL, &uri))
		return NULL;
	he = hash_lookup(hss->by_impu, hss_uri_hash(&uri), ent_match_h, &k);
	return he ? HASH_OBJ(he, struct hss_key_ent, he) : NULL;
}

/* users[i]'s IMPU entries taken out (into olds, n of them). */
static void impus_out(struct hss *hss, uint32_t i, struct hss_key_ent **olds)
{
	for (uint32_t j = 0; j < hss->users[i].ue->impu_count; j++) {
		olds[j] = impu_ent_find(hss, i, j);
		if (olds[j])
			hash_remove(hss->by_impu, &olds[j]->he);
	}
}

int hss_user_update(struct hss *hss, struct hss_user *u, const struct hss_user_update_prm *p,
		    struct ims_cfg *set, char *err, size_t errlen)
{
	const struct ims_cfg_ue *old = u ? u->ue : NULL;
	struct hss_key_ent **olds = NULL;
	struct hss_added *a = NULL;
	struct ims_cfg_impu *arr;
	struct ims_cfg_ue *ue;
	uint32_t i, in = 0;
	int e = 0;

	if (!hss || !u || !p || (p->impu_count && !p->impus) || p->impu_count > 1000)
		return EINVAL;
	if (err && errlen)
		err[0] = '\0';
	i = hss_user_index(hss, u);
	a = calloc(1, sizeof(*a));
	if (a) {
		a->ents = calloc(p->impu_count ? p->impu_count : 1, sizeof(*a->ents));
		a->ue = calloc(1, sizeof(*a->ue));
		a->impus = calloc(p->impu_count ? p->impu_count : 1, sizeof(*a->impus));
	}
	olds = calloc(old->impu_count ? old->impu_count : 1, sizeof(*olds));
	if (!a || !a->ents || !a->ue || !a->impus || !olds) {
		e = ENOMEM;
		goto out;
	}
	ue = a->ue;
	arr = a->impus;
	*ue = *old;
	memcpy(arr, p->impus, p->impu_count * sizeof(*arr));
	ue->impu = arr;
	ue->impu_count = p->impu_count;
	ue->force_sms_over_sg = p->force_sms_over_sg;
	impus_out(hss, i, olds);
	u->ue = ue;
	for (; in < p->impu_count; in++) {
		a->ents[in] = (struct hss_key_ent){.user = i, .item = in};
		e = hss_impu_insert(hss, &a->ents[in], err, errlen);
		if (e)
			break;
	}
	if (e) { /* back as it was */
		for (uint32_t k = 0; k < in; k++)
			hash_remove(hss->by_impu, &a->ents[k].he);
		u->ue = old;
		for (uint32_t j = 0; j < old->impu_count; j++) {
			if (olds[j])
				hash_insert(hss->by_impu, &olds[j]->he, olds[j]->he.hv);
		}
		goto out;
	}
	/* the old entry and its index entries stay allocated (owned here or by
	 * the load): a caller may still hold what hss_user_cfg gave it */
	hss->impu_count = hss->impu_count - old->impu_count + p->impu_count;
	hss->added_bytes += p->impu_count * (sizeof(*a->ents) + sizeof(*a->impus)) +
			    sizeof(*a->ue) + sizeof(*a);
	a->set = set;
	a->next = hss->added;
	hss->added = a;
	a = NULL;
out:
	free(olds);
	if (a) {
		free(a->ents);
		free(a->ue);
		free(a->impus);
		free(a);
	}
	return e;
}

/* ---- the echo list (hss_echo_add, hss_echo_del) ---- */

int hss_echo_add(struct hss *hss, const char *uri, char *err, size_t errlen)
{
	struct hss_echo_ent **arr, *x;
	size_t len;
	int e;

	if (!hss || !uri)
		return EINVAL;
	if (err && errlen)
		err[0] = '\0';
	len = strlen(uri);
	if (!len || len >= HSS_KEY_MAX)
		return EINVAL;
	if (hss->echo_added_n >= HSS_ADD_MAX)
		return ENOSPC;
	if (hss_is_echo(hss, pl_from_str(uri))) { /* the load lets these be */
		if (err && errlen)
			snprintf(err, errlen, "IMPU \"%.64s\" already in the echo list", uri);
		return EINVAL;
	}
	arr = realloc(hss->echo_added, (hss->echo_added_n + 1) * sizeof(*arr));
	if (!arr)
		return ENOMEM;
	hss->echo_added = arr;
	x = calloc(1, sizeof(*x) + len + 1);
	if (!x)
		return ENOMEM;
	memcpy(x->text, uri, len + 1);
	x->e.user = HSS_ECHO;
	x->e.item = hss->cfg->echo_count + hss->echo_added_n;
	arr[hss->echo_added_n++] = x; /* hss_ent_text reads it from here */
	e = hss_impu_insert(hss, &x->e, err, errlen);
	if (e) {
		hss->echo_added_n--;
		free(x);
		return e;
	}
	hss->echo_count++;
	hss->added_bytes += sizeof(*x) + len + 1 + sizeof(*arr);
	return 0;
}

static bool echo_match_h(const struct hash_entry *he, const void *arg)
{
	const struct hss_key_ent *e = HASH_OBJ(he, struct hss_key_ent, he);
	const struct hss_uri *in = ((const struct hss_uri *const *)arg)[0];
	const struct hss *hss = ((const struct hss *const *)arg)[1];
	struct hss_uri st;

	if (e->user != HSS_ECHO || hss_uri_parse(hss_ent_text(hss, e), NULL, &st))
		return false;
	return hss_uri_match(in, &st);
}

int hss_echo_del(struct hss *hss, const char *uri)
{
	struct hss_uri in;
	const void *key[2] = {&in, hss};
	struct hash_entry *he;

	if (!hss || !uri || hss_uri_parse(pl_from_str(uri), NULL, &in))
		return ENOENT;
	he = hash_lookup(hss->by_impu, hss_uri_hash(&in), echo_match_h, key);
	if (!he)
		return ENOENT;
	hash_remove(hss->by_impu, he);
	if (HASH_OBJ(he, struct hss_key_ent, he)->item >= hss->cfg->echo_count)
		HASH_OBJ(he, struct hss_echo_ent, e.he)->gone = true;
	hss->echo_count--;
	return 0;
}
