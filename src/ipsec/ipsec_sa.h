/*
 * ipsec/ipsec_sa — the SA table: for each UE registration one SA set of
 * TS 33.203 §7.1, four unidirectional SAs shared by UDP and TCP:
 *
 *   in_s   UE port-c -> our port-s   SPI = our spi-s   (we chose it)
 *   out_c  our port-s -> UE port-c   SPI = UE's spi-c
 *   out_s  our port-c -> UE port-s   SPI = UE's spi-s
 *   in_c   UE port-s -> our port-c   SPI = our spi-c   (we chose it)
 *
 * Lookups: inbound by SPI (our SPIs are unique in the table), outbound by
 * flow (UE address, UE port, our port). Several sets may share a flow during
 * re-authentication (TS 33.203 §7.4: the new set is created at the 401 and
 * the old one retires when the UE starts using the new); outbound lookups
 * prefer an active set to a pending one and a newer to an older.
 *
 * States: PENDING (created with the 401; only the second REGISTER may use
 * it) -> ACTIVE (the UE used it, ipsec_set_activate()) -> gone
 * (ipsec_set_del(), when the registration ends or a newer set replaced it).
 * A PENDING set that is not activated before its deadline is removed by
 * ipsec_table_expire().
 *
 * Ownership: the table owns its sets and their esp_sa; callers hold set ids
 * (uint64_t) across asynchronous work and borrowed pointers only within a
 * call. Loop thread only.
 * Errors: 0; EINVAL bad parameters; ENOMEM; EEXIST no free SPI found;
 * ENOENT no such set; ENOSPC table full.
 */
#ifndef IPSEC_IPSEC_SA_H
#define IPSEC_IPSEC_SA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/hash.h"
#include "ipsec/esp.h"
#include "ipsec/sec_agree.h"
#include "net/net_addr.h"

enum ipsec_set_state { IPSEC_SET_PENDING = 0, IPSEC_SET_ACTIVE };
enum ipsec_sa_role { IPSEC_IN_S = 0, IPSEC_OUT_C, IPSEC_OUT_S, IPSEC_IN_C, IPSEC_ROLE_COUNT };

struct ipsec_set;
struct ipsec_table;

struct ipsec_set_prm {
	struct net_addr ue;	     /* the UE's IP (port ignored) */
	struct net_addr local;	     /* our IP the UE talks to (port ignored) */
	const struct sec_offer *ue_offer; /* chosen Security-Client offer */
	uint16_t port_c, port_s;     /* our protected ports */
	const uint8_t *ck, *ik;      /* 16 bytes each, from the AKA run */
	uint64_t owner;		     /* opaque id for the owner (registrar) */
	uint64_t deadline_ms;	     /* PENDING until then (loop_now_ms clock) */
};

/* One SA as consoles and the API show it (manual §6 `ipsec`). */
struct ipsec_sa_info {
	enum ipsec_sa_role role;
	bool in;		/* dir "in" or "out" */
	uint32_t spi;
	struct net_addr src, dst; /* with the ports */
	enum esp_aalg aalg;
	enum esp_ealg ealg;
	struct esp_keys keys;   /* wipe after use (esp_keys_wipe) */
	struct esp_sa_stats st;
};

struct ipsec_table_stats {
	uint64_t sets;		/* now */
	uint64_t sets_created, sets_deleted, sets_expired;
	uint64_t spi_collisions;
};

int ipsec_table_alloc(struct ipsec_table **tp, size_t max_sets);
/* The local IPs the datapath carries SAs for (the sip_addr IPs on its
 * device): a REGISTER that reached another of our addresses (loopback,
 * wildcard) cannot be protected. None set: every address (unit tests). */
#define IPSEC_TABLE_LOCALS_MAX 16
/*
 * Whether a and b are the same IP for an SA's selectors. An IPv6 link-local
 * address (fe80::/10, RFC 4291 §2.5.6) is unique only on its link, so its
 * zone (sin6_scope_id, RFC 4007 §6) is part of it: equal zones match, and
 * a zone of 0 ("link not known": an address read from an IP header that
 * the datapath itself built, or a local address configured without a
 * zone) matches any. Other addresses compare by their bytes alone.
 * any_zone: the zone is ignored (an address seen on a protected socket,
 * where it names the datapath namespace's TUN device, not the UE's link;
 * the ESP that brought it was checked against the SA's link already).
 */
bool ipsec_addr_eq(const struct net_addr *a, const struct net_addr *b, bool any_zone);
int ipsec_table_locals_set(struct ipsec_table *t, const struct net_addr *ips, size_t n);
bool ipsec_table_local(const struct ipsec_table *t, const struct net_addr *ip);
void ipsec_table_free(struct ipsec_table *t);
void ipsec_table_stats(const struct ipsec_table *t, struct ipsec_table_stats *st);

/* Creates a PENDING set, choosing our SPIs; *idp gets its id. */
int ipsec_set_add(struct ipsec_table *t, const struct ipsec_set_prm *prm, uint64_t *idp);
struct ipsec_set *ipsec_set_get(const struct ipsec_table *t, uint64_t id);
int ipsec_set_del(struct ipsec_table *t, uint64_t id);
void ipsec_set_activate(struct ipsec_set *s);
/*
 * Deletes the other ACTIVE sets of s's owner on either of s's outbound
 * flows (UE address and port, our port), except keep (0: none): once s is
 * the one in use there, older ones are unreachable for what imsd sends (the
 * lookup takes the newest active set) and only pile up: a UE that
 * registers, de-registers and registers again from the same ports left one
 * retired set per cycle on the flow for REG_IPSEC_RETIRE_MS, and past 64 of
 * them the outbound lookup's bounded walk stopped finding the new one.
 * Pending sets stay (a challenge in progress owns them). Returns how many
 * went; at most 256 a call.
 */
size_t ipsec_table_prune_flow(struct ipsec_table *t, const struct ipsec_set *s, uint64_t keep);
/* Removes PENDING sets past their deadline; returns how many. */
size_t ipsec_table_expire(struct ipsec_table *t, uint64_t now_ms);
/* Removes every set of an owner (the registration ended). */
size_t ipsec_table_del_owner(struct ipsec_table *t, uint64_t owner);

uint64_t ipsec_set_id(const struct ipsec_set *s);
uint64_t ipsec_set_owner(const struct ipsec_set *s);
enum ipsec_set_state ipsec_set_state(const struct ipsec_set *s);
/* Our SPIs and ports, UE's offer values: what Security-Server says. */
void ipsec_set_server_offer(const struct ipsec_set *s, struct sec_offer *o);
/* The same as text (sec_agree_print of it), printed once when the set was
 * made; borrowed, lives as long as the set. */
struct pl ipsec_set_server_text(const struct ipsec_set *s);
const struct net_addr *ipsec_set_ue(const struct ipsec_set *s);
uint16_t ipsec_set_ue_port(const struct ipsec_set *s, bool server);
/* The ESP SA of role r. in_s and out_c are made with the set; out_s and
 * in_c on the first call that asks for them (NULL when that fails:
 * ENOMEM, or the algorithm went missing). */
struct esp_sa *ipsec_set_sa(const struct ipsec_set *s, enum ipsec_sa_role r);
/* The selectors of the SA of role r: its source and destination with
 * their ports (what ipsec_set_sa_info says of them, without the keys). */
int ipsec_set_sa_flow(const struct ipsec_set *s, enum ipsec_sa_role r, struct net_addr *src,
		      struct net_addr *dst);
int ipsec_set_sa_info(const struct ipsec_set *s, enum ipsec_sa_role r,
		      struct ipsec_sa_info *info);

/* Inbound: the set owning our SPI and the SA's role (IN_S or IN_C). */
struct ipsec_set *ipsec_table_by_spi(const struct ipsec_table *t, uint32_t spi,
				     enum ipsec_sa_role *role);
/* Outbound: the set for a packet from our local_port to ue:ue_port. */
struct ipsec_set *ipsec_table_by_flow(const struct ipsec_table *t, const struct net_addr *ue,
				      uint16_t ue_port, uint16_t local_port,
				      enum ipsec_sa_role *role);

/* Iteration for consoles: calls h for every set (no changes from h). */
typedef void(ipsec_set_h)(const struct ipsec_set *s, void *arg);
void ipsec_table_walk(const struct ipsec_table *t, ipsec_set_h *h, void *arg);
/* The same SA by SA, with each SA's info (its keys wiped once h returns):
 * the listing of monitor `ipsec` and of the remote API's `ipsec`. */
typedef void(ipsec_sa_info_h)(const struct ipsec_set *s, const struct ipsec_sa_info *in,
			      void *arg);
void ipsec_table_sa_walk(const struct ipsec_table *t, ipsec_sa_info_h *h, void *arg);

#endif
