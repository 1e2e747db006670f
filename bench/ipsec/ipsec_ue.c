/*
 * bench/ipsec/ipsec_ue — the C UE of bench/ipsec (issue 18): a load
 * generator, not a correctness peer (the scapy UE of tests/integ stays the
 * independent ESP implementation). It registers with IMS-AKA and sec-agree
 * (TS 33.203 §7, TS 24.229 §5.1.1.2) and sends SMS rounds, over its SAs or
 * in clear, in lockstep: each message leaves as soon as the one it waits for
 * has come, the same code on both sides, so imsd is woken alike with and
 * without IPsec and the difference of its CPU is what ESP costs it.
 *
 * It links imsd's own code: AKA (auth/aka), Digest (auth/digest), the ESP
 * codec (ipsec/esp), the sec-agree parser and the UDP header builder.
 * Run inside the UE's network namespace (raw ESP socket: root). Commands on
 * stdin, one a line, answers on stdout:
 *
 *   reg ipsec|plain N   N registrations (REGISTER -> 401 -> REGISTER -> 200),
 *                       each a new AKA run (with IPsec a new SA set)
 *                       -> "ok N rtx=K" | "fail WHY"
 *   sms ipsec|plain N   one registration, "ready"; then a line on stdin;
 *                       N SMS rounds to itself (MESSAGE -> 202, imsd's RP-ACK
 *                       MESSAGE -> 200, the delivery -> 200, its RP-ACK
 *                       MESSAGE -> 200: 8 SIP messages), "done FAILED";
 *                       then the de-REGISTER, "ok rtx=K" | "fail WHY"
 * rtx: requests of registrations sent again so far (RFC 3261 timer A, T1
 * 500 ms: a datagram lost on a busy machine costs a retransmission).
 *
 * Usage: bench_ipsec_ue UE_IP PCSCF_IP PCSCF_PORT K OPC
 * Users (as bench/ipsec/ipsecbench.py provisions them): ue201 with IPsec,
 * ue202 without; impi 00101000000020N@ims.test, msisdn +3360000020N.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth/aka.h"
#include "auth/auth_codec.h"
#include "auth/digest.h"
#include "ipsec/esp.h"
#include "ipsec/ipsec_pkt.h"
#include "ipsec/sec_agree.h"

#define BUF 8192
#define WAIT_MS 5000
#define T1_MS 500 /* RFC 3261 §17.1.2.2: a request is sent again after T1, 2T1, 4T1 */
#define PORT_C 31000
#define PORT_S 31001
#define SC "sip:+33699999999@ims.test;user=phone"
#define ALG "hmac-sha-1-96"
#define EALG "aes-cbc"

struct msg {
	char text[BUF];
	size_t len, body_off, body_len;
	uint16_t sport, dport;	   /* SA link: UDP ports inside ESP */
	struct sockaddr_storage from; /* plain link */
	socklen_t fromlen;
};

struct ue {
	int udp[2], raw;	   /* udp[ipsec]: the plain port of each user */
	struct net_addr me, pcscf;
	struct aka_cred cred;
	uint32_t spi_c, spi_s, n;
	bool ipsec;
	/* the SA set of the last registration */
	struct esp_sa *to_s, *to_c, *in_c, *in_s;
	uint16_t p_port_s, p_port_c;
	char server[512];	   /* Security-Server as received */
	char nonce[256];
	unsigned cseq, mr;
	char callid[64];
	uint8_t pkt[BUF + ESP_OVERHEAD_MAX + 64], clear[BUF + 64];
};

static const char *user(const struct ue *u)
{
	return u->ipsec ? "ue201" : "ue202";
}

static unsigned num(const struct ue *u)
{
	return u->ipsec ? 201 : 202;
}

static uint16_t plain_port(const struct ue *u)
{
	return u->ipsec ? 5062 : 5064;
}

/* --- SIP text --- */

/* The value of header name in m's head (first one), NUL-ended in out. */
static bool hdr(const struct msg *m, const char *name, char *out, size_t size)
{
	size_t nl = strlen(name);
	const char *p = m->text, *end = m->text + m->body_off;

	while (p < end) {
		const char *eol = memchr(p, '\n', (size_t)(end - p));
		const char *v;

		if (!eol)
			break;
		if ((size_t)(eol - p) > nl && !strncasecmp(p, name, nl) &&
		    (p[nl] == ':' || p[nl] == ' ')) {
			v = memchr(p, ':', (size_t)(eol - p));
			if (!v)
				return false;
			for (v++; *v == ' ' || *v == '\t'; v++)
				;
			size_t n = (size_t)(eol - v);
			if (n && v[n - 1] == '\r')
				n--;
			if (n >= size)
				return false;
			memcpy(out, v, n);
			out[n] = 0;
			return true;
		}
		p = eol + 1;
	}
	return false;
}

static int code(const struct msg *m)
{
	return strncmp(m->text, "SIP/2.0 ", 8) ? 0 : atoi(m->text + 8);
}

static unsigned cseq_of(const struct msg *m)
{
	char v[64];

	return hdr(m, "CSeq", v, sizeof(v)) ? (unsigned)strtoul(v, NULL, 10) : 0;
}

/* Splits head and body; false when m is not one whole SIP message. */
static bool frame(struct msg *m)
{
	char v[32];
	const char *sep;

	m->text[m->len] = 0;
	sep = strstr(m->text, "\r\n\r\n");
	if (!sep)
		return false;
	m->body_off = (size_t)(sep - m->text) + 4;
	m->body_len = 0;
	if (hdr(m, "Content-Length", v, sizeof(v)) || hdr(m, "l", v, sizeof(v)))
		m->body_len = strtoul(v, NULL, 10);
	return m->body_off + m->body_len <= m->len;
}

struct out {
	char b[BUF];
	size_t n;
	bool bad;
};

static void put(struct out *o, const char *fmt, ...)
{
	va_list ap;
	int k;

	va_start(ap, fmt);
	k = vsnprintf(o->b + o->n, sizeof(o->b) - o->n, fmt, ap);
	va_end(ap);
	if (k < 0 || (size_t)k >= sizeof(o->b) - o->n)
		o->bad = true;
	else
		o->n += (size_t)k;
}

static void put_body(struct out *o, const void *body, size_t len)
{
	put(o, "Content-Length: %zu\r\n\r\n", len);
	if (o->bad || len > sizeof(o->b) - o->n) {
		o->bad = true;
		return;
	}
	memcpy(o->b + o->n, body, len);
	o->n += len;
}

static void head(struct ue *u, struct out *o, const char *method, const char *ruri,
		 uint16_t via_port, const char *to, const char *ftag)
{
	char ip[64];

	u->cseq++;
	net_addr_print_host(&u->me, ip, sizeof(ip));
	put(o, "%s %s SIP/2.0\r\nVia: SIP/2.0/UDP %s:%u;branch=z9hG4bK%.3s%u-%u;rport\r\n"
	       "Max-Forwards: 70\r\nFrom: <sip:%s@ims.test>;tag=%s\r\nTo: %s\r\n"
	       "Call-ID: %s\r\nCSeq: %u %s\r\n",
	    method, ruri, ip, via_port, method, u->spi_c, ++u->n, user(u), ftag, to, u->callid,
	    u->cseq, method);
}

/* --- transport: clear UDP, or UDP inside ESP on the raw socket --- */

static int send_plain(struct ue *u, const struct out *o, const struct sockaddr *to,
		      socklen_t tolen)
{
	if (o->bad)
		return EMSGSIZE;
	return sendto(u->udp[u->ipsec], o->b, o->n, 0, to, tolen) < 0 ? errno : 0;
}

static int send_esp(struct ue *u, struct esp_sa *sa, uint16_t sport, uint16_t dport,
		    const struct out *o)
{
	struct net_addr src = u->me, dst = u->pcscf, to = u->pcscf;
	size_t ulen = 0, elen = 0;
	int err;

	if (o->bad)
		return EMSGSIZE;
	net_addr_set_port(&src, sport);
	net_addr_set_port(&dst, dport);
	net_addr_set_port(&to, 0);
	err = ipsec_pkt_udp_build(&src, &dst, (const uint8_t *)o->b, o->n, u->clear,
				  sizeof(u->clear), &ulen);
	if (!err)
		err = esp_encap(sa, IPSEC_PROTO_UDP, u->clear, ulen, u->pkt, sizeof(u->pkt), &elen);
	if (!err && sendto(u->raw, u->pkt, elen, 0, net_addr_sa(&to), net_addr_len(&to)) < 0)
		err = errno;
	return err;
}

/* A request of ours: over the SA from port-c to the P-CSCF's port-s, or
 * from the plain port to its SIP port. */
static int send_req(struct ue *u, const struct out *o)
{
	if (u->ipsec && u->to_s)
		return send_esp(u, u->to_s, PORT_C, u->p_port_s, o);
	return send_plain(u, o, net_addr_sa(&u->pcscf), net_addr_len(&u->pcscf));
}

/* One ESP datagram -> m (a UDP SIP message under one of our SPIs). */
static bool esp_take(struct ue *u, const uint8_t *p, size_t n, struct msg *m)
{
	struct ipsec_pkt ip;
	struct esp_sa *sa;
	uint32_t spi, seq;
	size_t clen = 0;
	uint8_t nh = 0;

	if (net_addr_af(&u->me) == AF_INET) {
		if (ipsec_pkt_parse(p, n, &ip) || ip.proto != IPSEC_PROTO_ESP)
			return false;
		p = ip.l4;
		n = ip.l4_len;
	}
	if (esp_hdr_parse(p, n, &spi, &seq))
		return false;
	sa = spi == u->spi_c ? u->in_c : spi == u->spi_s ? u->in_s : NULL;
	if (!sa || esp_decap(sa, p, n, u->clear, sizeof(u->clear), &clen, &nh) ||
	    nh != IPSEC_PROTO_UDP || clen < 8 || clen - 8 >= sizeof(m->text))
		return false;
	m->sport = (uint16_t)(u->clear[0] << 8 | u->clear[1]);
	m->dport = (uint16_t)(u->clear[2] << 8 | u->clear[3]);
	m->len = clen - 8;
	memcpy(m->text, u->clear + 8, m->len);
	return frame(m);
}

/* The next SIP message on the link (SA: the raw socket; else the plain
 * port); ETIMEDOUT after wait_ms. */
static int next_msg_in(struct ue *u, struct msg *m, int wait_ms)
{
	bool sa = u->ipsec && u->in_c;
	struct pollfd pf = {.fd = sa ? u->raw : u->udp[u->ipsec], .events = POLLIN};

	for (int guard = 0; guard < 1000; guard++) {
		ssize_t n;

		if (poll(&pf, 1, wait_ms) <= 0)
			return ETIMEDOUT;
		m->fromlen = sizeof(m->from);
		n = recvfrom(pf.fd, sa ? u->pkt : (uint8_t *)m->text,
			     sa ? sizeof(u->pkt) : sizeof(m->text) - 1, MSG_DONTWAIT,
			     (struct sockaddr *)&m->from, &m->fromlen);
		if (n <= 0)
			continue;
		if (sa ? esp_take(u, u->pkt, (size_t)n, m) : (m->len = (size_t)n, frame(m)))
			return 0;
	}
	return EIO;
}

static int next_msg(struct ue *u, struct msg *m)
{
	return next_msg_in(u, m, WAIT_MS);
}

static unsigned long rtx; /* requests sent again (a lost datagram) */
static const char *step = "-"; /* what the last failure was waiting for */

/* A request and its answer, the request sent again while none comes (UDP
 * SIP's timer A: a datagram lost on a busy machine costs a retransmission,
 * not the run). */
static int transact(struct ue *u, const struct out *o, struct msg *m)
{
	int err = ETIMEDOUT;

	for (int t = T1_MS; t <= 4 * T1_MS && err == ETIMEDOUT; t *= 2) {
		if (t > T1_MS)
			rtx++;
		err = send_req(u, o);
		/* its answer: a late one to an earlier copy or request is skipped */
		for (int k = 0; !err && k < 8; k++) {
			err = next_msg_in(u, m, t);
			if (!err && code(m) && cseq_of(m) == u->cseq)
				return 0;
		}
	}
	return err ? err : EPROTO;
}

/* 200 OK to a request of imsd's, back where it came from (over the SA: from
 * our port-s to its port-c under its spi-c, TS 33.203 §7.1). */
static int answer_200(struct ue *u, const struct msg *req)
{
	static const char *keep[] = {"Via", "From", "Call-ID", "CSeq"};
	struct out o = {.n = 0};
	char v[512];

	put(&o, "SIP/2.0 200 OK\r\n");
	for (size_t i = 0; i < sizeof(keep) / sizeof(keep[0]); i++)
		if (hdr(req, keep[i], v, sizeof(v)))
			put(&o, "%s: %s\r\n", keep[i], v);
	if (hdr(req, "To", v, sizeof(v)))
		put(&o, "To: %s%s\r\n", v, strstr(v, ";tag=") ? "" : ";tag=ue200");
	put(&o, "Content-Length: 0\r\n\r\n");
	if (u->ipsec && u->to_c)
		return send_esp(u, u->to_c, req->dport, req->sport, &o);
	return send_plain(u, &o, (const struct sockaddr *)&req->from, req->fromlen);
}

/* --- registration --- */

static int sa_make(struct esp_sa **sa, uint32_t spi, const struct esp_keys *k)
{
	struct esp_sa_prm p = {.spi = spi, .aalg = ESP_AALG_HMAC_SHA1_96,
			       .ealg = ESP_EALG_AES_CBC, .keys = k};

	esp_sa_free(*sa);
	*sa = NULL;
	return esp_sa_alloc(sa, &p);
}

/* RES (as the Digest password) and CK, IK from the 401's nonce. */
static int aka_run(struct ue *u, struct aka_vector *av, uint8_t *pw, size_t *pw_len)
{
	uint8_t rand[16], autn[AKA_AUTN_MAX], sd[256];
	size_t sdl = 0, alen = aka_autn_len(&u->cred);
	int err = digest_aka_nonce_decode(pl_from_str(u->nonce), alen, rand, autn, sd,
					  sizeof(sd), &sdl);

	if (!err)
		err = aka_autn_check(&u->cred, rand, autn, alen, av);
	if (!err)
		err = digest_aka_password(DIGEST_ALGO_AKAV1_MD5, av->xres, av->xres_len, av->ik,
					  av->ik_len, av->ck, av->ck_len, pw, pw_len);
	return err;
}

static int auth_line(struct ue *u, struct out *o, const uint8_t *pw, size_t pw_len,
		     const char *nc)
{
	char impi[64], resp[DIGEST_HEX_SIZE];
	struct digest_prm d = {.algo = DIGEST_ALGO_AKAV1_MD5, .qop = DIGEST_QOP_AUTH};

	snprintf(impi, sizeof(impi), "001010000000%u@ims.test", num(u));
	d.username = pl_from_str(impi);
	d.realm = pl_from_str("ims.test");
	d.password = (struct pl){(const char *)pw, pw_len};
	d.method = pl_from_str("REGISTER");
	d.uri = pl_from_str("sip:ims.test");
	d.nonce = pl_from_str(u->nonce);
	d.cnonce = pl_from_str("0a4f113b");
	d.nc = pl_from_str(nc);
	if (digest_response_calc(&d, resp))
		return EINVAL;
	put(o, "Authorization: Digest username=\"%s\", realm=\"ims.test\", nonce=\"%s\", "
	       "uri=\"sip:ims.test\", response=\"%s\", algorithm=AKAv1-MD5, qop=auth, "
	       "cnonce=\"0a4f113b\", nc=%s\r\n",
	    impi, u->nonce, resp, nc);
	return 0;
}

/* REGISTER's common lines: Contact (with sms), sec-agree or not, offer. */
static void reg_lines(struct ue *u, struct out *o, bool sms)
{
	char ip[64];

	net_addr_print_host(&u->me, ip, sizeof(ip));
	put(o, "Contact: <sip:%s@%s:%u>;expires=600%s\r\n", user(u), ip,
	    u->ipsec ? PORT_S : plain_port(u), sms ? ";+g.3gpp.smsip" : "");
	if (!u->ipsec) {
		put(o, "Supported: path\r\n");
		return;
	}
	put(o, "Supported: path, sec-agree\r\nRequire: sec-agree\r\nProxy-Require: sec-agree\r\n"
	       "Security-Client: ipsec-3gpp;alg=" ALG ";ealg=" EALG
	       ";spi-c=%u;spi-s=%u;port-c=%u;port-s=%u\r\n",
	    u->spi_c, u->spi_s, PORT_C, PORT_S);
}

/* The 401: nonce, and with IPsec Security-Server -> the four SAs. */
static int take_401(struct ue *u, const struct msg *m, struct aka_vector *av, uint8_t *pw,
		    size_t *pw_len)
{
	char v[512], *n, *e;
	struct sec_list l;
	struct esp_keys k;
	int err;

	if (code(m) != 401 || !hdr(m, "WWW-Authenticate", v, sizeof(v)) ||
	    !(n = strstr(v, "nonce=\"")) || !(e = strchr(n + 7, '"')) ||
	    (size_t)(e - n - 7) >= sizeof(u->nonce))
		return EPROTO;
	memcpy(u->nonce, n + 7, (size_t)(e - n - 7));
	u->nonce[e - n - 7] = 0;
	if ((err = aka_run(u, av, pw, pw_len)))
		return err;
	if (!u->ipsec)
		return 0;
	memset(&l, 0, sizeof(l));
	if (!hdr(m, "Security-Server", u->server, sizeof(u->server)) ||
	    sec_agree_parse(pl_from_str(u->server), &l) || !l.n)
		return EPROTO;
	u->p_port_s = l.v[0].port_s;
	u->p_port_c = l.v[0].port_c;
	if ((err = esp_key_expand(ESP_AALG_HMAC_SHA1_96, ESP_EALG_AES_CBC, av->ck, av->ik, &k)))
		return err;
	err = sa_make(&u->to_s, l.v[0].spi_s, &k);
	if (!err)
		err = sa_make(&u->to_c, l.v[0].spi_c, &k);
	if (!err)
		err = sa_make(&u->in_c, u->spi_c, &k);
	if (!err)
		err = sa_make(&u->in_s, u->spi_s, &k);
	esp_keys_wipe(&k);
	return err;
}

static void sas_drop(struct ue *u)
{
	struct esp_sa **v[] = {&u->to_s, &u->to_c, &u->in_c, &u->in_s};

	for (size_t i = 0; i < 4; i++) {
		esp_sa_free(*v[i]);
		*v[i] = NULL;
	}
}

/* REGISTER -> 401 -> REGISTER (over the new SAs) -> 200. */
static int reg_one(struct ue *u, bool sms)
{
	char ftag[32], to[64];
	uint8_t pw[DIGEST_PW_MAX];
	size_t pw_len = 0;
	struct aka_vector av;
	struct out o = {.n = 0};
	struct msg m;
	int err;

	sas_drop(u); /* the first REGISTER goes in clear */
	u->spi_c += 2;
	u->spi_s = u->spi_c + 1;
	u->cseq = 0;
	snprintf(u->callid, sizeof(u->callid), "ipsec-%u@ue", u->spi_c);
	snprintf(ftag, sizeof(ftag), "t%u", u->spi_c);
	snprintf(to, sizeof(to), "<sip:%s@ims.test>", user(u));
	head(u, &o, "REGISTER", "sip:ims.test", plain_port(u), to, ftag);
	reg_lines(u, &o, sms);
	put(&o, "Authorization: Digest username=\"001010000000%u@ims.test\", realm=\"ims.test\", "
		"nonce=\"\", uri=\"sip:ims.test\", response=\"\"\r\nContent-Length: 0\r\n\r\n",
	    num(u));
	step = "the 401";
	if ((err = transact(u, &o, &m)) || (err = take_401(u, &m, &av, pw, &pw_len)))
		return err;
	step = "the 200";
	o.n = 0;
	head(u, &o, "REGISTER", "sip:ims.test", u->ipsec ? PORT_C : plain_port(u), to, ftag);
	reg_lines(u, &o, sms);
	if (u->ipsec)
		put(&o, "Security-Verify: %s\r\n", u->server);
	err = auth_line(u, &o, pw, pw_len, "00000001");
	aka_vector_wipe(&av);
	put(&o, "Content-Length: 0\r\n\r\n");
	if (!err && !(err = transact(u, &o, &m)))
		err = code(&m) == 200 ? 0 : EPROTO;
	return err;
}

/* de-REGISTER over the registration's SAs (nc 2 of its nonce). */
static int dereg(struct ue *u)
{
	char ftag[32], to[64];
	uint8_t pw[DIGEST_PW_MAX];
	size_t pw_len = 0;
	struct aka_vector av;
	struct out o = {.n = 0};
	struct msg m;
	int err;

	snprintf(ftag, sizeof(ftag), "t%u", u->spi_c);
	snprintf(to, sizeof(to), "<sip:%s@ims.test>", user(u));
	head(u, &o, "REGISTER", "sip:ims.test", u->ipsec ? PORT_C : plain_port(u), to, ftag);
	put(&o, "Contact: *\r\nExpires: 0\r\n");
	err = aka_run(u, &av, pw, &pw_len);
	aka_vector_wipe(&av);
	if (!err)
		err = auth_line(u, &o, pw, pw_len, "00000002");
	put(&o, "Content-Length: 0\r\n\r\n");
	if (!err && !(err = transact(u, &o, &m)))
		err = code(&m) == 200 ? 0 : EPROTO;
	return err;
}

/* --- SMS --- */

static size_t bcd(const char *digits, uint8_t *out)
{
	size_t n = strlen(digits), k = 0;

	for (size_t i = 0; i < n; i += 2) {
		uint8_t lo = (uint8_t)(digits[i] - '0');
		uint8_t hi = i + 1 < n ? (uint8_t)(digits[i + 1] - '0') : 0xf;

		out[k++] = (uint8_t)(hi << 4 | lo);
	}
	return k;
}

/* RP-DATA (MO) with an SMS-SUBMIT of 8-bit data to our own number (TS
 * 24.011 §7.3.1.2, TS 23.040 §9.2.2.2): imsd answers 202, RP-ACK, then
 * delivers it back to us. */
static size_t sms_submit(const struct ue *u, uint8_t mr, uint8_t *b)
{
	char da[16];
	uint8_t tpdu[64];
	size_t t = 0, n = 0;

	snprintf(da, sizeof(da), "33600000%u", num(u));
	tpdu[t++] = 0x01;
	tpdu[t++] = mr;
	tpdu[t++] = (uint8_t)strlen(da);
	tpdu[t++] = 0x91;
	t += bcd(da, tpdu + t);
	memcpy(tpdu + t, "\0\4\5hello", 8);
	t += 8;
	b[n++] = 0x00;
	b[n++] = mr;
	b[n++] = 0;
	b[n++] = 7; /* length of the SC address: TON/NPI + 6 BCD bytes */
	b[n++] = 0x91;
	n += bcd("33699999999", b + n);
	b[n++] = (uint8_t)t;
	memcpy(b + n, tpdu, t);
	return n + t;
}

static int sms_send(struct ue *u, const char *cid, unsigned cseq, const uint8_t *body,
		    size_t len)
{
	struct out o = {.n = 0};
	char ftag[32];

	snprintf(ftag, sizeof(ftag), "m%u", u->spi_c);
	snprintf(u->callid, sizeof(u->callid), "%s", cid);
	u->cseq = cseq - 1;
	head(u, &o, "MESSAGE", SC, u->ipsec ? PORT_C : plain_port(u), "<" SC ">", ftag);
	put(&o, "Content-Type: application/vnd.3gpp.sms\r\n");
	put_body(&o, body, len);
	return send_req(u, &o);
}

/* One round: true when the 202, the RP-ACK's 200 and both MESSAGEs came. */
static bool sms_round(struct ue *u)
{
	uint8_t body[128];
	char cid[64];
	int c1 = 0, c2 = 0, mt = 0;
	struct msg m;

	u->mr = (u->mr + 1) % 256;
	snprintf(cid, sizeof(cid), "sms%u-%u@ue", u->spi_c, u->n);
	if (sms_send(u, cid, 1, body, sms_submit(u, (uint8_t)u->mr, body)))
		return false;
	for (int i = 0; i < 12 && !(c1 && c2 && mt >= 2); i++) {
		if (next_msg(u, &m))
			return false;
		if (code(&m)) {
			*(cseq_of(&m) == 1 ? &c1 : &c2) = code(&m);
			continue;
		}
		if (strncmp(m.text, "MESSAGE ", 8) || answer_200(u, &m))
			continue;
		mt++;
		if (m.body_len >= 2 && (m.text[m.body_off] & 7) == 1) { /* RP-DATA: ack it */
			uint8_t ack[2] = {0x02, (uint8_t)m.text[m.body_off + 1]};

			if (sms_send(u, cid, 2, ack, sizeof(ack)))
				return false;
		}
	}
	return (c1 == 200 || c1 == 202) && c2 == 200 && mt == 2;
}

/* --- commands --- */

static void say(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
}

static void cmd_reg(struct ue *u, long n)
{
	for (long i = 0; i < n; i++) {
		int err = reg_one(u, false);

		if (err) {
			say("fail registration %ld: %s (waiting for %s)", i, strerror(err), step);
			return;
		}
	}
	say("ok %ld rtx=%lu", n, rtx);
}

static void cmd_sms(struct ue *u, long n)
{
	char line[64];
	long failed = 0;
	int err = reg_one(u, true);

	if (err) {
		say("fail registration: %s (waiting for %s)", strerror(err), step);
		return;
	}
	say("ready");
	if (!fgets(line, sizeof(line), stdin))
		return;
	for (long i = 0; i < n; i++)
		failed += !sms_round(u);
	say("done %ld", failed);
	err = dereg(u);
	if (err)
		say("fail de-registration: %s", strerror(err));
	else
		say("ok rtx=%lu", rtx);
}

static int sock_open(struct ue *u, int type, int proto, uint16_t port)
{
	struct net_addr a = u->me;
	int fd = socket(net_addr_af(&u->me), type | SOCK_CLOEXEC, proto);

	net_addr_set_port(&a, port);
	if (fd >= 0 && type == SOCK_DGRAM && bind(fd, net_addr_sa(&a), net_addr_len(&a))) {
		close(fd);
		return -1;
	}
	return fd;
}

static int setup(struct ue *u, char **argv)
{
	size_t kl = 0, ol = 0;

	memset(u, 0, sizeof(*u));
	u->spi_c = 20000 + (uint32_t)(getpid() % 1000) * 64;
	aka_cred_init(&u->cred, AKA_ALGO_MILENAGE);
	if (net_addr_parse_str(&u->me, argv[1], 0) ||
	    net_addr_parse_str(&u->pcscf, argv[2], (uint16_t)atoi(argv[3])) ||
	    auth_hex_decode(argv[4], strlen(argv[4]), u->cred.k, sizeof(u->cred.k), &kl) ||
	    auth_hex_decode(argv[5], strlen(argv[5]), u->cred.opc, 16, &ol) || kl != 16 ||
	    ol != 16)
		return EINVAL;
	u->cred.k_len = kl;
	u->udp[0] = sock_open(u, SOCK_DGRAM, 0, 5064);
	u->udp[1] = sock_open(u, SOCK_DGRAM, 0, 5062);
	u->raw = sock_open(u, SOCK_RAW, IPPROTO_ESP, 0);
	return u->udp[0] < 0 || u->udp[1] < 0 || u->raw < 0 ? errno : 0;
}

int main(int argc, char **argv)
{
	static struct ue u;
	char line[128], mode[16];
	long n;
	int err;

	if (argc != 6) {
		fprintf(stderr, "usage: bench_ipsec_ue UE_IP PCSCF_IP PCSCF_PORT K OPC\n");
		return 2;
	}
	if ((err = setup(&u, argv))) {
		fprintf(stderr, "bench_ipsec_ue: set-up: %s\n", strerror(err));
		return 1;
	}
	while (fgets(line, sizeof(line), stdin)) {
		char what[16];

		if (sscanf(line, "%15s %15s %ld", what, mode, &n) != 3 || n < 0 ||
		    (strcmp(mode, "ipsec") && strcmp(mode, "plain"))) {
			say("fail usage: reg|sms ipsec|plain N");
			continue;
		}
		u.ipsec = !strcmp(mode, "ipsec");
		if (!strcmp(what, "reg"))
			cmd_reg(&u, n);
		else if (!strcmp(what, "sms"))
			cmd_sms(&u, n);
		else
			say("fail usage: reg|sms ipsec|plain N");
	}
	sas_drop(&u);
	aka_cred_wipe(&u.cred);
	return 0;
}
