/*
 * hss/hss_user — what the registrar and the S-CSCF read of one user: its
 * identities, the P-Associated-URI list (TS 24.229 §5.4.1.2.2), the
 * asserted and preferred identities and the per-IMPU options (§5.2.1).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "hss/hss_int.h"

const struct ims_cfg_ue *hss_user_cfg(const struct hss_user *u)
{
	return u->ue;
}

bool hss_user_slots_claim(struct hss *hss)
{
	if (!hss || hss->slots_claimed)
		return false;
	hss->slots_claimed = true;
	return true;
}

void hss_user_slots_release(struct hss *hss)
{
	if (!hss)
		return;
	for (uint32_t i = 0; i < hss->user_count; i++)
		memset(hss->users[i].slot, 0, sizeof(hss->users[i].slot));
	hss->slots_claimed = false;
}

void *hss_user_slot(const struct hss_user *u, enum hss_user_slot_id id)
{
	return (unsigned)id < HSS_USER_SLOTS ? u->slot[id] : NULL;
}

void hss_user_slot_set(struct hss_user *u, enum hss_user_slot_id id, void *p)
{
	if ((unsigned)id < HSS_USER_SLOTS)
		u->slot[id] = p;
}

const char *hss_user_impi(const struct hss_user *u)
{
	return u->ue->impi;
}

const char *hss_user_imsi(const struct hss_user *u)
{
	return u->ue->imsi;
}

uint32_t hss_user_impu_count(const struct hss_user *u)
{
	return u->ue->impu_count;
}

const struct ims_cfg_impu *hss_user_impu(const struct hss_user *u, uint32_t i)
{
	return i < u->ue->impu_count ? &u->ue->impu[i] : NULL;
}

const struct ims_cfg_impu_opts *hss_impu_opts(const struct hss_user *u, uint32_t i)
{
	if (!u)
		return NULL;
	if (i < u->ue->impu_count)
		return u->ue->impu[i].opts;
	return u->ue->opts;
}

const char *hss_impu_display_name(const struct hss_user *u, uint32_t i)
{
	return hss_impu_opts(u, i)->display_name;
}

/* Appends len bytes at *at if they fit (with a NUL) before end; else false. */
static bool uri_put(char **at, const char *end, const char *p, size_t len)
{
	if ((size_t)(end - *at) <= len)
		return false;
	memcpy(*at, p, len);
	*at += len;
	**at = '\0';
	return true;
}

/* Formats a stored IMPU text with its default domain (without snprintf: a
 * 200 lists every associated IMPU). */
static int uri_format(const char *text, const char *domain, char *buf, size_t size)
{
	const char *scheme = "sip:", *rest = text, *end = buf + size;
	size_t sl = 4, ul;
	char *at = buf;
	bool ok;

	if (!size)
		return ENOSPC;
	*buf = '\0';
	if (!strncasecmp(text, "tel:", 4) || !strncasecmp(text, "urn:", 4))
		return uri_put(&at, end, text, strlen(text)) ? 0 : ENOSPC;
	if (!strncasecmp(text, "sip:", 4) || !strncasecmp(text, "sips:", 5)) {
		scheme = text;
		sl = text[3] == ':' ? 4 : 5;
		rest = text + sl;
	}
	ul = strcspn(rest, ";?");
	ok = uri_put(&at, end, scheme, sl);
	if (strchr(rest, '@') || !domain || !*domain)
		ok = ok && uri_put(&at, end, rest, strlen(rest));
	else
		ok = ok && uri_put(&at, end, rest, ul) && uri_put(&at, end, "@", 1) &&
		     uri_put(&at, end, domain, strlen(domain)) &&
		     uri_put(&at, end, rest + ul, strlen(rest + ul));
	return ok ? 0 : ENOSPC;
}

int hss_impu_uri(const struct hss *hss, const struct hss_user *u, uint32_t i, char *buf,
		 size_t size)
{
	(void)hss;
	if (!u || !buf || !size || i >= u->ue->impu_count)
		return EINVAL;
	return uri_format(u->ue->impu[i].impu, u->ue->impu[i].opts->domain, buf, size);
}

size_t hss_user_associated(const struct hss_user *u, uint32_t *idx, size_t max)
{
	const struct ims_cfg_ue *ue = u->ue;
	size_t n = 0;

	/* Two passes keep configuration order inside each group. */
	for (int pass = 0; pass < 2; pass++) {
		for (uint32_t i = 0; i < ue->impu_count; i++) {
			const struct ims_cfg_impu_opts *o = ue->impu[i].opts;

			if (!o->associated || o->preferred != (pass == 0))
				continue;
			if (n < max)
				idx[n] = i;
			n++;
		}
	}
	return n;
}

uint32_t hss_user_asserted(const struct hss_user *u)
{
	const struct ims_cfg_ue *ue = u->ue;

	for (uint32_t i = 0; i < ue->impu_count; i++) {
		if (ue->impu[i].opts->asserted)
			return i;
	}
	return ue->impu_count ? 0 : HSS_IMPU_NONE;
}

uint32_t hss_user_preferred(const struct hss_user *u)
{
	const struct ims_cfg_ue *ue = u->ue;
	uint32_t first;

	for (uint32_t i = 0; i < ue->impu_count; i++) {
		if (ue->impu[i].opts->preferred)
			return i;
	}
	return hss_user_associated(u, &first, 1) ? first
						 : (ue->impu_count ? 0 : HSS_IMPU_NONE);
}
