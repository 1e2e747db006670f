/*
 * ipsec/ipsec_dp — packet processing of the Gm datapath (ipsec.h):
 * inbound RFC 4303 §3.4 (SA lookup by SPI, sequence and ICV checks in
 * esp_decap, then the inbound selector check of RFC 4301 §5.2: the clear
 * packet must come from the SA's UE address and ports to ours), outbound
 * RFC 4303 §3.3 (SA lookup by the packet's flow). The I/O around it is in
 * ipsec.c. ipsec.verbose=1 logs each drop with its reason.
 */
#include <errno.h>
#include <netinet/in.h>
#include <string.h>

#include "core/log.h"
#include "ipsec/ipsec_int.h"
#include "ipsec/ipsec_pkt.h"

static void drop_log(const char *why, uint32_t spi, const struct net_addr *peer)
{
	char a[NET_ADDR_STRLEN];

	if (log_verbose(LOG_IPSEC))
		log_write(LOG_IPSEC, LOG_LVL_INFO, LOG_DIR_FROM, "-", "drop %s spi=0x%08x %s",
			  why, spi, net_addr_print(peer, a, sizeof(a)));
}

static void count_decap_err(struct ipsec *ip, int err, uint32_t spi, const struct net_addr *src)
{
	switch (err) {
	case EACCES:
		ip->st.drop_auth++;
		drop_log("icv", spi, src);
		break;
	case EALREADY:
		ip->st.drop_replay++;
		drop_log("replay", spi, src);
		break;
	default:
		ip->st.drop_malformed++;
		drop_log("malformed", spi, src);
		break;
	}
}

static bool dst_known(const struct net_addr *dst)
{
	static const struct in6_addr any = IN6ADDR_ANY_INIT;

	switch (net_addr_af(dst)) {
	case AF_INET:
		return dst->u.in.sin_addr.s_addr != 0;
	case AF_INET6:
		return memcmp(&dst->u.in6.sin6_addr, &any, sizeof(any)) != 0;
	default:
		return false;
	}
}

uint32_t ipsec_get32(const uint8_t *p)
{
	return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

int ipsec_raw6_dst(const struct msghdr *mh, const struct net_addr *bound, struct net_addr *dst)
{
	struct cmsghdr *cm;

	net_addr_init(dst, AF_INET6);
	for (cm = CMSG_FIRSTHDR((struct msghdr *)mh); cm;
	     cm = CMSG_NXTHDR((struct msghdr *)mh, cm)) {
		struct in6_pktinfo pi;

		if (cm->cmsg_level != IPPROTO_IPV6 || cm->cmsg_type != IPV6_PKTINFO ||
		    cm->cmsg_len < CMSG_LEN(sizeof(pi)))
			continue;
		memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
		dst->u.in6.sin6_addr = pi.ipi6_addr;
		/* a link-local address is ours on that interface only */
		if (IN6_IS_ADDR_LINKLOCAL(&pi.ipi6_addr))
			dst->u.in6.sin6_scope_id = pi.ipi6_ifindex;
		return 0;
	}
	if (bound && net_addr_af(bound) == AF_INET6 && dst_known(bound)) {
		*dst = *bound; /* a socket bound to one address gets only its ESP */
		net_addr_set_port(dst, 0);
		return 0;
	}
	return ENOENT;
}

/* RFC 4301 §5.2 step 4: the clear packet matches the SA's selectors
 * (sel_src, sel_dst: the SA's, ipsec_set_sa_flow). */
static bool selectors_ok(const struct net_addr *sel_src, const struct net_addr *sel_dst,
			 uint8_t nh, const uint8_t *l4, size_t len, uint16_t *dport_out)
{
	uint16_t sp, dp;

	if (ipsec_pkt_ports(nh, l4, len, &sp, &dp))
		return false;
	*dport_out = dp;
	return sp == net_addr_port(sel_src) && dp == net_addr_port(sel_dst);
}

int ipsec_dp_esp_in(struct ipsec *ip, const struct net_addr *src, const struct net_addr *dst,
		    const uint8_t *esp, size_t len, uint8_t *out, size_t size, size_t *olen)
{
	struct ipsec_set *s;
	struct esp_sa *sa;
	enum ipsec_sa_role role;
	struct net_addr ue, local;
	uint32_t spi = 0, seq = 0;
	uint8_t nh = 0, *clear = out + IPSEC_IP6_HDR;
	size_t clen = 0;
	uint16_t dport = 0;
	struct net_sock *sock;
	size_t dlen = 0;
	int err;

	if (size < IPSEC_IP6_HDR + len)
		return ENOSPC;
	if (!dst_known(dst)) {
		/* no IPV6_PKTINFO and no bound address (ipsec_raw6_dst): which of
		 * our addresses it was sent to is unknown, so no SA can match */
		ip->st.drop_no_dst++;
		drop_log("no-dst", len >= 4 ? ipsec_get32(esp) : 0, src);
		return EDESTADDRREQ;
	}
	if (esp_hdr_parse(esp, len, &spi, &seq)) {
		ip->st.drop_malformed++;
		drop_log("short", 0, src);
		return EBADMSG;
	}
	s = ipsec_table_by_spi(ip->table, spi, &role);
	if (!s) {
		ip->st.drop_no_sa++;
		drop_log("no-sa", spi, src);
		return ENOENT;
	}
	if (!ipsec_addr_eq(src, ipsec_set_ue(s), false)) {
		ip->st.drop_policy++;
		drop_log("src", spi, src);
		return EPERM;
	}
	/* the SA's own local address only (RFC 4301 §4.4.1 selectors): the
	 * raw socket takes ESP sent to any address of the host. Checked
	 * before esp_decap, which moves the replay window: a copy sent to
	 * another of our addresses must not spend the original's number. */
	ipsec_set_sa_flow(s, role, &ue, &local);
	if (!ipsec_addr_eq(dst, &local, false)) {
		ip->st.drop_policy++;
		drop_log("dst", spi, src);
		return EPERM;
	}
	sa = ipsec_set_sa(s, role);
	if (!sa) {
		ip->st.drop_io++;
		drop_log("sa-make", spi, src);
		return ENOMEM;
	}
	err = esp_decap(sa, esp, len, clear, size - IPSEC_IP6_HDR, &clen, &nh);
	if (err) {
		count_decap_err(ip, err, spi, src);
		return err;
	}
	if (!clen)
		return ENODATA; /* dummy packet (RFC 4303 §2.6) */
	*olen = 0;
	if (!selectors_ok(&ue, &local, nh, clear, clen, &dport)) {
		ip->st.drop_policy++;
		drop_log("selector", spi, src);
		return EPERM;
	}
	/* the clear packet is rebuilt with the SA's addresses: transport mode */
	sock = nh == IPSEC_PROTO_UDP ? ipsec_udp_sock(ip, &local, dport) : NULL;
	if (sock)
		err = ipsec_pkt_udp_check(&ue, &local, clear, clen, &dlen);
	else
		err = ipsec_pkt_build(&ue, &local, nh, clear, clen, out, size, olen);
	if (err) {
		ip->st.drop_malformed++;
		drop_log(sock ? "udp" : "build", spi, src);
		return err;
	}
	ip->st.esp_rx++;
	ip->st.esp_rx_bytes += clen;
	if (ip->on_rx) /* before the SIP stack sees it: activates a pending set */
		ip->on_rx(s, role, ip->on_rx_arg);
	if (sock) {
		ip->st.udp_direct_rx++;
		net_sock_udp_inject(sock, &ue, clear + 8, dlen);
	}
	return 0;
}

int ipsec_udp_send(const struct net_addr *src, const struct net_addr *dst, const void *buf,
		   size_t len, void *arg)
{
	struct ipsec *ip = arg;
	struct ipsec_set *s;
	enum ipsec_sa_role role;
	size_t ulen = 0, olen = 0;
	uint8_t *out;
	int err;

	s = ipsec_table_by_flow(ip->table, dst, net_addr_port(dst), net_addr_port(src), &role);
	if (!s)
		return ENOENT; /* the socket sends it; the TUN drops and counts it */
	/* into the send queue's next slot (one sendmmsg before the loop
	 * sleeps), or at once when there is no queue */
	out = ipsec_raw_slot(ip);
	err = ipsec_pkt_udp_build(src, dst, buf, len, ip->txbuf, IPSEC_BUF, &ulen);
	if (!err)
		err = esp_encap(ipsec_set_sa(s, role), IPSEC_PROTO_UDP, ip->txbuf, ulen,
				out ? out : ip->txbuf2, IPSEC_BUF, &olen);
	if (!err)
		err = out ? ipsec_raw_queue(ip, src, dst, olen)
			  : ipsec_raw_send(ip, src, dst, ip->txbuf2, olen);
	if (err) {
		ip->st.drop_io++;
		drop_log("udp-out", 0, dst);
		return err == ENOENT ? EIO : err;
	}
	ip->st.esp_tx++;
	ip->st.esp_tx_bytes += ulen;
	ip->st.udp_direct_tx++;
	return 0;
}

int ipsec_dp_tun_in(struct ipsec *ip, const uint8_t *pkt, size_t len, uint8_t *out,
		    size_t size, size_t *olen, struct net_addr *src, struct net_addr *dst)
{
	struct ipsec_pkt p;
	struct ipsec_set *s;
	enum ipsec_sa_role role;
	int err = ipsec_pkt_parse(pkt, len, &p);

	if (err || p.proto == IPSEC_PROTO_ESP) {
		/* ICMPv6 neighbour discovery and the like: not SIP, not ours */
		if (err != ENOTSUP)
			ip->st.drop_malformed++;
		return err ? err : ENOTSUP;
	}
	s = ipsec_table_by_flow(ip->table, &p.dst, net_addr_port(&p.dst), net_addr_port(&p.src),
				&role);
	if (!s) {
		ip->st.drop_tun_no_sa++;
		drop_log("out-no-sa", 0, &p.dst);
		return ENOENT;
	}
	err = esp_encap(ipsec_set_sa(s, role), p.proto, p.l4, p.l4_len, out, size, olen);
	if (err) {
		ip->st.drop_io++;
		return err;
	}
	*src = p.src;
	/* the SA's UE address: an IP header carries no zone, and a link-local
	 * UE is reached only through its interface */
	*dst = *ipsec_set_ue(s);
	net_addr_set_port(dst, net_addr_port(&p.dst));
	ip->st.esp_tx++;
	ip->st.esp_tx_bytes += p.l4_len;
	return 0;
}
