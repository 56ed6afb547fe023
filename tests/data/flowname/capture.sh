#!/bin/sh
# Regenerates the first segments of real clients, captured on loopback (no other address):
#   openssl_client_hello.bin  openssl s_client -servername www.example.test -alpn h2,http/1.1
#   curl_http_request.bin     curl --http1.1 http://www.example.test:8080/ (--resolve to loopback)
# Each file is the first read() of the server side: the client's first data segment.
set -eu
cd "$(dirname "$0")"
capture() {  # PORT OUT: accept one connection on 127.0.0.1:PORT, write its first read to OUT
    python3 - "$1" "$2" <<'PY' &
import socket, sys
s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1]))); s.listen(1)
c, _ = s.accept(); data = c.recv(65536)
open(sys.argv[2], "wb").write(data); c.close()
PY
    for _ in $(seq 100); do ss -ltn | grep -q "127.0.0.1:$1 " && return 0; sleep 0.1; done
    echo "capture: no listener on $1" >&2
    exit 1
}
capture 48443 openssl_client_hello.bin
openssl s_client -connect 127.0.0.1:48443 -servername www.example.test -alpn h2,http/1.1 \
    </dev/null >/dev/null 2>&1 || true
wait
capture 48080 curl_http_request.bin
curl -s --max-time 2 --http1.1 --resolve www.example.test:48080:127.0.0.1 \
    http://www.example.test:48080/path >/dev/null 2>&1 || true
wait
ls -l openssl_client_hello.bin curl_http_request.bin
