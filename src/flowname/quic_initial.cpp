// A QUIC client's first datagram: the long-header Initial packet (RFC 9000 §17.2.2),
// its protection removed (RFC 9001 §5.4, §5.3) and its CRYPTO frames put back in order,
// then the ClientHello they carry. Only the first packet of a datagram is read (coalesced
// packets after it are 0-RTT or Handshake, never the ClientHello's start).
#include <cstring>
#include <vector>

#include "flowname/byte_reader.h"
#include "flowname/first_packet.h"
#include "flowname/quic_keys.h"

namespace em {
namespace {

using Status = FirstPacketDecode::Status;

constexpr size_t kMaxConnectionId = 20;  // RFC 9000 §17.2 for versions 1 and 2
constexpr size_t kTag = 16, kSample = 16;

FirstPacketDecode malformed(const char* why) {
    FirstPacketDecode d;
    d.name.protocol = FirstPacketProtocol::quic;
    d.status = Status::malformed;
    d.reason = why;
    return d;
}

// The frames of an Initial a client sends: PADDING, PING, ACK, CRYPTO, CONNECTION_CLOSE.
// CRYPTO data lands at its offset in `stream` (sized by the packet, not by any field);
// `have` marks the bytes present. Returns false on a frame an Initial cannot carry.
bool read_frames(ByteReader r, std::vector<uint8_t>& stream, std::vector<bool>& have) {
    while (r.left() > 0) {
        uint64_t type = 0;
        if (!r.varint(type)) return false;
        if (type == 0x00 || type == 0x01) continue;  // PADDING, PING
        if (type == 0x02 || type == 0x03) {          // ACK
            uint64_t largest = 0, delay = 0, ranges = 0, first = 0, v = 0;
            if (!r.varint(largest) || !r.varint(delay) || !r.varint(ranges) || !r.varint(first))
                return false;
            if (ranges > r.left()) return false;  // each range takes at least two bytes
            for (uint64_t i = 0; i < 2 * ranges; ++i)
                if (!r.varint(v)) return false;
            if (type == 0x03)
                for (int i = 0; i < 3; ++i)
                    if (!r.varint(v)) return false;
            continue;
        }
        if (type == 0x06) {  // CRYPTO
            uint64_t offset = 0, len = 0;
            ByteReader data(nullptr, 0);
            if (!r.varint(offset) || !r.varint(len) || len > r.left() || !r.sub(len, data))
                return false;
            // Beyond what one packet could hold from offset 0: a later packet's part.
            if (offset > stream.size() || len > stream.size() - offset) continue;
            std::memcpy(stream.data() + offset, data.data(), data.left());
            for (size_t i = 0; i < len; ++i) have[offset + i] = true;
            continue;
        }
        if (type == 0x1c) {  // CONNECTION_CLOSE
            uint64_t code = 0, frame = 0, len = 0;
            if (!r.varint(code) || !r.varint(frame) || !r.varint(len) || len > r.left() ||
                !r.skip(len))
                return false;
            continue;
        }
        return false;
    }
    return true;
}

}  // namespace

FirstPacketDecode decode_quic_initial(const uint8_t* p, size_t n) {
    FirstPacketDecode d;
    ByteReader r(p, n);
    uint8_t first = 0, dcid_len = 0, scid_len = 0;
    uint32_t version = 0;
    if (!r.u8(first) || (first & 0xc0) != 0xc0) return d;  // not a long header
    if (!r.u32(version) || (version != kQuicV1 && version != kQuicV2)) return d;
    const unsigned initial_type = version == kQuicV2 ? 1 : 0;
    if (((first >> 4) & 3) != initial_type) return d;  // 0-RTT, Handshake or Retry
    d.name.protocol = FirstPacketProtocol::quic;
    const uint8_t* dcid = nullptr;
    uint64_t token_len = 0, length = 0;
    if (!r.u8(dcid_len) || dcid_len > kMaxConnectionId)
        return malformed("QUIC Initial with a bad connection id");
    dcid = r.data();
    if (!r.skip(dcid_len) || !r.u8(scid_len) || scid_len > kMaxConnectionId || !r.skip(scid_len))
        return malformed("QUIC Initial with a bad connection id");
    if (!r.varint(token_len) || token_len > r.left() || !r.skip(token_len))
        return malformed("QUIC Initial with a bad token");
    if (!r.varint(length) || length > r.left())
        return malformed("QUIC Initial longer than its datagram");
    const size_t pn_offset = static_cast<size_t>(r.data() - p);
    if (length < 4 + kSample) return malformed("QUIC Initial too short to carry a sample");

    QuicInitialKeys keys;
    uint8_t mask[16];
    if (!quic_client_initial_keys(version, dcid, dcid_len, keys) ||
        !quic_header_mask(keys.hp, p + pn_offset + 4, mask))
        return malformed("QUIC Initial keys could not be derived");
    // The header with its protection removed is the AEAD's associated data.
    const uint8_t plain_first = first ^ (mask[0] & 0x0f);
    const size_t pn_len = (plain_first & 3) + 1;
    std::vector<uint8_t> header(p, p + pn_offset + pn_len);
    header[0] = plain_first;
    uint64_t pn = 0;
    for (size_t i = 0; i < pn_len; ++i) {
        header[pn_offset + i] ^= mask[1 + i];
        pn = pn << 8 | header[pn_offset + i];
    }
    // A client's first packets have small numbers: the truncated number is the number.
    const size_t ct_len = length - pn_len;
    if (ct_len < kTag + 1) return malformed("QUIC Initial too short to carry a frame");
    std::vector<uint8_t> plain(ct_len - kTag);
    if (!quic_open(keys, pn, header.data(), header.size(), p + pn_offset + pn_len, ct_len,
                   plain.data()))
        return malformed("QUIC Initial does not decrypt with its connection id's keys");

    std::vector<uint8_t> stream(plain.size());
    std::vector<bool> have(plain.size(), false);
    if (!read_frames(ByteReader(plain.data(), plain.size()), stream, have))
        return malformed("QUIC Initial with a frame a client Initial cannot carry");
    size_t contiguous = 0;
    while (contiguous < have.size() && have[contiguous]) ++contiguous;
    if (contiguous == 0) {
        d.status = Status::incomplete;  // the ClientHello starts in another packet
        return d;
    }
    FirstPacketDecode hello = decode_client_hello(stream.data(), contiguous);
    if (hello.status == Status::not_protocol)
        return malformed("QUIC Initial whose CRYPTO data is not a ClientHello");
    hello.name.protocol = FirstPacketProtocol::quic;
    return hello;
}

}  // namespace em
