#include "common/tls_policy.h"

#include <gtest/gtest.h>
#include <openssl/ssl.h>

#include <memory>

namespace em {
namespace {

// The contract: a client offers TLS 1.3 suites, and on TLS 1.2 only ECDHE key exchange with
// an AEAD cipher; never below TLS 1.2.
TEST(TlsPolicy, ClientOffersOnlyTls13OrEcdheWithAead) {
    std::unique_ptr<SSL_CTX, decltype(&SSL_CTX_free)> ctx(SSL_CTX_new(TLS_client_method()),
                                                          SSL_CTX_free);
    ASSERT_TRUE(ctx);
    ASSERT_TRUE(apply_client_tls_policy(ctx.get()).ok());
    EXPECT_EQ(SSL_CTX_get_min_proto_version(ctx.get()), TLS1_2_VERSION);
    std::unique_ptr<SSL, decltype(&SSL_free)> ssl(SSL_new(ctx.get()), SSL_free);
    ASSERT_TRUE(ssl);
    STACK_OF(SSL_CIPHER)* ciphers = SSL_get_ciphers(ssl.get());
    ASSERT_NE(ciphers, nullptr);
    int tls12 = 0, tls13 = 0;
    for (int i = 0; i < sk_SSL_CIPHER_num(ciphers); ++i) {
        const SSL_CIPHER* c = sk_SSL_CIPHER_value(ciphers, i);
        const char* name = SSL_CIPHER_get_name(c);
        EXPECT_TRUE(SSL_CIPHER_is_aead(c)) << name;
        if (SSL_CIPHER_get_kx_nid(c) == NID_kx_any) {
            ++tls13;
            continue;
        }
        ++tls12;
        EXPECT_EQ(SSL_CIPHER_get_kx_nid(c), NID_kx_ecdhe) << name;
        EXPECT_NE(SSL_CIPHER_get_auth_nid(c), NID_auth_null) << name;
    }
    EXPECT_GT(tls12, 0);
    EXPECT_GT(tls13, 0);
}

TEST(TlsPolicy, NoContextIsAnError) { EXPECT_FALSE(apply_client_tls_policy(nullptr).ok()); }

}  // namespace
}  // namespace em
