/*
 * sip/sip_hdr — typed parsers for SIP header values, called on demand on the
 * views of sip_msg.h (one value per call; list headers are already split).
 *
 * Every result is a view into the value that was parsed; quoted strings are
 * given without their quotes with any backslash escapes left in place
 * (sip_pl_unquote() resolves them). All return 0, EBADMSG if the value does
 * not match its grammar, or E2BIG over SIP_MAX_PARAMS parameters.
 *
 * Grammars: RFC 3261 §25.1 (Via, From, To, Contact, Route, Record-Route,
 * CSeq, Call-ID, Max-Forwards, Content-Length, Content-Type, Expires,
 * option tags, Allow, credentials/challenges), RFC 3327 (Path), RFC 3608
 * (Service-Route), RFC 3455 (P-Associated-URI, P-Called-Party-ID,
 * P-Access-Network-Info), RFC 3325 (P-Asserted/Preferred-Identity),
 * RFC 3581 (rport), RFC 3329 (Security-*), RFC 3262 (RSeq, RAck),
 * RFC 4028 (Session-Expires, Min-SE), RFC 6665 (Event, Subscription-State),
 * RFC 5626 (+sip.instance, reg-id), RFC 3310/4169 (auts, AKA digest),
 * TS 24.229 (integrity-protected).
 */
#ifndef SIP_SIP_HDR_H
#define SIP_SIP_HDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/pl.h"
#include "sip/sip_msg.h"
#include "sip/sip_uri.h"

/* Generic ";name[=value]" parameters as kept in the typed forms below.
 * sip_param_get: 0 and the value (quotes stripped; empty if none) or ENOENT. */
int sip_param_get(struct pl params, const char *name, struct pl *val);
bool sip_param_next(struct pl *it, struct pl *name, struct pl *val);
/* Resolves the backslash escapes of quoted-string content into out
 * (NUL-terminated). ENOSPC if it does not fit. */
int sip_pl_unquote(struct pl in, char *out, size_t size);

/* struct sip_via, sip_addr and sip_cseq are defined in sip_msg.h: a message
 * keeps its top Via, From, To and CSeq decoded once (sip_msg_via() ...). */
int sip_via_decode(struct sip_via *via, struct pl val);
/* Branch starts with the RFC 3261 magic cookie "z9hG4bK". */
bool sip_via_branch_is_3261(const struct sip_via *via);

int sip_addr_decode(struct sip_addr *addr, struct pl val);
/* Contact helpers: expires (0 / ENOENT / EBADMSG, overlarge values clamp to
 * UINT32_MAX as RFC 4475 §3.1.2.4 allows), q as thousandths (1.0 = 1000). */
int sip_addr_expires(const struct sip_addr *addr, uint32_t *expires);
int sip_addr_q(const struct sip_addr *addr, uint16_t *q1000);
/* +sip.instance value without quotes or <> (e.g. "urn:gsma:imei:..."). */
int sip_addr_instance(const struct sip_addr *addr, struct pl *instance);
int sip_addr_regid(const struct sip_addr *addr, uint32_t *reg_id);

int sip_cseq_decode(struct sip_cseq *cseq, struct pl val);

/* The top Via, the From, the To and the CSeq of msg, decoded on first use
 * and kept with the message (every layer asks for them: checks, transaction
 * matching, the registrar, response building). NULL if the header is absent
 * or malformed. From and To are the first of their kind (sip_check answers
 * 400 to a message with several). */
const struct sip_via *sip_msg_via(const struct sip_msg *msg);
const struct sip_addr *sip_msg_from(const struct sip_msg *msg);
const struct sip_addr *sip_msg_to(const struct sip_msg *msg);
const struct sip_cseq *sip_msg_cseq(const struct sip_msg *msg);

/* Call-ID = word [ "@" word ] */
int sip_callid_decode(struct pl val, struct pl *callid);
/* 1*DIGIT fitting in 32 bits (Max-Forwards: also <= 255 with max 255;
 * pass max = UINT32_MAX for no extra bound). ERANGE when too large. */
int sip_uint_decode(struct pl val, uint32_t max, uint32_t *v);
/* delta-seconds (Expires, Min-Expires, Retry-After): overlarge values clamp
 * to UINT32_MAX (RFC 4475 §3.1.2.4). */
int sip_delta_decode(struct pl val, uint32_t *v);
/* One token (option-tag of Require/Supported/Proxy-Require/Unsupported,
 * method of Allow, Privacy value ...). */
int sip_token_decode(struct pl val, struct pl *tok);

struct sip_ctype {
	struct pl type, subtype;
	struct pl params;
};
int sip_ctype_decode(struct sip_ctype *ct, struct pl val);

struct sip_event {
	struct pl package; /* "reg", "presence", "conference", ... */
	struct pl id;      /* empty if none */
	struct pl params;
};
int sip_event_decode(struct sip_event *ev, struct pl val);

struct sip_substate {
	struct pl state; /* active, pending, terminated, or extension */
	struct pl reason;
	bool expires_set;
	uint32_t expires;
	bool retry_set;
	uint32_t retry_after;
	struct pl params;
};
int sip_substate_decode(struct sip_substate *ss, struct pl val);

/* Challenges and credentials (WWW-Authenticate, Proxy-Authenticate,
 * Authorization, Proxy-Authorization; Authentication-Info has no scheme). */
struct sip_auth {
	struct pl scheme; /* "Digest" or any token */
	struct pl params; /* the comma-separated auth-params */
	struct pl username, realm, nonce, uri, response, algorithm, qop, nc,
		cnonce, opaque, auts, integrity_protected, stale, domain, nextnonce,
		rspauth;
};
int sip_auth_decode(struct sip_auth *auth, struct pl val);
int sip_authinfo_decode(struct sip_auth *auth, struct pl val);
/* Any auth-param by name (value unquoted, escapes kept). */
int sip_auth_param_get(const struct sip_auth *auth, const char *name, struct pl *val);

/* RFC 3329 Security-Client / Security-Server / Security-Verify value. */
struct sip_secmech {
	struct pl mech; /* "ipsec-3gpp", "tls", "digest", ... */
	struct pl params;
	struct pl alg, ealg, prot, mod;
	bool spi_c_set, spi_s_set, port_c_set, port_s_set, q_set;
	uint32_t spi_c, spi_s;
	uint16_t port_c, port_s;
	uint16_t q1000;
};
int sip_secmech_decode(struct sip_secmech *m, struct pl val);

/* P-Access-Network-Info (RFC 7315 §5.4): access-type *(SEMI param). */
struct sip_pani {
	struct pl access_type; /* "3GPP-E-UTRAN-FDD", "IEEE-802.11", ... */
	struct pl params;      /* utran-cell-id-3gpp, network-provided, ... */
};
int sip_pani_decode(struct sip_pani *pani, struct pl val);

struct sip_rack {
	uint32_t rseq, cseq;
	struct pl method;
};
int sip_rack_decode(struct sip_rack *rack, struct pl val);

enum sip_refresher { SIP_REFRESHER_NONE = 0, SIP_REFRESHER_UAC, SIP_REFRESHER_UAS };
struct sip_sessexp {
	uint32_t delta;
	enum sip_refresher refresher;
	struct pl params;
};
/* Session-Expires; Min-SE is sip_sessexp_decode too (refresher unset). */
int sip_sessexp_decode(struct sip_sessexp *se, struct pl val);

#endif
