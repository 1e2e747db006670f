/*
 * sms/sms_common — what both SMS codec layers share: addresses, the decode
 * error report, transfer direction, hex helpers and the alphabets.
 *
 * The codec (sms_rp.h for TS 24.011 §7.3, sms_tpdu.h for TS 23.040 §9.2) is
 * pure: no I/O, no allocation, no globals. Everything here is plain data the
 * caller owns.
 *
 * Addresses: one struct for the RP address (TS 24.011 §8.2.5.1/2, length in
 * octets) and the TP address (TS 23.040 §9.1.2.5, length in semi-octets).
 * `val` holds the digits as text ("0-9", '*', '#', 'a', 'b', 'c' for the BCD
 * values 10-14; the filler F only ever ends an odd count) or, when the type of
 * number is alphanumeric (TP addresses only), the text in UTF-8 decoded from
 * the GSM 7-bit default alphabet.
 *
 * Errors: 0; EBADMSG malformed input (struct sms_err says what, where and
 * which cause to answer); EINVAL a field that cannot be encoded; ENOSPC the
 * caller's buffer is too small; EILSEQ text outside the wanted alphabet.
 */
#ifndef SMS_SMS_COMMON_H
#define SMS_SMS_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Who sends the message: the phone (MO, ms->n) or the network (MT, n->ms). */
enum sms_dir {
	SMS_DIR_MO = 0, /* MS -> network / SC */
	SMS_DIR_MT = 1, /* network / SC -> MS */
};

/* Type of address octet: bit 8 set, TON bits 7-5, NPI bits 4-1. */
#define SMS_TON_UNKNOWN 0
#define SMS_TON_INTERNATIONAL 1
#define SMS_TON_NATIONAL 2
#define SMS_TON_NETWORK 3
#define SMS_TON_SUBSCRIBER 4
#define SMS_TON_ALPHANUMERIC 5
#define SMS_TON_ABBREVIATED 6
#define SMS_NPI_UNKNOWN 0
#define SMS_NPI_ISDN 1 /* E.164 */
#define SMS_TOA(ton, npi) ((uint8_t)(0x80 | ((ton) & 7) << 4 | ((npi) & 15)))
#define SMS_TOA_INTERNATIONAL 0x91
#define SMS_TOA_ALNUM 0xd0

/* Longest digit string of an address (10 value octets, TS 23.040 §9.1.2.5). */
#define SMS_ADDR_DIGITS_MAX 20
/* Room for `val`: 20 digits or 11 septets of text in UTF-8 (up to 3 bytes each). */
#define SMS_ADDR_VAL_MAX 40

struct sms_addr {
	bool present;	/* RP: length octet > 0; TP: always after decode */
	uint8_t toa;	/* type of address octet as on the wire */
	uint8_t tp_len; /* TP address-length as received (semi-octets); 0 = computed */
	char val[SMS_ADDR_VAL_MAX]; /* NUL-terminated digits or alphanumeric text */
};

/*
 * Sets an address from text: "+331234" -> international/ISDN digits 331234;
 * digits (and * # a b c) -> unknown/ISDN; anything else -> alphanumeric
 * (GSM 7-bit, at most 11 septets). "" -> absent. EINVAL if it cannot be sent.
 */
int sms_addr_set(struct sms_addr *a, const char *text);
uint8_t sms_addr_ton(const struct sms_addr *a);
uint8_t sms_addr_npi(const struct sms_addr *a);
/* "+digits" for international numbers, else val; always NUL-terminated. */
void sms_addr_format(const struct sms_addr *a, char *out, size_t size);

/*
 * What a decoder found wrong. rp_cause is the TS 24.011 §8.2.5.4 cause a
 * receiver answers in RP-ERROR (table 8.4; §9.3 for the protocol errors):
 * 95 semantically incorrect message, 96 invalid mandatory information,
 * 97 message type non-existent or not implemented, 99 information element
 * non-existent or not implemented. tp_fcs is the TS 23.040 §9.2.3.22 failure
 * cause for an SMS-SUBMIT-REPORT / DELIVER-REPORT when the TPDU is at fault.
 */
struct sms_err {
	uint8_t rp_cause;
	uint8_t tp_fcs;
	bool mr_valid;	  /* RP: the message reference could be read */
	uint8_t mr;	  /* RP-Message Reference to answer with */
	uint16_t off;	  /* offset of the faulty field in the input */
	const char *what; /* static text naming the field, e.g. "TP-UDL" */
};

#define SMS_RP_CAUSE_UNASSIGNED_NUMBER 1
#define SMS_RP_CAUSE_OPERATOR_BARRING 8
#define SMS_RP_CAUSE_CALL_BARRED 10
#define SMS_RP_CAUSE_SM_REJECTED 21
#define SMS_RP_CAUSE_MEMORY_EXCEEDED 22
#define SMS_RP_CAUSE_DEST_OUT_OF_ORDER 27
#define SMS_RP_CAUSE_UNIDENTIFIED_SUBSCRIBER 28
#define SMS_RP_CAUSE_FACILITY_REJECTED 29
#define SMS_RP_CAUSE_UNKNOWN_SUBSCRIBER 30
#define SMS_RP_CAUSE_NETWORK_OUT_OF_ORDER 38
#define SMS_RP_CAUSE_TEMPORARY_FAILURE 41
#define SMS_RP_CAUSE_CONGESTION 42
#define SMS_RP_CAUSE_RESOURCES_UNAVAILABLE 47
#define SMS_RP_CAUSE_NOT_SUBSCRIBED 50
#define SMS_RP_CAUSE_NOT_IMPLEMENTED 69
#define SMS_RP_CAUSE_INVALID_MR 81
#define SMS_RP_CAUSE_SEMANTIC 95
#define SMS_RP_CAUSE_INVALID_MANDATORY 96
#define SMS_RP_CAUSE_MTI_UNKNOWN 97
#define SMS_RP_CAUSE_STATE 98
#define SMS_RP_CAUSE_IE_UNKNOWN 99
#define SMS_RP_CAUSE_PROTOCOL_ERROR 111
#define SMS_RP_CAUSE_INTERWORKING 127

/* TS 24.011 table 8.4 name of a cause ("unassigned number"), or NULL. */
const char *sms_rp_cause_name(uint8_t cause);

/* Hex <-> bytes (either case in, lower case out). EBADMSG / ENOSPC. */
int sms_hex_decode(const char *hex, size_t len, uint8_t *out, size_t size, size_t *n);
/* Writes 2*len digits and a NUL; size must be >= 2*len+1 (else ENOSPC). */
int sms_hex_encode(const uint8_t *p, size_t len, char *out, size_t size);

/* ---- alphabets (TS 23.038 §6.2.1 default alphabet and extension table) ---- */

/*
 * UTF-8 -> GSM 7-bit septets (0x1b escape + code for the extension table).
 * EILSEQ if a character has no GSM 7-bit form or the UTF-8 is invalid,
 * ENOSPC if more than `size` septets are needed.
 */
int sms_gsm7_from_utf8(const char *s, size_t len, uint8_t *sept, size_t size, size_t *n);
/* Septets -> UTF-8, always NUL-terminated; ENOSPC if cut. */
int sms_gsm7_to_utf8(const uint8_t *sept, size_t n, char *out, size_t size, size_t *len);
/* UCS2/UTF-16BE octets -> UTF-8 (surrogate pairs joined, a lone one as U+FFFD). */
int sms_ucs2_to_utf8(const uint8_t *p, size_t n, char *out, size_t size, size_t *len);
/* UTF-8 -> UTF-16BE octets (beyond the BMP as surrogate pairs). EILSEQ / ENOSPC. */
int sms_ucs2_from_utf8(const char *s, size_t len, uint8_t *out, size_t size, size_t *n);

/*
 * Septet packing (TS 23.038 §6.1.2.1.1): `fill` bits (0-6) of zero come first
 * so that septets after a user data header start on a septet boundary
 * (TS 23.040 §9.2.3.24). pack writes ceil((fill + 7n) / 8) octets.
 */
int sms_septets_pack(const uint8_t *sept, size_t n, unsigned fill, uint8_t *out, size_t size,
		     size_t *len);
/* Unpacks n septets after `fill` bits; EBADMSG if the input is too short. */
int sms_septets_unpack(const uint8_t *p, size_t len, unsigned fill, size_t n, uint8_t *sept);

#endif
