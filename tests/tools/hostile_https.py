#!/usr/bin/env python3
"""A monitored host gone bad, as the collector's HTTPS fetch sees it (tests only; stdlib).

    hostile_https.py --cert C --key K --token T --dir D LISTEN=MODE ...

LISTEN is ADDR:PORT (loopback or a documentation address in the test's namespace); MODE:
  good            serves D/unique-domains.log and D/unique-ips.log (bearer token T)
  headers         200 followed by 100 MB of header lines, then a small body
  trickle-headers the status line, then one header byte every 0.5 s, forever
  silent          accepts the TCP connection and never says a word (not even TLS)
  trickle-body    200 with Content-Length 1000000, then one body byte every 0.5 s
Each connection runs on its own thread until the client goes away. One line per event on
stdout, "<seconds since start> <mode> <event>", flushed at once, so a test can see when a
request was served; "ready" once every listener is bound.
"""
import argparse
import os
import socket
import ssl
import sys
import threading
import time

T0 = time.monotonic()
LOG_LOCK = threading.Lock()


def log(mode, event):
    with LOG_LOCK:
        sys.stdout.write(f"{time.monotonic() - T0:.3f} {mode} {event}\n")
        sys.stdout.flush()


def read_request(conn):
    """The request head (bytes up to the blank line), or None when the client left."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
        if len(data) > 65536:
            return None
    return data.split(b"\r\n\r\n", 1)[0].decode("latin-1")


def serve_good(conn, args):
    while True:  # keep-alive: the client asks for both files on one connection
        head = read_request(conn)
        if head is None:
            return
        lines = head.split("\r\n")
        path = lines[0].split(" ")[1] if len(lines[0].split(" ")) > 1 else ""
        auth = [l for l in lines[1:] if l.lower().startswith("authorization:")]
        name = os.path.basename(path)
        if not auth or auth[0].split(":", 1)[1].strip() != "Bearer " + args.token:
            status, body = "401 Unauthorized", b"unauthorized\n"
        elif name in ("unique-domains.log", "unique-ips.log"):
            with open(os.path.join(args.dir, name), "rb") as f:
                status, body = "200 OK", f.read()
        else:
            status, body = "404 Not Found", b"not found\n"
        conn.sendall(f"HTTP/1.1 {status}\r\nContent-Type: text/plain\r\n"
                     f"Content-Length: {len(body)}\r\n\r\n".encode() + body)
        log("good", f"served {path} {status.split()[0]}")


def serve_headers(conn, _args):
    if read_request(conn) is None:
        return
    log("headers", "request")
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n")
    line = b"X-Pad-%07d: " + b"a" * 1000 + b"\r\n"
    sent = 0
    i = 0
    while sent < 100 * 1000 * 1000:
        batch = b"".join(line % (i + k) for k in range(64))
        conn.sendall(batch)
        sent += len(batch)
        i += 64
    conn.sendall(b"Content-Length: 3\r\n\r\nok\n")
    log("headers", f"sent {sent} header bytes")


def serve_trickle_headers(conn, _args):
    if read_request(conn) is None:
        return
    log("trickle-headers", "request")
    conn.sendall(b"HTTP/1.1 200 OK\r\n")
    while True:
        conn.sendall(b"X")
        time.sleep(0.5)


def serve_trickle_body(conn, _args):
    if read_request(conn) is None:
        return
    log("trickle-body", "request")
    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n\r\n")
    while True:
        conn.sendall(b"a")
        time.sleep(0.5)


HANDLERS = {
    "good": serve_good,
    "headers": serve_headers,
    "trickle-headers": serve_trickle_headers,
    "silent": None,
    "trickle-body": serve_trickle_body,
}


def handle(raw, mode, ctx, args):
    try:
        if mode == "silent":
            log(mode, "accepted")
            while raw.recv(4096):  # until the client gives up
                pass
            log(mode, "client left")
            return
        conn = ctx.wrap_socket(raw, server_side=True)
        HANDLERS[mode](conn, args)
    except (OSError, ssl.SSLError) as e:
        log(mode, f"client left ({type(e).__name__})")
    finally:
        raw.close()


def listen(addr, mode, ctx, args):
    host, port = addr.rsplit(":", 1)
    srv = socket.create_server((host, int(port)))
    def loop():
        while True:
            raw, _ = srv.accept()
            threading.Thread(target=handle, args=(raw, mode, ctx, args), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--token", required=True)
    p.add_argument("--dir", required=True)
    p.add_argument("listeners", nargs="+", metavar="ADDR:PORT=MODE")
    args = p.parse_args()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    for spec in args.listeners:
        addr, mode = spec.split("=", 1)
        if mode not in HANDLERS:
            p.error(f"unknown mode {mode}")
        listen(addr, mode, ctx, args)
    log("-", "ready")
    while True:
        time.sleep(3600)


if __name__ == "__main__":
    main()
