"""A UE's ESP side, run inside the UE's network namespace by the IPsec
tests (`ip netns exec NS python3 ipsec_ue.py`): scapy's ESP (esp_ref.py),
raw IPPROTO_ESP sockets, UDP payloads built by scapy with their checksums.

One command a line on stdin, one answer a line on stdout:
  udp AF UE_IP P_IP ALG EALG SPI_OUT SPI_IN CK IK SPORT DPORT SEQ HEXDATA [tamper]
      -> ok HEXREPLY | err WHY
Sends HEXDATA in a UDP datagram SPORT -> DPORT through ESP with SPI_OUT,
waits for the reply under SPI_IN, checks it, and prints its UDP payload.
With "tamper" the ICV is broken and the answer must be a timeout.
"""
import select
import socket
import sys
import os

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import esp_ref  # noqa: E402
from scapy.layers.inet import IP, UDP  # noqa: E402
from scapy.layers.inet6 import IPv6  # noqa: E402
from scapy.packet import Raw  # noqa: E402

IPPROTO_ESP = 50
socks = {}


def sock(af):
    if af not in socks:
        socks[af] = socket.socket(af, socket.SOCK_RAW, IPPROTO_ESP)
    return socks[af]


def udp_bytes(af, src, dst, sport, dport, data):
    ip = IP(src=src, dst=dst) if af == socket.AF_INET else IPv6(src=src, dst=dst)
    pkt = ip / UDP(sport=sport, dport=dport) / Raw(data)
    return bytes(pkt[UDP])


def recv_esp(s, af, spi, timeout):
    end = timeout
    while end > 0:
        r, _, _ = select.select([s], [], [], end)
        if not r:
            return None
        data = s.recv(65535)
        if af == socket.AF_INET:
            data = data[(data[0] & 0x0F) * 4:]
        if int.from_bytes(data[0:4], "big") == spi:
            return data
        end -= 0.05
    return None


def case(words):
    af = socket.AF_INET6 if words[0] == "6" else socket.AF_INET
    ue, pcscf, alg, ealg = words[1:5]
    spi_out, spi_in = int(words[5]), int(words[6])
    ck, ik = bytes.fromhex(words[7]), bytes.fromhex(words[8])
    sport, dport, seq = int(words[9]), int(words[10]), int(words[11])
    data = bytes.fromhex(words[12])
    tamper = len(words) > 13 and words[13] == "tamper"
    out = esp_ref.RefSA(alg, ealg, spi_out, ck, ik)
    esp = bytearray(out.encrypt_esp(17, udp_bytes(af, ue, pcscf, sport, dport, data), seq))
    if tamper:
        esp[-1] ^= 1
    s = sock(af)
    s.sendto(bytes(esp), (pcscf, 0))
    got = recv_esp(s, af, spi_in, 1.0 if tamper else 5.0)
    if got is None:
        return "err timeout"
    nh, seg = esp_ref.RefSA(alg, ealg, spi_in, ck, ik).decrypt_esp(got)
    if nh != 17:
        return "err nh %d" % nh
    if int.from_bytes(seg[0:2], "big") != dport or int.from_bytes(seg[2:4], "big") != sport:
        return "err ports"
    return "ok " + seg[8:].hex()


def main():
    for line in sys.stdin:
        words = line.split()
        if not words:
            continue
        try:
            ans = case(words[1:]) if words[0] == "udp" else "err command"
        except Exception as e:  # report, keep serving
            ans = "err " + repr(e).replace("\n", " ")
        print(ans, flush=True)


if __name__ == "__main__":
    main()
