#pragma once
// The endpoint's TLS set-up: what libmicrohttpd (GnuTLS) is given to serve with. The
// client side's policy is common/tls_policy.h; this is the same policy in GnuTLS's terms.
#include <string>

#include "common/result.h"

namespace em::http {

/// GnuTLS priorities: TLS 1.3, and TLS 1.2 only with ECDHE key exchange and AEAD ciphers
/// (no RSA key exchange, no CBC, no SHA-1 MAC).
inline constexpr const char* kTlsPriorities =
    "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-256-GCM:+AES-128-GCM:"
    "+CHACHA20-POLY1305:-MAC-ALL:+AEAD:-KX-ALL:+ECDHE-ECDSA:+ECDHE-RSA:%SERVER_PRECEDENCE";

/// The certificate chain and private key, PEM text, as read from their files.
struct TlsPem {
    std::string cert, key;
};

/// Reads the certificate chain `cert_path` and the private key `key_path` (PEM, at most
/// 1 MiB each; an empty path is "not configured") and checks them with OpenSSL: a valid
/// certificate, a valid key, and the key the certificate's. Errors name the file and say
/// why, as the operator would read it from openssl(1).
Result<TlsPem> load_tls_pem(const std::string& cert_path, const std::string& key_path);

}  // namespace em::http
