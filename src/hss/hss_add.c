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
