#pragma once
// A local HTTPS server for the TLS clients' tests: 127.0.0.1 only, a self-signed RSA
// certificate for IP 127.0.0.1 (made once with the openssl CLI into a temporary directory,
// removed at exit), optionally restricted to TLS 1.2 with given OpenSSL cipher suites. Every
// request gets `status` and an empty body; requests() counts those that got through TLS.
#include <httplib.h>
#include <openssl/ssl.h>
#include <stdlib.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <thread>

namespace em::testing {

struct TestCert {
    std::string dir, cert, key;
    bool ok = false;
    TestCert() {
        char tmpl[] = "/tmp/em-tls-test-XXXXXX";
        if (!::mkdtemp(tmpl)) return;
        dir = tmpl;
        cert = dir + "/cert.pem";
        key = dir + "/key.pem";
        std::string cmd = "openssl req -x509 -newkey rsa:2048 -nodes -keyout " + key + " -out " +
                          cert +
                          " -subj /CN=localhost -addext subjectAltName=IP:127.0.0.1 -days 1 "
                          ">/dev/null 2>&1";
        ok = std::system(cmd.c_str()) == 0;
    }
    ~TestCert() {
        std::error_code ec;
        if (!dir.empty()) std::filesystem::remove_all(dir, ec);
    }
};

inline const TestCert& test_cert() {
    static TestCert c;
    return c;
}

class TlsTestServer {
  public:
    /// `tls12_ciphers` empty: OpenSSL's defaults (TLS 1.3 first). Otherwise TLS 1.2 at most,
    /// with only those suites.
    explicit TlsTestServer(const std::string& tls12_ciphers, int status = 200)
        : srv_(test_cert().cert.c_str(), test_cert().key.c_str()) {
        if (!tls12_ciphers.empty()) {
            SSL_CTX_set_max_proto_version(srv_.ssl_context(), TLS1_2_VERSION);
            configured_ = SSL_CTX_set_cipher_list(srv_.ssl_context(), tls12_ciphers.c_str()) == 1;
        }
        auto handler = [this, status](const httplib::Request&, httplib::Response& res) {
            ++requests_;
            res.status = status;
        };
        srv_.Get(".*", handler);
        srv_.Post(".*", handler);
        port_ = srv_.bind_to_any_port("127.0.0.1");
        thread_ = std::thread([this] { srv_.listen_after_bind(); });
        for (int i = 0; i < 400 && !srv_.is_running(); ++i)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    ~TlsTestServer() {
        srv_.stop();
        thread_.join();
    }
    bool configured() const { return configured_ && port_ > 0 && test_cert().ok; }
    std::string url(const std::string& path = "/") const {
        return "https://127.0.0.1:" + std::to_string(port_) + path;
    }
    int requests() const { return requests_; }

  private:
    httplib::SSLServer srv_;
    bool configured_ = true;
    int port_ = 0;
    std::atomic<int> requests_{0};
    std::thread thread_;
};

/// TLS 1.2 suites a client must refuse: plain-RSA key exchange (no forward secrecy), CBC with
/// SHA-1 MACs, CBC with ECDHE, and an AEAD suite without ECDHE.
inline const char* const kWeakTls12Suites[] = {"AES128-SHA:AES256-SHA", "ECDHE-RSA-AES128-SHA",
                                               "ECDHE-RSA-AES128-SHA256", "AES128-GCM-SHA256"};
/// What the policy accepts: ECDHE with AEAD on TLS 1.2 ("" = TLS 1.3 by default).
inline const char* const kGoodSuites[] = {"ECDHE-RSA-AES128-GCM-SHA256",
                                          "ECDHE-RSA-CHACHA20-POLY1305", ""};

}  // namespace em::testing
