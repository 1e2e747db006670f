/*
 * sip/sip_peer — proven UDP destinations and the byte budget of the others
 * (see sip_peer.h for the rules and why).
 */
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "core/hash.h"
#include "sip/sip_peer.h"

#define SIP_PEER_WAYS 4u

struct peer_proof {
	uint8_t ip[16];
	uint16_t port;
	uint8_t af; /* 0: empty */
	uint32_t seen_s;
};

struct peer_budget {
	uint8_t ip[8]; /* IPv4 address or IPv6 /64 */
	uint8_t af;    /* 0: empty */
	uint32_t tokens;
	uint64_t last_ms;
};

struct sip_peers {
	uint8_t key[16]; /* SipHash key */
	struct sip_peers_stats stats;
	struct peer_proof proof[SIP_PEER_PROOF_SETS * SIP_PEER_WAYS];
	struct peer_budget budget[SIP_PEER_BUDGET_SETS * SIP_PEER_WAYS];
};

int sip_peers_alloc(struct sip_peers **pp)
{
	struct sip_peers *p;

	if (!pp)
		return EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return ENOMEM;
	if (getrandom(p->key, sizeof(p->key), 0) != (ssize_t)sizeof(p->key)) {
		free(p);
		return EIO;
	}
	*pp = p;
	return 0;
}

void sip_peers_free(struct sip_peers *p)
{
	free(p);
}

size_t sip_peers_mem(void)
{
	return sizeof(struct sip_peers);
}

/* sa's family, address and port as the proof table keeps them; false for a
 * family other than IPv4 and IPv6. */
static bool proof_key(const struct sockaddr *sa, struct peer_proof *k)
{
	memset(k, 0, sizeof(*k));
	if (!sa)
		return false;
	if (sa->sa_family == AF_INET) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;

		memcpy(k->ip, &in->sin_addr, 4);
		k->port = in->sin_port;
	} else if (sa->sa_family == AF_INET6) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;

		memcpy(k->ip, &in6->sin6_addr, 16);
		k->port = in6->sin6_port;
	} else {
		return false;
	}
	k->af = (uint8_t)sa->sa_family;
	return true;
}

static struct peer_proof *proof_set(const struct sip_peers *p, const struct peer_proof *k)
{
	uint8_t in[19];
	uint64_t h;

	memcpy(in, k->ip, 16);
	memcpy(in + 16, &k->port, 2);
	in[18] = k->af;
	h = hash_siphash24(p->key, in, sizeof(in));
	return (struct peer_proof *)&p->proof[(h % SIP_PEER_PROOF_SETS) * SIP_PEER_WAYS];
}

static bool proof_eq(const struct peer_proof *a, const struct peer_proof *b)
{
	return a->af == b->af && a->port == b->port && !memcmp(a->ip, b->ip, 16);
}

void sip_peers_prove(struct sip_peers *p, const struct sockaddr *sa, uint64_t now_ms)
{
	struct peer_proof k, *set, *slot = NULL;

	if (!p || !proof_key(sa, &k))
		return;
	k.seen_s = (uint32_t)(now_ms / 1000);
	set = proof_set(p, &k);
	for (unsigned i = 0; i < SIP_PEER_WAYS; i++) {
		if (set[i].af && proof_eq(&set[i], &k)) {
			slot = &set[i];
			break;
		}
		/* an empty way, else the one proven longest ago */
		if (!slot || (slot->af && (!set[i].af || set[i].seen_s < slot->seen_s)))
			slot = &set[i];
	}
	*slot = k;
	p->stats.proofs++;
}

bool sip_peers_proven(const struct sip_peers *p, const struct sockaddr *sa,
		      uint64_t now_ms)
{
	struct peer_proof k;
	const struct peer_proof *set;
	uint32_t now_s = (uint32_t)(now_ms / 1000);

	if (!p || !proof_key(sa, &k))
		return false;
	set = proof_set(p, &k);
	for (unsigned i = 0; i < SIP_PEER_WAYS; i++) {
		if (set[i].af && proof_eq(&set[i], &k))
			return now_s - set[i].seen_s <= SIP_PEER_PROOF_TTL_S;
	}
	return false;
}

/* The bucket of sa's IP (IPv6: its /64), made or taken over when absent. */
static struct peer_budget *budget_get(struct sip_peers *p, const struct peer_proof *k,
				      uint64_t now_ms)
{
	struct peer_budget *set, *slot = NULL;
	uint8_t in[9];
	uint8_t ip[8] = {0};
	uint64_t h;

	memcpy(ip, k->ip, k->af == AF_INET ? 4 : 8);
	memcpy(in, ip, 8);
	in[8] = k->af;
	h = hash_siphash24(p->key, in, sizeof(in));
	set = &p->budget[(h % SIP_PEER_BUDGET_SETS) * SIP_PEER_WAYS];
	for (unsigned i = 0; i < SIP_PEER_WAYS; i++) {
		if (set[i].af == k->af && !memcmp(set[i].ip, ip, 8))
			return &set[i];
		if (!slot || (slot->af && (!set[i].af || set[i].last_ms < slot->last_ms)))
			slot = &set[i];
	}
	memcpy(slot->ip, ip, 8);
	slot->af = k->af;
	slot->tokens = SIP_PEER_BUDGET_BURST;
	slot->last_ms = now_ms;
	return slot;
}

bool sip_peers_budget_take(struct sip_peers *p, const struct sockaddr *sa, size_t len,
			   uint64_t now_ms)
{
	struct peer_budget *b;
	struct peer_proof k;
	uint64_t add;

	if (!p || !proof_key(sa, &k))
		return true; /* not a datagram address: nothing to bound here */
	b = budget_get(p, &k, now_ms);
	if (now_ms > b->last_ms) {
		add = (now_ms - b->last_ms) * SIP_PEER_BUDGET_RATE / 1000;
		if (add) {
			b->tokens = add >= SIP_PEER_BUDGET_BURST - b->tokens
					? SIP_PEER_BUDGET_BURST
					: b->tokens + (uint32_t)add;
			b->last_ms = now_ms;
		}
	}
	if (len > b->tokens) {
		p->stats.refused++;
		return false;
	}
	b->tokens -= (uint32_t)len;
	p->stats.unproven++;
	return true;
}

void sip_peers_stats_get(const struct sip_peers *p, struct sip_peers_stats *out)
{
	if (p)
		*out = p->stats;
	else
		memset(out, 0, sizeof(*out));
}
