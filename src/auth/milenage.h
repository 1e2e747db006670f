/*
 * auth/milenage — the MILENAGE algorithm set (3GPP TS 35.206) on AES-128.
 *
 * Pure functions: K and OPc in, f1..f5* out. Each call uses the thread's
 * one OpenSSL AES-128-ECB context, kept between calls (creating one costs
 * more than the AES work) and re-keyed only when K changes. Verified against
 * all test sets of TS 35.208 §4.3.
 * Errors: 0, or EIO if OpenSSL fails (it should not for AES-128-ECB).
 */
#ifndef AUTH_MILENAGE_H
#define AUTH_MILENAGE_H

#include <stdint.h>

/* OPc = OP xor E_K(OP) (TS 35.206 §4.1). */
int milenage_opc_derive(const uint8_t k[16], const uint8_t op[16], uint8_t opc[16]);

/* f1 (MAC-A) and f1* (MAC-S); either output may be NULL. */
int milenage_f1(const uint8_t k[16], const uint8_t opc[16], const uint8_t rand[16],
		const uint8_t sqn[6], const uint8_t amf[2], uint8_t mac_a[8],
		uint8_t mac_s[8]);

/* f2 (RES, 64 bits), f3 (CK), f4 (IK), f5 (AK), f5* (AK for resync); any
 * output may be NULL. */
int milenage_f2345(const uint8_t k[16], const uint8_t opc[16], const uint8_t rand[16],
		   uint8_t res[8], uint8_t ck[16], uint8_t ik[16], uint8_t ak[6],
		   uint8_t akstar[6]);

#endif
