#!/usr/bin/python3
"""Hand-made DNS packets for the enforce tests (documentation-range addresses only).

  dns_forge.py query --bind IP:PORT --to IP:PORT --id N --name NAME [--type A] [--wait SECS]
      sends one query from a UDP socket bound to IP:PORT; with --wait, prints one line per
      datagram received on that socket for SECS seconds (or until a response with id N that
      has answers): "got id=N qname=NAME answers=a,b,..."; --also NAME adds a question,
      --qcount 0 leaves --name's out, --answer NAME=ADDR adds an answer record
  dns_forge.py response --src IP:PORT --to IP:PORT --id N --qname NAME [--qtype A]
                        [--cname OWNER=TARGET ...] [--a OWNER=ADDR ...] [--count N]
      sends one UDP response (or N, the client port counting up from the one given) from any source address (IPv4 raw socket, so the source may be
      an address the sender does not own: a forged answer).
"""
import argparse
import select
import socket
import struct
import sys
import time

TYPES = {"A": 1, "CNAME": 5, "AAAA": 28}


def name_wire(name):
    out = b""
    for label in name.rstrip(".").split("."):
        out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def question(name, qtype):
    return name_wire(name) + struct.pack("!HH", TYPES[qtype], 1)


def rr(owner, rtype, rdata, ttl=60):
    return name_wire(owner) + struct.pack("!HHIH", rtype, 1, ttl, len(rdata)) + rdata


def host_port(text):
    host, port = text.rsplit(":", 1)
    return host, int(port)


def read_name(msg, i):
    labels = []
    jumped = False
    end = i
    for _ in range(128):
        n = msg[i]
        if n & 0xC0 == 0xC0:
            if not jumped:
                end = i + 2
            i = ((n & 0x3F) << 8) | msg[i + 1]
            jumped = True
            continue
        if n == 0:
            if not jumped:
                end = i + 1
            break
        labels.append(msg[i + 1:i + 1 + n].decode(errors="replace"))
        i += n + 1
    return ".".join(labels).lower(), end


def summary(msg):
    ident, _flags, qd, an = struct.unpack("!HHHH", msg[:8])
    i = 12
    qname = ""
    for k in range(qd):
        name, i = read_name(msg, i)
        i += 4
        if k == 0:
            qname = name
    answers = []
    for _ in range(an):
        _, i = read_name(msg, i)
        rtype, _, _, rdlen = struct.unpack("!HHIH", msg[i:i + 10])
        i += 10
        rdata = msg[i:i + rdlen]
        i += rdlen
        if rtype == 1 and rdlen == 4:
            answers.append(socket.inet_ntoa(rdata))
        elif rtype == 5:
            answers.append(read_name(msg, i - rdlen)[0])
    return ident, qname, answers


def do_query(a):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(host_port(a.bind))
    records = b"".join(rr(owner, 1, socket.inet_aton(addr))
                       for owner, addr in (spec.split("=") for spec in a.answer))
    names = ([a.name] if a.qcount else []) + a.also
    msg = struct.pack("!HHHHHH", a.id, 0x0100, len(names), len(a.answer), 0, 0)
    msg += b"".join(question(n, a.type) for n in names)
    s.sendto(msg + records, host_port(a.to))
    print("sent", flush=True)
    deadline = time.monotonic() + a.wait
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([s], [], [], left)[0]:
            break
        data, _src = s.recvfrom(4096)
        ident, qname, answers = summary(data)
        print(f"got id={ident} qname={qname} answers={','.join(answers)}", flush=True)
        if ident == a.id and qname == a.name.lower() and answers:
            break


def do_response(a):
    src, sport = host_port(a.src)
    dst, dport = host_port(a.to)
    records = b""
    count = 0
    for spec in a.cname:
        owner, target = spec.split("=")
        records += rr(owner, 5, name_wire(target))
        count += 1
    for spec in a.a:
        owner, addr = spec.split("=")
        records += rr(owner, 1, socket.inet_aton(addr))
        count += 1
    dns = struct.pack("!HHHHHH", a.id, 0x8180, 1, count, 0, 0) + question(a.qname, a.qtype)
    dns += records
    udp = struct.pack("!HHHH", sport, dport, 8 + len(dns), 0) + dns  # checksum 0: none (IPv4)
    ip = struct.pack("!BBHHHBBH4s4s", 0x45, 0, 20 + len(udp), 0, 0x4000, 64, 17, 0,
                     socket.inet_aton(src), socket.inet_aton(dst))
    s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
    for k in range(a.count):
        port = struct.pack("!H", (dport + k) & 0xFFFF)
        s.sendto(ip + port.join([udp[:2], udp[4:]]), (dst, 0))


def do_listen(a):
    """Prints every datagram that arrives at --bind for --seconds: its id and answer count;
    stops early after the one with id --until-id."""
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(host_port(a.bind))
    print("ready", flush=True)
    deadline = time.monotonic() + a.seconds
    while (left := deadline - time.monotonic()) > 0:
        if not select.select([s], [], [], left)[0]:
            break
        data, _src = s.recvfrom(4096)
        if len(data) >= 12:
            ident, _flags, _qd, an = struct.unpack("!HHHH", data[:8])
            print(f"got id={ident:#06x} ancount={an}", flush=True)
            if ident == a.until_id:
                break


def main():
    p = argparse.ArgumentParser()
    sub = p.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("query")
    q.add_argument("--bind", required=True)
    q.add_argument("--to", required=True)
    q.add_argument("--id", type=lambda x: int(x, 0), required=True)
    q.add_argument("--name", required=True)
    q.add_argument("--type", default="A", choices=TYPES)
    q.add_argument("--wait", type=float, default=0)
    q.add_argument("--answer", action="append", default=[],
                   help="NAME=ADDR: an A record in the query's answer section (a data channel)")
    q.add_argument("--also", action="append", default=[],
                   help="NAME: one more question after --name's")
    q.add_argument("--qcount", type=int, choices=[0, 1], default=1,
                   help="0: leave --name's question out (a query without a question)")
    li = sub.add_parser("listen")
    li.add_argument("--bind", required=True)
    li.add_argument("--seconds", type=float, required=True)
    li.add_argument("--until-id", type=lambda x: int(x, 0), default=-1)
    r = sub.add_parser("response")
    r.add_argument("--src", required=True)
    r.add_argument("--to", required=True)
    r.add_argument("--id", type=lambda x: int(x, 0), required=True)
    r.add_argument("--qname", required=True)
    r.add_argument("--qtype", default="A", choices=TYPES)
    r.add_argument("--cname", action="append", default=[])
    r.add_argument("--a", action="append", default=[])
    r.add_argument("--count", type=int, default=1)
    a = p.parse_args()
    {"query": do_query, "response": do_response, "listen": do_listen}[a.cmd](a)


if __name__ == "__main__":
    sys.exit(main())
