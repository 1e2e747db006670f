/*
 * Fuzz target: custom_headers (manual §5.2, src/sip/sip_custom.c) from the
 * configuration file to the bytes sent. The input is the value of
 * `custom_headers` in the configuration language, a NUL byte, and a
 * message as imsd would send it. The value is read as imsd reads its
 * configuration file (cfg_lang_load_buf, then ims_cfg_from_json, with
 * sip_addr and domain set and no other member), the
 * rules are handed to the SIP stack's rule set as imsd does
 * (api_sip_custom_set's copy, sip_custom_alloc), and the set is applied to
 * the message (sip_custom_apply, the transaction layer's rewrite).
 * Invariants: no crash, leak or over-read; a refused configuration has a
 * message; rules the reader accepted are accepted by the stack; the output
 * is at most the rules' sip_custom_added_max longer than the message; when
 * the message decodes, the rewritten one decodes too, with the same start
 * line, framing headers (Via, From, To, Call-ID, CSeq, Content-Length,
 * each in order) and body — a rule cannot inject or remove them.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/cfg_lang.h"
#include "config/ims_cfg.h"
#include "core/mbuf.h"
#include "core/mem.h"
#include "sip/sip_custom.h"
#include "sip/sip_hdr.h"
#include "sip/sip_msg.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FZ_RULES_MAX 16384

static const char prefix[] = "{ custom_headers: ";

static bool pl_same(struct pl a, struct pl b)
{
	return a.l == b.l && (!a.l || !memcmp(a.p, b.p, a.l));
}

/* The framing of out is the framing of in. */
static void framing_check(const struct sip_msg *in, const struct sip_msg *out)
{
	static const enum sip_hdr_id ids[] = {SIP_HDR_VIA,     SIP_HDR_FROM, SIP_HDR_TO,
					      SIP_HDR_CALL_ID, SIP_HDR_CSEQ,
					      SIP_HDR_CONTENT_LENGTH};

	if (!pl_same(in->start, out->start) || !pl_same(in->body, out->body))
		abort();
	for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
		const struct sip_hdr *a = sip_msg_hdr(in, ids[i]), *b = sip_msg_hdr(out, ids[i]);

		if (sip_msg_hdr_count(in, ids[i]) != sip_msg_hdr_count(out, ids[i]))
			abort();
		for (; a && b; a = sip_msg_hdr_next(in, a), b = sip_msg_hdr_next(out, b))
			if (!pl_same(a->val, b->val))
				abort();
		if (a || b)
			abort();
	}
}

/* The rules of cfg as the stack takes them (api_sip_custom_set). */
static struct sip_custom *rules_alloc(const struct ims_cfg *cfg)
{
	uint32_t n = cfg->custom_header_count;
	struct sip_custom_hdr *v = calloc(n ? n : 1, sizeof(*v));
	struct sip_custom *c = NULL;

	if (!v)
		abort();
	for (uint32_t i = 0; i < n; i++) {
		const struct ims_cfg_hdr *h = &cfg->custom_headers[i];

		v[i] = (struct sip_custom_hdr){h->name,	      h->value,		h->codes,
					       h->methods,    h->code_count, h->method_count,
					       h->replace};
	}
	if (sip_custom_alloc(&c, v, n)) /* the reader took them: so must the stack */
		abort();
	free(v);
	return c;
}

static void apply(const struct sip_custom *c, const uint8_t *msg, size_t len)
{
	struct sip_decode_prm dp = {.max_size = 65535};
	struct sip_msg *in = NULL, *out = NULL;
	struct mbuf mb;
	int err;

	mbuf_init(&mb, 65536 + sip_custom_added_max(c));
	err = sip_custom_apply(c, (const char *)msg, len, &mb);
	if (err) {
		if (err != ENOENT && err != EBADMSG && err != ENOSPC)
			abort();
		goto out;
	}
	if (mb.end > len + sip_custom_added_max(c))
		abort();
	if (sip_msg_decode_copy(&in, msg, len, &dp))
		goto out;
	if (sip_msg_decode_copy(&out, mb.buf, mb.end, &dp))
		abort();
	framing_check(in, out);
out:
	mem_deref(in);
	mem_deref(out);
	mbuf_reset(&mb);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t rl = nul ? (size_t)(nul - data) : size;
	char msg[512], *text;
	struct cfg_diag diag = {msg, sizeof(msg), NULL, NULL};
	struct cfg_lang_err lerr;
	struct ims_cfg *cfg = NULL;
	struct sip_custom *c;
	json_t *root = NULL;
	size_t tl;

	if (rl > FZ_RULES_MAX)
		return 0;
	tl = sizeof(prefix) - 1 + rl + 2;
	text = malloc(tl + 1);
	if (!text)
		abort();
	memcpy(text, prefix, sizeof(prefix) - 1);
	memcpy(text + sizeof(prefix) - 1, data, rl);
	memcpy(text + sizeof(prefix) - 1 + rl, "\n}", 3);
	if (cfg_lang_load_buf(text, tl, "fuzz.cfg", NULL, &root, &lerr)) {
		free(text);
		return 0;
	}
	free(text);
	/* only custom_headers is fuzzed (the rest of the reader has its own
	 * targets): a value that closed the object and opened others is left */
	if (json_object_size(root) != 1 ||
	    json_object_set_new(root, "sip_addr", json_string("127.0.0.1")) ||
	    json_object_set_new(root, "domain", json_string("ims.test"))) {
		json_decref(root);
		return 0;
	}
	msg[0] = '\0';
	if (ims_cfg_from_json(root, NULL, &cfg, &diag)) {
		if (!msg[0])
			abort();
		json_decref(root);
		return 0;
	}
	json_decref(root);
	c = rules_alloc(cfg);
	if (nul)
		apply(c, nul + 1, size - rl - 1);
	sip_custom_free(c);
	ims_cfg_free(cfg);
	return 0;
}
