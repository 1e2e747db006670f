/* Unit tests: net TCP — framing, keep-alive, reuse, bounds, limits, idle
 * timeout, many connections. Over loopback, IPv4 and IPv6; every wait is
 * for an event with a generous cap, never a sleep. */
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/mem.h"
#include "loop/loop.h"
#include "net/net.h"
#include "net_testutil.h"

#define WAIT_MS 5000
#define MSG_KEEP 64
#define CLOSE_KEEP 2048

struct msgrec {
	uint64_t conn_id;
	struct net_addr src;
	size_t len;
	bool oversize;
	char *data; /* malloc'd, NUL-terminated copy */
};

struct fix {
	struct net *net;
	struct net_prm prm;
	struct net_listen listen;
	unsigned nmsg;
	struct msgrec msg[MSG_KEEP];
	unsigned nclose;
	uint64_t close_id[CLOSE_KEEP];
	int close_err[CLOSE_KEEP];
	/* Test-specific action after a message was recorded. */
	void (*on_msg)(struct fix *f, const struct net_msg *m);
	int fds_before;
};

static struct fix fixture;

static void recv_h(const struct net_msg *m, void *arg)
{
	struct fix *f = arg;

	if (f->nmsg < MSG_KEEP) {
		struct msgrec *r = &f->msg[f->nmsg];

		r->conn_id = m->conn_id;
		r->src = m->src;
		r->oversize = m->oversize;
		r->len = m->len;
		r->data = malloc(m->len + 1);
		assert_non_null(r->data);
		memcpy(r->data, m->buf, m->len);
		r->data[m->len] = '\0';
		assert_int_equal(m->kind, NET_TCP);
	}
	f->nmsg++;
	if (f->on_msg)
		f->on_msg(f, m);
}

static void close_h(struct net_conn *c, int err, void *arg)
{
	struct fix *f = arg;

	if (f->nclose < CLOSE_KEEP) {
		f->close_id[f->nclose] = net_conn_id(c);
		f->close_err[f->nclose] = err;
	}
	f->nclose++;
}

static int setup(void **state)
{
	struct fix *f = &fixture;

	memset(f, 0, sizeof(*f));
	tu_frame_max = 0;
	f->fds_before = tu_fd_count();
	if (loop_init())
		return -1;
	net_prm_init(&f->prm);
	f->listen.addr = "127.0.0.1:0";
	f->prm.listen = &f->listen;
	f->prm.listen_count = 1;
	f->prm.recv_h = recv_h;
	f->prm.frame_h = tu_frame;
	f->prm.close_h = close_h;
	f->prm.arg = f;
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	f->net = mem_deref(f->net);
	loop_close();
	for (unsigned i = 0; i < f->nmsg && i < MSG_KEEP; i++)
		free(f->msg[i].data);
	assert_int_equal(tu_fd_count(), f->fds_before);
	assert_int_equal(mem_live_count(), 0);
	return 0;
}

static void start(struct fix *f, const char *addr)
{
	f->listen.addr = addr;
	assert_int_equal(net_alloc(&f->net, &f->prm), 0);
}

static const struct net_addr *lsn(struct fix *f)
{
	return net_sock_laddr(net_sock_get(f->net, 0), NET_TCP);
}

static struct net_stats stats(struct fix *f)
{
	struct net_stats st;

	net_stats_get(f->net, &st);
	return st;
}

static unsigned want_msgs, want_closes;
static uint64_t want_bytes;

static bool have_msgs(void *arg)
{
	return ((struct fix *)arg)->nmsg >= want_msgs;
}

static bool have_closes(void *arg)
{
	return ((struct fix *)arg)->nclose >= want_closes;
}

static bool have_bytes(void *arg)
{
	return stats(arg).tcp_rx_bytes >= want_bytes;
}

static void wait_msgs(struct fix *f, unsigned n)
{
	want_msgs = n;
	assert_true(tu_run_until(have_msgs, f, WAIT_MS));
}

static void wait_closes(struct fix *f, unsigned n)
{
	want_closes = n;
	assert_true(tu_run_until(have_closes, f, WAIT_MS));
}

static void wait_bytes(struct fix *f, uint64_t n)
{
	want_bytes = n;
	assert_true(tu_run_until(have_bytes, f, WAIT_MS));
}

static void send_all(int fd, const char *s, size_t len)
{
	assert_int_equal(send(fd, s, len, MSG_NOSIGNAL), (ssize_t)len);
}

static void send_str(int fd, const char *s)
{
	send_all(fd, s, strlen(s));
}

/* The peer closed: EOF or a reset. */
static void assert_peer_closed(int fd)
{
	char b[64];
	ssize_t n;

	do {
		n = recv(fd, b, sizeof(b), 0);
	} while (n > 0);
	assert_true(n == 0 || (n < 0 && errno == ECONNRESET));
}

#define REQ1 "OPTIONS sip:a@b SIP/2.0\r\nCall-ID: 1\r\n\r\n"
#define REQ2 "MESSAGE sip:a@b SIP/2.0\r\nContent-Length: 5\r\n\r\nhello"
#define REQ3 "BYE sip:a@b SIP/2.0\r\nContent-Length: 0\r\n\r\n"
#define RSP1 "SIP/2.0 200 OK\r\nContent-Length: 2\r\n\r\nok"

/* ---- send, reuse, reply over the same connection ---- */

static void send_reuse_reply(struct fix *f, const char *addr)
{
	struct net_sock *s;
	struct net_conn *out;
	uint64_t out_id, id2;
	struct net_stats st;

	start(f, addr);
	s = net_sock_get(f->net, 0);
	/* To our own listener: one outgoing and one accepted connection. */
	assert_int_equal(net_send(NET_TCP, s, lsn(f), REQ1, strlen(REQ1)), 0);
	out = net_conn_find(f->net, lsn(f));
	assert_non_null(out);
	assert_true(net_conn_outgoing(out));
	out_id = net_conn_id(out);
	assert_int_equal(net_send(NET_TCP, s, lsn(f), REQ2, strlen(REQ2)), 0);
	assert_int_equal(net_connect(s, lsn(f), &id2), 0);
	assert_int_equal(id2, out_id);
	wait_msgs(f, 2);
	assert_string_equal(f->msg[0].data, REQ1);
	assert_string_equal(f->msg[1].data, REQ2);
	assert_int_equal(f->msg[0].conn_id, f->msg[1].conn_id);
	assert_int_not_equal(f->msg[0].conn_id, out_id);
	assert_non_null(net_conn_lookup(f->net, f->msg[0].conn_id));
	assert_false(net_conn_outgoing(net_conn_lookup(f->net, f->msg[0].conn_id)));
	assert_true(net_addr_eq(&f->msg[0].src, net_conn_local(out)));
	st = stats(f);
	assert_int_equal(st.tcp_connected, 1);
	assert_int_equal(st.tcp_accepted, 1);
	assert_int_equal(st.tcp_conns, 2);

	/* The response goes back over the connection the request came on. */
	assert_int_equal(net_send_conn(f->net, f->msg[0].conn_id, RSP1, strlen(RSP1)), 0);
	wait_msgs(f, 3);
	assert_string_equal(f->msg[2].data, RSP1);
	assert_int_equal(f->msg[2].conn_id, out_id);

	/* Closing one end: both ends are reported, once each. */
	net_conn_close(out);
	assert_int_equal(net_send_conn(f->net, out_id, "x", 1), ENOTCONN);
	assert_null(net_conn_lookup(f->net, out_id));
	assert_null(net_conn_find(f->net, lsn(f)));
	wait_closes(f, 2);
	tu_run_once();
	assert_int_equal(f->nclose, 2);
	assert_int_equal(f->close_err[0], 0);
	assert_int_equal(f->close_err[1], 0);
	assert_int_equal(stats(f).tcp_conns, 0);
}

static void test_send_reuse_reply_v4(void **state)
{
	send_reuse_reply(*state, "127.0.0.1:0");
}

static void test_send_reuse_reply_v6(void **state)
{
	send_reuse_reply(*state, "[::1]:0");
}

/* ---- framing ---- */

static void split_reads(struct fix *f, const char *addr)
{
	const char *p1 = "INVITE sip:a@b SIP/2.0\r\nContent-Length: 5\r\n";
	const char *p2 = "\r\nhel";
	const char *p3 = "lo";
	uint64_t sent = 0;
	int fd;

	start(f, addr);
	fd = tu_client(lsn(f), SOCK_STREAM);
	assert_true(fd >= 0);
	send_str(fd, p1);
	wait_bytes(f, sent += strlen(p1));
	assert_int_equal(f->nmsg, 0);
	send_str(fd, p2);
	wait_bytes(f, sent += strlen(p2));
	assert_int_equal(f->nmsg, 0);
	send_str(fd, p3);
	wait_msgs(f, 1);
	assert_string_equal(f->msg[0].data, "INVITE sip:a@b SIP/2.0\r\nContent-Length: 5"
					    "\r\n\r\nhello");
	close(fd);
	wait_closes(f, 1);
	assert_int_equal(f->close_err[0], 0);
}

static void test_split_reads_v4(void **state)
{
	split_reads(*state, "127.0.0.1:0");
}

static void test_split_reads_v6(void **state)
{
	split_reads(*state, "[::1]:0");
}

static void several_in_one_read(struct fix *f, const char *addr)
{
	const char *all = "\r\n" REQ1 REQ2 "\r\n" REQ3 "OPTIONS sip:x";
	int fd;

	start(f, addr);
	fd = tu_client(lsn(f), SOCK_STREAM);
	assert_true(fd >= 0);
	send_str(fd, all);
	wait_msgs(f, 3);
	wait_bytes(f, strlen(all));
	assert_int_equal(f->nmsg, 3);
	assert_string_equal(f->msg[0].data, REQ1);
	assert_string_equal(f->msg[1].data, REQ2);
	assert_string_equal(f->msg[2].data, REQ3);
	/* Lone CRLFs are skipped, not answered. */
	assert_int_equal(stats(f).tcp_pings, 0);
	/* The unfinished fourth message completes with the next read. */
	send_str(fd, " SIP/2.0\r\n\r\n");
	wait_msgs(f, 4);
	assert_string_equal(f->msg[3].data, "OPTIONS sip:x SIP/2.0\r\n\r\n");
	close(fd);
}

static void test_several_in_one_read_v4(void **state)
{
	several_in_one_read(*state, "127.0.0.1:0");
}

static void test_several_in_one_read_v6(void **state)
{
	several_in_one_read(*state, "[::1]:0");
}

/* Starts the net, sends a MESSAGE with a body of `body` bytes then REQ3 on
 * one connection, and waits for two deliveries. *mp: the big message
 * (the caller frees it); returns the length of its header section. */
static size_t big_then_req3(struct fix *f, size_t body, char **mp, int *fdp)
{
	char *m = malloc(body + 128);
	int n;

	assert_non_null(m);
	start(f, "127.0.0.1:0");
	*fdp = tu_client(lsn(f), SOCK_STREAM);
	assert_true(*fdp >= 0);
	n = sprintf(m, "MESSAGE sip:a SIP/2.0\r\nContent-Length: %zu\r\n\r\n", body);
	memset(m + n, 'b', body);
	send_all(*fdp, m, (size_t)n + body);
	send_str(*fdp, REQ3);
	wait_msgs(f, 2);
	*mp = m;
	return (size_t)n;
}

static void test_large_message_grows_buffer(void **state)
{
	struct fix *f = *state;
	size_t body = 100 * 1024, n;
	char *m;
	int fd;

	n = big_then_req3(f, body, &m, &fd);
	assert_int_equal(f->msg[0].len, n + body);
	assert_memory_equal(f->msg[0].data, m, n + body);
	assert_string_equal(f->msg[1].data, REQ3);
	free(m);
	close(fd);
}

static void test_oversize_closes(void **state)
{
	struct fix *f = *state;
	char big[5000];
	int fd;

	f->prm.tcp_rx_max = 4096;
	start(f, "127.0.0.1:0");
	fd = tu_client(lsn(f), SOCK_STREAM);
	assert_true(fd >= 0);
	/* Headers that never end, past the bound. */
	memcpy(big, "INVITE sip:a SIP/2.0\r\nX: ", 25);
	memset(big + 25, 'x', sizeof(big) - 25);
	send_all(fd, big, sizeof(big));
	wait_closes(f, 1);
	assert_int_equal(f->close_err[0], EMSGSIZE);
	assert_int_equal(f->nmsg, 0);
	assert_peer_closed(fd);
	close(fd);
}

/* A message over the bound whose header section is complete: its start goes
 * up once, marked oversize (SIP answers 513 from it), the rest is dropped as
 * it comes without being buffered, and the connection carries on. */
static void test_oversize_message_skipped(void **state)
{
	struct fix *f = *state;
	struct net_stats st;
	size_t n;
	char *m;
	int fd;

	tu_frame_max = 8192;
	f->prm.tcp_rx_max = 8192;
	n = big_then_req3(f, 300 * 1024, &m, &fd);
	assert_true(f->msg[0].oversize);
	assert_true(f->msg[0].len >= n && f->msg[0].len <= 8192);
	assert_memory_equal(f->msg[0].data, m, n);
	assert_false(f->msg[1].oversize);
	assert_string_equal(f->msg[1].data, REQ3);
	assert_int_equal(f->nclose, 0);
	st = stats(f);
	assert_int_equal(st.tcp_rx_oversize, 1);
	assert_int_equal(st.tcp_rx_msgs, 1);
	free(m);
	close(fd);
}

static void test_garbage_closes(void **state)
{
	struct fix *f = *state;
	int fd;

	start(f, "[::1]:0");
	fd = tu_client(lsn(f), SOCK_STREAM);
	assert_true(fd >= 0);
	send_str(fd, REQ1 "\x01\x02garbage\r\n\r\n" REQ3);
	wait_closes(f, 1);
	assert_int_equal(f->close_err[0], EBADMSG);
	/* What came before the garbage was delivered, nothing after. */
	assert_int_equal(f->nmsg, 1);
	assert_string_equal(f->msg[0].data, REQ1);
	assert_peer_closed(fd);
	close(fd);
}

/* ---- RFC 5626 keep-alive ---- */

static void expect_recv(int fd, const char *want)
{
	char b[64];
	size_t got = 0, len = strlen(want);
	ssize_t n;

	while (got < len) {
		n = recv(fd, b + got, len - got, 0);
		assert_true(n > 0);
		got += (size_t)n;
	}
	assert_memory_equal(b, want, len);
	/* And nothing more. */
	assert_int_equal(recv(fd, b, sizeof(b), MSG_DONTWAIT), -1);
}

static void keepalive(struct fix *f, const char *addr)
{
	int fd;

	start(f, addr);
	fd = tu_client(lsn(f), SOCK_STREAM);
	assert_true(fd >= 0);
	send_str(fd, "\r\n\r\n");
	wait_bytes(f, 4);
	assert_int_equal(stats(f).tcp_pings, 1);
	expect_recv(fd, "\r\n");

	/* Two pings and a message in one segment: two pongs. */
	send_str(fd, "\r\n\r\n\r\n\r\n" REQ1);
	wait_msgs(f, 1);
	assert_int_equal(stats(f).tcp_pings, 3);
	expect_recv(fd, "\r\n\r\n");

	/* A ping split over two reads is still one ping. */
	send_str(fd, "\r\n");
	wait_bytes(f, 12 + strlen(REQ1) + 2);
	assert_int_equal(stats(f).tcp_pings, 3);
	send_str(fd, "\r\n");
	wait_bytes(f, 12 + strlen(REQ1) + 4);
	assert_int_equal(stats(f).tcp_pings, 4);
	expect_recv(fd, "\r\n");

	/* A lone CRLF before a message is skipped without an answer. */
	send_str(fd, "\r\n" REQ3);
	wait_msgs(f, 2);
	assert_string_equal(f->msg[1].data, REQ3);
	assert_int_equal(stats(f).tcp_pings, 4);
	assert_int_equal(recv(fd, (char[8]){0}, 8, MSG_DONTWAIT), -1);
	close(fd);
}

static void test_keepalive_v4(void **state)
{
	keepalive(*state, "127.0.0.1:0");
}

static void test_keepalive_v6(void **state)
{
	keepalive(*state, "[::1]:0");
}

/* ---- limits, timeouts, queues ---- */

static uint64_t want_conns, want_refused;

static bool have_conns(void *arg)
{
	return stats(arg).tcp_conns == want_conns;
}

static bool have_refused(void *arg)
{
	return stats(arg).tcp_refused >= want_refused;
}

static void wait_refused(struct fix *f, uint64_t n)
{
	want_refused = n;
	assert_true(tu_run_until(have_refused, f, WAIT_MS));
}

static void test_many_connections(void **state)
{
	struct fix *f = *state;
	enum { N = 1000 };
	static int fds[N];
	struct rlimit rl;
	unsigned wave = N, done = 0;

	/* Each connection costs two descriptors here (both ends). */
	if (!getrlimit(RLIMIT_NOFILE, &rl) && rl.rlim_cur < 2 * N + 100) {
		rl.rlim_cur = rl.rlim_max < 2 * N + 100 ? rl.rlim_max : 2 * N + 100;
		(void)setrlimit(RLIMIT_NOFILE, &rl);
		getrlimit(RLIMIT_NOFILE, &rl);
		if (rl.rlim_cur < 2 * N + 100)
			wave = (unsigned)(rl.rlim_cur - 100) / 2;
	}
	start(f, "127.0.0.1:0");
	while (done < N) {
		unsigned n = N - done < wave ? N - done : wave;

		for (unsigned i = 0; i < n; i++) {
			fds[i] = tu_client(lsn(f), SOCK_STREAM);
			assert_true(fds[i] >= 0);
		}
		want_conns = n;
		assert_true(tu_run_until(have_conns, f, 20000));
		for (unsigned i = 0; i < n; i++)
			close(fds[i]);
		done += n;
		wait_closes(f, done);
		want_conns = 0;
		assert_true(tu_run_until(have_conns, f, WAIT_MS));
	}
	assert_int_equal(stats(f).tcp_accepted, N);
	assert_int_equal(f->nclose, N);
	for (unsigned i = 0; i < N; i++)
		assert_int_equal(f->close_err[i], 0);
	/* teardown checks that descriptors and objects are all back. */
}

static void test_limits_refuse(void **state)
{
	struct fix *f = *state;
	struct net_addr b2, b3;
	int fd[4];

	f->prm.tcp_max_conns = 3;
	f->prm.tcp_max_per_peer = 2;
	start(f, "127.0.0.1:0");
	assert_int_equal(net_addr_parse_str(&b2, "127.0.0.2:0", 0), 0);
	assert_int_equal(net_addr_parse_str(&b3, "127.0.0.3:0", 0), 0);
	fd[0] = tu_client(lsn(f), SOCK_STREAM);
	fd[1] = tu_client(lsn(f), SOCK_STREAM);
	want_conns = 2;
	assert_true(tu_run_until(have_conns, f, WAIT_MS));
	/* A third from 127.0.0.1: over the per-peer cap. */
	fd[2] = tu_client(lsn(f), SOCK_STREAM);
	assert_true(fd[0] >= 0 && fd[1] >= 0 && fd[2] >= 0);
	wait_refused(f, 1);
	assert_peer_closed(fd[2]);
	close(fd[2]);
	/* From another IP: accepted (third overall). */
	fd[2] = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd[2], net_addr_sa(&b2), net_addr_len(&b2)), 0);
	assert_int_equal(connect(fd[2], net_addr_sa(lsn(f)), net_addr_len(lsn(f))), 0);
	want_conns = 3;
	assert_true(tu_run_until(have_conns, f, WAIT_MS));
	/* A fourth from a third IP: over the total. */
	fd[3] = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(bind(fd[3], net_addr_sa(&b3), net_addr_len(&b3)), 0);
	assert_int_equal(connect(fd[3], net_addr_sa(lsn(f)), net_addr_len(lsn(f))), 0);
	wait_refused(f, 2);
	assert_peer_closed(fd[3]);
	assert_int_equal(stats(f).tcp_conns, 3);
	/* Outgoing connections count too. */
	assert_int_equal(net_send(NET_TCP, net_sock_get(f->net, 0), lsn(f), "x", 1),
			 EMFILE);
	for (int i = 0; i < 4; i++)
		close(fd[i]);
	wait_closes(f, 3);
}

static void test_idle_timeout(void **state)
{
	struct fix *f = *state;
	int fd;

	f->prm.tcp_idle_ms = 150;
	start(f, "[::1]:0");
	fd = tu_client(lsn(f), SOCK_STREAM);
	assert_true(fd >= 0);
	/* A message that never finishes. */
	send_str(fd, "INVITE sip:a SIP/2.0\r\nVia: ");
	wait_closes(f, 1);
	assert_int_equal(f->close_err[0], ETIMEDOUT);
	assert_int_equal(f->nmsg, 0);
	assert_peer_closed(fd);
	close(fd);
}

/* ---- issue 19, finding 6: slow peers, memory, descriptors ---- */

/* A connection that never sends is closed hello_ms after opening (it used
 * to live tcp_idle_ms, 900 s); one that sends its message at once stays. */
static void test_hello_timeout(void **state)
{
	struct fix *f = *state;
	int quiet, talker;

	f->prm.tcp_hello_ms = 150;
	start(f, "127.0.0.1:0");
	talker = tu_client(lsn(f), SOCK_STREAM);
	quiet = tu_client(lsn(f), SOCK_STREAM);
	assert_true(quiet >= 0 && talker >= 0);
	send_str(talker, REQ1);
	wait_msgs(f, 1);
	wait_closes(f, 1);
	assert_int_equal(f->close_err[0], ETIMEDOUT);
	assert_peer_closed(quiet);
	assert_int_equal(stats(f).tcp_timeouts, 1);
	/* the talker is still served after the deadline has passed */
	send_str(talker, REQ3);
	wait_msgs(f, 2);
	assert_int_equal(stats(f).tcp_conns, 1);
	close(quiet);
	close(talker);
	wait_closes(f, 2);
}

/* A message begun and fed a byte at a time is closed partial_ms after its
 * first byte, though the connection is never idle. */
static void test_partial_timeout(void **state)
{
	struct fix *f = *state;
	const char *slow = "INVITE sip:a SIP/2.0\r\nVia: SIP/2.0/TCP h;branch=z9hG4bK";
	int fd;

	f->prm.tcp_partial_ms = 200;
	start(f, "127.0.0.1:0");
	fd = tu_client(lsn(f), SOCK_STREAM);
	assert_true(fd >= 0);
	send_str(fd, REQ1); /* a real message first: the partial is the next */
	wait_msgs(f, 1);
	for (size_t i = 0; slow[i] && f->nclose == 0; i++) {
		send_all(fd, slow + i, 1);
		wait_bytes(f, strlen(REQ1) + i + 1);
	}
	wait_closes(f, 1);
	assert_int_equal(f->close_err[0], ETIMEDOUT);
	assert_int_equal(f->nmsg, 1);
	assert_peer_closed(fd);
	close(fd);
}

/* Unfinished messages of all connections share rx_total_max: a second
 * large unfinished header section is closed (ENOBUFS) while the first,
 * within the bound, completes; the count goes back to zero. */
static void test_rx_total_bound(void **state)
{
	struct fix *f = *state;
	static char hdr[12 * 1024 + 1];
	int a, b;

	f->prm.tcp_rx_total_max = 16 * 1024;
	memcpy(hdr, "OPTIONS sip:a@b SIP/2.0\r\nX: ", 29);
	memset(hdr + 29, 'x', sizeof(hdr) - 1 - 29);
	start(f, "127.0.0.1:0");
	a = tu_client(lsn(f), SOCK_STREAM);
	b = tu_client(lsn(f), SOCK_STREAM);
	assert_true(a >= 0 && b >= 0);
	send_all(a, hdr, sizeof(hdr) - 1);
	wait_bytes(f, sizeof(hdr) - 1);
	assert_int_equal(stats(f).tcp_rx_mem, 12 * 1024); /* 16 KiB buffer */
	send_all(b, hdr, sizeof(hdr) - 1);
	wait_closes(f, 1);
	assert_int_equal(f->close_err[0], ENOBUFS);
	assert_peer_closed(b);
	assert_int_equal(stats(f).tcp_rx_mem, 12 * 1024);
	send_str(a, "\r\n\r\n");
	wait_msgs(f, 1);
	assert_int_equal(f->msg[0].len, sizeof(hdr) - 1 + 4);
	assert_int_equal(stats(f).tcp_rx_mem, 0);
	close(a);
	close(b);
	wait_closes(f, 2);
}

/* With few descriptors the connection bound follows RLIMIT_NOFILE (minus
 * NET_FD_RESERVE), and one peer gets at most half of it. */
static void test_fd_cap(void **state)
{
	struct fix *f = *state;
	struct rlimit old, rl;
	struct net_stats st;

	assert_int_equal(getrlimit(RLIMIT_NOFILE, &old), 0);
	rl = old;
	/* 200, or the hard limit if lower: the bound follows either */
	rl.rlim_cur = rl.rlim_max != RLIM_INFINITY && rl.rlim_max < 200 ? rl.rlim_max : 200;
	assert_true(rl.rlim_cur > NET_FD_RESERVE + 16);
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &rl), 0);
	start(f, "127.0.0.1:0");
	assert_int_equal(setrlimit(RLIMIT_NOFILE, &old), 0);
	st = stats(f);
	assert_int_equal(st.tcp_max_conns, rl.rlim_cur - NET_FD_RESERVE);
}

/* The per-peer limit, seen through its counter: connections from one
 * IPv4 address count together, and the half-of-all cap applies. */
static void test_per_peer_half(void **state)
{
	struct fix *f = *state;
	int fd[3];

	f->prm.tcp_max_conns = 4; /* per peer: at most 2 */
	start(f, "127.0.0.1:0");
	for (int i = 0; i < 3; i++) {
		fd[i] = tu_client(lsn(f), SOCK_STREAM);
		assert_true(fd[i] >= 0);
	}
	wait_refused(f, 1);
	assert_int_equal(stats(f).tcp_accepted, 2);
	for (int i = 0; i < 3; i++)
		close(fd[i]);
	wait_closes(f, 2);
}

static void test_send_queue_bound(void **state)
{
	struct fix *f = *state;
	static char chunk[1024];
	int fd, rcv = 4096, err = 0;
	uint64_t id;
	unsigned i;

	f->prm.tcp_tx_max = 64 * 1024;
	start(f, "127.0.0.1:0");
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof(rcv));
	assert_int_equal(connect(fd, net_addr_sa(lsn(f)), net_addr_len(lsn(f))), 0);
	send_str(fd, REQ1);
	wait_msgs(f, 1);
	id = f->msg[0].conn_id;
	/* The peer never reads: kernel buffers fill, then our queue. */
	memset(chunk, 'z', sizeof(chunk));
	for (i = 0; i < 200000 && !err; i++)
		err = net_send_conn(f->net, id, chunk, sizeof(chunk));
	assert_int_equal(err, ENOBUFS);
	assert_int_equal(net_send_conn(f->net, id, chunk, 1), ENOTCONN);
	/* Reported from the loop, not from inside net_send_conn. */
	assert_int_equal(f->nclose, 0);
	wait_closes(f, 1);
	assert_int_equal(f->close_id[0], id);
	assert_int_equal(f->close_err[0], ENOBUFS);
	close(fd);
}

static void test_queued_writes_drain(void **state)
{
	struct fix *f = *state;
	static char chunk[64 * 1024];
	size_t total = 0, want = 8 * 1024 * 1024;
	char buf[65536];
	uint64_t id;
	ssize_t n;
	int fd;

	f->prm.tcp_tx_max = 2 * want;
	start(f, "127.0.0.1:0");
	fd = tu_client(lsn(f), SOCK_STREAM);
	assert_true(fd >= 0);
	send_str(fd, REQ1);
	wait_msgs(f, 1);
	id = f->msg[0].conn_id;
	memset(chunk, 'q', sizeof(chunk));
	/* More than the kernel buffers hold: the rest waits for EPOLLOUT
	 * and goes out as the peer reads. */
	for (size_t s = 0; s < want; s += sizeof(chunk))
		assert_int_equal(net_send_conn(f->net, id, chunk, sizeof(chunk)), 0);
	while (total < want) {
		n = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (n > 0) {
			for (ssize_t k = 0; k < n; k++)
				assert_int_equal(buf[k], 'q');
			total += (size_t)n;
			continue;
		}
		assert_true(n < 0 && errno == EAGAIN);
		tu_run_once();
	}
	assert_int_equal(total, want);
	assert_int_equal(stats(f).tcp_tx_bytes, want);
	assert_int_equal(f->nclose, 0);
	close(fd);
}

static void test_connect_refused(void **state)
{
	struct fix *f = *state;
	struct net_addr dead;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	int fd, err;

	start(f, "127.0.0.1:0");
	/* A port that was just free: nobody listens there. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	assert_int_equal(net_addr_parse_str(&dead, "127.0.0.1:0", 0), 0);
	assert_int_equal(bind(fd, net_addr_sa(&dead), net_addr_len(&dead)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
	assert_int_equal(net_addr_from_sa(&dead, (struct sockaddr *)&ss, sl), 0);
	close(fd);
	err = net_send(NET_TCP, net_sock_get(f->net, 0), &dead, REQ1, strlen(REQ1));
	if (err == 0) {
		wait_closes(f, 1);
		assert_int_equal(f->close_err[0], ECONNREFUSED);
	} else {
		assert_int_equal(err, ECONNREFUSED);
	}
	assert_int_equal(stats(f).tcp_conns, 0);
	/* Bad destinations. */
	net_addr_set_port(&dead, 0);
	assert_int_equal(net_send(NET_TCP, net_sock_get(f->net, 0), &dead, "x", 1),
			 EDESTADDRREQ);
	assert_int_equal(net_addr_parse_str(&dead, "[::1]:5060", 0), 0);
	assert_int_equal(net_send(NET_TCP, net_sock_get(f->net, 0), &dead, "x", 1),
			 EAFNOSUPPORT);
}

static void check_keepalive_opts(struct fix *f, int want_on, int idle, int cnt)
{
	struct net_conn *c;
	socklen_t sl = sizeof(int);
	int fd, v;

	start(f, "127.0.0.1:0");
	fd = tu_client(lsn(f), SOCK_STREAM);
	send_str(fd, REQ1);
	wait_msgs(f, 1);
	c = net_conn_lookup(f->net, f->msg[0].conn_id);
	assert_non_null(c);
	assert_int_equal(getsockopt(net_conn_fd(c), SOL_SOCKET, SO_KEEPALIVE, &v, &sl),
			 0);
	assert_int_equal(v != 0, want_on);
	if (want_on) {
		assert_int_equal(
		    getsockopt(net_conn_fd(c), IPPROTO_TCP, TCP_KEEPIDLE, &v, &sl), 0);
		assert_int_equal(v, idle);
		assert_int_equal(
		    getsockopt(net_conn_fd(c), IPPROTO_TCP, TCP_KEEPCNT, &v, &sl), 0);
		assert_int_equal(v, cnt);
	}
	close(fd);
}

static void test_keepalive_sockopts(void **state)
{
	/* Manual §5 defaults: tcp_keepalive 900 s, tcp_keepcount 2. */
	check_keepalive_opts(*state, 1, 900, 2);
}

static void test_keepalive_sockopts_off(void **state)
{
	struct fix *f = *state;

	f->prm.tcp_keepalive = 0;
	check_keepalive_opts(f, 0, 0, 0);
}

static int conn_opt(struct net_conn *c, int level, int name)
{
	socklen_t sl = sizeof(int);
	int v = -1;

	assert_int_equal(getsockopt(net_conn_fd(c), level, name, &v, &sl), 0);
	return v;
}

/* config_set of tcp_keepalive / tcp_keepcount: the open connection takes
 * the new values, 0 turns keepalive off, and a new one takes them too. */
static void test_keepalive_set_at_run_time(void **state)
{
	struct fix *f = *state;
	struct net_conn *c;
	int fd, fd2;

	start(f, "127.0.0.1:0");
	fd = tu_client(lsn(f), SOCK_STREAM);
	send_str(fd, REQ1);
	wait_msgs(f, 1);
	c = net_conn_lookup(f->net, f->msg[0].conn_id);
	assert_non_null(c);
	assert_int_equal(conn_opt(c, IPPROTO_TCP, TCP_KEEPIDLE), 900);
	net_keepalive_set(f->net, 7, 5);
	assert_int_not_equal(conn_opt(c, SOL_SOCKET, SO_KEEPALIVE), 0);
	assert_int_equal(conn_opt(c, IPPROTO_TCP, TCP_KEEPIDLE), 7);
	assert_int_equal(conn_opt(c, IPPROTO_TCP, TCP_KEEPCNT), 5);
	net_keepalive_set(f->net, 0, 5);
	assert_int_equal(conn_opt(c, SOL_SOCKET, SO_KEEPALIVE), 0);
	net_keepalive_set(f->net, 11, 4);
	fd2 = tu_client(lsn(f), SOCK_STREAM);
	send_str(fd2, REQ1);
	wait_msgs(f, 2);
	c = net_conn_lookup(f->net, f->msg[1].conn_id);
	assert_non_null(c);
	assert_int_equal(conn_opt(c, IPPROTO_TCP, TCP_KEEPIDLE), 11);
	assert_int_equal(conn_opt(c, IPPROTO_TCP, TCP_KEEPCNT), 4);
	close(fd);
	close(fd2);
}

/* The upper layer may free the whole set from inside recv_h. */
static void free_net_on_msg(struct fix *f, const struct net_msg *m)
{
	(void)m;
	f->net = mem_deref(f->net);
}

static void test_free_inside_callback(void **state)
{
	struct fix *f = *state;
	int fd;

	f->on_msg = free_net_on_msg;
	start(f, "127.0.0.1:0");
	fd = tu_client(lsn(f), SOCK_STREAM);
	send_str(fd, REQ1 REQ2 REQ3);
	wait_msgs(f, 1);
	tu_run_once();
	assert_null(f->net);
	assert_int_equal(f->nmsg, 1);
	/* Freed sets report no closes. */
	assert_int_equal(f->nclose, 0);
	assert_peer_closed(fd);
	close(fd);
}

static void close_on_msg(struct fix *f, const struct net_msg *m)
{
	net_conn_close(net_conn_lookup(f->net, m->conn_id));
}

static void test_close_inside_callback(void **state)
{
	struct fix *f = *state;
	int fd;

	f->on_msg = close_on_msg;
	start(f, "127.0.0.1:0");
	fd = tu_client(lsn(f), SOCK_STREAM);
	send_str(fd, REQ1 REQ2 REQ3);
	wait_closes(f, 1);
	assert_int_equal(f->nmsg, 1);
	assert_int_equal(f->close_err[0], 0);
	assert_peer_closed(fd);
	close(fd);
}

#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)

int main(void)
{
	const struct CMUnitTest tests[] = {
	    T(test_send_reuse_reply_v4),
	    T(test_send_reuse_reply_v6),
	    T(test_split_reads_v4),
	    T(test_split_reads_v6),
	    T(test_several_in_one_read_v4),
	    T(test_several_in_one_read_v6),
	    T(test_large_message_grows_buffer),
	    T(test_oversize_closes),
	    T(test_oversize_message_skipped),
	    T(test_garbage_closes),
	    T(test_keepalive_v4),
	    T(test_keepalive_v6),
	    T(test_many_connections),
	    T(test_limits_refuse),
	    T(test_idle_timeout),
	    T(test_hello_timeout),
	    T(test_partial_timeout),
	    T(test_rx_total_bound),
	    T(test_fd_cap),
	    T(test_per_peer_half),
	    T(test_send_queue_bound),
	    T(test_queued_writes_drain),
	    T(test_connect_refused),
	    T(test_keepalive_sockopts),
	    T(test_keepalive_sockopts_off),
	    T(test_keepalive_set_at_run_time),
	    T(test_free_inside_callback),
	    T(test_close_inside_callback),
	};

	return cmocka_run_group_tests_name("net_tcp", tests, NULL, NULL);
}
