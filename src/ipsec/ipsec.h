/*
 * ipsec/ipsec — the Gm IPsec datapath in user space (docs/ipsec.md).
 *
 *     UE ==ESP==> raw socket (IPPROTO_ESP, our namespace)
 *                   | esp_decap, selector check (ipsec_sa)
 *                   v
 *                 TUN device ──> network namespace N ──> imsd's protected
 *                                (the sip_addr IPs on    SIP sockets (UDP,
 *                                 the TUN, default route  TCP) on port-c and
 *                                 through it)             port-s
 *     UE <==ESP== raw socket <── esp_encap <── TUN <── replies and requests
 *
 * The kernel of namespace N sees the UE's packets arrive in clear on the TUN
 * device and delivers them to ordinary sockets, so SIP over TCP through an
 * SA uses the kernel's TCP. Everything the protected sockets send leaves
 * through the TUN device (the only route in N) and is encapsulated with the
 * SA of its flow; a packet without one is dropped and counted.
 *
 * Set-ups (manual §5.2):
 *   root:     imsd creates the TUN device, writes ipsec_tun_setup_script
 *             (namespace, addresses, MTU ipsec_mtu, routes) and runs it;
 *             the namespace is deleted again at exit.
 *   non-root: ipsec_ifname + ipsec_netns: the operator made the TUN device
 *             in that namespace with the addresses and routes; imsd (with
 *             CAP_SYS_ADMIN for setns and CAP_NET_RAW) attaches to it.
 * Protected sockets are opened in N by the net layer with ipsec_netns_fd().
 *
 * Direct UDP path (ipsec_net_attach): a decrypted UDP datagram to one of
 * the protected UDP sockets goes straight to the SIP stack's receive path
 * (net_sock_udp_inject) with the UE's address and port, and what imsd
 * sends on those sockets to a UE with an SA is encapsulated here and sent
 * on the raw socket (net_sock_udp_tap_set): no TUN device, no second pass
 * through the IP stack. TCP keeps the TUN device (the kernel's TCP), and
 * so does UDP to a flow without an SA (dropped at the TUN, as before).
 *
 * Loop thread only. Errors: 0; EINVAL configuration; EPERM missing
 * privileges; ENOENT namespace or interface missing; EIO script failure.
 */
#ifndef IPSEC_IPSEC_H
#define IPSEC_IPSEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ipsec/ipsec_sa.h"
#include "net/net.h"
#include "net/net_addr.h"

#define IPSEC_IFNAME_MAX 16
/*
 * Our protected ports (TS 33.203 §7.1 port_ps, port_pc), the same for every
 * UE and every sip_addr IP: they live in namespace N, where nothing else
 * binds, so fixed numbers never collide with the host's, and they differ
 * from any unprotected SIP port a UE talks to (5060) as TS 24.229 §5.2.2
 * wants. Numbers as other P-CSCFs use them (Kamailio's ipsec module).
 */
#define IPSEC_PORT_S 5100
#define IPSEC_PORT_C 6100
#define IPSEC_LOCAL_MAX 8

struct ipsec;

struct ipsec_prm {
	uint32_t mtu;		   /* ipsec_mtu (root set-up only) */
	const char *script_path;   /* ipsec_tun_setup_script_filename */
	const char *ifname;	   /* ipsec_ifname (non-root), or NULL */
	const char *netns;	   /* ipsec_netns (non-root), or NULL */
	struct net_addr local[IPSEC_LOCAL_MAX]; /* sip_addr IPs (root set-up) */
	size_t local_count;
	size_t max_sets;	   /* SA sets (0: 100000) */
};

struct ipsec_stats {
	uint64_t esp_rx, esp_rx_bytes;	 /* decapsulated and handed to the TUN */
	uint64_t esp_tx, esp_tx_bytes;	 /* encapsulated and sent */
	uint64_t drop_no_sa;		 /* unknown SPI */
	uint64_t drop_auth;		 /* ICV mismatch */
	uint64_t drop_replay;		 /* replayed / left of the window */
	uint64_t drop_malformed;	 /* truncated, bad padding, bad IP */
	uint64_t drop_policy;		 /* addresses or ports not the SA's */
	uint64_t drop_no_dst;		 /* IPv6 ESP without a known destination */
	uint64_t drop_tun_no_sa;	 /* from the protected sockets, no SA */
	uint64_t drop_io;		 /* TUN or raw socket errors */
	uint64_t udp_direct_rx;		 /* of esp_rx: to the SIP stack directly */
	uint64_t udp_direct_tx;		 /* of esp_tx: from the SIP stack directly */
};

/* A packet came in over an SA (the registrar activates pending sets). */
typedef void(ipsec_rx_h)(struct ipsec_set *s, enum ipsec_sa_role role, void *arg);

int ipsec_alloc(struct ipsec **ip, const struct ipsec_prm *prm);
void ipsec_rx_handler_set(struct ipsec *ip, ipsec_rx_h *h, void *arg);
void ipsec_free(struct ipsec *ip);
/* Network namespace of the protected sockets (an fd for setns), or -1. */
int ipsec_netns_fd(const struct ipsec *ip);
/* Runs fn(arg) with the calling thread inside namespace N (socket creation). */
int ipsec_in_netns(const struct ipsec *ip, int (*fn)(void *arg), void *arg);
struct ipsec_table *ipsec_table(const struct ipsec *ip);
void ipsec_stats_get(const struct ipsec *ip, struct ipsec_stats *st);
const char *ipsec_ifname(const struct ipsec *ip);

/* The protected UDP sockets of net (those opened in N) take the direct
 * path; at most 2 * IPSEC_LOCAL_MAX. Call once, after the sockets exist. */
int ipsec_net_attach(struct ipsec *ip, struct net *net);
/* net_udp_tap_h of the direct path (arg: the ipsec): ENOENT without an SA
 * for the flow (src port, dst address and port). */
int ipsec_udp_send(const struct net_addr *src, const struct net_addr *dst, const void *buf,
		   size_t len, void *arg);

/* Datapath entry points (also what the unit tests drive without fds):
 * one ESP packet as the raw socket gave it (IPv4: with its IP header;
 * IPv6: the payload, addresses given) -> the clear packet for the TUN
 * (*olen 0: delivered on the direct path, or a dummy packet). */
int ipsec_dp_esp_in(struct ipsec *ip, const struct net_addr *src, const struct net_addr *dst,
		    const uint8_t *esp, size_t len, uint8_t *out, size_t size, size_t *olen);
/* One packet read from the TUN -> ESP payload to send to *dst. */
int ipsec_dp_tun_in(struct ipsec *ip, const uint8_t *pkt, size_t len, uint8_t *out,
		    size_t size, size_t *olen, struct net_addr *src, struct net_addr *dst);

#endif
