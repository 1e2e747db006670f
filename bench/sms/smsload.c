/*
 * bench/sms/smsload — the phones of bench/sms at a fixed offered rate, in C:
 * the Python phones of smsbench.py saturate near 3,000 SMS/s on this
 * machine, this one carries 10,000/s and more while leaving the cores to
 * imsd. smsbench.py registers the users and hands this program its two UDP
 * sockets (inherited descriptors), one for every sender and one for every
 * receiver; this program runs one step and prints its counters as one JSON
 * line on stdout.
 *
 * One SMS (four transactions at imsd, two in and two out):
 *   sender   -> imsd   MESSAGE, RP-DATA (ms->n) with an SMS-SUBMIT   <- 202
 *   imsd     -> sender MESSAGE, RP-ACK                               -> 200
 *   imsd     -> recv   MESSAGE, RP-DATA (n->ms) with an SMS-DELIVER  -> 200
 *   receiver -> imsd   MESSAGE, RP-ACK (TS 24.011 §7.3.3)            <- 200
 * An SMS counts as delivered when imsd has answered the receiver's RP-ACK.
 * The phones retransmit their MESSAGEs as a UE's non-INVITE client
 * transaction does over UDP (RFC 3261 §17.1.2.2, T1 0.5 s, T2 4 s: at 0.5,
 * 1.5, 3.5, 7.5 s, then every 4 s until 31.5 s) until a final response
 * comes, as SIPp's UEs do; a response counts once per request, the ones
 * to its retransmissions are "resp_dup". With --retx 0 they never
 * retransmit: a datagram dropped anywhere is then a lost SMS. A
 * retransmitted SMS-DELIVER (same Call-ID) is answered again but does not
 * send a second RP-ACK.
 *
 * Usage: smsload --port P --snd-fd N --rcv-fd N --pairs N --rate R
 *                --secs S [--drain S] [--tag T] [--retx 0|1]
 * Sender i is user s<i> (tel +336100<i:05>), receiver i is r<i> (tel
 * +336200<i:05>); SMS k goes from sender k % pairs to receiver k % pairs.
 * Bounds: every datagram is at most 64 KiB, the duplicate table holds
 * DUP_SLOTS Call-IDs (beyond that, duplicates are no longer recognised and
 * counted as "dup_full").
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <strings.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define SC "33699999999"
#define TEXT "bench sms from one phone to another"
#define BATCH 64
#define DGRAM 65536
#define DUP_SLOTS (1u << 21)
#define MAX_PAIRS 100000
/* Requests kept for retransmission: by number, 32 s of 60,000/s. */
#define RQ_SLOTS (1u << 21)
#define RQ_ROUNDS 10
/* ms after the first send of each retransmission (T1 500, T2 4000) */
static const uint32_t rq_at_ms[RQ_ROUNDS] = {500,   1500,  3500,  7500,  11500,
					     15500, 19500, 23500, 27500, 31500};

enum rq_kind { RQ_NONE = 0, RQ_MO, RQ_RPACK };

/* One request of the phones, regenerated from this to be sent again. */
struct rq {
	uint64_t n;	  /* its number (Call-ID, branch, tag) */
	uint32_t t0_ms;	  /* first sent, ms since the start */
	uint32_t idx;	  /* sender (MO) or receiver (RP-ACK) */
	uint8_t kind;	  /* enum rq_kind */
	uint8_t mr;	  /* TP-MR/RP-MR (MO), RP-MR (RP-ACK) */
	uint8_t answered; /* a final response came */
	uint8_t sends;	  /* retransmissions so far */
};

struct load_params {
	int port, snd, rcv, pairs, retx;
	double rate, secs, drain;
	const char *tag;
};

struct load_ctr {
	uint64_t sent, accepted, delivered, errors, send_fail, mt_in, mt_dup, rpack_in,
		dup_full, other, retx, resp_dup, rq_lost;
};

struct load {
	struct load_params p;
	struct load_ctr c;
	struct sockaddr_in to;
	unsigned snd_port, rcv_port;
	uint64_t n;
	uint64_t *dup; /* hashes of the Call-IDs of SMS-DELIVERs acknowledged */
	struct rq *rq; /* RQ_SLOTS, by request number */
	uint64_t cur[RQ_ROUNDS]; /* next request number each round looks at */
	double t0;
	uint8_t text7[64];
	size_t text7_len;
};

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Semi-octets of a digit string (TS 24.011 §8.2.5.1, TS 23.040 §9.1.2.3). */
static size_t load_bcd(uint8_t *out, const char *d)
{
	size_t n = strlen(d), i;

	for (i = 0; i < n; i += 2) {
		unsigned lo = (unsigned)(d[i] - '0');
		unsigned hi = i + 1 < n ? (unsigned)(d[i + 1] - '0') : 0xF;

		out[i / 2] = (uint8_t)(hi << 4 | lo);
	}
	return (n + 1) / 2;
}

/* ASCII letters and spaces (the same in GSM 7-bit) packed in septets. */
static size_t load_pack7(uint8_t *out, size_t cap, const char *text)
{
	size_t n = strlen(text), len = (7 * n + 7) / 8, i;

	if (len > cap)
		return 0;
	memset(out, 0, len);
	for (i = 0; i < n; i++) {
		size_t bit = 7 * i;
		unsigned v = (unsigned)text[i] & 0x7F;

		out[bit / 8] |= (uint8_t)(v << (bit % 8));
		if (bit % 8 > 1)
			out[bit / 8 + 1] |= (uint8_t)(v >> (8 - bit % 8));
	}
	return len;
}

/* RP-DATA (ms->n) with an SMS-SUBMIT of TEXT to dest, as smsbench.py's rp_submit. */
static size_t load_rp_submit(const struct load *l, uint8_t *out, const char *dest, uint8_t mr)
{
	uint8_t tp[128];
	size_t t = 0, o = 0;

	tp[t++] = 0x01;
	tp[t++] = mr;
	tp[t++] = (uint8_t)strlen(dest);
	tp[t++] = 0x91;
	t += load_bcd(tp + t, dest);
	tp[t++] = 0;
	tp[t++] = 0;
	tp[t++] = (uint8_t)strlen(TEXT);
	memcpy(tp + t, l->text7, l->text7_len);
	t += l->text7_len;
	out[o++] = 0x00;
	out[o++] = mr;
	out[o++] = 0;
	out[o++] = (uint8_t)((strlen(SC) + 1) / 2 + 1);
	out[o++] = 0x91;
	o += load_bcd(out + o, SC);
	out[o++] = (uint8_t)t;
	memcpy(out + o, tp, t);
	return o + t;
}

static void load_send(struct load *l, int fd, const char *buf, size_t len)
{
	if (sendto(fd, buf, len, 0, (const struct sockaddr *)&l->to, sizeof(l->to)) < 0)
		l->c.send_fail++;
}

/* MESSAGE request number rn from user on fd with body. */
static void load_message(struct load *l, int fd, unsigned me, const char *user,
	const char *ruri, const uint8_t *body, size_t blen, uint64_t rn)
{
	char buf[2048];
	int n;

	n = snprintf(buf, sizeof(buf),
		"MESSAGE %s SIP/2.0\r\n"
		"Via: SIP/2.0/UDP 127.0.0.1:%u;branch=z9hG4bKL%s-%llu\r\n"
		"Max-Forwards: 70\r\nFrom: <sip:%s@ims.test>;tag=L%s-%llu\r\n"
		"To: <sip:%s@ims.test>\r\nCall-ID: L%s-%llu@smsload\r\n"
		"CSeq: 1 MESSAGE\r\nContent-Type: application/vnd.3gpp.sms\r\n"
		"Content-Length: %zu\r\n\r\n",
		ruri, me, l->p.tag, (unsigned long long)rn, user, l->p.tag,
		(unsigned long long)rn, user, l->p.tag, (unsigned long long)rn, blen);
	if (n < 0 || (size_t)n + blen > sizeof(buf))
		return;
	memcpy(buf + n, body, blen);
	load_send(l, fd, buf, (size_t)n + blen);
}

/* Sends request rn as its record says (first time or again). */
static void load_rq_send(struct load *l, const struct rq *q)
{
	char user[16], dest[16];
	uint8_t body[256];
	size_t blen;

	if (q->kind == RQ_MO) {
		snprintf(user, sizeof(user), "s%u", q->idx);
		snprintf(dest, sizeof(dest), "336200%05u", q->idx);
		blen = load_rp_submit(l, body, dest, q->mr);
		load_message(l, l->p.snd, l->snd_port, user, "sip:+" SC "@ims.test;user=phone",
			body, blen, q->n);
	} else {
		uint8_t ack[2] = {0x02, q->mr};

		snprintf(user, sizeof(user), "r%u", q->idx);
		load_message(l, l->p.rcv, l->rcv_port, user, "sip:+" SC "@ims.test", ack,
			sizeof(ack), q->n);
	}
}

/* A new request: numbered, recorded for its retransmissions, sent. */
static void load_rq_new(struct load *l, uint8_t kind, uint32_t idx, uint8_t mr)
{
	struct rq *q = &l->rq[++l->n & (RQ_SLOTS - 1)];

	if (q->kind && !q->answered && q->n)
		l->c.rq_lost++; /* a slot reused before its request ended */
	*q = (struct rq){.n = l->n, .t0_ms = (uint32_t)((now_s() - l->t0) * 1000.0),
		.idx = idx, .kind = kind, .mr = mr};
	load_rq_send(l, q);
}

/* The request a response answers (its Call-ID "L<tag>-<n>@smsload"), or
 * NULL. */
static struct rq *load_rq_of(struct load *l, const char *cid, size_t len)
{
	size_t tl = strlen(l->p.tag), i;
	uint64_t n = 0;
	struct rq *q;

	if (len < tl + 3 || cid[0] != 'L' || memcmp(cid + 1, l->p.tag, tl) || cid[tl + 1] != '-')
		return NULL;
	for (i = tl + 2; i < len && cid[i] >= '0' && cid[i] <= '9'; i++)
		n = n * 10 + (uint64_t)(cid[i] - '0');
	q = &l->rq[n & (RQ_SLOTS - 1)];
	return q->n == n && q->kind ? q : NULL;
}

/* Retransmissions that are due: round r looks at the requests in the
 * order they were first sent, each once, so each round is a scan. */
static void load_retx(struct load *l)
{
	uint32_t now = (uint32_t)((now_s() - l->t0) * 1000.0);

	if (!l->p.retx)
		return;
	for (int r = 0; r < RQ_ROUNDS; r++) {
		while (l->cur[r] < l->n) {
			struct rq *q = &l->rq[(l->cur[r] + 1) & (RQ_SLOTS - 1)];

			if (q->n != l->cur[r] + 1) { /* overwritten: gone */
				l->cur[r]++;
				continue;
			}
			if (q->t0_ms + rq_at_ms[r] > now)
				break;
			l->cur[r]++;
			if (q->answered || q->sends != r)
				continue;
			q->sends++;
			l->c.retx++;
			load_rq_send(l, q);
		}
	}
}

static void load_sms(struct load *l, uint64_t k)
{
	load_rq_new(l, RQ_MO, (uint32_t)(k % (uint64_t)l->p.pairs), (uint8_t)(k & 0xFF));
	l->c.sent++;
}

/* The value of the header line starting with name (case-sensitive, as imsd
 * writes it), up to its CRLF, within head[0..hlen). */
static const char *load_header(const char *head, size_t hlen, const char *name, size_t *vlen)
{
	size_t nl = strlen(name);
	const char *p = head, *end = head + hlen;

	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);

		if (!eol)
			eol = end;
		if ((size_t)(eol - p) >= nl && strncasecmp(p, name, nl) == 0) {
			*vlen = (size_t)(eol - p) - nl;
			return p + nl;
		}
		p = eol + 2;
	}
	return NULL;
}

/* 200 OK to a request: its Via, From, To, Call-ID and CSeq lines. */
static void load_answer(struct load *l, int fd, const char *head, size_t hlen)
{
	char buf[4096];
	size_t o = 0;
	const char *p = head, *end = head + hlen;
	static const char ok[] = "SIP/2.0 200 OK\r\n";

	memcpy(buf, ok, sizeof(ok) - 1);
	o = sizeof(ok) - 1;
	while (p < end) {
		const char *eol = memmem(p, (size_t)(end - p), "\r\n", 2);
		size_t len;

		if (!eol)
			eol = end;
		len = (size_t)(eol - p);
		if (len >= 4 && (strncasecmp(p, "via:", 4) == 0 || strncasecmp(p, "from", 4) == 0 ||
				strncasecmp(p, "to: ", 4) == 0 || strncasecmp(p, "call", 4) == 0 ||
				strncasecmp(p, "cseq", 4) == 0)) {
			if (o + len + 2 > sizeof(buf) - 32)
				return;
			memcpy(buf + o, p, len);
			memcpy(buf + o + len, "\r\n", 2);
			o += len + 2;
		}
		p = eol + 2;
	}
	memcpy(buf + o, "Content-Length: 0\r\n\r\n", 21);
	load_send(l, fd, buf, o + 21);
}

/* True the first time a Call-ID is seen (FNV-1a, open addressing). */
static int load_first(struct load *l, const char *cid, size_t len)
{
	uint64_t h = 1469598103934665603ULL;
	size_t i, probe;

	for (i = 0; i < len; i++)
		h = (h ^ (uint8_t)cid[i]) * 1099511628211ULL;
	h |= 1;
	for (probe = 0; probe < 64; probe++) {
		uint64_t *s = &l->dup[(h + probe) & (DUP_SLOTS - 1)];

		if (*s == h)
			return 0;
		if (*s == 0) {
			*s = h;
			return 1;
		}
	}
	l->c.dup_full++;
	return 1;
}

/* The receiver's side of an SMS-DELIVER: its RP-ACK to imsd, once per
 * Call-ID (the receiver's number is in To, as smsbench.py reads it). */
static void load_rp_ack(struct load *l, const char *head, size_t hlen, const uint8_t *body)
{
	size_t clen = 0, tlen = 0, i;
	const char *cid = load_header(head, hlen, "Call-ID: ", &clen);
	const char *to = load_header(head, hlen, "To: <tel:+336200", &tlen);
	unsigned idx = 0;

	if (!cid || !to || tlen < 5) {
		l->c.other++;
		return;
	}
	if (!load_first(l, cid, clen)) {
		l->c.mt_dup++;
		return;
	}
	for (i = 0; i < 5; i++) {
		if (to[i] < '0' || to[i] > '9') {
			l->c.other++;
			return;
		}
		idx = idx * 10 + (unsigned)(to[i] - '0');
	}
	load_rq_new(l, RQ_RPACK, idx, body[1]);
}

static void load_datagram(struct load *l, int fd, const char *d, size_t len)
{
	const char *sep = memmem(d, len, "\r\n\r\n", 4);
	size_t hlen = sep ? (size_t)(sep - d) : len;
	const uint8_t *body = (const uint8_t *)(sep ? sep + 4 : d + len);
	size_t blen = len - (size_t)((const char *)body - d);
	size_t vlen, clen;
	const char *cid;
	struct rq *q;

	if (len >= 8 && memcmp(d, "MESSAGE ", 8) == 0) {
		load_answer(l, fd, d, hlen);
		if (fd == l->p.rcv && blen > 1 && body[0] == 1) {
			l->c.mt_in++;
			load_rp_ack(l, d, hlen, body);
		} else if (fd == l->p.snd && blen > 1 && body[0] == 3) {
			l->c.rpack_in++;
		} else {
			l->c.other++;
		}
		return;
	}
	if (len < 12 || memcmp(d, "SIP/2.0 ", 8) != 0) {
		l->c.other++;
		return;
	}
	cid = load_header(d, hlen, "Call-ID: ", &clen);
	q = cid ? load_rq_of(l, cid, clen) : NULL;
	if (d[8] == '1')
		return; /* provisional: the request goes on */
	if (q && q->answered) {
		l->c.resp_dup++; /* to a retransmission: counted once */
		return;
	}
	if (q)
		q->answered = 1;
	if (d[8] != '2') {
		l->c.errors++;
		return;
	}
	if (!load_header(d, hlen, "CSeq: 1 MESSAGE", &vlen)) {
		l->c.other++;
		return;
	}
	if (fd == l->p.snd && memcmp(d + 8, "202", 3) == 0)
		l->c.accepted++;
	else if (fd == l->p.rcv && memcmp(d + 8, "200", 3) == 0)
		l->c.delivered++;
	else
		l->c.other++;
}

/* Everything waiting on fd, BATCH datagrams per system call. */
static void load_read(struct load *l, int fd, char (*bufs)[DGRAM])
{
	struct mmsghdr msgs[BATCH];
	struct iovec iov[BATCH];
	int i, got, rounds;

	for (rounds = 0; rounds < 64; rounds++) {
		memset(msgs, 0, sizeof(msgs));
		for (i = 0; i < BATCH; i++) {
			iov[i].iov_base = bufs[i];
			iov[i].iov_len = DGRAM - 1;
			msgs[i].msg_hdr.msg_iov = &iov[i];
			msgs[i].msg_hdr.msg_iovlen = 1;
		}
		got = recvmmsg(fd, msgs, BATCH, MSG_DONTWAIT, NULL);
		if (got <= 0)
			return;
		for (i = 0; i < got; i++)
			load_datagram(l, fd, bufs[i], msgs[i].msg_len);
		if (got < BATCH)
			return;
	}
}

static void load_run(struct load *l, char (*bufs)[DGRAM], double *load_s)
{
	double t0 = now_s(), t, end = t0 + l->p.secs, drain_end;
	uint64_t k = 0;
	struct pollfd pf[2] = {{.fd = l->p.snd, .events = POLLIN}, {.fd = l->p.rcv, .events = POLLIN}};

	l->t0 = t0;
	while ((t = now_s()) < end) {
		uint64_t due = (uint64_t)((t - t0) * l->p.rate);

		while (l->c.sent < due)
			load_sms(l, k++);
		if (poll(pf, 2, 1) > 0) {
			load_read(l, l->p.snd, bufs);
			load_read(l, l->p.rcv, bufs);
		}
		load_retx(l);
	}
	*load_s = now_s() - t0;
	drain_end = now_s() + l->p.drain;
	while (l->c.delivered < l->c.sent && now_s() < drain_end) {
		if (poll(pf, 2, 20) > 0) {
			load_read(l, l->p.snd, bufs);
			load_read(l, l->p.rcv, bufs);
		}
		load_retx(l);
	}
}

static unsigned load_port(int fd)
{
	struct sockaddr_in a;
	socklen_t al = sizeof(a);

	if (getsockname(fd, (struct sockaddr *)&a, &al) != 0 || a.sin_family != AF_INET)
		return 0;
	return ntohs(a.sin_port);
}

static int load_args(struct load_params *p, int argc, char **argv)
{
	int i;

	*p = (struct load_params){.snd = -1, .rcv = -1, .drain = 10, .tag = "x", .retx = 1};
	for (i = 1; i + 1 < argc; i += 2) {
		const char *k = argv[i], *v = argv[i + 1];

		if (!strcmp(k, "--port"))
			p->port = atoi(v);
		else if (!strcmp(k, "--snd-fd"))
			p->snd = atoi(v);
		else if (!strcmp(k, "--rcv-fd"))
			p->rcv = atoi(v);
		else if (!strcmp(k, "--pairs"))
			p->pairs = atoi(v);
		else if (!strcmp(k, "--rate"))
			p->rate = atof(v);
		else if (!strcmp(k, "--secs"))
			p->secs = atof(v);
		else if (!strcmp(k, "--drain"))
			p->drain = atof(v);
		else if (!strcmp(k, "--retx") && (!strcmp(v, "0") || !strcmp(v, "1")))
			p->retx = atoi(v);
		else if (!strcmp(k, "--tag") && strlen(v) < 16)
			p->tag = v;
		else
			return -EINVAL;
	}
	if (i != argc || p->port <= 0 || p->port > 65535 || p->snd < 0 || p->rcv < 0 ||
	    p->pairs <= 0 || p->pairs > MAX_PAIRS || !(p->rate > 0 && p->rate <= 1e6) ||
	    !(p->secs > 0 && p->secs <= 3600) || !(p->drain >= 0 && p->drain <= 600))
		return -EINVAL;
	return 0;
}

static void load_report(const struct load *l, double load_s)
{
	struct rusage ru;
	const struct load_ctr *c = &l->c;

	getrusage(RUSAGE_SELF, &ru);
	printf("{\"sent\": %llu, \"accepted\": %llu, \"delivered\": %llu, \"errors\": %llu, "
	       "\"send_fail\": %llu, \"mt_in\": %llu, \"mt_dup\": %llu, \"rpack_in\": %llu, "
	       "\"dup_full\": %llu, \"other\": %llu, \"retx\": %llu, \"resp_dup\": %llu, "
	       "\"rq_lost\": %llu, \"load_s\": %.3f, "
	       "\"cpu_user_s\": %.3f, \"cpu_sys_s\": %.3f}\n",
		(unsigned long long)c->sent, (unsigned long long)c->accepted,
		(unsigned long long)c->delivered, (unsigned long long)c->errors,
		(unsigned long long)c->send_fail, (unsigned long long)c->mt_in,
		(unsigned long long)c->mt_dup, (unsigned long long)c->rpack_in,
		(unsigned long long)c->dup_full, (unsigned long long)c->other,
		(unsigned long long)c->retx, (unsigned long long)c->resp_dup,
		(unsigned long long)c->rq_lost, load_s,
		(double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6,
		(double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6);
}

int main(int argc, char **argv)
{
	struct load *l = calloc(1, sizeof(*l));
	char (*bufs)[DGRAM] = malloc((size_t)BATCH * DGRAM);
	double load_s = 0;
	int rc = 2;

	if (!l || !bufs)
		goto out;
	l->dup = calloc(DUP_SLOTS, sizeof(*l->dup));
	l->rq = calloc(RQ_SLOTS, sizeof(*l->rq));
	if (!l->dup || !l->rq)
		goto out;
	if (load_args(&l->p, argc, argv) != 0) {
		fprintf(stderr, "usage: smsload --port P --snd-fd N --rcv-fd N --pairs N "
				"--rate R --secs S [--drain S] [--tag T] [--retx 0|1]\n");
		goto out;
	}
	l->snd_port = load_port(l->p.snd);
	l->rcv_port = load_port(l->p.rcv);
	if (!l->snd_port || !l->rcv_port) {
		fprintf(stderr, "smsload: --snd-fd and --rcv-fd must be bound UDP/IPv4 sockets\n");
		goto out;
	}
	l->to = (struct sockaddr_in){.sin_family = AF_INET, .sin_port = htons((uint16_t)l->p.port),
		.sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	l->text7_len = load_pack7(l->text7, sizeof(l->text7), TEXT);
	load_run(l, bufs, &load_s);
	load_report(l, load_s);
	rc = 0;
out:
	if (l) {
		free(l->dup);
		free(l->rq);
	}
	free(l);
	free(bufs);
	return rc;
}
