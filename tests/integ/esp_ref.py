"""An ESP implementation that is not imsd's, for cross-checks: scapy's
SecurityAssociation (Debian python3-scapy) in transport mode, with the few
algorithms 3GPP uses that scapy lacks added here on top of the same
`cryptography` primitives scapy uses:

  hmac-md5-128, hmac-sha-1-160   scapy AuthAlgo with a longer ICV
  aes-gmac (RFC 4543)            written below with AESGCM (no ciphertext)

Key expansion is TS 33.203 Annex I, written again here from the spec text
(IK || 32 zero bits for HMAC-SHA-1, CK1 || CK2 || CK1 for 3DES), plus
imsd's salt rule for the AES counter modes (docs/ipsec.md): aes-ctr and
aes-gcm salt = IK[0:4], aes-gmac (keyed with IK) salt = CK[0:4].
"""
import struct

from scapy.layers.inet import IP
from scapy.layers.inet6 import IPv6
from scapy.layers import ipsec as sipsec
from scapy.layers.ipsec import ESP, SecurityAssociation
from scapy.packet import Raw

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.hmac import HMAC
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

AALGS = ["null", "hmac-md5-96", "hmac-md5-128", "hmac-sha-1-96",
         "hmac-sha-1-160", "aes-cmac-96", "aes-gmac"]
EALGS = ["null", "aes-cbc", "des-cbc", "des-ede3-cbc", "blowfish", "aes-ctr",
         "aes-gcm"]

sipsec.AUTH_ALGOS.setdefault("HMAC-MD5-128", sipsec.AuthAlgo(
    "HMAC-MD5-128", mac=HMAC, digestmod=hashes.MD5, icv_size=16))
sipsec.AUTH_ALGOS.setdefault("HMAC-SHA1-160", sipsec.AuthAlgo(
    "HMAC-SHA1-160", mac=HMAC, digestmod=hashes.SHA1, icv_size=20))

_SCAPY_AALG = {"null": "NULL", "hmac-md5-96": "HMAC-MD5-96",
               "hmac-md5-128": "HMAC-MD5-128", "hmac-sha-1-96": "HMAC-SHA1-96",
               "hmac-sha-1-160": "HMAC-SHA1-160", "aes-cmac-96": "AES-CMAC-96"}
_SCAPY_EALG = {"null": "NULL", "aes-cbc": "AES-CBC", "des-cbc": "DES",
               "des-ede3-cbc": "3DES", "blowfish": "Blowfish",
               "aes-ctr": "AES-CTR", "aes-gcm": "AES-GCM"}


def pair_valid(aalg, ealg):
    """aes-gmac is integrity only (RFC 4543): no cipher beside it but GCM."""
    return aalg != "aes-gmac" or ealg in ("null", "aes-gcm")


def expand(aalg, ealg, ck, ik):
    """(crypt key incl. salt, auth key incl. salt) as scapy wants them."""
    if aalg in ("hmac-sha-1-96", "hmac-sha-1-160"):
        akey = ik + b"\x00" * 4
    elif aalg == "null":
        akey = b""
    elif aalg == "aes-gmac":
        akey = ik + ck[:4]
    else:
        akey = ik
    if ealg == "null":
        ekey = b""
    elif ealg == "des-cbc":
        ekey = ck[:8]
    elif ealg == "des-ede3-cbc":
        ekey = ck + ck[:8]
    elif ealg in ("aes-ctr", "aes-gcm"):
        ekey = ck + ik[:4]
    else:
        ekey = ck
    return ekey, akey


class GmacSA:
    """ENCR_NULL_AUTH_AES_GMAC (RFC 4543 §3): 8-byte IV, the whole packet is
    AAD, 16-byte ICV; padding as RFC 4303 §2.4 to 4 bytes."""

    def __init__(self, spi, akey):
        self.spi = spi
        self.key, self.salt = akey[:16], akey[16:20]

    def encrypt_esp(self, nh, payload, seq, iv=None):
        iv = iv if iv is not None else struct.pack(">Q", seq)
        padlen = -(len(payload) + 2) % 4
        pt = payload + bytes(range(1, padlen + 1)) + bytes([padlen, nh])
        aad = struct.pack(">II", self.spi, seq) + iv + pt
        tag = AESGCM(self.key).encrypt(self.salt + iv, b"", aad)
        return aad + tag

    def decrypt_esp(self, esp):
        body, tag = esp[:-16], esp[-16:]
        iv = body[8:16]
        AESGCM(self.key).decrypt(self.salt + iv, tag, body)  # raises on bad ICV
        pt = body[16:]
        padlen, nh = pt[-2], pt[-1]
        return nh, pt[:len(pt) - 2 - padlen]


class RefSA:
    """One unidirectional SA of the reference implementation."""

    def __init__(self, aalg, ealg, spi, ck, ik):
        ekey, akey = expand(aalg, ealg, ck, ik)
        self.gmac = GmacSA(spi, akey) if aalg == "aes-gmac" and ealg == "null" else None
        if self.gmac:
            return
        auth = "NULL" if ealg == "aes-gcm" or aalg == "aes-gmac" else _SCAPY_AALG[aalg]
        self.sa = SecurityAssociation(
            ESP, spi=spi, crypt_algo=_SCAPY_EALG[ealg], crypt_key=ekey or None,
            auth_algo=auth, auth_key=(akey if auth != "NULL" else None))

    def encrypt_esp(self, nh, payload, seq, src="10.0.0.1", dst="10.0.0.2", iv=None):
        """ESP bytes (from the SPI on) for a transport payload."""
        if self.gmac:
            return self.gmac.encrypt_esp(nh, payload, seq, iv)
        pkt = IP(src=src, dst=dst, proto=nh) / Raw(payload)
        kw = {"seq_num": seq}
        if iv is not None:
            kw["iv"] = iv
        out = self.sa.encrypt(pkt, **kw)
        return bytes(out[ESP])

    def decrypt_esp(self, esp, src="10.0.0.2", dst="10.0.0.1"):
        """(next header, payload) of ESP bytes; raises on a bad ICV."""
        if self.gmac:
            return self.gmac.decrypt_esp(esp)
        # scapy's own steps (SecurityAssociation._decrypt_esp) without the
        # re-dissection of the payload, which cannot take 0- or 1-byte data
        sa = self.sa
        enc = ESP(esp)
        sa.check_spi(IP(src=src, dst=dst) / enc)
        sa.auth_algo.verify(enc, sa.auth_key)
        icv = sa.crypt_icv_size or sa.crypt_algo.icv_size or sa.auth_algo.icv_size
        plain = sa.crypt_algo.decrypt(sa, enc, sa.crypt_key, icv,
                                      esn_en=sa.esn_en, esn=sa.esn)
        return plain.nh, bytes(plain.data)

    def decrypt_ip(self, pkt):
        """A whole IPv4/IPv6 packet with ESP -> the packet in clear."""
        if self.gmac:
            raise NotImplementedError("aes-gmac: use decrypt_esp")
        return self.sa.decrypt(pkt)


__all__ = ["AALGS", "EALGS", "RefSA", "pair_valid", "expand", "IP", "IPv6"]
