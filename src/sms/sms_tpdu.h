/*
 * sms/sms_tpdu — the transfer layer of SMS (TS 23.040 §9.2): the TPDU that
 * RP-User-Data carries.
 *
 * Types (§9.2.2): SMS-DELIVER and SMS-SUBMIT, SMS-DELIVER-REPORT and
 * SMS-SUBMIT-REPORT (in RP-ACK, or in RP-ERROR with TP-FCS), SMS-STATUS-REPORT
 * and SMS-COMMAND. TP-MTI alone is ambiguous (§9.2.3.1): 00 is DELIVER from
 * the SC and DELIVER-REPORT from the MS, so decode takes the direction and
 * whether the TPDU came in an RP-ERROR.
 *
 * Fields: addresses (TON/NPI, semi-octet BCD with F filler, alphanumeric in
 * GSM 7-bit; §9.1.2.5), TP-VP relative / absolute / enhanced (§9.2.3.12),
 * TP-SCTS and TP-DT with the time zone sign (§9.2.3.11), TP-DCS (TS 23.038
 * §4: general data coding, automatic deletion, message waiting groups, data
 * coding/message class), TP-UD with its header (§9.2.3.24: concatenation
 * with 8-bit (IE 0x00) and 16-bit (IE 0x08) references; other IEs kept as
 * they are) and septet packing with fill bits after the header.
 *
 * Decoding never trusts a length: TP-UDL, UDHL, each IE length, address
 * lengths and TP-CDL are checked against the octets left and their maxima
 * (160 septets / 140 octets / 156 command octets). Errors: EBADMSG with
 * struct sms_err (rp_cause 96 for a truncated mandatory field, 95 for an
 * inconsistent value such as a TP-UDL beyond 160 septets or a header longer
 * than the user data; tp_fcs the matching TS 23.040 §9.2.3.22 value).
 * Decode -> encode is byte-exact for every TPDU decode accepts: bits we do
 * not interpret (spare first-octet bits, reserved TP-PI bits, unknown UDH
 * IEs, enhanced VP octets, the DCS octet, the unused bits around 7-bit user
 * data, a report's octets after the fields its TP-PI announces) are kept.
 *
 * Ownership: struct sms_tpdu is self-contained (bounded copies, no pointers
 * into the input), so it can be kept, changed and re-encoded after the input
 * is gone. It is about 450 bytes: decode on the stack, store the TPDU bytes.
 */
#ifndef SMS_SMS_TPDU_H
#define SMS_SMS_TPDU_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "sms/sms_common.h"

enum sms_tp_type {
	SMS_TP_DELIVER = 0,	   /* SC -> MS, MTI 00 */
	SMS_TP_DELIVER_REPORT = 1, /* MS -> SC, MTI 00 */
	SMS_TP_SUBMIT = 2,	   /* MS -> SC, MTI 01 */
	SMS_TP_SUBMIT_REPORT = 3,  /* SC -> MS, MTI 01 */
	SMS_TP_STATUS_REPORT = 4,  /* SC -> MS, MTI 10 */
	SMS_TP_COMMAND = 5,	   /* MS -> SC, MTI 10 */
};

/* Limits of TS 23.040 §9.2.3.16/24 and §9.2.3.21. */
#define SMS_UD_SEPTETS_MAX 160
#define SMS_UD_OCTETS_MAX 140
#define SMS_CD_MAX 156
#define SMS_PI_MAX 4
#define SMS_TP_EXTRA_MAX 16
/* Largest TPDU (a COMMAND with 156 octets of data is 174); buffer size for encode. */
#define SMS_TPDU_MAX 176

/* UDH information elements, TS 23.040 §9.2.3.24. */
#define SMS_IEI_CONCAT8 0x00
#define SMS_IEI_CONCAT16 0x08

/* TP-Status, TS 23.040 §9.2.3.15 (selection). */
#define SMS_ST_DELIVERED 0x00
#define SMS_ST_FORWARDED_UNCONFIRMED 0x01
#define SMS_ST_REPLACED 0x02
#define SMS_ST_TEMP_CONGESTION 0x20
#define SMS_ST_TEMP_SME_BUSY 0x21
#define SMS_ST_TEMP_NO_RESPONSE 0x22
#define SMS_ST_PERM_REMOTE_ERROR 0x40
#define SMS_ST_PERM_VP_EXPIRED 0x46
#define SMS_ST_PERM_DELETED_BY_SC 0x48
#define SMS_ST_FINAL_NO_RESPONSE 0x62

/* TP-Failure-Cause, TS 23.040 §9.2.3.22 (selection). */
#define SMS_FCS_PID_ERROR 0x8f
#define SMS_FCS_DCS_ERROR 0x9f
#define SMS_FCS_SC_BUSY 0xc0
#define SMS_FCS_NO_SC_SUBSCRIPTION 0xc1
#define SMS_FCS_SC_FAILURE 0xc2
#define SMS_FCS_INVALID_SME_ADDRESS 0xc3
#define SMS_FCS_DEST_BARRED 0xc4
#define SMS_FCS_DUPLICATE 0xc5
#define SMS_FCS_VPF_UNSUPPORTED 0xc6
#define SMS_FCS_VP_UNSUPPORTED 0xc7
#define SMS_FCS_MEMORY_EXCEEDED 0xd0
#define SMS_FCS_UNSPECIFIED 0xff

/* TP-SCTS / TP-DT / absolute TP-VP: 7 swapped semi-octets. */
struct sms_ts {
	uint8_t year, mon, day, hour, min, sec; /* year 0-99 (20xx) */
	uint8_t tz;				/* time zone in quarter hours, 0-79 */
	bool tz_neg;				/* sign bit (bit 3 of the TZ octet) */
};

/* Unix time -> timestamp in the given zone (quarter hours east of UTC). */
void sms_ts_from_unix(struct sms_ts *ts, int64_t t, int tz_quarters);
/* Timestamp -> Unix time (UTC); EINVAL if the fields are not a date. */
int sms_ts_to_unix(const struct sms_ts *ts, int64_t *t);

enum sms_vpf {
	SMS_VPF_NONE = 0,     /* bits 4-3 00 */
	SMS_VPF_ENHANCED = 1, /* 01: 7 octets */
	SMS_VPF_RELATIVE = 2, /* 10: 1 octet */
	SMS_VPF_ABSOLUTE = 3, /* 11: 7 octets, TP-SCTS format */
};

struct sms_vp {
	enum sms_vpf vpf;
	uint8_t rel;	 /* relative */
	struct sms_ts abs; /* absolute */
	uint8_t enh[7];	 /* enhanced, as received */
};

/* Seconds of a relative TP-VP value (5 minutes .. 63 weeks). */
uint32_t sms_vp_relative_seconds(uint8_t rel);
/* Relative TP-VP value for a period (rounded up, capped at 255). */
uint8_t sms_vp_relative_from_seconds(uint32_t sec);
/*
 * When a message submitted at `submitted` (Unix time) expires: ENOENT when
 * the TP-VP gives no period (none, or an enhanced format without one),
 * EINVAL for an absolute time that is not a date.
 */
int sms_vp_expiry(const struct sms_vp *vp, int64_t submitted, int64_t *expires);

/* TP-DCS, TS 23.038 §4, as read from the octet. */
enum sms_alphabet {
	SMS_ALPHA_GSM7 = 0,
	SMS_ALPHA_8BIT = 1,
	SMS_ALPHA_UCS2 = 2,
};

struct sms_dcs {
	enum sms_alphabet alphabet; /* reserved values read as GSM 7-bit, §4 */
	int8_t msg_class;	    /* 0-3, -1 = none */
	bool compressed;	    /* TP-UD is compressed (TS 23.042); UDL in octets */
	bool auto_delete;	    /* group 01xx: marked for automatic deletion */
	bool mwi;		    /* message waiting indication group 1100-1110 */
	bool mwi_store;		    /* 1101/1110: store; 1100: discard */
	bool mwi_active;	    /* indication sense */
	uint8_t mwi_type;	    /* 0 voicemail, 1 fax, 2 e-mail, 3 other */
};

void sms_dcs_parse(uint8_t dcs, struct sms_dcs *d);
/* DCS octet for plain text of an alphabet, no class: 0x00, 0x04, 0x08. */
uint8_t sms_dcs_for(enum sms_alphabet a);

/*
 * TP-User-Data. `udh` is the header without its UDHL octet (present when
 * the TPDU's udhi is set). `data` is the text after the header: septet
 * values (0-127, 0x1b escapes included) when `septets`, else octets (8-bit,
 * UCS2, compressed). The encoder derives TP-UDL, UDHL and fill bits.
 */
struct sms_ud {
	/* bits the spec leaves unused (fill bits after the header, the rest
	 * of the last octet), as received so re-encoding is byte-exact; 0 when
	 * building */
	uint8_t fill_raw, tail_raw;
	uint8_t udh_len;
	uint8_t udh[SMS_UD_OCTETS_MAX];
	bool septets;
	uint16_t data_len;
	uint8_t data[SMS_UD_SEPTETS_MAX]; /* also holds 156 TP-CD octets */
};

/* Concatenation info found in a header (IE 0x00 or 0x08). */
struct sms_concat {
	bool present;
	bool ref16;
	uint16_t ref;
	uint8_t total; /* parts, 1-255 */
	uint8_t seq;   /* this part, 1-based */
};

/* Looks up concatenation in udh (first valid IE wins); EBADMSG if malformed. */
int sms_udh_concat(const struct sms_ud *ud, struct sms_concat *c);
/*
 * Iterates over the IEs: *off starts at 0; returns 0 with iei/val/vlen set,
 * ENOENT at the end, EBADMSG if an IE overruns the header.
 */
int sms_udh_next(const struct sms_ud *ud, size_t *off, uint8_t *iei, const uint8_t **val,
		 uint8_t *vlen);

struct sms_tpdu {
	enum sms_tp_type type;
	uint8_t fo_spare; /* first-octet bits this type does not define, kept */
	/* first-octet flags (each only where the type defines it) */
	bool mms;  /* TP-MMS bit as sent: 1 = no more messages waiting (DELIVER, STATUS-REPORT) */
	bool lp;   /* TP-Loop-Prevention (DELIVER, STATUS-REPORT) */
	bool sri;  /* TP-Status-Report-Indication (DELIVER) */
	bool srr;  /* TP-Status-Report-Request (SUBMIT, COMMAND) */
	bool srq;  /* TP-Status-Report-Qualifier (STATUS-REPORT) */
	bool rd;   /* TP-Reject-Duplicates (SUBMIT) */
	bool rp;   /* TP-Reply-Path (DELIVER, SUBMIT) */
	bool udhi; /* TP-User-Data-Header-Indicator */
	bool in_error; /* reports: carried in RP-ERROR, so TP-FCS is present */
	uint8_t mr;    /* TP-MR (SUBMIT, STATUS-REPORT, COMMAND) */
	/* TP-OA (DELIVER), TP-DA (SUBMIT, COMMAND), TP-RA (STATUS-REPORT) */
	struct sms_addr addr;
	uint8_t pid;	  /* TP-PID */
	uint8_t dcs;	  /* TP-DCS */
	struct sms_vp vp; /* SUBMIT */
	struct sms_ts scts; /* DELIVER, SUBMIT-REPORT, STATUS-REPORT */
	struct sms_ts dt;   /* STATUS-REPORT: TP-Discharge-Time */
	uint8_t st;	    /* STATUS-REPORT: TP-Status */
	uint8_t fcs;	    /* reports in RP-ERROR: TP-Failure-Cause */
	uint8_t ct;	    /* COMMAND: TP-Command-Type */
	uint8_t mn;	    /* COMMAND: TP-Message-Number */
	/*
	 * TP-Parameter-Indicator (reports, optional in STATUS-REPORT): npi
	 * octets (0 = absent), extension bit 8 chaining them. Decode sets
	 * has_pid/has_dcs/has_ud from bits 1-3 of pi[0]; encode writes pi[]
	 * with those bits taken from has_* (the reserved bits kept).
	 */
	uint8_t npi;
	uint8_t pi[SMS_PI_MAX];
	bool has_pid, has_dcs, has_ud; /* always true for DELIVER and SUBMIT */
	struct sms_ud ud; /* TP-UD; COMMAND: TP-CD (octets) */
	/* reports without user data: octets after the fields TP-PI announces
	 * (fields of a later release, announced by TP-PI bits we ignore) */
	uint8_t nextra;
	uint8_t extra[SMS_TP_EXTRA_MAX];
};

const char *sms_tp_type_name(enum sms_tp_type t); /* "SMS-SUBMIT" … */
/* The type a TP-MTI has in a direction (reports need in_error only later). */
enum sms_tp_type sms_tp_type_of(uint8_t first_octet, enum sms_dir dir);

struct sms_tpdu_dec_prm {
	enum sms_dir dir; /* who sent it: MO for SUBMIT/COMMAND/DELIVER-REPORT */
	bool in_error;	  /* reports: came in an RP-ERROR (TP-FCS present) */
};

int sms_tpdu_decode(struct sms_tpdu *t, const uint8_t *p, size_t len,
		    const struct sms_tpdu_dec_prm *prm, struct sms_err *err);
/* EINVAL for a field out of range (UDL > 160 septets, address too long …), ENOSPC. */
int sms_tpdu_encode(const struct sms_tpdu *t, uint8_t *buf, size_t size, size_t *len);

/*
 * The text of the user data in UTF-8 (GSM 7-bit or UCS2 decoded; 8-bit and
 * compressed data are not text: EINVAL). Always NUL-terminated.
 */
int sms_tpdu_text(const struct sms_tpdu *t, char *out, size_t size, size_t *len);

/* ---- builders for the SMSC ---- */

struct sms_deliver_prm {
	const struct sms_addr *oa; /* TP-OA: the sender's MSISDN */
	int64_t scts;		   /* TP-SCTS: Unix time the SC received it */
	int tz_quarters;	   /* its time zone */
	bool more;		   /* more messages are waiting (TP-MMS 0) */
};

/*
 * The SMS-DELIVER for an SMS-SUBMIT (TS 23.040 §9.2.2.1): TP-PID, TP-DCS,
 * TP-UD (header included) and TP-RP copied; TP-SRI set when the submit asked
 * for a status report (TP-SRR); TP-OA and TP-SCTS from prm. EINVAL if `sub`
 * is not an SMS-SUBMIT.
 */
int sms_tpdu_deliver_from_submit(struct sms_tpdu *dlv, const struct sms_tpdu *sub,
				 const struct sms_deliver_prm *prm);

struct sms_status_prm {
	uint8_t mr;		   /* the TP-MR of the SMS-SUBMIT it reports on */
	const struct sms_addr *ra; /* TP-RA: the submit's TP-DA */
	int64_t scts;		   /* when the SC received the submit */
	int64_t dt;		   /* delivery or failure time */
	int tz_quarters;
	uint8_t st;		   /* SMS_ST_* */
};

/* SMS-STATUS-REPORT (TS 23.040 §9.2.2.3), no optional parameters. */
void sms_tpdu_status_report(struct sms_tpdu *t, const struct sms_status_prm *prm);

/* SMS-SUBMIT-REPORT / SMS-DELIVER-REPORT for RP-ACK (fcs 0) or RP-ERROR (fcs set). */
void sms_tpdu_report(struct sms_tpdu *t, enum sms_tp_type type, uint8_t fcs, int64_t scts,
		     int tz_quarters);

/* ---- text to parts (server-originated SMS, TS 23.040 §9.2.3.24.1) ---- */

#define SMS_PARTS_MAX 255

struct sms_split_prm {
	uint16_t ref;	   /* concatenation reference for this message */
	bool ref16;	   /* 16-bit reference IE 0x08, else 8-bit IE 0x00 */
	bool force_ucs2;   /* UCS2 even when GSM 7-bit would do */
	size_t max_parts;  /* at most this many (<= SMS_PARTS_MAX); more: EMSGSIZE */
};

/*
 * Splits UTF-8 text into user data parts: GSM 7-bit when every character
 * has a GSM 7-bit form, else UCS2. One part needs no header (160 septets or
 * 70 UCS2 characters); more parts each carry a concatenation IE (153/152
 * septets or 67/66 characters), never splitting an escape sequence or a
 * surrogate pair. *dcs receives the TP-DCS octet for every part. Errors:
 * EILSEQ invalid UTF-8, EMSGSIZE too many parts, EINVAL empty max_parts.
 * Each part goes in an SMS-DELIVER with udhi = (parts[i].udh_len > 0).
 */
int sms_text_split(const char *text, size_t len, const struct sms_split_prm *prm,
		   struct sms_ud *parts, size_t *nparts, uint8_t *dcs);

#endif
