#include "common/tls_policy.h"

#include <openssl/err.h>

namespace em {

Result<void> apply_client_tls_policy(SSL_CTX* ctx) {
    if (!ctx) return Error{"no TLS context to apply the TLS policy to"};
    ERR_clear_error();
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        SSL_CTX_set_cipher_list(ctx, kClientTls12Ciphers) != 1) {
        return Error{"cannot apply the TLS policy: " + openssl_error()};
    }
    return {};
}

std::string openssl_error() {
    unsigned long e = ERR_get_error();
    ERR_clear_error();
    if (e == 0) return "unknown error";
    char buf[256];
    ERR_error_string_n(e, buf, sizeof buf);
    return buf;
}

}  // namespace em
