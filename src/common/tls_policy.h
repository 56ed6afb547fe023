#pragma once
// The TLS every client of this program speaks (the collector's fetch, the alert webhook and
// the Loki pusher, all through net/http_client, which applies it to each OpenSSL context
// libcurl makes): TLS 1.3 with OpenSSL's default suites (all AEAD with ephemeral key
// exchange), or TLS 1.2 with ECDHE key exchange and an AEAD cipher (AES-GCM,
// ChaCha20-Poly1305) only. Never plain-RSA key exchange (no forward secrecy), CBC suites,
// SHA-1 MACs, or anything below TLS 1.2. This is the one place that says so.
//
// (The endpoint serves through GnuTLS with its own priority string to the same effect:
// src/exporters/http/tls.h.)
#include <openssl/ssl.h>

#include <string>

#include "common/result.h"

namespace em {

/// The TLS 1.2 cipher list in OpenSSL syntax (also what libcurl's CURLOPT_SSL_CIPHER_LIST
/// takes with its OpenSSL backend).
inline constexpr const char* kClientTls12Ciphers = "ECDHE+AESGCM:ECDHE+CHACHA20:!aNULL";

/// Sets the policy on an OpenSSL client context: minimum TLS 1.2, the TLS 1.2 cipher list
/// above (TLS 1.3 suites left at OpenSSL's defaults). An error names what OpenSSL refused.
Result<void> apply_client_tls_policy(SSL_CTX* ctx);

/// The first queued OpenSSL error as text ("unknown error" when none); clears the queue.
std::string openssl_error();

}  // namespace em
