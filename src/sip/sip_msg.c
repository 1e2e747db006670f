/* sip/sip_msg — message decoding and stream framing; see sip_msg.h. */
#include "sip/sip_msg.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/mem.h"
#include "sip/sip_scan.h"

struct sip_hdr_def {
	/* zero-padded, so that 8-byte loads of any part stay inside */
	char name[32];
	size_t len;
	enum sip_hdr_id id;
	bool list;
};

/* Known header names, found through sip_hdr_slot below. The list flag marks
 * headers whose grammar is `value *(COMMA value)`. */
static const struct sip_hdr_def sip_hdr_defs[] = {
	{"Accept", 6, SIP_HDR_ACCEPT, true},
	{"Accept-Contact", 14, SIP_HDR_ACCEPT_CONTACT, true},
	{"Accept-Encoding", 15, SIP_HDR_ACCEPT_ENCODING, true},
	{"Accept-Language", 15, SIP_HDR_ACCEPT_LANGUAGE, true},
	{"Alert-Info", 10, SIP_HDR_ALERT_INFO, true},
	{"Allow", 5, SIP_HDR_ALLOW, true},
	{"Allow-Events", 12, SIP_HDR_ALLOW_EVENTS, true},
	{"Authentication-Info", 19, SIP_HDR_AUTHENTICATION_INFO, false},
	{"Authorization", 13, SIP_HDR_AUTHORIZATION, false},
	{"Call-ID", 7, SIP_HDR_CALL_ID, false},
	{"Call-Info", 9, SIP_HDR_CALL_INFO, true},
	{"Contact", 7, SIP_HDR_CONTACT, true},
	{"Content-Disposition", 19, SIP_HDR_CONTENT_DISPOSITION, false},
	{"Content-Encoding", 16, SIP_HDR_CONTENT_ENCODING, true},
	{"Content-Language", 16, SIP_HDR_CONTENT_LANGUAGE, true},
	{"Content-Length", 14, SIP_HDR_CONTENT_LENGTH, false},
	{"Content-Type", 12, SIP_HDR_CONTENT_TYPE, false},
	{"CSeq", 4, SIP_HDR_CSEQ, false},
	{"Date", 4, SIP_HDR_DATE, false},
	{"Error-Info", 10, SIP_HDR_ERROR_INFO, true},
	{"Event", 5, SIP_HDR_EVENT, false},
	{"Expires", 7, SIP_HDR_EXPIRES, false},
	{"From", 4, SIP_HDR_FROM, false},
	{"Identity", 8, SIP_HDR_IDENTITY, false},
	{"In-Reply-To", 11, SIP_HDR_IN_REPLY_TO, true},
	{"Max-Forwards", 12, SIP_HDR_MAX_FORWARDS, false},
	{"MIME-Version", 12, SIP_HDR_MIME_VERSION, false},
	{"Min-Expires", 11, SIP_HDR_MIN_EXPIRES, false},
	{"Min-SE", 6, SIP_HDR_MIN_SE, false},
	{"Organization", 12, SIP_HDR_ORGANIZATION, false},
	{"P-Access-Network-Info", 21, SIP_HDR_P_ACCESS_NETWORK_INFO, true},
	{"P-Asserted-Identity", 19, SIP_HDR_P_ASSERTED_IDENTITY, true},
	{"P-Associated-URI", 16, SIP_HDR_P_ASSOCIATED_URI, true},
	{"P-Called-Party-ID", 17, SIP_HDR_P_CALLED_PARTY_ID, false},
	{"P-Charging-Function-Addresses", 29, SIP_HDR_P_CHARGING_FUNCTION_ADDRESSES, false},
	{"P-Charging-Vector", 17, SIP_HDR_P_CHARGING_VECTOR, false},
	{"P-Preferred-Identity", 20, SIP_HDR_P_PREFERRED_IDENTITY, true},
	{"P-Visited-Network-ID", 20, SIP_HDR_P_VISITED_NETWORK_ID, true},
	{"Path", 4, SIP_HDR_PATH, true},
	{"Priority", 8, SIP_HDR_PRIORITY, false},
	{"Privacy", 7, SIP_HDR_PRIVACY, false},
	{"Proxy-Authenticate", 18, SIP_HDR_PROXY_AUTHENTICATE, false},
	{"Proxy-Authorization", 19, SIP_HDR_PROXY_AUTHORIZATION, false},
	{"Proxy-Require", 13, SIP_HDR_PROXY_REQUIRE, true},
	{"RAck", 4, SIP_HDR_RACK, false},
	{"Reason", 6, SIP_HDR_REASON, true},
	{"Record-Route", 12, SIP_HDR_RECORD_ROUTE, true},
	{"Refer-To", 8, SIP_HDR_REFER_TO, false},
	{"Referred-By", 11, SIP_HDR_REFERRED_BY, false},
	{"Reject-Contact", 14, SIP_HDR_REJECT_CONTACT, true},
	{"Reply-To", 8, SIP_HDR_REPLY_TO, false},
	{"Request-Disposition", 19, SIP_HDR_REQUEST_DISPOSITION, true},
	{"Require", 7, SIP_HDR_REQUIRE, true},
	{"Retry-After", 11, SIP_HDR_RETRY_AFTER, false},
	{"Route", 5, SIP_HDR_ROUTE, true},
	{"RSeq", 4, SIP_HDR_RSEQ, false},
	{"Security-Client", 15, SIP_HDR_SECURITY_CLIENT, true},
	{"Security-Server", 15, SIP_HDR_SECURITY_SERVER, true},
	{"Security-Verify", 15, SIP_HDR_SECURITY_VERIFY, true},
	{"Server", 6, SIP_HDR_SERVER, false},
	{"Service-Route", 13, SIP_HDR_SERVICE_ROUTE, true},
	{"Session-Expires", 15, SIP_HDR_SESSION_EXPIRES, false},
	{"Subject", 7, SIP_HDR_SUBJECT, false},
	{"Subscription-State", 18, SIP_HDR_SUBSCRIPTION_STATE, false},
	{"Supported", 9, SIP_HDR_SUPPORTED, true},
	{"Timestamp", 9, SIP_HDR_TIMESTAMP, false},
	{"To", 2, SIP_HDR_TO, false},
	{"Unsupported", 11, SIP_HDR_UNSUPPORTED, true},
	{"User-Agent", 10, SIP_HDR_USER_AGENT, false},
	{"Via", 3, SIP_HDR_VIA, true},
	{"Warning", 7, SIP_HDR_WARNING, true},
	{"WWW-Authenticate", 16, SIP_HDR_WWW_AUTHENTICATE, false},
};

/* Compact forms (RFC 3261 §7.3.3 and the RFCs that define them). */
static const enum sip_hdr_id sip_hdr_compact[26] = {
	['a' - 'a'] = SIP_HDR_ACCEPT_CONTACT,
	['u' - 'a'] = SIP_HDR_ALLOW_EVENTS,
	['i' - 'a'] = SIP_HDR_CALL_ID,
	['m' - 'a'] = SIP_HDR_CONTACT,
	['e' - 'a'] = SIP_HDR_CONTENT_ENCODING,
	['l' - 'a'] = SIP_HDR_CONTENT_LENGTH,
	['c' - 'a'] = SIP_HDR_CONTENT_TYPE,
	['o' - 'a'] = SIP_HDR_EVENT,
	['f' - 'a'] = SIP_HDR_FROM,
	['y' - 'a'] = SIP_HDR_IDENTITY,
	['r' - 'a'] = SIP_HDR_REFER_TO,
	['b' - 'a'] = SIP_HDR_REFERRED_BY,
	['j' - 'a'] = SIP_HDR_REJECT_CONTACT,
	['d' - 'a'] = SIP_HDR_REQUEST_DISPOSITION,
	['x' - 'a'] = SIP_HDR_SESSION_EXPIRES,
	['s' - 'a'] = SIP_HDR_SUBJECT,
	['k' - 'a'] = SIP_HDR_SUPPORTED,
	['t' - 'a'] = SIP_HDR_TO,
	['v' - 'a'] = SIP_HDR_VIA,
};

static const char *const sip_hdr_names[SIP_HDR_COUNT] = {
	[SIP_HDR_ACCEPT] = "Accept",
	[SIP_HDR_ACCEPT_CONTACT] = "Accept-Contact",
	[SIP_HDR_ACCEPT_ENCODING] = "Accept-Encoding",
	[SIP_HDR_ACCEPT_LANGUAGE] = "Accept-Language",
	[SIP_HDR_ALERT_INFO] = "Alert-Info",
	[SIP_HDR_ALLOW] = "Allow",
	[SIP_HDR_ALLOW_EVENTS] = "Allow-Events",
	[SIP_HDR_AUTHENTICATION_INFO] = "Authentication-Info",
	[SIP_HDR_AUTHORIZATION] = "Authorization",
	[SIP_HDR_CALL_ID] = "Call-ID",
	[SIP_HDR_CALL_INFO] = "Call-Info",
	[SIP_HDR_CONTACT] = "Contact",
	[SIP_HDR_CONTENT_DISPOSITION] = "Content-Disposition",
	[SIP_HDR_CONTENT_ENCODING] = "Content-Encoding",
	[SIP_HDR_CONTENT_LANGUAGE] = "Content-Language",
	[SIP_HDR_CONTENT_LENGTH] = "Content-Length",
	[SIP_HDR_CONTENT_TYPE] = "Content-Type",
	[SIP_HDR_CSEQ] = "CSeq",
	[SIP_HDR_DATE] = "Date",
	[SIP_HDR_ERROR_INFO] = "Error-Info",
	[SIP_HDR_EVENT] = "Event",
	[SIP_HDR_EXPIRES] = "Expires",
	[SIP_HDR_FROM] = "From",
	[SIP_HDR_IDENTITY] = "Identity",
	[SIP_HDR_IN_REPLY_TO] = "In-Reply-To",
	[SIP_HDR_MAX_FORWARDS] = "Max-Forwards",
	[SIP_HDR_MIME_VERSION] = "MIME-Version",
	[SIP_HDR_MIN_EXPIRES] = "Min-Expires",
	[SIP_HDR_MIN_SE] = "Min-SE",
	[SIP_HDR_ORGANIZATION] = "Organization",
	[SIP_HDR_P_ACCESS_NETWORK_INFO] = "P-Access-Network-Info",
	[SIP_HDR_P_ASSERTED_IDENTITY] = "P-Asserted-Identity",
	[SIP_HDR_P_ASSOCIATED_URI] = "P-Associated-URI",
	[SIP_HDR_P_CALLED_PARTY_ID] = "P-Called-Party-ID",
	[SIP_HDR_P_CHARGING_FUNCTION_ADDRESSES] = "P-Charging-Function-Addresses",
	[SIP_HDR_P_CHARGING_VECTOR] = "P-Charging-Vector",
	[SIP_HDR_P_PREFERRED_IDENTITY] = "P-Preferred-Identity",
	[SIP_HDR_P_VISITED_NETWORK_ID] = "P-Visited-Network-ID",
	[SIP_HDR_PATH] = "Path",
	[SIP_HDR_PRIORITY] = "Priority",
	[SIP_HDR_PRIVACY] = "Privacy",
	[SIP_HDR_PROXY_AUTHENTICATE] = "Proxy-Authenticate",
	[SIP_HDR_PROXY_AUTHORIZATION] = "Proxy-Authorization",
	[SIP_HDR_PROXY_REQUIRE] = "Proxy-Require",
	[SIP_HDR_RACK] = "RAck",
	[SIP_HDR_REASON] = "Reason",
	[SIP_HDR_RECORD_ROUTE] = "Record-Route",
	[SIP_HDR_REFER_TO] = "Refer-To",
	[SIP_HDR_REFERRED_BY] = "Referred-By",
	[SIP_HDR_REJECT_CONTACT] = "Reject-Contact",
	[SIP_HDR_REPLY_TO] = "Reply-To",
	[SIP_HDR_REQUEST_DISPOSITION] = "Request-Disposition",
	[SIP_HDR_REQUIRE] = "Require",
	[SIP_HDR_RETRY_AFTER] = "Retry-After",
	[SIP_HDR_ROUTE] = "Route",
	[SIP_HDR_RSEQ] = "RSeq",
	[SIP_HDR_SECURITY_CLIENT] = "Security-Client",
	[SIP_HDR_SECURITY_SERVER] = "Security-Server",
	[SIP_HDR_SECURITY_VERIFY] = "Security-Verify",
	[SIP_HDR_SERVER] = "Server",
	[SIP_HDR_SERVICE_ROUTE] = "Service-Route",
	[SIP_HDR_SESSION_EXPIRES] = "Session-Expires",
	[SIP_HDR_SUBJECT] = "Subject",
	[SIP_HDR_SUBSCRIPTION_STATE] = "Subscription-State",
	[SIP_HDR_SUPPORTED] = "Supported",
	[SIP_HDR_TIMESTAMP] = "Timestamp",
	[SIP_HDR_TO] = "To",
	[SIP_HDR_UNSUPPORTED] = "Unsupported",
	[SIP_HDR_USER_AGENT] = "User-Agent",
	[SIP_HDR_VIA] = "Via",
	[SIP_HDR_WARNING] = "Warning",
	[SIP_HDR_WWW_AUTHENTICATE] = "WWW-Authenticate",
};

static const bool sip_hdr_list[SIP_HDR_COUNT] = {
	[SIP_HDR_ACCEPT] = true,
	[SIP_HDR_ACCEPT_CONTACT] = true,
	[SIP_HDR_ACCEPT_ENCODING] = true,
	[SIP_HDR_ACCEPT_LANGUAGE] = true,
	[SIP_HDR_ALERT_INFO] = true,
	[SIP_HDR_ALLOW] = true,
	[SIP_HDR_ALLOW_EVENTS] = true,
	[SIP_HDR_CALL_INFO] = true,
	[SIP_HDR_CONTACT] = true,
	[SIP_HDR_CONTENT_ENCODING] = true,
	[SIP_HDR_CONTENT_LANGUAGE] = true,
	[SIP_HDR_ERROR_INFO] = true,
	[SIP_HDR_IN_REPLY_TO] = true,
	[SIP_HDR_P_ACCESS_NETWORK_INFO] = true,
	[SIP_HDR_P_ASSERTED_IDENTITY] = true,
	[SIP_HDR_P_ASSOCIATED_URI] = true,
	[SIP_HDR_P_PREFERRED_IDENTITY] = true,
	[SIP_HDR_P_VISITED_NETWORK_ID] = true,
	[SIP_HDR_PATH] = true,
	[SIP_HDR_PROXY_REQUIRE] = true,
	[SIP_HDR_REASON] = true,
	[SIP_HDR_RECORD_ROUTE] = true,
	[SIP_HDR_REJECT_CONTACT] = true,
	[SIP_HDR_REQUEST_DISPOSITION] = true,
	[SIP_HDR_REQUIRE] = true,
	[SIP_HDR_ROUTE] = true,
	[SIP_HDR_SECURITY_CLIENT] = true,
	[SIP_HDR_SECURITY_SERVER] = true,
	[SIP_HDR_SECURITY_VERIFY] = true,
	[SIP_HDR_SERVICE_ROUTE] = true,
	[SIP_HDR_SUPPORTED] = true,
	[SIP_HDR_UNSUPPORTED] = true,
	[SIP_HDR_VIA] = true,
	[SIP_HDR_WARNING] = true,
};

/* Header names are looked up by a hash of their first and last eight bytes
 * (case folded with |0x20), their length and one multiplication, whose top
 * byte indexes sip_hdr_slot: a constant number of steps per name, however
 * long. The multiplier was searched offline so that the names above land
 * in distinct slots; one compare confirms. Adding a name means searching a
 * new multiplier and regenerating the table (test_sip_fast checks every
 * name). */
#define SIP_HDR_HASH_K 0x0ee45df783126401ull

/* 1 + index into sip_hdr_defs, 0 for an empty slot. */
static const uint8_t sip_hdr_slot[256] = {
	 0, 31,  4,  0,  0,  0,  0,  0,  0, 37, 28, 47,  6,  0, 10,  0,
	36,  0,  0, 70,  0,  0,  2,  0,  0,  0,  0,  0, 66,  0,  0,  0,
	43, 59,  0, 71,  0,  3,  0,  0,  0,  0,  0,  0, 57,  0,  0, 45,
	 0,  0, 62, 20,  0, 11,  0,  0,  0, 40,  0,  0, 50,  0,  0,  0,
	 0,  0,  0,  0, 52,  0,  0,  0,  0,  0, 41,  0,  0,  0,  0, 61,
	 0,  0,  0, 54,  0, 32, 24, 33, 19,  0, 69,  0,  0,  0,  0, 46,
	 0,  0,  0,  0, 49,  0,  0,  0, 39,  0,  0,  0,  0, 26,  0,  0,
	 0,  0,  0,  0, 12,  7, 64,  0,  0,  0,  0,  0,  0,  0,  0,  0,
	 8,  0,  0,  0,  0,  0, 23, 35,  0,  0,  0,  0,  0,  0, 48,  0,
	 0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0,  0, 51, 38,
	 0,  0,  0, 72,  0, 58,  0,  0,  0,  0, 21,  0,  0,  0,  0,  0,
	 0,  0,  0,  0,  0,  0, 63, 34,  0,  0,  0, 25, 60,  0,  0,  0,
	55,  0,  0,  0,  0,  0, 56, 27, 30,  0,  0,  0, 13, 42,  0,  0,
	 0,  0, 15,  0,  0,  0,  0,  0, 16,  0,  9,  0,  0,  0,  0, 17,
	 0,  0, 67,  0,  0,  0, 68, 18, 53, 29,  0,  0, 22,  5, 44,  0,
	 0,  0,  0,  0,  0,  0, 14, 65,  0,  1,  0,  0,  0,  0,  0,  0,
};

static inline unsigned char sip_lc(char c)
{
	unsigned char u = (unsigned char)c;

	return u >= 'A' && u <= 'Z' ? (unsigned char)(u + 32) : u;
}

static inline uint64_t sip_ld64le(const char *p)
{
	uint64_t x;

	memcpy(&x, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return x;
}

/* A name's hash inputs: its first and last eight bytes case folded (k2 is
 * 0 below eight bytes; k1 then holds the name alone), and its slot. */
struct sip_hdr_key {
	uint64_t k1, k2;
	unsigned slot;
};

#define SIP_HDR_FOLD 0x2020202020202020ull

/* Key of a name of l >= 2 bytes at p; bytes up to e may be read. */
static inline void sip_hdr_key_get(const char *p, size_t l, const char *e,
				   struct sip_hdr_key *k)
{
	uint64_t k2r = 0;

	k->k2 = 0;
	if (l >= 8) {
		k->k1 = sip_ld64le(p) | SIP_HDR_FOLD;
		k->k2 = sip_ld64le(p + l - 8) | SIP_HDR_FOLD;
		k2r = k->k2 << 17 | k->k2 >> 47;
	} else {
		if (e - p >= 8) {
			k->k1 = sip_ld64le(p);
		} else {
			char b[8] = {0};

			memcpy(b, p, l);
			k->k1 = sip_ld64le(b);
		}
		k->k1 = (k->k1 | SIP_HDR_FOLD) & (((uint64_t)1 << (8 * l)) - 1);
	}
	k->slot = (unsigned)(((k->k1 ^ k2r ^ l) * SIP_HDR_HASH_K) >> 56);
}

/* The id of a name of two or more bytes with key k, SIP_HDR_OTHER if
 * unknown. Folding with |0x20 is exact on tokens: no token byte but the
 * other case of a letter folds onto a byte of a known name (outside tokens
 * only CR does: it folds onto '-'). The key covers
 * the first and last eight bytes: only names over 16 bytes compare more. */
static enum sip_hdr_id sip_hdr_id_keyed(struct pl name, const struct sip_hdr_key *k)
{
	const struct sip_hdr_def *d;
	unsigned i = sip_hdr_slot[k->slot & 0xff];

	if (!i)
		return SIP_HDR_OTHER;
	d = &sip_hdr_defs[i - 1];
	if (d->len != name.l)
		return SIP_HDR_OTHER;
	if (name.l < 8) {
		uint64_t mask = ((uint64_t)1 << (8 * name.l)) - 1;

		return ((sip_ld64le(d->name) | SIP_HDR_FOLD) & mask) == k->k1 ? d->id
									: SIP_HDR_OTHER;
	}
	if ((sip_ld64le(d->name) | SIP_HDR_FOLD) != k->k1 ||
	    (sip_ld64le(d->name + name.l - 8) | SIP_HDR_FOLD) != k->k2)
		return SIP_HDR_OTHER;
	for (size_t off = 8; off + 8 < name.l; off += 8) {
		if ((sip_ld64le(name.p + off) | SIP_HDR_FOLD) !=
		    (sip_ld64le(d->name + off) | SIP_HDR_FOLD))
			return SIP_HDR_OTHER;
	}
	return d->id;
}

/* A compact (one-letter) name. */
static inline enum sip_hdr_id sip_hdr_id_compact(char c)
{
	unsigned u = sip_lc(c);

	return u >= 'a' && u <= 'z' ? sip_hdr_compact[u - 'a'] : SIP_HDR_OTHER;
}

enum sip_hdr_id sip_hdr_id_from_name(struct pl name)
{
	struct sip_hdr_key k;

	/* every known name is a token */
	for (size_t i = 0; i < name.l; i++) {
		if (!sip_c_is(name.p[i], SIP_C_TOKEN))
			return SIP_HDR_OTHER;
	}
	if (name.l < 2)
		return name.l ? sip_hdr_id_compact(name.p[0]) : SIP_HDR_OTHER;
	sip_hdr_key_get(name.p, name.l, name.p + name.l, &k);
	return sip_hdr_id_keyed(name, &k);
}

const char *sip_hdr_name(enum sip_hdr_id id)
{
	if ((unsigned)id >= SIP_HDR_COUNT || !sip_hdr_names[id])
		return "";
	return sip_hdr_names[id];
}

bool sip_hdr_is_list(enum sip_hdr_id id)
{
	return (unsigned)id < SIP_HDR_COUNT && sip_hdr_list[id];
}

static const char *const sip_method_names[] = {
	[SIP_METHOD_OTHER] = "",	   [SIP_METHOD_ACK] = "ACK",
	[SIP_METHOD_BYE] = "BYE",	   [SIP_METHOD_CANCEL] = "CANCEL",
	[SIP_METHOD_INFO] = "INFO",	   [SIP_METHOD_INVITE] = "INVITE",
	[SIP_METHOD_MESSAGE] = "MESSAGE",   [SIP_METHOD_NOTIFY] = "NOTIFY",
	[SIP_METHOD_OPTIONS] = "OPTIONS",   [SIP_METHOD_PRACK] = "PRACK",
	[SIP_METHOD_PUBLISH] = "PUBLISH",   [SIP_METHOD_REFER] = "REFER",
	[SIP_METHOD_REGISTER] = "REGISTER", [SIP_METHOD_SUBSCRIBE] = "SUBSCRIBE",
	[SIP_METHOD_UPDATE] = "UPDATE",
};

static const uint8_t sip_method_lens[] = {
	[SIP_METHOD_ACK] = 3,	   [SIP_METHOD_BYE] = 3,      [SIP_METHOD_CANCEL] = 6,
	[SIP_METHOD_INFO] = 4,	   [SIP_METHOD_INVITE] = 6,   [SIP_METHOD_MESSAGE] = 7,
	[SIP_METHOD_NOTIFY] = 6,   [SIP_METHOD_OPTIONS] = 7,  [SIP_METHOD_PRACK] = 5,
	[SIP_METHOD_PUBLISH] = 7,  [SIP_METHOD_REFER] = 5,    [SIP_METHOD_REGISTER] = 8,
	[SIP_METHOD_SUBSCRIBE] = 9, [SIP_METHOD_UPDATE] = 6,
};

/* Methods are case-sensitive (RFC 3261 §7.1). The candidate is picked by
 * length and first byte, then compared whole. */
enum sip_method sip_method_from_pl(struct pl m)
{
	enum sip_method c = SIP_METHOD_OTHER;

	if (!m.p || m.l < 3 || m.l > 9)
		return SIP_METHOD_OTHER;
	switch (m.p[0]) {
	case 'A': c = SIP_METHOD_ACK; break;
	case 'B': c = SIP_METHOD_BYE; break;
	case 'C': c = SIP_METHOD_CANCEL; break;
	case 'I': c = m.l == 4 ? SIP_METHOD_INFO : SIP_METHOD_INVITE; break;
	case 'M': c = SIP_METHOD_MESSAGE; break;
	case 'N': c = SIP_METHOD_NOTIFY; break;
	case 'O': c = SIP_METHOD_OPTIONS; break;
	case 'P': c = m.l == 5 ? SIP_METHOD_PRACK : SIP_METHOD_PUBLISH; break;
	case 'R': c = m.l == 5 ? SIP_METHOD_REFER : SIP_METHOD_REGISTER; break;
	case 'S': c = SIP_METHOD_SUBSCRIBE; break;
	case 'U': c = SIP_METHOD_UPDATE; break;
	default: return SIP_METHOD_OTHER;
	}
	if (sip_method_lens[c] != m.l || memcmp(m.p, sip_method_names[c], m.l) != 0)
		return SIP_METHOD_OTHER;
	return c;
}

const char *sip_method_name(enum sip_method m)
{
	if ((size_t)m >= sizeof(sip_method_names) / sizeof(sip_method_names[0]))
		return "";
	return sip_method_names[m];
}

static void sip_msg_destroy(void *data)
{
	struct sip_msg *msg = data;

	if (msg->hdrv != msg->hdr_inline)
		free(msg->hdrv);
	mem_deref(msg->mem);
}

/* Starts with "SIP/", the letters in any case (no locale, no call). */
static inline bool sip_is_sip_slash(const char *p, size_t l)
{
	return l >= 4 && (p[0] | 0x20) == 's' && (p[1] | 0x20) == 'i' &&
	       (p[2] | 0x20) == 'p' && p[3] == '/';
}

/* SIP-Version = "SIP" "/" 1*DIGIT "." 1*DIGIT, at most 3 digits each. */
static int sip_ver_parse(struct sip_msg *msg, struct pl v)
{
	size_t i = 4;
	unsigned n[2] = {0, 0};

	if (v.l < 7 || !sip_is_sip_slash(v.p, v.l))
		return EBADMSG;
	for (int k = 0; k < 2; k++) {
		size_t d0 = i;

		while (i < v.l && v.p[i] >= '0' && v.p[i] <= '9' && i - d0 < 4)
			n[k] = n[k] * 10 + (unsigned)(v.p[i++] - '0');
		if (i == d0 || i - d0 > 3)
			return EBADMSG;
		if (k == 0) {
			if (i >= v.l || v.p[i] != '.')
				return EBADMSG;
			i++;
		}
	}
	if (i != v.l)
		return EBADMSG;
	msg->ver = v;
	msg->ver_major = n[0];
	msg->ver_minor = n[1];
	return 0;
}

/* Whether [p, p + n) holds a control character (below 0x20, or DEL). */
static bool sip_has_ctl(const char *p, size_t n)
{
	const char *e = p + n;

#if defined(__SSE2__)
	const __m128i c1f = _mm_set1_epi8(0x1f), del = _mm_set1_epi8(0x7f);

	for (; e - p >= 16; p += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);

		if (_mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(_mm_min_epu8(x, c1f), x),
						   _mm_cmpeq_epi8(x, del))))
			return true;
	}
#endif
	for (; p < e; p++) {
		unsigned char c = (unsigned char)*p;

		if (c < 0x20 || c == 0x7f)
			return true;
	}
	return false;
}

/* Request-Line = Method SP Request-URI SP SIP-Version (exactly one SP each).
 * Extra or trailing spaces, or spaces inside the URI (RFC 4475 §3.1.2.8-10),
 * still decode, with bad_start set, so that a 400 can be answered. */
static int sip_start_req(struct sip_msg *msg, struct pl line)
{
	struct sip_scan s;
	const char *ve, *vs;
	struct pl uri;

	sip_scan_init(&s, line);
	if (sip_scan_token(&s, &msg->method) || sip_scan_peek(&s) != ' ')
		return EBADMSG;
	if (sip_has_ctl(line.p, line.l))
		return EBADMSG;
	ve = s.e;
	while (ve > s.p && ve[-1] == ' ')
		ve--;
	vs = ve;
	while (vs > s.p && vs[-1] != ' ')
		vs--;
	if (vs <= s.p)
		return EBADMSG;
	uri = sip_pl_trim((struct pl){s.p, (size_t)(vs - s.p)});
	if (!uri.l)
		return EBADMSG;
	msg->bad_start = ve != s.e || uri.p != s.p + 1 || uri.p + uri.l + 1 != vs ||
			 memchr(uri.p, ' ', uri.l) != NULL;
	msg->ruri = uri;
	msg->meth = sip_method_from_pl(msg->method);
	msg->req = true;
	return sip_ver_parse(msg, (struct pl){vs, (size_t)(ve - vs)});
}

/* Status-Line = SIP-Version SP Status-Code SP Reason-Phrase. */
static int sip_start_resp(struct sip_msg *msg, struct pl line)
{
	const char *sp = memchr(line.p, ' ', line.l);
	const char *e = line.p + line.l;
	const char *c;
	unsigned code = 0;

	if (!sp || sip_ver_parse(msg, (struct pl){line.p, (size_t)(sp - line.p)}))
		return EBADMSG;
	c = sp + 1;
	if (e - c < 3)
		return EBADMSG;
	for (int i = 0; i < 3; i++) {
		if (c[i] < '0' || c[i] > '9')
			return EBADMSG;
		code = code * 10 + (unsigned)(c[i] - '0');
	}
	c += 3;
	if (code < 100 || code > 699)
		return EBADMSG;
	/* RFC 4475 §3.1.1.13: the reason phrase may be empty */
	if (c < e && *c != ' ')
		return EBADMSG;
	if (c < e)
		c++;
	for (const char *q = c; q < e; q++) {
		unsigned char ch = (unsigned char)*q;

		if ((ch < 0x20 && ch != '\t') || ch == 0x7f)
			return EBADMSG;
	}
	msg->scode = (uint16_t)code;
	msg->reason = (struct pl){c, (size_t)(e - c)};
	return 0;
}

static int sip_start_parse(struct sip_msg *msg, const char **pp, const char *e)
{
	const char *p = *pp;
	const char *lim = (size_t)(e - p) > SIP_MAX_LINE ? p + SIP_MAX_LINE : e;
	const char *q = sip_find_crlf(p, lim);
	struct pl line;

	if (q + 1 >= e || q[0] != '\r' || q[1] != '\n')
		return EBADMSG;
	line = (struct pl){p, (size_t)(q - p)};
	msg->start = line;
	*pp = q + 2;
	if (sip_is_sip_slash(line.p, line.l))
		return sip_start_resp(msg, line);
	return sip_start_req(msg, line);
}

/* Finds the end of one logical header line (folding joined) that starts
 * at p; the search may begin later, at q. Returns the position of its final
 * CRLF in *crlf, EBADMSG on a bare CR/LF or missing end, E2BIG over
 * SIP_MAX_LINE. */
static int sip_line_end(const char *p, const char *q, const char *e, const char **crlf)
{
	for (;;) {
		const char *cr = sip_find_crlf(q, e);

		if (cr + 1 >= e || cr[0] != '\r' || cr[1] != '\n')
			return EBADMSG;
		if ((size_t)(cr - p) > SIP_MAX_LINE)
			return E2BIG;
		/* need the byte after CRLF to know whether the line is folded */
		if (cr + 2 >= e)
			return EBADMSG;
		if (cr[2] != ' ' && cr[2] != '\t') {
			*crlf = cr;
			return 0;
		}
		q = cr + 2;
	}
}

/* Decoding state: the tail entry of each id, for the next links. */
struct sip_dec {
	struct sip_msg *msg;
	int16_t last[SIP_HDR_COUNT];
};

static inline int sip_hdr_push(struct sip_dec *d, struct sip_hdr *h)
{
	struct sip_msg *msg = d->msg;
	size_t i = msg->hdrc;

	if (i >= SIP_MAX_HDRS)
		return E2BIG;
	if (i == SIP_MSG_HDRS_INLINE) {
		struct sip_hdr *v = malloc(SIP_MAX_HDRS * sizeof(*v));

		if (!v)
			return ENOMEM;
		memcpy(v, msg->hdr_inline, sizeof(msg->hdr_inline));
		msg->hdrv = v;
	}
	h->next = -1;
	if (msg->first[h->id] < 0)
		msg->first[h->id] = (int16_t)i;
	else /* first[id] set means last[id] was set with it */
		// NOLINTNEXTLINE(clang-analyzer-core.uninitialized.ArraySubscript)
		msg->hdrv[d->last[h->id]].next = (int16_t)i;
	d->last[h->id] = (int16_t)i;
	msg->count[h->id]++;
	msg->hdrv[i] = *h;
	msg->hdrc = i + 1;
	return 0;
}

/* First ',', '"' or '<' in [p, e), or e. 16 bytes per step with SSE2;
 * bytes up to lim (>= e, inside the message) may be read, so a short value
 * is one masked step too. */
static inline const char *sip_find_split(const char *p, const char *e, const char *lim)
{
#if defined(__SSE2__)
	const __m128i cm = _mm_set1_epi8(','), dq = _mm_set1_epi8('"'),
		      la = _mm_set1_epi8('<');

	for (; p < e && lim - p >= 16; p += 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)(const void *)p);
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_or_si128(
		    _mm_cmpeq_epi8(x, cm), _mm_or_si128(_mm_cmpeq_epi8(x, dq),
							_mm_cmpeq_epi8(x, la))));

		if (e - p < 16)
			m &= (1u << (e - p)) - 1;
		if (m)
			return p + __builtin_ctz(m);
	}
#endif
	for (; p < e; p++) {
		if (*p == ',' || *p == '"' || *p == '<')
			return p;
	}
	return e;
}

/* Splits a list header value on commas outside quotes and <>. Commas met
 * before any '"' or '<' split directly (one vector search per entry); from
 * the entry holding the first '"' or '<' on, a byte loop tracks quotes and
 * brackets. Entries start outside both, so the loop may start there. */
static int sip_hdr_split(struct sip_dec *d, struct sip_hdr *h, struct pl val,
			 const char *lim)
{
	const char *p, *e = val.p + val.l, *s = val.p;
	bool inq = false, ina = false;
	int err;

	for (;;) {
		const char *c = sip_find_split(s, e, lim);

		/* the end, or a '"' or '<' with no comma after it: the rest is
		 * one entry */
		if (c == e || (*c != ',' && !memchr(c, ',', (size_t)(e - c)))) {
			h->val = sip_pl_trim((struct pl){s, (size_t)(e - s)});
			return sip_hdr_push(d, h);
		}
		if (*c != ',')
			break;
		h->val = sip_pl_trim((struct pl){s, (size_t)(c - s)});
		err = sip_hdr_push(d, h);
		if (err)
			return err;
		s = c + 1;
	}
	for (p = s; p < e; p++) {
		if (!sip_c2_is(*p, SIP_C2_SPLIT))
			continue;
		if (inq) {
			if (*p == '\\' && p + 1 < e)
				p++;
			else if (*p == '"')
				inq = false;
			continue;
		}
		if (*p == '"')
			inq = true;
		else if (*p == '<')
			ina = true;
		else if (*p == '>')
			ina = false;
		else if (*p == ',' && !ina) {
			h->val = sip_pl_trim((struct pl){s, (size_t)(p - s)});
			err = sip_hdr_push(d, h);
			if (err)
				return err;
			s = p + 1;
		}
	}
	h->val = sip_pl_trim((struct pl){s, (size_t)(e - s)});
	return sip_hdr_push(d, h);
}

/* The name of the header line at p: up to the colon, white space before
 * it dropped. A known name is found by its key without a pass over its
 * bytes (its match proves it a token: the key's |0x20 folding could only
 * confuse a CR with '-', and the line-end search starting at p reports a
 * bare CR first); anything else is checked to be a token. *colon is NULL
 * when the line has no valid name. */
static struct pl sip_hdr_name_find(const char *p, const char *e, enum sip_hdr_id *id,
				   const char **colon)
{
	const char *c = memchr(p, ':', (size_t)(e - p)), *ne;
	struct sip_hdr_key k;
	struct pl name;

	*colon = NULL;
	*id = SIP_HDR_OTHER;
	if (!c)
		return (struct pl){p, 0};
	ne = c;
	while (ne > p && (ne[-1] == ' ' || ne[-1] == '\t'))
		ne--;
	name = (struct pl){p, (size_t)(ne - p)};
	if (!name.l)
		return name;
	if (name.l == 1) {
		*id = sip_hdr_id_compact(name.p[0]);
	} else {
		sip_hdr_key_get(p, name.l, e, &k);
		*id = sip_hdr_id_keyed(name, &k);
	}
	if (*id == SIP_HDR_OTHER) {
		for (size_t i = 0; i < name.l; i++) {
			if (!sip_c_is(name.p[i], SIP_C_TOKEN))
				return name;
		}
	}
	*colon = c;
	return name;
}

/* One header line at p. */
static int sip_hdr_line(struct sip_dec *d, const char *p, const char *e, const char **next)
{
	struct sip_msg *msg = d->msg;
	const char *q, *crlf;
	struct sip_hdr h;
	int err;

	h.name = sip_hdr_name_find(p, e, &h.id, &q);
	/* from p: a bare CR inside a name is a line fault; the line's own
	 * faults are reported before the name's */
	err = sip_line_end(p, p, e, &crlf);
	if (err)
		return err;
	if (msg->nlines >= SIP_MAX_HDRS)
		return E2BIG;
	if (!q || q > crlf)
		return EBADMSG;
	q++;
	h.line = (struct pl){p, (size_t)(crlf + 2 - p)};
	h.line_no = msg->nlines++;
	*next = crlf + 2;
	if (sip_hdr_list[h.id])
		return sip_hdr_split(d, &h, (struct pl){q, (size_t)(crlf - q)}, e);
	h.val = sip_pl_trim((struct pl){q, (size_t)(crlf - q)});
	return sip_hdr_push(d, &h);
}

static int sip_hdrs_parse(struct sip_dec *d, const char **pp, const char *e)
{
	struct sip_msg *msg = d->msg;
	const char *p = *pp;
	int err;

	msg->hdrs.p = p;
	for (;;) {
		if (e - p < 2)
			return EBADMSG;
		if (p[0] == '\r' && p[1] == '\n') {
			msg->hdrs.l = (size_t)(p - msg->hdrs.p);
			*pp = p + 2;
			return 0;
		}
		err = sip_hdr_line(d, p, e, &p);
		if (err)
			return err;
	}
}

/* Content-Length rules: RFC 3261 §18.3 (datagram: extra bytes dropped,
 * shortfall is an error) and §20.14. Faults are recorded, not fatal, so
 * that sip_check can answer 400. */
static void sip_body_set(struct sip_msg *msg, const char *p, const char *e)
{
	size_t avail = (size_t)(e - p);
	const struct sip_hdr *h = sip_msg_hdr(msg, SIP_HDR_CONTENT_LENGTH);

	msg->body = (struct pl){p, avail};
	if (!h)
		return;
	msg->clen_set = true;
	for (const struct sip_hdr *x = h; x; x = sip_msg_hdr_next(msg, x)) {
		uint32_t v;

		if (sip_pl_u32(x->val, &v)) {
			msg->clen_err = EBADMSG;
			return;
		}
		if (x == h)
			msg->clen = v;
		else if (v != msg->clen)
			msg->clen_err = EPROTO;
	}
	if (msg->clen_err)
		return;
	if (msg->clen > avail)
		msg->clen_err = ERANGE;
	else
		msg->body.l = msg->clen;
}

static size_t sip_max(const struct sip_decode_prm *prm)
{
	size_t max = prm && prm->max_size ? prm->max_size : SIP_MSG_MAX_UDP;

	return max > SIP_MSG_MAX_HARD ? SIP_MSG_MAX_HARD : max;
}

/* Decodes the len bytes at p into msg, allocated by the caller (the head of
 * the struct, msg->mem included, is cleared here). On error the caller
 * frees msg. */
static int sip_msg_parse(struct sip_msg *msg, const char *p, size_t len)
{
	struct sip_dec dec;
	const char *e = p + len;
	int err;

	/* hdr_inline (most of the struct) is written entry by entry up to
	 * hdrc and never read past it: zeroing it would cost more than the
	 * whole decode of a small request. The memo structs after it are
	 * read only where their flag (zeroed here) says they were filled. */
	memset(msg, 0, offsetof(struct sip_msg, hdr_inline));
	msg->hdrv = msg->hdr_inline;
	memset(msg->first, 0xff, sizeof(msg->first));
	dec.msg = msg;
	/* RFC 3261 §7.5: CRLFs before the start line are ignored */
	while (e - p >= 2 && p[0] == '\r' && p[1] == '\n')
		p += 2;
	msg->raw.p = p;
	err = sip_start_parse(msg, &p, e);
	if (err)
		return err;
	err = sip_hdrs_parse(&dec, &p, e);
	if (err)
		return err;
	sip_body_set(msg, p, e);
	msg->raw.l = (size_t)(msg->body.p + msg->body.l - msg->raw.p);
	return 0;
}

int sip_msg_decode(struct sip_msg **msgp, void *mem, size_t off, size_t len,
		   const struct sip_decode_prm *prm)
{
	struct sip_msg *msg;
	int err;

	if (!msgp || !mem)
		return EINVAL;
	if (len > sip_max(prm))
		return EMSGSIZE;
	msg = mem_alloc(sizeof(*msg), sip_msg_destroy);
	if (!msg)
		return ENOMEM;
	err = sip_msg_parse(msg, (const char *)mem + off, len);
	/* set after the parse, which clears the struct's head */
	msg->mem = mem_ref(mem);
	if (err)
		msg = mem_deref(msg);
	*msgp = msg;
	return err;
}

int sip_msg_decode_copy(struct sip_msg **msgp, const void *data, size_t len,
			const struct sip_decode_prm *prm)
{
	struct sip_msg *msg;
	char *bytes;
	int err;

	if (!msgp || (!data && len))
		return EINVAL;
	if (len > sip_max(prm))
		return EMSGSIZE;
	/* one allocation: the struct, then its private copy of the bytes
	 * (msg->mem stays NULL: the bytes live and die with the struct) */
	msg = mem_alloc(sizeof(*msg) + len, sip_msg_destroy);
	if (!msg)
		return ENOMEM;
	bytes = (char *)(msg + 1);
	if (len)
		memcpy(bytes, data, len);
	err = sip_msg_parse(msg, bytes, len);
	if (err)
		msg = mem_deref(msg);
	*msgp = msg;
	return err;
}

const struct sip_hdr *sip_msg_hdr(const struct sip_msg *msg, enum sip_hdr_id id)
{
	if (!msg || (unsigned)id >= SIP_HDR_COUNT || msg->first[id] < 0)
		return NULL;
	return &msg->hdrv[msg->first[id]];
}

const struct sip_hdr *sip_msg_hdr_next(const struct sip_msg *msg,
				       const struct sip_hdr *prev)
{
	if (!msg || !prev || prev < msg->hdrv || prev >= msg->hdrv + msg->hdrc)
		return NULL;
	for (const struct sip_hdr *h = prev; h->next >= 0;) {
		h = &msg->hdrv[h->next];
		/* unknown headers share one chain: match the name too */
		if (h->id != SIP_HDR_OTHER || pl_caseeq(h->name, prev->name))
			return h;
	}
	return NULL;
}

const struct sip_hdr *sip_msg_hdr_name(const struct sip_msg *msg, struct pl name)
{
	enum sip_hdr_id id = sip_hdr_id_from_name(name);

	if (id != SIP_HDR_OTHER)
		return sip_msg_hdr(msg, id);
	for (size_t i = 0; msg && i < msg->hdrc; i++) {
		if (msg->hdrv[i].id == SIP_HDR_OTHER && pl_caseeq(msg->hdrv[i].name, name))
			return &msg->hdrv[i];
	}
	return NULL;
}

size_t sip_msg_hdr_count(const struct sip_msg *msg, enum sip_hdr_id id)
{
	size_t n = 0;

	if (msg && id != SIP_HDR_OTHER && (unsigned)id < SIP_HDR_COUNT)
		return msg->count[id];

	for (const struct sip_hdr *h = sip_msg_hdr(msg, id); h; h = sip_msg_hdr_next(msg, h))
		n++;
	return n;
}

size_t sip_msg_hdr_lines(const struct sip_msg *msg, enum sip_hdr_id id)
{
	size_t n = 0;
	int last = -1;

	for (const struct sip_hdr *h = sip_msg_hdr(msg, id); h;
	     h = sip_msg_hdr_next(msg, h)) {
		if (h->line_no != last)
			n++;
		last = h->line_no;
	}
	return n;
}
