/*
 * sip/sip_peer — which UDP destinations have shown that they receive what
 * imsd sends them, and how much imsd may send to those that have not.
 *
 * A request imsd sends over UDP (a NOTIFY, later an INVITE or a MESSAGE)
 * goes to an address that reached it as the source of an earlier datagram,
 * and UDP sources can be forged: with a valid account, a REGISTER and reg
 * SUBSCRIBEs "from" a victim's address would make imsd send the victim
 * NOTIFYs, each retransmitted until Timer F (issue 19, finding 2). So an
 * address is *proven* only when it has answered: a response that matched
 * one of imsd's client transactions sent there (the branch is unguessable),
 * or an authenticated REGISTER answering a fresh challenge that imsd sent
 * to that address (the nonce is unguessable). Until then:
 *
 *   - requests to it are sent once, without Timer A/E retransmissions
 *     (sip_tsx_ict.c, sip_tsx_nict.c); a provisional answer proves it and
 *     the NICT's retransmissions begin;
 *   - the bytes of new requests to its IP (IPv6: its /64) are bounded by a
 *     token bucket (SIP_PEER_BUDGET_BURST, then SIP_PEER_BUDGET_RATE per
 *     second); a request over it is not sent and its transaction fails with
 *     503 (ENOBUFS), which ends a reg subscription (RFC 6665 §4.2.2).
 *
 * Both tables are fixed-size and set-associative, indexed by a keyed hash
 * (SipHash with a random key per instance, so a sender cannot aim at one
 * set); a new entry replaces the set's oldest. Losing a proof costs a peer
 * only its retransmissions until it answers again; losing a bucket gives
 * an address a fresh burst, which an attacker cannot aim. Proofs expire
 * after SIP_PEER_PROOF_TTL_S without a new one.
 *
 * Pure: no I/O, time is passed in. Not thread-safe (the loop thread's).
 * docs/security.md, "Traffic amplification".
 */
#ifndef SIP_SIP_PEER_H
#define SIP_SIP_PEER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define SIP_PEER_PROOF_SETS 16384u   /* x 4 ways: proven addresses kept */
#define SIP_PEER_BUDGET_SETS 4096u   /* x 4 ways: budgets of unproven IPs */
#define SIP_PEER_PROOF_TTL_S 3600u   /* a proof lasts this long unrenewed */
#define SIP_PEER_BUDGET_BURST 16384u /* bytes to an unproven IP at once */
#define SIP_PEER_BUDGET_RATE 2048u   /* then bytes per second */

struct sip_peers;

struct sip_peers_stats {
	uint64_t proofs;   /* addresses proven (or proven again) */
	uint64_t unproven; /* requests sent once, without retransmissions */
	uint64_t refused;  /* requests not sent: over an unproven IP's budget */
};

/* ENOMEM, EIO (no random key). */
int sip_peers_alloc(struct sip_peers **pp);
void sip_peers_free(struct sip_peers *p);

/* sa (AF_INET or AF_INET6, port included) answered at now_ms. Other
 * families are ignored. */
void sip_peers_prove(struct sip_peers *p, const struct sockaddr *sa, uint64_t now_ms);
bool sip_peers_proven(const struct sip_peers *p, const struct sockaddr *sa,
		      uint64_t now_ms);
/*
 * A request of len bytes to the unproven sa: true and the bytes taken from
 * its IP's bucket (counted in stats.unproven), or false when the bucket
 * has fewer (counted in stats.refused).
 */
bool sip_peers_budget_take(struct sip_peers *p, const struct sockaddr *sa, size_t len,
			   uint64_t now_ms);
void sip_peers_stats_get(const struct sip_peers *p, struct sip_peers_stats *out);
/* Bytes the tables hold. */
size_t sip_peers_mem(void);

#endif
