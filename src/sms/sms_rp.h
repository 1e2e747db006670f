/*
 * sms/sms_rp — the relay layer of SMS (TS 24.011 §7.3, §8.2): the body of
 * an `application/vnd.3gpp.sms` MESSAGE (TS 24.341 §7.2).
 *
 * Messages: RP-DATA both directions (§7.3.1), RP-SMMA (§7.3.2), RP-ACK
 * (§7.3.3) and RP-ERROR (§7.3.4) both directions, each with its RP-Message
 * Reference; RP-DATA carries RP-Originator and RP-Destination Address
 * (§8.2.5.1/2, length in octets, BCD digits) and the RP-User-Data (§8.2.5.3,
 * the TPDU); RP-ACK and RP-ERROR may carry RP-User-Data (IEI 0x41, a
 * SUBMIT-REPORT or DELIVER-REPORT); RP-ERROR carries RP-Cause (§8.2.5.4,
 * cause value and optional diagnostic octets).
 *
 * Decoding never trusts a length: each one is checked against what is left
 * and against the IE's maximum. Malformed input returns EBADMSG and fills
 * struct sms_err (if given) with the cause of §9.3 to answer: 96 invalid
 * mandatory information (a missing, truncated or oversized mandatory IE),
 * 97 unknown message type (RP-DATA without the network's address, which
 * §7.3.1 makes mandatory, is 96 too). Octets after the last IE we know (an
 * IE of a later release: §9.3.4 says ignore it) are kept in `extra`; a
 * service that wants to refuse them answers 99. The RP-MR to answer with is in err->mr when err->mr_valid. Input shorter
 * than 2 octets has no RP-MR: §9.3.1 says ignore it.
 *
 * Decode -> encode is byte-exact for every message decode accepts.
 *
 * Ownership: struct sms_rp holds copies of the addresses and cause, and
 * views (`ud`, `extra`) into the decoded input, which the caller keeps alive
 * while it uses them. For encoding the views point at the caller's bytes.
 */
#ifndef SMS_SMS_RP_H
#define SMS_SMS_RP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sms/sms_common.h"

/* RP-Message Type Indicator, TS 24.011 §8.2.2 (3 bits). */
enum sms_rp_mti {
	SMS_RP_DATA_MO = 0,  /* RP-DATA ms -> n */
	SMS_RP_DATA_MT = 1,  /* RP-DATA n -> ms */
	SMS_RP_ACK_MO = 2,   /* RP-ACK ms -> n */
	SMS_RP_ACK_MT = 3,   /* RP-ACK n -> ms */
	SMS_RP_ERROR_MO = 4, /* RP-ERROR ms -> n */
	SMS_RP_ERROR_MT = 5, /* RP-ERROR n -> ms */
	SMS_RP_SMMA = 6,     /* RP-SMMA ms -> n */
};

#define SMS_RP_IEI_USER_DATA 0x41
/* RP address value octets (TOA + 10 BCD octets), §8.2.5.1. */
#define SMS_RP_ADDR_MAX 11
#define SMS_RP_DIAG_MAX 8
/* Largest RP message encode can write (RP-DATA with 255 octets of TPDU). */
#define SMS_RP_MAX 300

struct sms_rp {
	enum sms_rp_mti mti;
	uint8_t mr;	    /* RP-Message Reference */
	uint8_t mti_spare;  /* bits 8-4 of the MTI octet, kept (spare, 0) */
	struct sms_addr oa; /* RP-DATA: RP-Originator Address (MT: the SC) */
	struct sms_addr da; /* RP-DATA: RP-Destination Address (MO: the SC) */
	/* RP-ERROR: RP-Cause */
	uint8_t cause;	  /* cause value (7 bits) */
	bool cause_ext;	  /* bit 8 of the cause octet as received (spare) */
	uint8_t ndiag;	  /* diagnostic octets after the cause */
	uint8_t diag[SMS_RP_DIAG_MAX];
	/* RP-User-Data: mandatory in RP-DATA, optional (IEI 0x41) in ACK/ERROR */
	bool has_ud;
	const uint8_t *ud; /* the TPDU, borrowed */
	size_t ud_len;	   /* 1..255 */
	/* optional IEs after RP-User-Data that we do not interpret, borrowed */
	const uint8_t *extra;
	size_t extra_len;
};

enum sms_dir sms_rp_dir(enum sms_rp_mti mti);
/* "RP-DATA", "RP-ACK", "RP-ERROR", "RP-SMMA" */
const char *sms_rp_mti_name(enum sms_rp_mti mti);

/* Decodes one RP message; EBADMSG (err filled when not NULL). */
int sms_rp_decode(struct sms_rp *rp, const uint8_t *p, size_t len, struct sms_err *err);
/* Encodes into buf; *len = octets written. EINVAL bad field, ENOSPC. */
int sms_rp_encode(const struct sms_rp *rp, uint8_t *buf, size_t size, size_t *len);

/* Builders: the fields a service sets, the rest zero. ud may be NULL. */
void sms_rp_data_init(struct sms_rp *rp, enum sms_dir dir, uint8_t mr, const uint8_t *tpdu,
		      size_t tpdu_len);
void sms_rp_ack_init(struct sms_rp *rp, enum sms_dir dir, uint8_t mr, const uint8_t *ud,
		     size_t ud_len);
void sms_rp_error_init(struct sms_rp *rp, enum sms_dir dir, uint8_t mr, uint8_t cause,
		       const uint8_t *ud, size_t ud_len);

#endif
