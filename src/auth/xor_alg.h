/*
 * auth/xor_alg — the 3GPP test algorithm (TS 34.108 §8.1.2), used by test
 * USIMs/ISIMs and conformance test systems instead of MILENAGE.
 *
 *   XDOUT = K xor RAND                        (128 bits)
 *   RES   = XDOUT[0 .. n-1]                   (n = 32..128 bits, whole bytes here)
 *   CK    = XDOUT[8..127] || XDOUT[0..7]      (rotated left one byte)
 *   IK    = XDOUT[16..127] || XDOUT[0..15]    (rotated left two bytes)
 *   AK    = XDOUT[24..71]                     (f5 and f5*, §8.1.2.2)
 *   MAC   = XDOUT[0..63] xor (SQN || AMF)     (f1; f1* the same with AMF = 0
 *                                              for resynchronisation)
 * Not a security algorithm: K is recovered from one RAND/RES pair.
 */
#ifndef AUTH_XOR_ALG_H
#define AUTH_XOR_ALG_H

#include <stddef.h>
#include <stdint.h>

#define XOR_ALG_RES_MIN 4
#define XOR_ALG_RES_MAX 16

void xor_alg_f1(const uint8_t k[16], const uint8_t rand[16], const uint8_t sqn[6],
		const uint8_t amf[2], uint8_t mac[8]);
/* res_len in bytes (XOR_ALG_RES_MIN..MAX); EINVAL otherwise. Outputs may be NULL. */
int xor_alg_f2345(const uint8_t k[16], const uint8_t rand[16], uint8_t *res,
		  size_t res_len, uint8_t ck[16], uint8_t ik[16], uint8_t ak[6]);

#endif
