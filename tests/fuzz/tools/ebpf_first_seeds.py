#!/usr/bin/env python3
"""Writes the EM_FIRST seeds of ebpf_record_fuzz (bpf/egress_event.h's struct em_first): a
TLS ClientHello in an IPv4 TCP segment, the RFC 9001 A.2 QUIC Initial in an IPv6 UDP
datagram, an HTTP request, and a record cut at the capture size. Documentation-range
addresses only. Not part of the build; regenerate with
    python3 tests/fuzz/tools/ebpf_first_seeds.py tests/fuzz/corpus/ebpf_record_fuzz"""
import pathlib
import struct
import sys

EM_FIRST, CAP = 5, 2048
root = pathlib.Path(__file__).resolve().parents[3]


def task(pid=4242, uid=1000):
    # cgroup_id, cookie, pid, tid, ppid, uid, gid, pad, comm[16], parent_comm[16]
    return struct.pack("<QQ6I16s16s", 0x1234, 0xC00C1E, pid, 0, 0, uid, 0, 0, b"", b"")


def record(packet, wire_len=None):
    wire = len(packet) if wire_len is None else wire_len
    hdr = struct.pack("<IIQ", EM_FIRST, 0, 123456789) + task()
    return hdr + struct.pack("<II", wire, 0) + packet


def ipv4_tcp(payload, total=None):
    tcp = struct.pack("!HHIIBBHHH", 40000, 443, 1000, 1, 5 << 4, 0x18, 64240, 0, 0)
    tot = 20 + len(tcp) + len(payload) if total is None else total
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, tot, 1, 0x4000, 64, 6, 0,
                     bytes([192, 0, 2, 10]), bytes([203, 0, 113, 7]))
    return ip + tcp + payload


def ipv6_udp(payload):
    udp = struct.pack("!HHHH", 40001, 443, 8 + len(payload), 0)
    src = bytes.fromhex("20010db8000000000000000000000002")
    dst = bytes.fromhex("20010db8000000000000000000000001")
    ip = struct.pack("!IHBB", 0x60000000, len(udp) + len(payload), 17, 64) + src + dst
    return ip + udp + payload


def main(out):
    out = pathlib.Path(out)
    hello = (root / "tests/fuzz/corpus/first_packet_fuzz/openssl_client_hello.bin").read_bytes()
    quic = bytes.fromhex("".join(
        (root / "tests/data/quic/rfc9001_a2_client_initial.hex").read_text().split()))
    http = b"GET / HTTP/1.1\r\nHost: www.example.test\r\nUser-Agent: curl\r\n\r\n"
    (out / "first_tls").write_bytes(record(ipv4_tcp(hello)))
    (out / "first_quic_v6").write_bytes(record(ipv6_udp(quic)))
    (out / "first_http").write_bytes(record(ipv4_tcp(http)))
    big = ipv4_tcp(hello + bytes(3000))
    (out / "first_truncated").write_bytes(record(big[:CAP], wire_len=len(big)))


if __name__ == "__main__":
    main(sys.argv[1])
