#include "exporters/http/tls.h"

#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <unistd.h>

#include <memory>

#include "common/files.h"
#include "common/tls_policy.h"
#include "common/unique_fd.h"

namespace em::http {

namespace {

constexpr size_t kMaxPemBytes = size_t{1} << 20;

Result<std::string> read_pem(const char* what, const std::string& path) {
    if (path.empty()) return Error{std::string("no ") + what + " configured (or set plain_http)"};
    return read_file_limited(path, kMaxPemBytes,
                             {std::string("cannot read ") + what + " " + path,
                              std::string(what) + " " + path + " is larger than 1 MiB"});
}

// GnuTLS (inside libmicrohttpd) serves; OpenSSL checks the files first so that a wrong file
// gets an error that says which and why.
Result<void> check_tls_files(const std::string& cert, const std::string& key) {
    std::unique_ptr<SSL_CTX, Deleter<SSL_CTX_free>> ctx(SSL_CTX_new(TLS_server_method()));
    if (!ctx) return Error{"cannot set up TLS: " + openssl_error()};
    ERR_clear_error();
    if (SSL_CTX_use_certificate_chain_file(ctx.get(), cert.c_str()) != 1)
        return Error{"TLS certificate " + cert +
                     " is not a valid PEM certificate: " + openssl_error()};
    if (SSL_CTX_use_PrivateKey_file(ctx.get(), key.c_str(), SSL_FILETYPE_PEM) != 1)
        return Error{"TLS key " + key + " is not a valid PEM private key: " + openssl_error()};
    if (SSL_CTX_check_private_key(ctx.get()) != 1)
        return Error{"TLS key " + key + " does not match the certificate " + cert + ": " +
                     openssl_error()};
    return {};
}

}  // namespace

Result<TlsPem> load_tls_pem(const std::string& cert_path, const std::string& key_path) {
    auto cert = read_pem("TLS certificate (tls_cert)", cert_path);
    if (!cert) return cert.error();
    auto key = read_pem("TLS key (tls_key)", key_path);
    if (!key) return key.error();
    if (auto r = check_tls_files(cert_path, key_path); !r) return r.error();
    return TlsPem{std::move(*cert), std::move(*key)};
}

}  // namespace em::http
