#include "flowname/quic_keys.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>
#include <memory>
#include <string_view>

namespace em {
namespace {

// RFC 9001 §5.2 and RFC 9369 §3.3.1.
constexpr uint8_t kSaltV1[20] = {0x38, 0x76, 0x2c, 0xf7, 0xf5, 0x59, 0x34, 0xb3, 0x4d, 0x17,
                                 0x9a, 0xe6, 0xa4, 0xc8, 0x0c, 0xad, 0xcc, 0xbb, 0x7f, 0x0a};
constexpr uint8_t kSaltV2[20] = {0x0d, 0xed, 0xe3, 0xde, 0xf7, 0x00, 0xa6, 0xdb, 0x81, 0x93,
                                 0x81, 0xbe, 0x6e, 0x26, 0x9d, 0xcb, 0xf9, 0xbd, 0x2e, 0xd9};

struct CtxFree {
    void operator()(EVP_CIPHER_CTX* c) const { EVP_CIPHER_CTX_free(c); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

// HKDF-Expand-Label (RFC 8446 §7.1) with an empty context, for outputs of at most one
// SHA-256 block: T(1) = HMAC(secret, HkdfLabel || 0x01).
bool expand_label(const uint8_t secret[32], std::string_view label, uint8_t* out, size_t len) {
    uint8_t info[2 + 1 + 255 + 1 + 1];
    size_t n = 0;
    const std::string_view prefix = "tls13 ";
    if (len > 32 || prefix.size() + label.size() > 255) return false;
    info[n++] = static_cast<uint8_t>(len >> 8);
    info[n++] = static_cast<uint8_t>(len);
    info[n++] = static_cast<uint8_t>(prefix.size() + label.size());
    std::memcpy(info + n, prefix.data(), prefix.size());
    n += prefix.size();
    std::memcpy(info + n, label.data(), label.size());
    n += label.size();
    info[n++] = 0;  // context length
    info[n++] = 1;  // block counter
    uint8_t block[32];
    unsigned int block_len = 0;
    if (!HMAC(EVP_sha256(), secret, 32, info, n, block, &block_len) || block_len != 32)
        return false;
    std::memcpy(out, block, len);
    return true;
}

}  // namespace

bool quic_client_initial_keys(uint32_t version, const uint8_t* dcid, size_t dcid_len,
                              QuicInitialKeys& out) {
    const bool v2 = version == kQuicV2;
    if (!v2 && version != kQuicV1) return false;
    uint8_t initial[32], client[32];
    unsigned int len = 0;
    const uint8_t* salt = v2 ? kSaltV2 : kSaltV1;
    // HKDF-Extract(salt, dcid) = HMAC(salt, dcid).
    if (!HMAC(EVP_sha256(), salt, 20, dcid, dcid_len, initial, &len) || len != 32) return false;
    if (!expand_label(initial, "client in", client, 32)) return false;
    return expand_label(client, v2 ? "quicv2 key" : "quic key", out.key, 16) &&
           expand_label(client, v2 ? "quicv2 iv" : "quic iv", out.iv, 12) &&
           expand_label(client, v2 ? "quicv2 hp" : "quic hp", out.hp, 16);
}

bool quic_header_mask(const uint8_t hp[16], const uint8_t sample[16], uint8_t mask[16]) {
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    int n = 0;
    return ctx && EVP_EncryptInit_ex(ctx.get(), EVP_aes_128_ecb(), nullptr, hp, nullptr) == 1 &&
           EVP_CIPHER_CTX_set_padding(ctx.get(), 0) == 1 &&
           EVP_EncryptUpdate(ctx.get(), mask, &n, sample, 16) == 1 && n == 16;
}

bool quic_open(const QuicInitialKeys& keys, uint64_t packet_number, const uint8_t* aad,
               size_t aad_len, const uint8_t* ct, size_t ct_len, uint8_t* out) {
    constexpr size_t kTag = 16;
    if (ct_len < kTag || aad_len > INT32_MAX || ct_len > INT32_MAX) return false;
    uint8_t nonce[12];
    std::memcpy(nonce, keys.iv, 12);
    for (int i = 0; i < 8; ++i) nonce[11 - i] ^= static_cast<uint8_t>(packet_number >> (8 * i));
    CipherCtx ctx(EVP_CIPHER_CTX_new());
    int n = 0, fin = 0;
    const int body = static_cast<int>(ct_len - kTag);
    return ctx && EVP_DecryptInit_ex(ctx.get(), EVP_aes_128_gcm(), nullptr, keys.key, nonce) == 1 &&
           EVP_DecryptUpdate(ctx.get(), nullptr, &n, aad, static_cast<int>(aad_len)) == 1 &&
           EVP_DecryptUpdate(ctx.get(), out, &n, ct, body) == 1 &&
           EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTag,
                               const_cast<uint8_t*>(ct + body)) == 1 &&
           EVP_DecryptFinal_ex(ctx.get(), out + n, &fin) == 1;
}

}  // namespace em
