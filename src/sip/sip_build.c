/* sip/sip_build — request, response and forwarding serializer; see sip_build.h. */
#include "sip/sip_build.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "sip/sip_hdr.h"

static int sip_hdr_write(struct mbuf *mb, const char *name, struct pl val)
{
	int err = mbuf_write_str(mb, name);

	err = err ? err : mbuf_write(mb, ": ", 2);
	err = err ? err : mbuf_write_pl(mb, val);
	return err ? err : mbuf_write(mb, "\r\n", 2);
}

/* Decimal digits of v (printf would cost more than the rest of a
 * response build: responses are built on every request). */
static int sip_uint_write(struct mbuf *mb, uint64_t v)
{
	char d[20];
	size_t n = sizeof(d);

	do {
		d[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n);
	return mbuf_write(mb, d + n, sizeof(d) - n);
}

/* Content-Type (if a body), Content-Length, blank line, body. */
static int sip_tail_write(struct mbuf *mb, struct pl ctype, struct pl body)
{
	int err = 0;

	if (body.l && pl_isset(ctype))
		err = sip_hdr_write(mb, "Content-Type", ctype);
	err = err ? err : mbuf_write(mb, "Content-Length: ", 16);
	err = err ? err : sip_uint_write(mb, body.l);
	err = err ? err : mbuf_write(mb, "\r\n\r\n", 4);
	return err || !body.l ? err : mbuf_write_pl(mb, body);
}

int sip_req_build(struct mbuf *mb, const struct sip_req_prm *prm)
{
	int err;

	if (!mb || !prm || !pl_isset(prm->method) || !pl_isset(prm->ruri))
		return EINVAL;
	err = mbuf_printf(mb, "%.*s %.*s SIP/2.0\r\n", (int)prm->method.l, prm->method.p,
			  (int)prm->ruri.l, prm->ruri.p);
	if (!err && pl_isset(prm->via))
		err = sip_hdr_write(mb, "Via", prm->via);
	if (!err)
		err = mbuf_printf(mb, "Max-Forwards: %u\r\n",
				  prm->max_forwards ? prm->max_forwards : 70);
	if (!err && pl_isset(prm->from))
		err = sip_hdr_write(mb, "From", prm->from);
	if (!err && pl_isset(prm->to))
		err = sip_hdr_write(mb, "To", prm->to);
	if (!err && pl_isset(prm->call_id))
		err = sip_hdr_write(mb, "Call-ID", prm->call_id);
	if (!err)
		err = mbuf_printf(mb, "CSeq: %u %.*s\r\n", prm->cseq, (int)prm->method.l,
				  prm->method.p);
	if (!err && pl_isset(prm->contact))
		err = sip_hdr_write(mb, "Contact", prm->contact);
	if (!err && prm->hdrs.l)
		err = mbuf_write_pl(mb, prm->hdrs);
	return err ? err : sip_tail_write(mb, prm->ctype, prm->body);
}

/* Whether the response's To gets prm->to_tag added. */
static bool sip_to_tag_add(const struct sip_msg *req, const struct sip_resp_prm *prm)
{
	const struct sip_addr *a;

	if (prm->scode == 100 || !pl_isset(prm->to_tag))
		return false;
	a = sip_msg_to(req);
	return a && !a->tag.l;
}

/* A writer into room already reserved in an mbuf: plain memcpy, no call
 * and no bound check per piece (the size was counted first). */
struct sip_wr {
	char *p;
};

static inline void sip_wr_put(struct sip_wr *w, const void *data, size_t len)
{
	if (len)
		memcpy(w->p, data, len);
	w->p += len;
}

static inline void sip_wr_pl(struct sip_wr *w, struct pl pl)
{
	sip_wr_put(w, pl.p, pl.l);
}

/* Decimal digits of v. */
static inline void sip_wr_uint(struct sip_wr *w, size_t v)
{
	char d[20];
	size_t n = sizeof(d);

	do {
		d[--n] = (char)('0' + v % 10);
		v /= 10;
	} while (v && n);
	sip_wr_put(w, d + n, sizeof(d) - n);
}

/* Bytes of the distinct source lines of header id (the first entry's line
 * replaced when top is set: Via), written when w is set, counted always. */
static size_t sip_lines_put(struct sip_wr *w, const struct sip_msg *req, enum sip_hdr_id id,
			    struct pl top)
{
	size_t n = 0;
	int last = -1;

	if (req->first[id] < 0)
		return 0;
	for (const struct sip_hdr *h = &req->hdrv[req->first[id]];;
	     h = &req->hdrv[h->next]) {
		if (h->line_no != last) {
			last = h->line_no;
			if (pl_isset(top) && n == 0) {
				/* the line up to the value, top, the rest of the line */
				size_t pre = (size_t)(h->val.p - h->line.p);
				const char *ve = h->val.p + h->val.l;
				size_t post = (size_t)(h->line.p + h->line.l - ve);

				if (w) {
					sip_wr_put(w, h->line.p, pre);
					sip_wr_pl(w, top);
					sip_wr_put(w, ve, post);
				}
				n += pre + top.l + post;
			} else {
				if (w)
					sip_wr_pl(w, h->line);
				n += h->line.l;
			}
		}
		if (h->next < 0)
			break;
	}
	return n;
}

int sip_resp_build(struct mbuf *mb, const struct sip_msg *req,
		   const struct sip_resp_prm *prm)
{
	const struct sip_hdr *to;
	struct pl vtop = PL_INIT, none = PL_INIT;
	bool tag, ctype;
	struct sip_wr w;
	size_t n;
	int err;

	if (!mb || !req || !prm || !req->req || prm->scode < 100 || prm->scode > 699)
		return EINVAL;
	to = sip_msg_hdr(req, SIP_HDR_TO);
	tag = sip_to_tag_add(req, prm);
	ctype = prm->body.l && pl_isset(prm->ctype);
	if (prm->via_top.l)
		vtop = prm->via_top;
	/* the exact size first, then one reservation and plain copies */
	n = 8 + 3 + 1 + prm->reason.l + 2;
	n += sip_lines_put(NULL, req, SIP_HDR_VIA, vtop);
	n += sip_lines_put(NULL, req, SIP_HDR_FROM, none);
	if (to)
		n += tag ? 4 + to->val.l + 5 + prm->to_tag.l + 2 : to->line.l;
	n += sip_lines_put(NULL, req, SIP_HDR_CALL_ID, none);
	n += sip_lines_put(NULL, req, SIP_HDR_CSEQ, none);
	if (prm->scode == 100)
		n += sip_lines_put(NULL, req, SIP_HDR_TIMESTAMP, none);
	n += prm->hdrs.l;
	if (ctype)
		n += 14 + prm->ctype.l + 2;
	n += 16 + 20 + 4 + prm->body.l; /* Content-Length: up to 20 digits */
	err = mbuf_reserve(mb, n);
	if (err)
		return err;
	w.p = (char *)mb->buf + mb->end;
	sip_wr_put(&w, "SIP/2.0 ", 8);
	sip_wr_uint(&w, prm->scode);
	sip_wr_put(&w, " ", 1);
	sip_wr_pl(&w, prm->reason);
	sip_wr_put(&w, "\r\n", 2);
	sip_lines_put(&w, req, SIP_HDR_VIA, vtop);
	sip_lines_put(&w, req, SIP_HDR_FROM, none);
	if (to && tag) {
		sip_wr_put(&w, "To: ", 4);
		sip_wr_pl(&w, to->val);
		sip_wr_put(&w, ";tag=", 5);
		sip_wr_pl(&w, prm->to_tag);
		sip_wr_put(&w, "\r\n", 2);
	} else if (to) {
		sip_wr_pl(&w, to->line);
	}
	sip_lines_put(&w, req, SIP_HDR_CALL_ID, none);
	sip_lines_put(&w, req, SIP_HDR_CSEQ, none);
	/* RFC 3261 §8.2.6.1: a 100 carries the request's Timestamp */
	if (prm->scode == 100)
		sip_lines_put(&w, req, SIP_HDR_TIMESTAMP, none);
	sip_wr_pl(&w, prm->hdrs);
	if (ctype) {
		sip_wr_put(&w, "Content-Type: ", 14);
		sip_wr_pl(&w, prm->ctype);
		sip_wr_put(&w, "\r\n", 2);
	}
	sip_wr_put(&w, "Content-Length: ", 16);
	sip_wr_uint(&w, prm->body.l);
	sip_wr_put(&w, "\r\n\r\n", 4);
	sip_wr_pl(&w, prm->body);
	mb->end = (size_t)((uint8_t *)w.p - mb->buf);
	return 0;
}

/* Which entries the edits name, as bitmaps over entry indexes, so that the
 * copy loop tests a bit per line instead of searching the edit list. */
struct sip_fwd_map {
	uint64_t touched[SIP_MAX_HDRS / 64]; /* REMOVE or REPLACE */
	uint64_t adds[SIP_MAX_HDRS / 64];    /* an ADD goes before this entry */
	bool adds_last;			     /* an ADD with hdr NULL */
};

static bool sip_bit(const uint64_t *m, size_t i)
{
	return (m[i / 64] >> (i % 64)) & 1u;
}

static bool sip_bits_any(const uint64_t *m, size_t from, size_t to)
{
	for (size_t i = from; i < to; i++) {
		if (sip_bit(m, i))
			return true;
	}
	return false;
}

static void sip_fwd_map_init(struct sip_fwd_map *map, const struct sip_msg *msg,
			     const struct sip_fwd_prm *prm)
{
	memset(map, 0, sizeof(*map));
	for (size_t k = 0; k < prm->editc; k++) {
		const struct sip_edit *e = &prm->editv[k];
		size_t i;

		if (!e->hdr) {
			map->adds_last |= e->op == SIP_EDIT_ADD;
			continue;
		}
		/* an entry of another message matches nothing */
		if (e->hdr < msg->hdrv || e->hdr >= msg->hdrv + msg->hdrc)
			continue;
		i = (size_t)(e->hdr - msg->hdrv);
		if (e->op == SIP_EDIT_ADD)
			map->adds[i / 64] |= (uint64_t)1 << (i % 64);
		else
			map->touched[i / 64] |= (uint64_t)1 << (i % 64);
	}
}

static const struct sip_edit *sip_edit_find(const struct sip_fwd_prm *prm,
					    const struct sip_hdr *h)
{
	for (size_t i = 0; i < prm->editc; i++) {
		const struct sip_edit *e = &prm->editv[i];

		if (e->hdr == h && e->op != SIP_EDIT_ADD)
			return e;
	}
	return NULL;
}

static int sip_line_write(struct mbuf *mb, struct pl name, struct pl val)
{
	int err = mbuf_write_pl(mb, name);

	err = err ? err : mbuf_write(mb, ": ", 2);
	err = err ? err : mbuf_write_pl(mb, val);
	return err ? err : mbuf_write(mb, "\r\n", 2);
}

static int sip_adds_write(struct mbuf *mb, const struct sip_fwd_prm *prm,
			  const struct sip_hdr *before)
{
	for (size_t i = 0; i < prm->editc; i++) {
		const struct sip_edit *e = &prm->editv[i];
		int err;

		if (e->op != SIP_EDIT_ADD || e->hdr != before)
			continue;
		err = sip_line_write(mb, e->name, e->val);
		if (err)
			return err;
	}
	return 0;
}

/* One source line holding entries [first, end) with at least one edited:
 * rewritten from its remaining values. */
static int sip_line_rewrite(struct mbuf *mb, const struct sip_fwd_prm *prm,
			    const struct sip_hdr *first, const struct sip_hdr *end)
{
	bool any = false;
	int err = 0;

	for (const struct sip_hdr *h = first; h < end && !err; h++) {
		const struct sip_edit *e = sip_edit_find(prm, h);

		if (e && e->op == SIP_EDIT_REMOVE)
			continue;
		if (any) {
			err = mbuf_write(mb, ", ", 2);
		} else {
			err = mbuf_write_pl(mb, first->name);
			err = err ? err : mbuf_write(mb, ": ", 2);
		}
		err = err ? err : mbuf_write_pl(mb, e ? e->val : h->val);
		any = true;
	}
	return err || !any ? err : mbuf_write(mb, "\r\n", 2);
}

/* "Content-Length: <n>\r\n" without printf. */
static int sip_clen_write(struct mbuf *mb, size_t n)
{
	char b[48], *p = b + sizeof(b);
	static const char pre[] = "Content-Length: ";

	*--p = '\n';
	*--p = '\r';
	do {
		*--p = (char)('0' + n % 10);
		n /= 10;
	} while (n);
	p -= sizeof(pre) - 1;
	memcpy(p, pre, sizeof(pre) - 1);
	return mbuf_write(mb, p, (size_t)(b + sizeof(b) - p));
}

/* Request-Line with the new Request-URI, or the start line as received. */
static int sip_start_write(struct mbuf *mb, const struct sip_msg *msg, struct pl ruri)
{
	int err;

	if (!msg->req || !pl_isset(ruri)) {
		err = mbuf_write_pl(mb, msg->start);
		return err ? err : mbuf_write(mb, "\r\n", 2);
	}
	err = mbuf_write_pl(mb, msg->method);
	err = err ? err : mbuf_write(mb, " ", 1);
	err = err ? err : mbuf_write_pl(mb, ruri);
	err = err ? err : mbuf_write(mb, " ", 1);
	err = err ? err : mbuf_write_pl(mb, msg->ver);
	return err ? err : mbuf_write(mb, "\r\n", 2);
}

static size_t sip_fwd_size(const struct sip_msg *msg, const struct sip_fwd_prm *prm,
			   struct pl body)
{
	size_t n = msg->start.l + prm->ruri.l + prm->via.l + msg->hdrs.l + body.l + 64;

	for (size_t i = 0; i < prm->editc; i++)
		n += prm->editv[i].name.l + prm->editv[i].val.l + 8;
	return n;
}

int sip_msg_forward(struct mbuf *mb, const struct sip_msg *msg,
		    const struct sip_fwd_prm *prm)
{
	struct sip_fwd_map map;
	struct pl body;
	bool clen_kept = false;
	size_t i = 0;
	int err;

	if (!mb || !msg || !prm)
		return EINVAL;
	body = prm->body_set ? prm->body : msg->body;
	sip_fwd_map_init(&map, msg, prm);
	/* one growth for the whole message; only an estimate, so a refusal
	 * (a small mb->max) is left to the writes themselves to decide */
	(void)mbuf_reserve(mb, sip_fwd_size(msg, prm, body));
	err = sip_start_write(mb, msg, prm->ruri);
	if (!err && pl_isset(prm->via))
		err = sip_hdr_write(mb, "Via", prm->via);
	while (!err && i < msg->hdrc) {
		const struct sip_hdr *first = &msg->hdrv[i];
		size_t j = i + 1;

		while (j < msg->hdrc && msg->hdrv[j].line_no == first->line_no)
			j++;
		if (sip_bits_any(map.adds, i, j)) {
			for (size_t k = i; k < j && !err; k++)
				err = sip_adds_write(mb, prm, &msg->hdrv[k]);
			if (err)
				break;
		}
		if (first->id == SIP_HDR_CONTENT_LENGTH) {
			uint32_t v;

			/* keep the first one only if it is still right */
			if (!clen_kept && !msg->clen_err &&
			    sip_uint_decode(first->val, UINT32_MAX, &v) == 0 &&
			    v == body.l) {
				err = mbuf_write_pl(mb, first->line);
				clen_kept = true;
			}
		} else if (sip_bits_any(map.touched, i, j)) {
			err = sip_line_rewrite(mb, prm, first, &msg->hdrv[j]);
		} else {
			err = mbuf_write_pl(mb, first->line);
		}
		i = j;
	}
	if (!err && map.adds_last)
		err = sip_adds_write(mb, prm, NULL);
	if (!err && !clen_kept)
		err = sip_clen_write(mb, body.l);
	err = err ? err : mbuf_write(mb, "\r\n", 2);
	return err || !body.l ? err : mbuf_write_pl(mb, body);
}
