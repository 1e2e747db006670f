/* Unit tests: net UDP — batched receive, batched send, bounds, binding,
 * finding a socket by a flow's local address. Over loopback, IPv4 and
 * IPv6. */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/mem.h"
#include "loop/loop.h"
#include "net/net.h"
#include "net_testutil.h"

#define RX_MAX 64

struct rx {
	unsigned n;
	char data[RX_MAX][64];
	size_t len[RX_MAX];
	struct net_addr src[RX_MAX];
	struct net_sock *sock[RX_MAX];
	enum net_kind kind[RX_MAX];
};

static void recv_h(const struct net_msg *msg, void *arg)
{
	struct rx *rx = arg;
	unsigned i = rx->n++;

	if (i >= RX_MAX)
		return;
	rx->len[i] = msg->len;
	rx->src[i] = msg->src;
	rx->sock[i] = msg->sock;
	rx->kind[i] = msg->kind;
	snprintf(rx->data[i], sizeof(rx->data[i]), "%.*s",
		 (int)(msg->len < 63 ? msg->len : 63), (const char *)msg->buf);
}

struct fix {
	struct rx rx;
	struct net *net;
	int fds_before;
};

static int setup(void **state)
{
	static struct fix f;

	memset(&f, 0, sizeof(f));
	f.fds_before = tu_fd_count();
	if (loop_init())
		return -1;
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;

	f->net = mem_deref(f->net);
	loop_close();
	/* Every socket and the loop's own fd are gone again. */
	assert_int_equal(tu_fd_count(), f->fds_before);
	assert_int_equal(mem_live_count(), 0);
	return 0;
}

static int net_make(struct fix *f, const struct net_listen *l, size_t n, size_t udp_max)
{
	struct net_prm prm;

	net_prm_init(&prm);
	prm.listen = l;
	prm.listen_count = n;
	prm.recv_h = recv_h;
	prm.frame_h = tu_frame;
	prm.arg = &f->rx;
	if (udp_max)
		prm.udp_max = udp_max;
	return net_alloc(&f->net, &prm);
}

static bool rx_at_least(void *arg)
{
	struct fix *f = arg;

	return f->rx.n >= 40;
}

static void batch_receive(struct fix *f, const char *addr)
{
	struct net_listen l = {.addr = addr};
	const struct net_addr *la;
	struct net_stats st;
	char buf[32];
	int fd;

	assert_int_equal(net_make(f, &l, 1, 0), 0);
	la = net_sock_laddr(net_sock_get(f->net, 0), NET_UDP);
	assert_int_not_equal(net_addr_port(la), 0);
	/* The advertised port follows the one bound for "port 0". */
	assert_int_equal(net_addr_port(net_sock_addr(net_sock_get(f->net, 0))),
			 net_addr_port(la));
	fd = tu_client(la, SOCK_DGRAM);
	assert_true(fd >= 0);
	/* 40 datagrams wait in the kernel before the loop first runs. */
	for (int i = 0; i < 40; i++) {
		int n = snprintf(buf, sizeof(buf), "MSG %d", i);

		assert_int_equal(send(fd, buf, (size_t)n, 0), n);
	}
	assert_true(tu_run_until(rx_at_least, f, 5000));
	assert_int_equal(f->rx.n, 40);
	for (int i = 0; i < 40; i++) {
		snprintf(buf, sizeof(buf), "MSG %d", i);
		assert_string_equal(f->rx.data[i], buf);
		assert_int_equal(f->rx.kind[i], NET_UDP);
		assert_ptr_equal(f->rx.sock[i], net_sock_get(f->net, 0));
		assert_int_equal(net_addr_af(&f->rx.src[i]), net_addr_af(la));
	}
	net_stats_get(f->net, &st);
	assert_int_equal(st.udp_rx, 40);
	/* Batched: 32 + 8, not one call per datagram. */
	assert_true(st.udp_rx_calls <= 3);
	close(fd);
}

static void test_batch_receive_v4(void **state)
{
	batch_receive(*state, "127.0.0.1:0");
}

static void test_batch_receive_v6(void **state)
{
	batch_receive(*state, "[::1]:0");
}

static uint64_t want_tx;

static bool tx_at_least(void *arg)
{
	struct fix *f = arg;
	struct net_stats st;

	net_stats_get(f->net, &st);
	return st.udp_tx >= want_tx;
}

/* The flush runs from the before-sleep hook, whatever order the loop
 * gives hooks and timers: wait for the count, not for one iteration. */
static void send_batch(struct fix *f, const char *addr)
{
	struct net_listen l = {.addr = addr};
	struct net_sock *s;
	struct net_addr peer;
	struct sockaddr_storage ss;
	socklen_t sl = sizeof(ss);
	struct net_stats st;
	char buf[64];
	int fd, n;

	assert_int_equal(net_make(f, &l, 1, 0), 0);
	s = net_sock_get(f->net, 0);
	fd = tu_client(net_sock_laddr(s, NET_UDP), SOCK_DGRAM);
	assert_true(fd >= 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &sl), 0);
	assert_int_equal(net_addr_from_sa(&peer, (struct sockaddr *)&ss, sl), 0);

	/* Ten sends in one iteration: held until the before-sleep flush. */
	for (int i = 0; i < 10; i++) {
		n = snprintf(buf, sizeof(buf), "OUT %d", i);
		assert_int_equal(net_send(NET_UDP, s, &peer, buf, (size_t)n), 0);
	}
	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
	assert_int_equal(errno, EAGAIN);
	want_tx = 10;
	assert_true(tu_run_until(tx_at_least, f, 5000));
	net_stats_get(f->net, &st);
	assert_int_equal(st.udp_tx, 10);
	assert_int_equal(st.udp_tx_calls, 1);
	for (int i = 0; i < 10; i++) {
		char want[16];

		n = (int)recv(fd, buf, sizeof(buf) - 1, 0);
		assert_true(n > 0);
		buf[n] = '\0';
		snprintf(want, sizeof(want), "OUT %d", i);
		assert_string_equal(buf, want);
	}

	/* A full batch (32) goes out at once, without the loop. */
	for (int i = 0; i < 33; i++)
		assert_int_equal(net_send(NET_UDP, s, &peer, "x", 1), 0);
	for (int i = 0; i < 32; i++)
		assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), 1);
	assert_int_equal(recv(fd, buf, sizeof(buf), MSG_DONTWAIT), -1);
	want_tx = 43;
	assert_true(tu_run_until(tx_at_least, f, 5000));
	assert_int_equal(recv(fd, buf, sizeof(buf), 0), 1);
	net_stats_get(f->net, &st);
	assert_int_equal(st.udp_tx, 43);
	assert_int_equal(st.udp_tx_calls, 3);
	close(fd);
}

static void test_send_batch_v4(void **state)
{
	send_batch(*state, "127.0.0.1:0");
}

static void test_send_batch_v6(void **state)
{
	send_batch(*state, "[::1]:0");
}

static bool rx_one(void *arg)
{
	struct fix *f = arg;

	return f->rx.n >= 1;
}

static void test_oversize_dropped(void **state)
{
	struct fix *f = *state;
	struct net_listen l = {.addr = "127.0.0.1:0"};
	static char big[65507];
	struct net_stats st;
	int fd;

	/* A 1000-byte bound makes the oversize path testable on loopback. */
	assert_int_equal(net_make(f, &l, 1, 1000), 0);
	fd = tu_client(net_sock_laddr(net_sock_get(f->net, 0), NET_UDP), SOCK_DGRAM);
	assert_true(fd >= 0);
	memset(big, 'A', sizeof(big));
	assert_int_equal(send(fd, big, 1001, 0), 1001);
	assert_int_equal(send(fd, big, sizeof(big), 0), (ssize_t)sizeof(big));
	assert_int_equal(send(fd, "SMALL", 5, 0), 5);
	assert_true(tu_run_until(rx_one, f, 5000));
	tu_run_once();
	assert_int_equal(f->rx.n, 1);
	assert_string_equal(f->rx.data[0], "SMALL");
	net_stats_get(f->net, &st);
	assert_int_equal(st.udp_rx_dropped, 2);
	close(fd);
}

static void test_send_errors(void **state)
{
	struct fix *f = *state;
	struct net_listen l = {.addr = "127.0.0.1:0"};
	struct net_addr v6, unset;
	static char big[65536];

	assert_int_equal(net_make(f, &l, 1, 0), 0);
	assert_int_equal(net_addr_parse_str(&v6, "[::1]:5060", 0), 0);
	assert_int_equal(net_send(NET_UDP, net_sock_get(f->net, 0), &v6, "x", 1),
			 EAFNOSUPPORT);
	assert_int_equal(net_send(NET_UDP, net_sock_get(f->net, 0),
				  net_sock_addr(net_sock_get(f->net, 0)), big,
				  sizeof(big)),
			 EMSGSIZE);
	net_addr_init(&unset, 0);
	assert_int_equal(net_send(NET_UDP, net_sock_get(f->net, 0), &unset, "x", 1),
			 EDESTADDRREQ);
	assert_int_equal(net_send(NET_UDP, NULL, &v6, "x", 1), EINVAL);
	assert_null(net_sock_find(f->net, AF_INET6));
	assert_ptr_equal(net_sock_find(f->net, AF_INET), net_sock_get(f->net, 0));
}

static void test_bind_addr_and_failures(void **state)
{
	struct fix *f = *state;
	struct net_listen two[2] = {
	    {.addr = "192.0.2.10:5099", .bind_addr = "127.0.0.1:0"},
	    {.addr = "[::1]:0"},
	};
	struct net_listen dup = {0};
	struct net *other = NULL;
	struct net_prm prm;
	char a[NET_ADDR_STRLEN];
	const struct net_addr *la;

	assert_int_equal(net_make(f, two, 2, 0), 0);
	assert_int_equal(net_sock_count(f->net), 2);
	/* Advertised as configured, bound where bind_addr says. */
	assert_string_equal(
	    net_addr_print(net_sock_addr(net_sock_get(f->net, 0)), a, sizeof(a)),
	    "192.0.2.10:5099");
	la = net_sock_laddr(net_sock_get(f->net, 0), NET_UDP);
	assert_string_equal(net_addr_print_host(la, a, sizeof(a)), "127.0.0.1");
	/* UDP and TCP share the picked port. */
	assert_int_equal(net_addr_port(la),
			 net_addr_port(net_sock_laddr(net_sock_get(f->net, 0), NET_TCP)));
	assert_int_equal(net_addr_af(net_sock_addr(net_sock_get(f->net, 1))), AF_INET6);

	/* The same port again: EADDRINUSE, nothing leaked. */
	snprintf(a, sizeof(a), "127.0.0.1:%u", net_addr_port(la));
	dup.addr = a;
	dup.bind_addr = NULL;
	net_prm_init(&prm);
	prm.listen = &dup;
	prm.listen_count = 1;
	prm.recv_h = recv_h;
	prm.frame_h = tu_frame;
	assert_int_equal(net_alloc(&other, &prm), EADDRINUSE);
	assert_null(other);
	dup.addr = "not-an-ip";
	assert_int_equal(net_alloc(&other, &prm), EINVAL);
	dup.addr = "127.0.0.1";
	dup.bind_addr = "127.0.0.1:99999";
	assert_int_equal(net_alloc(&other, &prm), EINVAL);
	dup.bind_addr = "192.0.2.1:0"; /* not a local address */
	assert_int_equal(net_alloc(&other, &prm), EADDRNOTAVAIL);
	prm.listen_count = 0;
	assert_int_equal(net_alloc(&other, &prm), EINVAL);
}

/* net_sock_by_local: the socket bound to the address, else the wildcard
 * on its port (a TCP connection accepted there has the real IP), else the
 * socket of its IP (a connection we opened: another port); nothing for an
 * address that is not ours. */
static void test_sock_by_local(void **state)
{
	struct fix *f = *state;
	struct net_listen three[3] = {
	    {.addr = "127.0.0.1:0"}, {.addr = "0.0.0.0:0"}, {.addr = "[::1]:0"}};
	struct net_sock *s0, *s1, *s2;
	struct net_addr a;

	assert_int_equal(net_make(f, three, 3, 0), 0);
	s0 = net_sock_get(f->net, 0);
	s1 = net_sock_get(f->net, 1);
	s2 = net_sock_get(f->net, 2);
	for (int k = NET_UDP; k < NET_KIND_COUNT; k++) {
		assert_ptr_equal(net_sock_by_local(f->net, net_sock_laddr(s0, k)), s0);
		assert_ptr_equal(net_sock_by_local(f->net, net_sock_laddr(s1, k)), s1);
		assert_ptr_equal(net_sock_by_local(f->net, net_sock_laddr(s2, k)), s2);
	}
	/* 127.0.0.1 on the wildcard's port: a connection accepted there */
	a = *net_sock_laddr(s0, NET_UDP);
	net_addr_set_port(&a, net_addr_port(net_sock_laddr(s1, NET_UDP)));
	assert_ptr_equal(net_sock_by_local(f->net, &a), s1);
	/* 127.0.0.1 on a port none listens on: a connection we opened */
	net_addr_set_port(&a, 1);
	assert_ptr_equal(net_sock_by_local(f->net, &a), s0);
	a = *net_sock_laddr(s2, NET_UDP);
	net_addr_set_port(&a, 1);
	assert_ptr_equal(net_sock_by_local(f->net, &a), s2);
	/* not ours: another IP, another family on a port of ours, nothing */
	assert_int_equal(net_addr_parse_str(&a, "192.0.2.1", 5060), 0);
	assert_null(net_sock_by_local(f->net, &a));
	assert_int_equal(net_addr_parse_str(&a, "[::2]", net_addr_port(net_sock_laddr(s1, NET_UDP))),
			 0);
	assert_null(net_sock_by_local(f->net, &a));
	memset(&a, 0, sizeof(a));
	assert_null(net_sock_by_local(f->net, &a));
	assert_null(net_sock_by_local(f->net, NULL));
}

/* A protected entry (IPsec) is opened through its ns_run hook, which runs
 * the socket creation (here without changing namespace) and may refuse it;
 * the socket says it is protected. */
static int ns_calls;
static int ns_refuse;

static int ns_run_h(void *ctx, int (*fn)(void *arg), void *arg)
{
	assert_ptr_equal(ctx, &ns_calls);
	ns_calls++;
	return ns_refuse ? ns_refuse : fn(arg);
}

static void test_protected_entry(void **state)
{
	struct fix *f = *state;
	struct net_listen two[2] = {
	    {.addr = "127.0.0.1:0"},
	    {.addr = "127.0.0.1:0", .ns_run = ns_run_h, .ns_ctx = &ns_calls,
	     .protected_sock = true},
	};
	struct net *other = NULL;
	struct net_prm prm;

	ns_calls = ns_refuse = 0;
	assert_int_equal(net_make(f, two, 2, 0), 0);
	assert_int_equal(ns_calls, 1);
	assert_false(net_sock_protected(net_sock_get(f->net, 0)));
	assert_true(net_sock_protected(net_sock_get(f->net, 1)));
	assert_false(net_sock_protected(NULL));
	assert_true(net_addr_port(net_sock_laddr(net_sock_get(f->net, 1), NET_TCP)) != 0);
	/* the namespace cannot be entered: the whole set fails, nothing leaks */
	ns_refuse = EPERM;
	net_prm_init(&prm);
	prm.listen = two;
	prm.listen_count = 2;
	prm.recv_h = recv_h;
	prm.frame_h = tu_frame;
	assert_int_equal(net_alloc(&other, &prm), EPERM);
	assert_null(other);
}

/* A listening TCP socket on 127.0.0.1 (port in *dst). */
static int listen_here(struct net_addr *dst)
{
	struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(0x7f000001)};
	socklen_t sl = sizeof(sin);
	int lfd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(lfd >= 0);
	assert_int_equal(bind(lfd, (struct sockaddr *)&sin, sizeof(sin)), 0);
	assert_int_equal(listen(lfd, 4), 0);
	assert_int_equal(getsockname(lfd, (struct sockaddr *)&sin, &sl), 0);
	assert_int_equal(net_addr_parse_str(dst, "127.0.0.1", ntohs(sin.sin_port)), 0);
	return lfd;
}

/* The peer port of the next connection accepted on lfd. */
static uint16_t accepted_port(int lfd)
{
	struct sockaddr_in sin;
	socklen_t sl = sizeof(sin);
	int fd = accept(lfd, (struct sockaddr *)&sin, &sl);

	assert_true(fd >= 0);
	close(fd);
	return ntohs(sin.sin_port);
}

/* TS 33.203 §7.1: a connection from a protected entry (port-c) leaves from
 * that entry's own port, opened through its namespace hook; an ordinary
 * entry's from an ephemeral port. */
static void test_protected_connect_port(void **state)
{
	struct fix *f = *state;
	struct net_listen two[2] = {
	    {.addr = "127.0.0.1:0"},
	    {.addr = "127.0.0.1:0", .ns_run = ns_run_h, .ns_ctx = &ns_calls,
	     .protected_sock = true},
	};
	struct net_sock *plain, *prot;
	struct net_addr dst, dst2;
	int lfd, lfd2;
	uint64_t id = 0;

	ns_calls = ns_refuse = 0;
	assert_int_equal(net_make(f, two, 2, 0), 0);
	plain = net_sock_get(f->net, 0);
	prot = net_sock_get(f->net, 1);
	lfd = listen_here(&dst);
	lfd2 = listen_here(&dst2);
	assert_int_equal(net_connect(prot, &dst, &id), 0);
	assert_int_equal(ns_calls, 2); /* the listeners, then the connection */
	assert_int_equal(accepted_port(lfd), net_addr_port(net_sock_laddr(prot, NET_TCP)));
	/* a second peer from the same port (the port still listens, too) */
	assert_int_equal(net_connect(prot, &dst2, &id), 0);
	assert_int_equal(accepted_port(lfd2), net_addr_port(net_sock_laddr(prot, NET_TCP)));
	close(lfd2);
	lfd2 = listen_here(&dst2);
	assert_int_equal(net_connect(plain, &dst2, &id), 0);
	assert_int_equal(ns_calls, 3);
	assert_int_not_equal(accepted_port(lfd2), net_addr_port(net_sock_laddr(plain, NET_TCP)));
	close(lfd);
	close(lfd2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test_setup_teardown(test_batch_receive_v4, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_batch_receive_v6, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_send_batch_v4, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_send_batch_v6, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_oversize_dropped, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_send_errors, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_bind_addr_and_failures, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_sock_by_local, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_protected_entry, setup, teardown),
	    cmocka_unit_test_setup_teardown(test_protected_connect_port, setup, teardown),
	};

	return cmocka_run_group_tests_name("net_udp", tests, NULL, NULL);
}
