/*
 * ipsec_dp_tool — imsd's IPsec datapath (ipsec.h) on its own, for
 * tests/integ/test_ipsec_dp.py: it sets up the TUN device and namespace
 * (root set-up, or ipsec_ifname/ipsec_netns with -i IF -n NS), opens a UDP
 * and a TCP echo service on the protected server port inside the namespace
 * (standing in for imsd's protected SIP sockets) and installs SA sets on
 * command. Arguments: LOCAL_IP[,LOCAL_IP6] PORT_C PORT_S SCRIPT [-i IF -n NS].
 * Commands on stdin, one answer line each:
 *   add UE_IP ALG EALG SPI_C SPI_S PORT_C PORT_S CK IK -> ok ID OUR_SPI_C OUR_SPI_S
 *   stats                                              -> ok rx tx no_sa auth replay policy
 *   del ID                                             -> ok
 * The echo answers "echo:" + what it got, from the port it got it on.
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "auth/auth_codec.h"
#include "core/log.h"
#include "ipsec/ipsec.h"
#include "loop/loop.h"

static struct ipsec *ip;
static struct net_addr local[2];
static size_t nlocal;
static uint16_t port_c, port_s;
static int udp_fd[2] = {-1, -1}, tcp_fd[2] = {-1, -1};

static int echo_open(void *arg)
{
	int on = 1;

	(void)arg;
	for (size_t i = 0; i < nlocal; i++) {
		struct net_addr a = local[i];

		net_addr_set_port(&a, port_s);
		udp_fd[i] = socket(net_addr_af(&a), SOCK_DGRAM | SOCK_NONBLOCK, 0);
		tcp_fd[i] = socket(net_addr_af(&a), SOCK_STREAM | SOCK_NONBLOCK, 0);
		if (udp_fd[i] < 0 || tcp_fd[i] < 0)
			return errno;
		setsockopt(tcp_fd[i], SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
		if (bind(udp_fd[i], net_addr_sa(&a), net_addr_len(&a)) ||
		    bind(tcp_fd[i], net_addr_sa(&a), net_addr_len(&a)) || listen(tcp_fd[i], 8))
			return errno;
	}
	return 0;
}

static void udp_h(int fd, int events, void *arg)
{
	uint8_t buf[2048];
	struct net_addr from;
	socklen_t fl = sizeof(from.u.ss);
	ssize_t n;

	(void)events;
	(void)arg;
	n = recvfrom(fd, buf + 5, sizeof(buf) - 5, 0, &from.u.sa, &fl);
	if (n < 0)
		return;
	memcpy(buf, "echo:", 5);
	(void)sendto(fd, buf, (size_t)n + 5, 0, &from.u.sa, fl);
}

static void conn_h(int fd, int events, void *arg)
{
	uint8_t buf[2048];
	ssize_t n;

	(void)arg;
	n = read(fd, buf + 5, sizeof(buf) - 5);
	if (n <= 0 || (events & LOOP_ERROR)) {
		loop_fd_close(fd);
		close(fd);
		return;
	}
	memcpy(buf, "echo:", 5);
	(void)write(fd, buf, (size_t)n + 5);
}

static void accept_h(int fd, int events, void *arg)
{
	int c = accept4(fd, NULL, NULL, SOCK_NONBLOCK);

	(void)events;
	(void)arg;
	if (c >= 0)
		loop_fd_listen(c, LOOP_READ, conn_h, NULL);
}

static void flush_h(void *arg)
{
	(void)arg;
	(void)log_flush();
}

static int cmd_add(char **f, int n)
{
	struct sec_list l;
	struct sec_offer srv;
	char txt[256];
	uint8_t ck[16], ik[16];
	size_t idx = 0, len = 0;
	struct ipsec_set_prm p = {.port_c = port_c, .port_s = port_s,
				  .ck = ck, .ik = ik, .owner = 1};
	uint64_t id = 0;
	int err;

	if (n < 10 || net_addr_parse_str(&p.ue, f[1], 0))
		return EINVAL;
	p.local = local[nlocal > 1 && net_addr_af(&p.ue) != net_addr_af(&local[0])];
	if (
	    auth_hex_decode(f[8], strlen(f[8]), ck, 16, &len) || len != 16 ||
	    auth_hex_decode(f[9], strlen(f[9]), ik, 16, &len) || len != 16)
		return EINVAL;
	snprintf(txt, sizeof(txt),
		 "ipsec-3gpp;alg=%s;ealg=%s;spi-c=%s;spi-s=%s;port-c=%s;port-s=%s", f[2], f[3],
		 f[4], f[5], f[6], f[7]);
	memset(&l, 0, sizeof(l));
	if ((err = sec_agree_parse(pl_from_str(txt), &l)) ||
	    (err = sec_agree_choose(&l, ~0u, ~0u, &idx)))
		return err;
	p.ue_offer = &l.v[idx];
	if ((err = ipsec_set_add(ipsec_table(ip), &p, &id)))
		return err;
	ipsec_set_server_offer(ipsec_set_get(ipsec_table(ip), id), &srv);
	printf("ok %llu %u %u\n", (unsigned long long)id, srv.spi_c, srv.spi_s);
	return 0;
}

static void stdin_h(int fd, int events, void *arg)
{
	static char line[1024];
	char *f[12], *save = NULL;
	struct ipsec_stats st;
	int n = 0, err = 0;
	ssize_t r;

	(void)events;
	(void)arg;
	r = read(fd, line, sizeof(line) - 1);
	if (r <= 0) {
		loop_fd_close(fd);
		loop_stop();
		return;
	}
	line[r] = 0;
	for (char *t = strtok_r(line, " \t\r\n", &save); t && n < 12; t = strtok_r(NULL, " \t\r\n", &save))
		f[n++] = t;
	if (!n)
		return;
	if (!strcmp(f[0], "add")) {
		err = cmd_add(f, n);
	} else if (!strcmp(f[0], "del") && n > 1) {
		err = ipsec_set_del(ipsec_table(ip), strtoull(f[1], NULL, 10));
		if (!err)
			puts("ok");
	} else if (!strcmp(f[0], "stats")) {
		ipsec_stats_get(ip, &st);
		printf("ok %llu %llu %llu %llu %llu %llu\n", (unsigned long long)st.esp_rx,
		       (unsigned long long)st.esp_tx, (unsigned long long)st.drop_no_sa,
		       (unsigned long long)st.drop_auth, (unsigned long long)st.drop_replay,
		       (unsigned long long)st.drop_policy);
	} else {
		err = EINVAL;
	}
	if (err)
		printf("err %d\n", err);
	fflush(stdout);
}

int main(int argc, char **argv)
{
	struct ipsec_prm prm = {.mtu = 1400};
	char *second;
	struct log_prm lp = {.options = "ipsec.level=debug,ipsec.verbose=1,ipsec.key=1"};
	char err[128];
	int opt, rc = 1;

	while ((opt = getopt(argc, argv, "i:n:")) != -1) {
		if (opt == 'i')
			prm.ifname = optarg;
		else if (opt == 'n')
			prm.netns = optarg;
	}
	if (argc - optind < 4)
		return 2;
	second = strchr(argv[optind], ',');
	if (second)
		*second++ = 0;
	if (net_addr_parse_str(&local[0], argv[optind], 0) ||
	    (second && net_addr_parse_str(&local[1], second, 0)))
		return 2;
	nlocal = second ? 2 : 1;
	port_c = (uint16_t)atoi(argv[optind + 1]);
	port_s = (uint16_t)atoi(argv[optind + 2]);
	prm.script_path = argv[optind + 3];
	prm.local[0] = local[0];
	prm.local[1] = local[1];
	prm.local_count = nlocal;
	if (log_init(&lp, err, sizeof(err)) || loop_init() ||
	    loop_before_sleep_add(flush_h, NULL))
		return 2;
	if (ipsec_alloc(&ip, &prm)) {
		puts("err setup");
		goto out;
	}
	if (ipsec_in_netns(ip, echo_open, NULL)) {
		puts("err echo");
		goto out;
	}
	for (size_t i = 0; i < nlocal; i++) {
		loop_fd_listen(udp_fd[i], LOOP_READ, udp_h, NULL);
		loop_fd_listen(tcp_fd[i], LOOP_READ, accept_h, NULL);
	}
	loop_fd_listen(0, LOOP_READ, stdin_h, NULL);
	printf("ready %s\n", ipsec_ifname(ip));
	fflush(stdout);
	rc = loop_run() ? 1 : 0;
out:
	for (size_t i = 0; i < 2; i++) {
		if (udp_fd[i] >= 0)
			close(udp_fd[i]);
		if (tcp_fd[i] >= 0)
			close(tcp_fd[i]);
	}
	ipsec_free(ip);
	loop_close();
	log_close();
	return rc;
}
