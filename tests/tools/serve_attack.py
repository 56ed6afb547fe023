#!/usr/bin/env python3
"""Slow and greedy clients against `egress-monitor serve`, and honest clients beside them.

    serve_attack.py slow   --port P --ca CA --token T [--attacker 127.0.0.2] [--clients 64]
                           [--seconds 20]
    serve_attack.py greedy --port P --ca CA --pid SERVER_PID [--attacker 127.0.0.2]
                           [--clients 4] [--mbytes 64]

slow: --clients connections from the attacker address, held open as long as the server lets
them: half send a TLS ClientHello one byte a second, half complete the handshake and then
send a request line and headers one byte a second; each reconnects when the server closes
it. Meanwhile, from 127.0.0.1, an honest client fetches /healthz and the domains file (with
the token) in turn, each on a new TLS connection. Prints one JSON object: the honest
requests' count, failures and slowest time, and how long the server let a slow connection
live.

greedy: --clients TLS connections from the attacker address, each sending --mbytes MiB of a
request line without end, all at once; prints the server's peak RSS growth (VmHWM after
clear_refs) in MiB.

Only loopback addresses are used. Standard library only.
"""
import argparse
import json
import socket
import ssl
import threading
import time


def tls_context(ca=None):
    if ca:
        ctx = ssl.create_default_context(cafile=ca)
        ctx.check_hostname = False
    else:
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    return ctx


def connect(source, port, timeout=5.0):
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.settimeout(timeout)
    s.bind((source, 0))
    s.connect(("127.0.0.1", port))
    return s


def client_hello():
    ctx = tls_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    obj = ctx.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        obj.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def closed_by_peer(sock):
    """True when the peer has closed (or reset) the connection."""
    sock.setblocking(False)
    try:
        data = sock.recv(4096)
        return data == b""
    except (BlockingIOError, ssl.SSLWantReadError):
        return False
    except (ConnectionError, OSError, ssl.SSLError):
        return True
    finally:
        sock.setblocking(True)


def slow_client(index, args, stop, lives, lock):
    hello = client_hello()
    request = b"GET /v1/unique-domains.log HTTP/1.1\r\nHost: localhost\r\n" + b"X-Slow: 1\r\n" * 1000
    ctx = tls_context()
    while not stop.is_set():
        start = time.monotonic()
        try:
            raw = connect(args.attacker, args.port)
            if index % 2 == 0:
                payload, sock = hello, raw
            else:
                sock = ctx.wrap_socket(raw, server_hostname="localhost")
                payload = request
            for i in range(len(payload)):
                if stop.is_set():
                    break
                sock.send(payload[i : i + 1])
                if stop.wait(1.0) or closed_by_peer(sock):
                    break
            closed = not stop.is_set()
            sock.close()
        except (OSError, ssl.SSLError):
            closed = True
        life = time.monotonic() - start
        if closed:
            with lock:
                lives.append(life)
        if life < 0.5:
            stop.wait(0.5)  # refused at once: do not spin


def honest_client(args, stop, times, failures, lock):
    ctx = tls_context(args.ca)
    paths = [("/healthz", False), ("/v1/unique-domains.log", True)]
    n = 0
    while not stop.is_set():
        path, auth = paths[n % 2]
        n += 1
        start = time.monotonic()
        try:
            sock = ctx.wrap_socket(connect("127.0.0.1", args.port, timeout=5.0),
                                   server_hostname="localhost")
            headers = "Authorization: Bearer %s\r\n" % args.token if auth else ""
            sock.sendall(("GET %s HTTP/1.1\r\nHost: localhost\r\n%sConnection: close\r\n\r\n"
                          % (path, headers)).encode())
            reply = b""
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    break
                reply += chunk
            sock.close()
            elapsed = time.monotonic() - start
            status = reply.split(b" ", 2)[1] if reply.startswith(b"HTTP/1.") else b"?"
            with lock:
                if status != b"200":
                    failures.append("%s: status %s" % (path, status.decode(errors="replace")))
                times.append((elapsed, path))
        except (OSError, ssl.SSLError) as e:
            with lock:
                failures.append("%s: %s after %.2f s" % (path, e, time.monotonic() - start))
                times.append((time.monotonic() - start, path))
        stop.wait(0.2)


def run_slow(args):
    stop = threading.Event()
    lock = threading.Lock()
    lives, times, failures = [], [], []
    threads = [threading.Thread(target=slow_client, args=(i, args, stop, lives, lock), daemon=True)
               for i in range(args.clients)]
    for t in threads:
        t.start()
    time.sleep(1.0)  # the slow clients first
    honest = threading.Thread(target=honest_client, args=(args, stop, times, failures, lock),
                              daemon=True)
    honest.start()
    time.sleep(args.seconds)
    stop.set()
    honest.join(10)
    for t in threads:
        t.join(5)
    slowest = max(times) if times else (0.0, "")
    print(json.dumps({
        "honest_requests": len(times),
        "honest_failures": failures[:10],
        "honest_failure_count": len(failures),
        "honest_slowest_seconds": round(slowest[0], 3),
        "honest_slowest_path": slowest[1],
        "honest_over_2s": sum(1 for t, _ in times if t >= 2.0),
        "slow_connections_closed_by_server": len(lives),
        "slow_longest_life_seconds": round(max(lives), 1) if lives else None,
    }))


def vm(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    raise SystemExit("no %s for pid %d" % (field, pid))


def greedy_client(args, sent, index):
    ctx = tls_context()
    chunk = b"A" * 65536
    total = 0
    for _ in range(5):  # a connection refused before sending anything is tried again
        try:
            sock = ctx.wrap_socket(connect(args.attacker, args.port, timeout=30.0),
                                   server_hostname="localhost")
            sock.send(b"GET /")
            while total < args.mbytes << 20:
                sock.sendall(chunk)
                total += len(chunk)
            sock.close()
        except (OSError, ssl.SSLError):
            pass
        if total:
            break
        time.sleep(0.5)
    sent[index] = total


def run_greedy(args):
    with open("/proc/%d/clear_refs" % args.pid, "w") as f:
        f.write("5")  # resets VmHWM to the current RSS
    before = vm(args.pid, "VmRSS")
    sent = [0] * args.clients
    threads = [threading.Thread(target=greedy_client, args=(args, sent, i))
               for i in range(args.clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    time.sleep(0.5)
    peak = vm(args.pid, "VmHWM")
    print(json.dumps({
        "rss_before_mib": round(before, 1),
        "rss_peak_mib": round(peak, 1),
        "rss_growth_mib": round(peak - before, 1),
        "bytes_sent_per_client_mib": [round(s / 1048576.0, 1) for s in sent],
    }))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["slow", "greedy"])
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--ca")
    p.add_argument("--token")
    p.add_argument("--pid", type=int)
    p.add_argument("--attacker", default="127.0.0.2")
    p.add_argument("--clients", type=int)
    p.add_argument("--seconds", type=float, default=20)
    p.add_argument("--mbytes", type=int, default=64)
    args = p.parse_args()
    if args.mode == "slow":
        args.clients = args.clients or 64
        run_slow(args)
    else:
        args.clients = args.clients or 4
        run_greedy(args)


if __name__ == "__main__":
    main()
