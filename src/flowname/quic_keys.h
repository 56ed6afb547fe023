#pragma once
// The keys that protect a QUIC client's Initial packets, derived from the destination
// connection id it chose (RFC 9001 §5.2, RFC 9369 §3.3.1): public by design, so an observer
// on the path can read the ClientHello. OpenSSL does the cryptography.
#include <cstddef>
#include <cstdint>

namespace em {

inline constexpr uint32_t kQuicV1 = 0x00000001, kQuicV2 = 0x6b3343cf;

struct QuicInitialKeys {
    uint8_t key[16];  // AEAD_AES_128_GCM
    uint8_t iv[12];
    uint8_t hp[16];  // header protection, AES-128
};

/// The client's Initial keys for `version` (kQuicV1 or kQuicV2); false for other versions
/// or when OpenSSL fails.
bool quic_client_initial_keys(uint32_t version, const uint8_t* dcid, size_t dcid_len,
                              QuicInitialKeys& out);

/// The header-protection mask: AES-128-ECB of the 16-byte sample under `hp`.
bool quic_header_mask(const uint8_t hp[16], const uint8_t sample[16], uint8_t mask[16]);

/// AES-128-GCM open: `ct` ends with the 16-byte tag; writes ct_len - 16 bytes to `out`.
/// False when the tag does not verify.
bool quic_open(const QuicInitialKeys& keys, uint64_t packet_number, const uint8_t* aad,
               size_t aad_len, const uint8_t* ct, size_t ct_len, uint8_t* out);

}  // namespace em
