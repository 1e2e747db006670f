/*
 * ipsec/sec_agree — the security agreement headers of RFC 3329 as 3GPP uses
 * them (TS 33.203 §7.1 and §7.2, TS 24.229 §5.2.2): Security-Client,
 * Security-Server and Security-Verify, mechanism "ipsec-3gpp".
 *
 *   sec_agree_parse()   one header value (one or several comma-separated
 *                       offers) -> offers appended to a sec_list
 *   sec_agree_choose()  the UE's offers in its order x imsd's algorithm
 *                       masks -> the offer to answer (TS 33.203 §7.1)
 *   sec_agree_print()   an offer -> Security-Server value
 *   sec_agree_verify()  Security-Verify offers == what Security-Server said
 *
 * Parameters read: q, alg, ealg, prot, mod, spi-c, spi-s, port-c, port-s;
 * others are kept out of the comparison (RFC 3329 §2.2 allows extensions).
 * Absent ealg means null; absent prot means esp, absent mod means trans
 * (TS 33.203 §7.1). Values are checked: SPIs are 32-bit decimals, ports
 * 16-bit decimals, q a qvalue; a bad value or a repeated known parameter
 * marks its offer bad (never chosen, never equal), the list still parses.
 * Offers are views into the caller's buffer.
 * Bounds: SEC_AGREE_OFFER_MAX offers a list, SEC_AGREE_PARAM_MAX parameters
 * an offer; more is EOVERFLOW.
 * Errors: 0; EBADMSG malformed syntax (no mechanism name, an empty value,
 * an unterminated quote, a stray character); EOVERFLOW too many offers or
 * parameters (the offers before stay in the list); ENOENT nothing
 * acceptable; ENOSPC output too small; EACCES a Security-Verify that
 * differs.
 */
#ifndef IPSEC_SEC_AGREE_H
#define IPSEC_SEC_AGREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pl.h"
#include "ipsec/esp.h"

#define SEC_AGREE_OFFER_MAX 16
#define SEC_AGREE_PARAM_MAX 24
#define SEC_AGREE_MECH_IPSEC "ipsec-3gpp"
#define SEC_AGREE_VALUE_MAX 256 /* longest Security-Server value we print */

enum sec_prot { SEC_PROT_ESP = 0, SEC_PROT_AH, SEC_PROT_OTHER };
enum sec_mod { SEC_MOD_TRANS = 0, SEC_MOD_TUN, SEC_MOD_UDP_ENC_TUN, SEC_MOD_OTHER };

/* Which parameters an offer carried. */
#define SEC_HAS_ALG 0x01u
#define SEC_HAS_EALG 0x02u
#define SEC_HAS_SPI_C 0x04u
#define SEC_HAS_SPI_S 0x08u
#define SEC_HAS_PORT_C 0x10u
#define SEC_HAS_PORT_S 0x20u
#define SEC_HAS_Q 0x40u
#define SEC_HAS_PROT 0x80u /* absent reads esp: not compared */
#define SEC_HAS_MOD 0x100u /* absent reads trans: not compared */
#define SEC_HAS_IPSEC_ALL                                                              \
	(SEC_HAS_ALG | SEC_HAS_SPI_C | SEC_HAS_SPI_S | SEC_HAS_PORT_C | SEC_HAS_PORT_S)

struct sec_offer {
	struct pl mech;      /* borrowed: "ipsec-3gpp", "tls", "digest"... */
	struct pl alg_name;  /* borrowed, as written (empty if absent) */
	struct pl ealg_name; /* borrowed, as written (empty if absent) */
	bool ipsec;          /* mech is ipsec-3gpp */
	bool alg_known;      /* alg_name names an esp_aalg */
	bool ealg_known;     /* ealg absent, or names an esp_ealg */
	enum esp_aalg aalg;
	enum esp_ealg ealg;
	enum sec_prot prot;
	enum sec_mod mod;
	uint32_t spi_c, spi_s;
	uint16_t port_c, port_s;
	uint16_t q; /* qvalue x 1000; 0 when absent */
	unsigned has; /* SEC_HAS_* */
	bool bad;     /* a known parameter repeated, valueless or out of range */
};

struct sec_list {
	struct sec_offer v[SEC_AGREE_OFFER_MAX];
	size_t n;
};

/* Append the offers of one header value to l (call once per header line). */
int sec_agree_parse(struct pl value, struct sec_list *l);

/*
 * Pick the UE's first acceptable ipsec-3gpp offer (in its order; highest q
 * first when the offers carry q): not bad, prot esp, mod trans, all of alg,
 * spi-c, spi-s, port-c, port-s present, spi-c != spi-s and port-c !=
 * port-s, alg in aalg_mask and ealg in ealg_mask
 * (bit 1u << enum esp_aalg / esp_ealg), a valid pair. ENOENT if none.
 */
int sec_agree_choose(const struct sec_list *l, uint32_t aalg_mask, uint32_t ealg_mask,
		     size_t *idx);

/* Security-Server (or -Client) value for o; always NUL-terminated. */
int sec_agree_print(const struct sec_offer *o, char *buf, size_t size);

/*
 * The Security-Server value of a 494 (RFC 3329 §2.3.1: it lists the
 * server's mechanisms): ipsec-3gpp offers without SPIs or ports (no SA is
 * being set up) that together name every algorithm of the masks, each a
 * valid pair: one per aalg (with ealg null, or its first valid ealg), then
 * one per other ealg (with the first aalg valid beside it); at most
 * ESP_AALG_COUNT + ESP_EALG_COUNT offers. ENOENT when the masks allow no
 * pair, ENOSPC when buf is short; always NUL-terminated.
 */
int sec_agree_print_ours(uint32_t aalg_mask, uint32_t ealg_mask, char *buf, size_t size);

/*
 * TS 33.203 §7.2 / RFC 3329 §2.3.1: the Security-Verify list must equal the
 * Security-Server list sent (same offers, same order, same values).
 */
int sec_agree_verify(const struct sec_list *verify, const struct sec_list *sent);
bool sec_offer_eq(const struct sec_offer *a, const struct sec_offer *b);

#endif
