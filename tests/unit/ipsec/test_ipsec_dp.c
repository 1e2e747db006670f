/*
 * Unit tests: ipsec/ipsec_sa (the SA table of TS 33.203 §7.1) and the
 * datapath's packet processing (ipsec_dp.c, ipsec_pkt.c) without devices:
 * a UE made of the ESP codec's own SAs, keyed from the same CK/IK, talks to
 * the table's SA set over IPv4 and IPv6; selectors, unknown SPIs, replays,
 * re-authentication (a second set on the same flow), expiry, 1,000 UEs.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "ipsec/ipsec_int.h"
#include "ipsec/ipsec_pkt.h"

static const uint8_t ck[16] = {0xb4, 0x0b, 0xa9, 0xa3, 0xc5, 0x8b, 0x2a, 0x05,
			       0xbb, 0xf0, 0xd9, 0x87, 0xb2, 0x1b, 0xf8, 0xcb};
static const uint8_t ik[16] = {0xf7, 0x69, 0xbc, 0xd7, 0x51, 0x04, 0x46, 0x04,
			       0x12, 0x76, 0x72, 0x71, 0x1c, 0x6d, 0x34, 0x41};

static struct sec_offer ue_offer(uint32_t spi_c, uint16_t port_c)
{
	struct sec_list l;
	char txt[200];
	size_t i = 0;

	snprintf(txt, sizeof(txt),
		 "ipsec-3gpp;alg=hmac-sha-1-96;ealg=aes-cbc;spi-c=%u;spi-s=%u;port-c=%u;"
		 "port-s=5070",
		 spi_c, spi_c + 1, port_c);
	memset(&l, 0, sizeof(l));
	assert_int_equal(sec_agree_parse(pl_from_str(txt), &l), 0);
	assert_int_equal(sec_agree_choose(&l, ~0u, ~0u, &i), 0);
	return l.v[i];
}

static struct net_addr addr(const char *s)
{
	struct net_addr a;

	assert_int_equal(net_addr_parse_str(&a, s, 0), 0);
	return a;
}

static uint64_t add(struct ipsec_table *t, const char *ue, const char *local,
		    const struct sec_offer *o, uint64_t owner, uint64_t deadline)
{
	struct ipsec_set_prm p = {.ue = addr(ue), .local = addr(local), .ue_offer = o,
				  .port_c = 5100, .port_s = 5101, .ck = ck, .ik = ik,
				  .owner = owner, .deadline_ms = deadline};
	uint64_t id = 0;

	assert_int_equal(ipsec_set_add(t, &p, &id), 0);
	return id;
}

/* ipsec_table_sa_walk: every SA of every set, its info as
 * ipsec_set_sa_info gives it. */
struct sa_seen {
	size_t n, in;
	uint64_t set;
	bool keys, spi_ue;
};

static void sa_seen_h(const struct ipsec_set *s, const struct ipsec_sa_info *in, void *arg)
{
	struct sa_seen *w = arg;

	w->n++;
	w->in += in->in;
	w->set = ipsec_set_id(s);
	w->keys |= in->keys.akey_len > 0;
	w->spi_ue |= !in->in && in->spi == 70000;
}

static void test_table(void **state)
{
	struct ipsec_table *t;
	struct sec_offer o = ue_offer(70000, 6000), srv;
	struct net_addr ue = addr("10.9.0.2");
	enum ipsec_sa_role r;
	uint64_t id, id2;
	struct ipsec_set *s;
	struct ipsec_table_stats st;

	(void)state;
	assert_int_equal(ipsec_table_alloc(&t, 3), 0);
	id = add(t, "10.9.0.2", "10.9.0.1", &o, 7, 1000);
	s = ipsec_set_get(t, id);
	assert_non_null(s);
	ipsec_set_server_offer(s, &srv);
	assert_true(srv.spi_c >= 256 && srv.spi_s >= 256 && srv.spi_c != srv.spi_s);
	assert_int_equal(srv.port_c, 5100);
	assert_int_equal(srv.port_s, 5101);
	assert_int_equal(srv.aalg, ESP_AALG_HMAC_SHA1_96);
	assert_ptr_equal(ipsec_table_by_spi(t, srv.spi_s, &r), s);
	assert_int_equal(r, IPSEC_IN_S);
	assert_ptr_equal(ipsec_table_by_spi(t, srv.spi_c, &r), s);
	assert_int_equal(r, IPSEC_IN_C);
	assert_null(ipsec_table_by_spi(t, 70000, &r)); /* the UE's, not ours */
	assert_ptr_equal(ipsec_table_by_flow(t, &ue, 6000, 5101, &r), s);
	assert_int_equal(r, IPSEC_OUT_C);
	assert_int_equal(esp_sa_spi(ipsec_set_sa(s, r)), 70000);
	assert_ptr_equal(ipsec_table_by_flow(t, &ue, 5070, 5100, &r), s);
	assert_int_equal(r, IPSEC_OUT_S);
	assert_int_equal(esp_sa_spi(ipsec_set_sa(s, r)), 70001);
	assert_null(ipsec_table_by_flow(t, &ue, 5070, 5101, &r));
	{
		struct sa_seen w = {0};

		ipsec_table_sa_walk(t, sa_seen_h, &w);
		assert_int_equal(w.n, 4); /* in_s, out_c, out_s, in_c */
		assert_int_equal(w.in, 2);
		assert_int_equal(w.set, id);
		assert_true(w.keys && w.spi_ue);
	}
	{
		struct net_addr other = addr("10.9.0.3");

		assert_null(ipsec_table_by_flow(t, &other, 6000, 5101, &r));
	}
	/* re-authentication: a new set, new port-c, same port-s (TS 33.203 §7.4) */
	ipsec_set_activate(s);
	o = ue_offer(80000, 6002);
	id2 = add(t, "10.9.0.2", "10.9.0.1", &o, 7, 1000);
	assert_ptr_equal(ipsec_table_by_flow(t, &ue, 5070, 5100, &r), s); /* old until used */
	ipsec_set_activate(ipsec_set_get(t, id2));
	assert_ptr_equal(ipsec_table_by_flow(t, &ue, 5070, 5100, &r), ipsec_set_get(t, id2));
	assert_ptr_equal(ipsec_table_by_flow(t, &ue, 6002, 5101, &r), ipsec_set_get(t, id2));
	/* a pending set past its deadline goes; active ones stay */
	o = ue_offer(90000, 6004);
	add(t, "10.9.0.2", "10.9.0.1", &o, 8, 1000);
	{
		struct ipsec_set_prm p = {.ue = ue, .local = addr("10.9.0.1"), .ue_offer = &o,
					  .port_c = 5100, .port_s = 5101, .ck = ck, .ik = ik};
		uint64_t x;

		assert_int_equal(ipsec_set_add(t, &p, &x), ENOSPC); /* max_sets 3 */
		p.port_c = 5101;
		assert_int_equal(ipsec_set_add(t, &p, &x), EINVAL);
	}
	assert_int_equal(ipsec_table_expire(t, 999), 0);
	assert_int_equal(ipsec_table_expire(t, 1000), 1);
	assert_int_equal(ipsec_table_del_owner(t, 7), 2);
	assert_int_equal(ipsec_set_del(t, id), ENOENT);
	ipsec_table_stats(t, &st);
	assert_int_equal(st.sets, 0);
	assert_int_equal(st.sets_created, 3);
	assert_int_equal(st.sets_expired, 1);
	ipsec_table_free(t);
}

static void test_thousand_ues(void **state)
{
	struct ipsec_table *t;
	uint64_t ids[1000];
	char ip[32];
	enum ipsec_sa_role r;

	(void)state;
	assert_int_equal(ipsec_table_alloc(&t, 0), 0);
	for (int i = 0; i < 1000; i++) {
		struct sec_offer o = ue_offer(1000 + (uint32_t)i * 2, 6000);

		snprintf(ip, sizeof(ip), "10.%d.%d.2", i / 250, i % 250);
		ids[i] = add(t, ip, "10.255.0.1", &o, (uint64_t)i, 0);
	}
	for (int i = 0; i < 1000; i++) {
		struct net_addr ue;
		struct sec_offer srv;

		snprintf(ip, sizeof(ip), "10.%d.%d.2", i / 250, i % 250);
		ue = addr(ip);
		assert_ptr_equal(ipsec_table_by_flow(t, &ue, 6000, 5101, &r), ipsec_set_get(t, ids[i]));
		ipsec_set_server_offer(ipsec_set_get(t, ids[i]), &srv);
		assert_ptr_equal(ipsec_table_by_spi(t, srv.spi_s, &r), ipsec_set_get(t, ids[i]));
	}
	for (int i = 0; i < 1000; i++)
		assert_int_equal(ipsec_set_del(t, ids[i]), 0);
	ipsec_table_free(t);
}

/* The UE side: its outbound SA to our spi-s, its inbound SA at its port-c. */
struct ue {
	struct esp_sa *out, *in;
};

static void ue_make(struct ue *u, const struct ipsec_set *s)
{
	struct esp_keys k;
	struct sec_offer srv;
	struct esp_sa_prm p = {.aalg = ESP_AALG_HMAC_SHA1_96, .ealg = ESP_EALG_AES_CBC,
			       .keys = &k};

	ipsec_set_server_offer(s, &srv);
	assert_int_equal(esp_key_expand(p.aalg, p.ealg, ck, ik, &k), 0);
	p.spi = srv.spi_s;
	assert_int_equal(esp_sa_alloc(&u->out, &p), 0);
	p.spi = esp_sa_spi(ipsec_set_sa(s, IPSEC_OUT_C));
	assert_int_equal(esp_sa_alloc(&u->in, &p), 0);
	esp_keys_wipe(&k);
}

static size_t udp(uint8_t *b, uint16_t sp, uint16_t dp, const char *data)
{
	size_t n = strlen(data);

	b[0] = (uint8_t)(sp >> 8);
	b[1] = (uint8_t)sp;
	b[2] = (uint8_t)(dp >> 8);
	b[3] = (uint8_t)dp;
	b[4] = (uint8_t)((n + 8) >> 8);
	b[5] = (uint8_t)(n + 8);
	b[6] = b[7] = 0;
	memcpy(b + 8, data, n);
	return n + 8;
}

static void rx_h(struct ipsec_set *s, enum ipsec_sa_role role, void *arg)
{
	(void)role;
	ipsec_set_activate(s);
	(*(int *)arg)++;
}

static void dp_roundtrip(const char *ue_ip, const char *our_ip)
{
	struct ipsec ip = {.tun_fd = -1, .raw4_fd = -1, .raw6_fd = -1, .netns_fd = -1};
	struct sec_offer o = ue_offer(70000, 6000);
	struct net_addr ue = addr(ue_ip), us = addr(our_ip), src, dst, other = ue;
	uint8_t l4[256], esp[512], out[1024], back[512], nh;
	size_t l4n, espn, outn, backn;
	struct ipsec_pkt p;
	struct ue u;
	uint64_t id;
	int rx = 0;

	assert_int_equal(ipsec_table_alloc(&ip.table, 0), 0);
	ipsec_rx_handler_set(&ip, rx_h, &rx);
	id = add(ip.table, ue_ip, our_ip, &o, 1, 0);
	ue_make(&u, ipsec_set_get(ip.table, id));
	/* UE port-c -> our port-s, through the SA */
	l4n = udp(l4, 6000, 5101, "REGISTER sip:ims SIP/2.0\r\n\r\n");
	assert_int_equal(esp_encap(u.out, IPSEC_PROTO_UDP, l4, l4n, esp, sizeof(esp), &espn), 0);
	assert_int_equal(ipsec_dp_esp_in(&ip, &ue, &us, esp, espn, out, sizeof(out), &outn), 0);
	assert_int_equal(rx, 1);
	assert_int_equal(ipsec_set_state(ipsec_set_get(ip.table, id)), IPSEC_SET_ACTIVE);
	assert_int_equal(ipsec_pkt_parse(out, outn, &p), 0);
	assert_int_equal(p.proto, IPSEC_PROTO_UDP);
	assert_int_equal(net_addr_port(&p.src), 6000);
	assert_int_equal(net_addr_port(&p.dst), 5101);
	assert_true(ipsec_addr_eq(&p.src, &ue, false) && ipsec_addr_eq(&p.dst, &us, false));
	assert_int_equal(p.l4_len, l4n);
	assert_memory_equal(p.l4, l4, l4n);
	/* the same packet again: a replay */
	assert_int_equal(ipsec_dp_esp_in(&ip, &ue, &us, esp, espn, out, sizeof(out), &outn),
			 EALREADY);
	/* from another address: refused before decryption */
	other = ue;
	net_addr_set_port(&other, 0);
	((uint8_t *)net_addr_sa(&other))[net_addr_af(&other) == AF_INET ? 7 : 23] ^= 1;
	assert_int_equal(ipsec_dp_esp_in(&ip, &other, &us, esp, espn, out, sizeof(out), &outn),
			 EPERM);
	/* a good packet sent to another address of ours: not the SA's */
	l4n = udp(l4, 6000, 5101, "MESSAGE sip:ims SIP/2.0\r\n\r\n");
	assert_int_equal(esp_encap(u.out, IPSEC_PROTO_UDP, l4, l4n, esp, sizeof(esp), &espn), 0);
	other = us;
	((uint8_t *)net_addr_sa(&other))[net_addr_af(&other) == AF_INET ? 7 : 23] ^= 1;
	assert_int_equal(ipsec_dp_esp_in(&ip, &ue, &other, esp, espn, out, sizeof(out), &outn),
			 EPERM);
	/* refused before decapsulation: the same packet to the SA's own
	 * address still gets through (its number not spent by the copy) */
	assert_int_equal(ipsec_dp_esp_in(&ip, &ue, &us, esp, espn, out, sizeof(out), &outn), 0);
	/* through the SA to a port it does not cover: selector mismatch */
	l4n = udp(l4, 6000, 5100, "x");
	assert_int_equal(esp_encap(u.out, IPSEC_PROTO_UDP, l4, l4n, esp, sizeof(esp), &espn), 0);
	assert_int_equal(ipsec_dp_esp_in(&ip, &ue, &us, esp, espn, out, sizeof(out), &outn), EPERM);
	esp[0] ^= 0x40; /* an SPI nobody has */
	assert_int_equal(ipsec_dp_esp_in(&ip, &ue, &us, esp, espn, out, sizeof(out), &outn),
			 ENOENT);
	/* our port-s -> UE port-c: the TUN gives a clear packet, ESP leaves */
	net_addr_set_port(&us, 5101);
	net_addr_set_port(&ue, 6000);
	l4n = udp(l4, 5101, 6000, "SIP/2.0 200 OK\r\n\r\n");
	assert_int_equal(ipsec_pkt_build(&us, &ue, IPSEC_PROTO_UDP, l4, l4n, out, sizeof(out),
					 &outn),
			 0);
	assert_int_equal(ipsec_dp_tun_in(&ip, out, outn, esp, sizeof(esp), &espn, &src, &dst), 0);
	assert_true(net_addr_eq_ip(&dst, &ue) && net_addr_eq_ip(&src, &us));
	assert_int_equal(esp_decap(u.in, esp, espn, back, sizeof(back), &backn, &nh), 0);
	assert_int_equal(nh, IPSEC_PROTO_UDP);
	assert_int_equal(backn, l4n);
	assert_memory_equal(back, l4, l4n);
	/* a flow without an SA is dropped */
	l4n = udp(l4, 5101, 6001, "x");
	assert_int_equal(ipsec_pkt_build(&us, &ue, IPSEC_PROTO_UDP, l4, l4n, out, sizeof(out),
					 &outn),
			 0);
	assert_int_equal(ipsec_dp_tun_in(&ip, out, outn, esp, sizeof(esp), &espn, &src, &dst),
			 ENOENT);
	assert_int_equal(ip.st.esp_rx, 2);
	assert_int_equal(ip.st.esp_tx, 1);
	assert_int_equal(ip.st.drop_replay, 1);
	assert_int_equal(ip.st.drop_policy, 3);
	assert_int_equal(ip.st.drop_no_sa, 1);
	assert_int_equal(ip.st.drop_tun_no_sa, 1);
	esp_sa_free(u.out);
	esp_sa_free(u.in);
	ipsec_table_free(ip.table);
}

static void test_dp_v4(void **state)
{
	(void)state;
	dp_roundtrip("10.9.0.2", "10.9.0.1");
}

static void test_dp_v6(void **state)
{
	(void)state;
	dp_roundtrip("2001:db8::2", "2001:db8::1");
}

/* A UE that registers and de-registers over and over from the same ports
 * leaves a retired (active) set per cycle on its flow: past 64 of them the
 * outbound lookup's bounded walk no longer reached the newest. Activating a
 * set prunes the other active sets of its owner on its flows (except the
 * one kept lingering); a pending set and another owner's set stay. */
static void test_prune_flow(void **state)
{
	struct ipsec_table *t = NULL;
	struct sec_offer o = ue_offer(70000, 6000);
	struct net_addr ue = addr("10.9.0.2");
	uint64_t ids[100], pend, other, last;
	enum ipsec_sa_role r;
	char ip[32];

	(void)state;
	assert_int_equal(ipsec_table_alloc(&t, 0), 0);
	for (int i = 0; i < 100; i++) {
		ids[i] = add(t, "10.9.0.2", "10.9.0.1", &o, 1, 0);
		ipsec_set_activate(ipsec_set_get(t, ids[i]));
	}
	other = add(t, "10.9.0.2", "10.9.0.1", &o, 2, 0);
	ipsec_set_activate(ipsec_set_get(t, other));
	pend = add(t, "10.9.0.2", "10.9.0.1", &o, 1, 0);
	last = add(t, "10.9.0.2", "10.9.0.1", &o, 1, 0);
	ipsec_set_activate(ipsec_set_get(t, last));
	/* other UEs' sets make the flow index grow once: its rehash moves the
	 * chain (newest first before, oldest first after), and without the
	 * prune the lookup's walk of 64 returned one of the first 64 sets
	 * instead of the newest (checked when this test was written) */
	for (int i = 0; i < 150; i++) {
		snprintf(ip, sizeof(ip), "10.8.0.%d", i + 1);
		(void)add(t, ip, "10.9.0.1", &o, 3, 0);
	}
	assert_int_equal(ipsec_table_prune_flow(t, ipsec_set_get(t, last), ids[99]), 99);
	assert_null(ipsec_set_get(t, ids[0]));
	assert_null(ipsec_set_get(t, ids[98]));
	assert_non_null(ipsec_set_get(t, ids[99])); /* kept: lingering */
	assert_non_null(ipsec_set_get(t, other));   /* another owner's */
	assert_non_null(ipsec_set_get(t, pend));    /* pending */
	assert_ptr_equal(ipsec_table_by_flow(t, &ue, 6000, 5101, &r), ipsec_set_get(t, last));
	assert_int_equal(r, IPSEC_OUT_C);
	assert_ptr_equal(ipsec_table_by_flow(t, &ue, 5070, 5100, &r), ipsec_set_get(t, last));
	assert_int_equal(ipsec_table_prune_flow(t, ipsec_set_get(t, last), 0), 1);
	assert_int_equal(ipsec_table_prune_flow(NULL, NULL, 0), 0);
	ipsec_table_free(t);
}

/* The SA pair of imsd's own requests (out_s, in_c) is made on first use:
 * before it, the set still reports its SPIs (and no traffic), and what
 * ipsec_set_sa then makes is the same SA each later call returns. */
static void test_lazy_pair(void **state)
{
	struct ipsec_table *t = NULL;
	struct sec_offer o = ue_offer(70000, 6000), srv;
	struct ipsec_sa_info info;
	struct ipsec_set *s;
	struct esp_sa *sa;

	(void)state;
	assert_int_equal(ipsec_table_alloc(&t, 0), 0);
	s = ipsec_set_get(t, add(t, "10.9.0.2", "10.9.0.1", &o, 1, 0));
	ipsec_set_server_offer(s, &srv);
	assert_int_equal(ipsec_set_sa_info(s, IPSEC_IN_C, &info), 0);
	esp_keys_wipe(&info.keys);
	assert_int_equal(info.spi, srv.spi_c);
	assert_int_equal(info.st.packets, 0);
	assert_int_equal(ipsec_set_sa_info(s, IPSEC_OUT_S, &info), 0);
	esp_keys_wipe(&info.keys);
	assert_int_equal(info.spi, 70001);
	sa = ipsec_set_sa(s, IPSEC_IN_C);
	assert_non_null(sa);
	assert_int_equal(esp_sa_spi(sa), srv.spi_c);
	assert_ptr_equal(ipsec_set_sa(s, IPSEC_IN_C), sa);
	sa = ipsec_set_sa(s, IPSEC_OUT_S);
	assert_non_null(sa);
	assert_int_equal(esp_sa_spi(sa), 70001);
	assert_null(ipsec_set_sa(s, IPSEC_ROLE_COUNT));
	ipsec_table_free(t);
}

/* A link-local UE (RFC 4291 §2.5.6) is its address on its link: the zone
 * (sin6_scope_id) is compared where both sides know it, a zone of 0 (an IP
 * header's address, a local address without one) matches any, and what the
 * TUN gives goes out to the SA's UE address with its zone. */
static void test_dp_link_local(void **state)
{
	struct ipsec ip = {.tun_fd = -1, .raw4_fd = -1, .raw6_fd = -1, .netns_fd = -1};
	struct sec_offer o = ue_offer(70000, 6000);
	struct net_addr ue = addr("fe80::2%5"), us = addr("fd00::1"), src, dst;
	struct net_addr ue0 = addr("fe80::2"), ue7 = addr("fe80::2%7");
	struct net_addr g5 = addr("fd00::2"), g7 = addr("fd00::2");
	uint8_t l4[256], esp[512], out[1024];
	size_t l4n, espn, outn;
	enum ipsec_sa_role r;
	struct ue u;
	uint64_t id;
	int rx = 0;

	(void)state;
	dp_roundtrip("fe80::2%5", "fd00::1");
	/* the compare itself */
	assert_true(ipsec_addr_eq(&ue, &ue, false));
	assert_true(ipsec_addr_eq(&ue, &ue0, false) && ipsec_addr_eq(&ue0, &ue, false));
	assert_false(ipsec_addr_eq(&ue, &ue7, false));
	assert_true(ipsec_addr_eq(&ue, &ue7, true));
	assert_false(net_addr_eq_ip(&ue, &ue0)); /* what failed before */
	g5.u.in6.sin6_scope_id = 5; /* a zone on a global address: not part of it */
	g7.u.in6.sin6_scope_id = 7;
	assert_true(ipsec_addr_eq(&g5, &g7, false));
	assert_false(ipsec_addr_eq(&g5, &ue, true));
	assert_false(ipsec_addr_eq(&us, &ue0, true)); /* families differ below */
	src = addr("10.0.0.1");
	assert_false(ipsec_addr_eq(&src, &ue0, true));

	assert_int_equal(ipsec_table_alloc(&ip.table, 0), 0);
	ipsec_rx_handler_set(&ip, rx_h, &rx);
	id = add(ip.table, "fe80::2%5", "fd00::1", &o, 1, 0);
	ue_make(&u, ipsec_set_get(ip.table, id));
	/* outbound by flow: a zone-less address (an IP header's) finds it, the
	 * same address on another link does not */
	assert_ptr_equal(ipsec_table_by_flow(ip.table, &ue0, 6000, 5101, &r),
			 ipsec_set_get(ip.table, id));
	assert_null(ipsec_table_by_flow(ip.table, &ue7, 6000, 5101, &r));
	/* ESP from the same address on another interface: not the UE's */
	l4n = udp(l4, 6000, 5101, "REGISTER sip:ims SIP/2.0\r\n\r\n");
	assert_int_equal(esp_encap(u.out, IPSEC_PROTO_UDP, l4, l4n, esp, sizeof(esp), &espn), 0);
	assert_int_equal(ipsec_dp_esp_in(&ip, &ue7, &us, esp, espn, out, sizeof(out), &outn),
			 EPERM);
	assert_int_equal(ipsec_dp_esp_in(&ip, &ue, &us, esp, espn, out, sizeof(out), &outn), 0);
	assert_int_equal(rx, 1);
	/* the TUN's packet names the UE without a zone; ESP goes to fe80::2%5 */
	net_addr_set_port(&us, 5101);
	net_addr_set_port(&ue0, 6000);
	l4n = udp(l4, 5101, 6000, "SIP/2.0 200 OK\r\n\r\n");
	assert_int_equal(ipsec_pkt_build(&us, &ue0, IPSEC_PROTO_UDP, l4, l4n, out, sizeof(out),
					 &outn),
			 0);
	assert_int_equal(ipsec_dp_tun_in(&ip, out, outn, esp, sizeof(esp), &espn, &src, &dst), 0);
	assert_int_equal(dst.u.in6.sin6_scope_id, 5);
	assert_int_equal(net_addr_port(&dst), 6000);
	assert_true(net_addr_eq_ip(&dst, &ue));
	esp_sa_free(u.out);
	esp_sa_free(u.in);
	ipsec_table_free(ip.table);
}

/* The destination of IPv6 ESP (no IP header on a raw IPv6 socket):
 * IPV6_PKTINFO, with the interface as the zone of a link-local address;
 * without it, the socket's own address when bound to one; else unknown,
 * and the packet is refused and counted (drop_no_dst) before any SA work. */
static void test_raw6_dst(void **state)
{
	struct ipsec ip = {.tun_fd = -1, .raw4_fd = -1, .raw6_fd = -1, .netns_fd = -1};
	union {
		char b[CMSG_SPACE(sizeof(struct in6_pktinfo))];
		struct cmsghdr align;
	} c;
	struct msghdr mh = {.msg_control = c.b, .msg_controllen = sizeof(c.b)};
	struct in6_pktinfo pi = {.ipi6_ifindex = 9};
	struct net_addr dst, bound = addr("[fd00::1]:0"), any = addr("::"), ue = addr("fd00::2");
	struct cmsghdr *cm;
	uint8_t esp[64] = {0, 1, 0x11, 0x70, 0, 0, 0, 1}, out[256];
	size_t outn = 0;

	(void)state;
	memset(&c, 0, sizeof(c));
	cm = CMSG_FIRSTHDR(&mh);
	cm->cmsg_level = IPPROTO_IPV6;
	cm->cmsg_type = IPV6_PKTINFO;
	cm->cmsg_len = CMSG_LEN(sizeof(pi));
	assert_int_equal(inet_pton(AF_INET6, "fd00::7", &pi.ipi6_addr), 1);
	memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	assert_int_equal(ipsec_raw6_dst(&mh, NULL, &dst), 0);
	assert_int_equal(memcmp(&dst.u.in6.sin6_addr, &pi.ipi6_addr, 16), 0);
	assert_int_equal(dst.u.in6.sin6_scope_id, 0); /* global: no zone */
	assert_int_equal(inet_pton(AF_INET6, "fe80::1", &pi.ipi6_addr), 1);
	memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
	assert_int_equal(ipsec_raw6_dst(&mh, &bound, &dst), 0); /* PKTINFO first */
	assert_int_equal(dst.u.in6.sin6_scope_id, 9);
	assert_int_equal(memcmp(&dst.u.in6.sin6_addr, &pi.ipi6_addr, 16), 0);
	/* no ancillary data */
	mh.msg_controllen = 0;
	assert_int_equal(ipsec_raw6_dst(&mh, &bound, &dst), 0);
	assert_true(net_addr_eq_ip(&dst, &bound));
	assert_int_equal(ipsec_raw6_dst(&mh, NULL, &dst), ENOENT);
	assert_int_equal(ipsec_raw6_dst(&mh, &any, &dst), ENOENT);
	/* other ancillary data only */
	mh.msg_controllen = sizeof(c.b);
	cm->cmsg_type = IPV6_HOPLIMIT;
	assert_int_equal(ipsec_raw6_dst(&mh, NULL, &dst), ENOENT);
	/* refused and counted, before the SPI is even looked up */
	assert_int_equal(ipsec_table_alloc(&ip.table, 0), 0);
	assert_int_equal(ipsec_dp_esp_in(&ip, &ue, &dst, esp, 40, out, sizeof(out), &outn),
			 EDESTADDRREQ);
	assert_int_equal(ip.st.drop_no_dst, 1);
	assert_int_equal(ip.st.drop_no_sa, 0);
	assert_int_equal(ipsec_get32(esp), 0x11170u);
	/* with the destination known, the same packet reaches the SPI lookup */
	assert_int_equal(ipsec_dp_esp_in(&ip, &ue, &bound, esp, 40, out, sizeof(out), &outn),
			 ENOENT);
	assert_int_equal(ip.st.drop_no_sa, 1);
	ipsec_table_free(ip.table);
}

/* The direct UDP path's UDP header (ipsec_pkt_udp_build/check): the
 * RFC 768 pseudo-header checksum (value computed independently), odd
 * lengths, zero checksums (none over IPv4, invalid over IPv6), corruption
 * and length mismatches refused; ipsec_udp_send without an SA leaves the
 * datagram to the socket (ENOENT), with one but no raw socket counts an
 * I/O drop. */
static void test_direct_udp(void **state)
{
	struct ipsec ip = {.tun_fd = -1, .raw4_fd = -1, .raw6_fd = -1, .netns_fd = -1};
	struct net_addr a = addr("10.9.0.1:5101"), b = addr("10.9.0.2:6000");
	struct net_addr a6 = addr("[2001:db8::1]:5101"), b6 = addr("[2001:db8::2]:6000");
	struct sec_offer o = ue_offer(70000, 6000);
	uint8_t u[64], txb[512], txb2[512];
	size_t n = 0, dl = 0;

	(void)state;
	assert_int_equal(ipsec_pkt_udp_build(&a, &b, (const uint8_t *)"abc", 3, u, sizeof(u), &n),
			 0);
	assert_int_equal(n, 11);
	assert_int_equal(u[6] << 8 | u[7], 0xfc03);
	assert_int_equal(ipsec_pkt_udp_check(&a, &b, u, n, &dl), 0);
	assert_int_equal(dl, 3);
	u[9] ^= 1;
	assert_int_equal(ipsec_pkt_udp_check(&a, &b, u, n, &dl), EBADMSG);
	u[9] ^= 1;
	assert_int_equal(ipsec_pkt_udp_check(&b, &a, u, n - 1, &dl), EBADMSG); /* length */
	assert_int_equal(ipsec_pkt_udp_check(&b, &a, u, 7, &dl), EBADMSG);
	u[6] = u[7] = 0; /* no checksum: allowed over IPv4 only */
	assert_int_equal(ipsec_pkt_udp_check(&a, &b, u, n, &dl), 0);
	assert_int_equal(ipsec_pkt_udp_build(&a6, &b6, (const uint8_t *)"abcd", 4, u, sizeof(u),
					     &n),
			 0);
	assert_int_equal(ipsec_pkt_udp_check(&a6, &b6, u, n, &dl), 0);
	u[6] = u[7] = 0;
	assert_int_equal(ipsec_pkt_udp_check(&a6, &b6, u, n, &dl), EBADMSG);
	/* every length up to 40 bytes of varied data: the checksum a plain
	 * RFC 1071 loop computes (the builder sums words in bulk) */
	for (size_t len = 0; len <= 40; len++) {
		uint8_t d[40], pk[64];
		uint32_t ref = 17 + (uint32_t)len + 8 + 0x0a09 + 0x0001 + 0x0a09 + 0x0002;

		for (size_t i = 0; i < len; i++)
			d[i] = (uint8_t)(0xf7 * (i + 3) + len);
		assert_int_equal(ipsec_pkt_udp_build(&a, &b, d, len, pk, sizeof(pk), &n), 0);
		for (size_t i = 0; i < n; i += 2)
			ref += i == 6 ? 0 : (uint32_t)(pk[i] << 8 | (i + 1 < n ? pk[i + 1] : 0));
		while (ref >> 16)
			ref = (ref & 0xffff) + (ref >> 16);
		ref = ~ref & 0xffff;
		assert_int_equal(pk[6] << 8 | pk[7], ref ? ref : 0xffff);
		assert_int_equal(ipsec_pkt_udp_check(&a, &b, pk, n, &dl), 0);
	}
	assert_int_equal(ipsec_pkt_udp_build(&a, &b6, u, 1, u, sizeof(u), &n), EINVAL);
	assert_int_equal(ipsec_pkt_udp_build(&a, &b, u, 60, u, sizeof(u), &n), ENOSPC);

	assert_int_equal(ipsec_table_alloc(&ip.table, 0), 0);
	ip.txbuf = txb;
	ip.txbuf2 = txb2;
	/* no SA for our port-s -> 10.9.0.2:6000 yet: the socket's */
	assert_int_equal(ipsec_udp_send(&a, &b, "x", 1, &ip), ENOENT);
	(void)add(ip.table, "10.9.0.2", "10.9.0.1", &o, 1, 0);
	assert_int_equal(ipsec_udp_send(&a, &b, "x", 1, &ip), EAFNOSUPPORT);
	assert_int_equal(ip.st.drop_io, 1);
	assert_int_equal(ip.st.udp_direct_tx, 0);
	ipsec_table_free(ip.table);
}

/* The local IPs that carry SAs: none set, every address; set, only them. */
static void test_table_locals(void **state)
{
	struct ipsec_table *t = NULL;
	struct net_addr ips[2], other;

	(void)state;
	assert_int_equal(ipsec_table_alloc(&t, 0), 0);
	assert_int_equal(net_addr_parse_str(&ips[0], "10.9.0.1", 5060), 0);
	assert_int_equal(net_addr_parse_str(&ips[1], "fd00::1", 5060), 0);
	assert_int_equal(net_addr_parse_str(&other, "127.0.0.1", 5100), 0);
	assert_true(ipsec_table_local(t, &other));
	assert_int_equal(ipsec_table_locals_set(t, ips, 2), 0);
	assert_false(ipsec_table_local(t, &other));
	assert_true(ipsec_table_local(t, &ips[1]));
	assert_int_equal(net_addr_parse_str(&other, "10.9.0.1", 5100), 0); /* any port */
	assert_true(ipsec_table_local(t, &other));
	assert_int_equal(ipsec_table_locals_set(t, ips, IPSEC_TABLE_LOCALS_MAX + 1), EINVAL);
	assert_int_equal(ipsec_table_locals_set(t, NULL, 1), EINVAL);
	assert_false(ipsec_table_local(NULL, &other));
	ipsec_table_free(t);
}

static void test_pkt_parse_bounds(void **state)
{
	uint8_t b[64] = {0x45, 0, 0, 28, 0, 0, 0x40, 0, 64, 17, 0, 0, 10, 0, 0, 1, 10, 0, 0, 2,
			 0x13, 0xc4, 0x13, 0xc5, 0, 8, 0, 0};
	struct ipsec_pkt p;

	(void)state;
	assert_int_equal(ipsec_pkt_parse(b, 28, &p), 0);
	assert_int_equal(net_addr_port(&p.dst), 5061);
	for (size_t n = 0; n < 28; n++)
		assert_int_not_equal(ipsec_pkt_parse(b, n, &p), 0);
	b[6] = 0x20; /* more fragments */
	assert_int_equal(ipsec_pkt_parse(b, 28, &p), ENOTSUP);
	b[6] = 0x40;
	b[0] = 0x44; /* IHL 16 bytes */
	assert_int_equal(ipsec_pkt_parse(b, 28, &p), EBADMSG);
	b[0] = 0x75;
	assert_int_equal(ipsec_pkt_parse(b, 28, &p), EBADMSG);
	memset(b, 0, sizeof(b));
	b[0] = 0x60;
	b[5] = 8;
	b[6] = 58; /* ICMPv6 (neighbour discovery): not ours */
	assert_int_equal(ipsec_pkt_parse(b, 48, &p), ENOTSUP);
	b[6] = 17;
	assert_int_equal(ipsec_pkt_parse(b, 47, &p), EBADMSG);
	assert_int_equal(ipsec_pkt_parse(b, 48, &p), 0);
}

/* The Security-Server text a set keeps is what sec_agree_print says of its
 * offer, and it parses back to that offer (the 401 and the Security-Verify
 * fast path rely on both). */
static void test_server_text(void **state)
{
	struct ipsec_table *t = NULL;
	struct sec_offer o = ue_offer(3000, 6000), srv;
	struct sec_list back = {0}, sent = {.n = 1};
	char txt[SEC_AGREE_VALUE_MAX];
	const struct ipsec_set *s;
	struct pl v;

	(void)state;
	assert_int_equal(ipsec_table_alloc(&t, 0), 0);
	s = ipsec_set_get(t, add(t, "10.9.0.2", "10.9.0.1", &o, 1, 0));
	assert_non_null(s);
	ipsec_set_server_offer(s, &srv);
	assert_int_equal(sec_agree_print(&srv, txt, sizeof(txt)), 0);
	v = ipsec_set_server_text(s);
	assert_int_equal(v.l, strlen(txt));
	assert_memory_equal(v.p, txt, v.l);
	assert_non_null(memchr(v.p, '=', v.l));
	assert_int_equal(sec_agree_parse(v, &back), 0);
	sent.v[0] = srv;
	assert_int_equal(sec_agree_verify(&back, &sent), 0);
	ipsec_table_free(t);
}

/* The direct path's send queue: a family without a raw socket is refused
 * and nothing is queued; a full queue goes out before the next slot; a
 * flush sends every queued datagram in order (as root: raw ESP sockets on
 * loopback, a second one reads them back). */
static void test_raw_queue(void **state)
{
	struct ipsec ip;
	struct net_addr a = addr("127.0.0.1:5101"), b = addr("127.0.0.1:6000");
	struct net_addr a6 = addr("[::1]:5101"), b6 = addr("[::1]:6000");
	const unsigned total = IPSEC_TX_BATCH + 3;
	unsigned seen = 0;
	uint8_t *slot, pkt[256];
	int rx;

	(void)state;
	memset(&ip, 0, sizeof(ip));
	ip.raw4_fd = ip.raw6_fd = -1;
	assert_null(ipsec_raw_slot(&ip)); /* no queue: sent at once */
	ip.tbuf = malloc((size_t)IPSEC_TX_BATCH * IPSEC_BUF);
	assert_non_null(ip.tbuf);
	assert_non_null(ipsec_raw_slot(&ip));
	assert_int_equal(ipsec_raw_queue(&ip, &a6, &b6, 8), EAFNOSUPPORT);
	assert_int_equal(ip.tn, 0);
	ip.raw4_fd = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ESP);
	rx = socket(AF_INET, SOCK_RAW | SOCK_NONBLOCK, IPPROTO_ESP);
	if (ip.raw4_fd < 0 || rx < 0) { /* not root */
		if (ip.raw4_fd >= 0)
			close(ip.raw4_fd);
		if (rx >= 0)
			close(rx);
		free(ip.tbuf);
		skip();
	}
	for (unsigned k = 0; k < total; k++) {
		slot = ipsec_raw_slot(&ip);
		assert_non_null(slot);
		assert_int_equal(ip.tn, k % IPSEC_TX_BATCH); /* full: flushed */
		memset(slot, 0, 16);
		slot[0] = 0xfe; /* SPI 0xfeed00kk: ours, not other traffic's */
		slot[1] = 0xed;
		slot[3] = (uint8_t)k;
		assert_int_equal(ipsec_raw_queue(&ip, &a, &b, 16), 0);
	}
	ipsec_raw_flush(&ip);
	assert_int_equal(ip.tn, 0);
	assert_int_equal(ip.st.drop_io, 0);
	for (unsigned i = 0; i < 4 * total; i++) {
		ssize_t n = recv(rx, pkt, sizeof(pkt), 0);
		size_t hl;

		if (n < 0)
			break;
		hl = (size_t)(pkt[0] & 0x0f) * 4;
		if ((size_t)n != hl + 16 || pkt[hl] != 0xfe || pkt[hl + 1] != 0xed)
			continue;
		assert_int_equal(pkt[hl + 3], seen); /* in order */
		seen++;
	}
	assert_int_equal(seen, total);
	close(rx);
	close(ip.raw4_fd);
	free(ip.tbuf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_table),
	    cmocka_unit_test(test_thousand_ues),
	    cmocka_unit_test(test_dp_v4),
	    cmocka_unit_test(test_dp_v6),
	    cmocka_unit_test(test_pkt_parse_bounds),
	    cmocka_unit_test(test_table_locals),
	    cmocka_unit_test(test_direct_udp),
	    cmocka_unit_test(test_dp_link_local),
	    cmocka_unit_test(test_raw6_dst),
	    cmocka_unit_test(test_lazy_pair),
	    cmocka_unit_test(test_prune_flow),
	    cmocka_unit_test(test_server_text),
	    cmocka_unit_test(test_raw_queue),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
