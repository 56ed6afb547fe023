// The TLS ClientHello (RFC 8446 §4.1.2) as far as it names the server: server_name
// (RFC 6066 §3), application_layer_protocol_negotiation (RFC 7301) and
// encrypted_client_hello (draft-ietf-tls-esni). A ClientHello cut short by the end of the
// segment or packet is read as far as it goes: clients put the extensions in any order, and
// the name is often in the first part.
#include <algorithm>
#include <vector>

#include "flowname/byte_reader.h"
#include "flowname/first_packet.h"

namespace em {
namespace {

using Status = FirstPacketDecode::Status;

constexpr uint8_t kClientHello = 1;
constexpr uint16_t kServerName = 0, kAlpn = 16, kEncryptedClientHello = 0xfe0d;
constexpr uint8_t kHostName = 0;
constexpr uint8_t kHandshakeRecord = 22;
constexpr size_t kMaxRecord = (1 << 14) + 2048;  // RFC 8446 §5.2: TLSCiphertext bound

FirstPacketDecode malformed(const char* why) {
    FirstPacketDecode d;
    d.status = Status::malformed;
    d.reason = why;
    return d;
}

bool printable(const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i)
        if (p[i] <= 0x20 || p[i] >= 0x7f || p[i] == ',') return false;
    return n > 0;
}

// server_name: a list of (type, name); the first host_name counts.
bool read_server_name(ByteReader ext, FirstPacketDecode& d) {
    uint16_t list_len = 0;
    ByteReader list(nullptr, 0);
    if (!ext.u16(list_len) || !ext.sub(list_len, list)) return false;
    while (list.left() > 0) {
        uint8_t type = 0;
        uint16_t len = 0;
        ByteReader name(nullptr, 0);
        if (!list.u8(type) || !list.u16(len) || !list.sub(len, name)) return false;
        if (type != kHostName) continue;
        if (!canonical_host_name(name.data(), name.left(), d.name.name)) return false;
        return true;
    }
    return true;  // no host_name entry
}

void read_alpn(ByteReader ext, FirstPacketName& out) {
    uint16_t list_len = 0;
    ByteReader list(nullptr, 0);
    if (!ext.u16(list_len) || !ext.sub(list_len, list)) return;
    size_t taken = 0;
    while (list.left() > 0 && taken < kMaxAlpn) {
        uint8_t len = 0;
        ByteReader proto(nullptr, 0);
        if (!list.u8(len) || !list.sub(len, proto)) return;
        if (!printable(proto.data(), proto.left())) continue;  // GREASE or binary ids
        if (taken++) out.alpn += ',';
        out.alpn.append(reinterpret_cast<const char*>(proto.data()), proto.left());
    }
}

}  // namespace

bool canonical_host_name(const uint8_t* p, size_t n, std::string& out) {
    if (n > 0 && p[n - 1] == '.') --n;
    if (n == 0 || n > 253) return false;
    out.clear();
    out.reserve(n);
    char prev = '.';
    for (size_t i = 0; i < n; ++i) {
        char c = static_cast<char>(p[i]);
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
        const bool ok =
            (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.';
        if (!ok || (c == '.' && prev == '.')) return false;
        out += c;
        prev = c;
    }
    return true;
}

FirstPacketDecode decode_client_hello(const uint8_t* p, size_t n) {
    FirstPacketDecode d;
    ByteReader r(p, n);
    uint8_t type = 0;
    uint32_t length = 0;
    if (!r.u8(type) || type != kClientHello) return d;
    if (!r.u24(length)) {
        d.status = Status::incomplete;
        return d;
    }
    // What is here of the message; the rest (if any) is in later segments or packets.
    ByteReader body(r.data(), std::min<size_t>(length, r.left()));
    const bool cut = r.left() < length;
    auto short_or = [&](const char* why) {
        if (!cut) return malformed(why);
        FirstPacketDecode s;
        s.status = Status::incomplete;
        return s;
    };
    uint16_t version = 0, suites_len = 0, ext_len = 0;
    uint8_t session_len = 0, compression_len = 0;
    if (!body.u16(version) || !body.skip(32))
        return short_or("ClientHello shorter than its header");
    if ((version >> 8) != 3) return malformed("ClientHello with a version that is not TLS");
    if (!body.u8(session_len) || session_len > 32 || !body.skip(session_len))
        return short_or("ClientHello with a bad session id");
    if (!body.u16(suites_len) || suites_len < 2 || suites_len % 2 || !body.skip(suites_len))
        return short_or("ClientHello with a bad cipher suite list");
    if (!body.u8(compression_len) || compression_len < 1 || !body.skip(compression_len))
        return short_or("ClientHello with a bad compression method list");
    if (body.left() == 0 && !cut) {
        d.status = Status::no_name;  // no extensions at all
        return d;
    }
    if (!body.u16(ext_len)) return short_or("ClientHello with a bad extension list");
    if (!cut && ext_len != body.left())
        return malformed("ClientHello whose extensions do not fill it");
    bool have_name = false, have_alpn = false;
    while (body.left() > 0) {
        uint16_t ext_type = 0, len = 0;
        ByteReader ext(nullptr, 0);
        if (!body.u16(ext_type) || !body.u16(len) || !body.sub(len, ext)) {
            if (cut) break;
            return malformed("ClientHello extension longer than the message");
        }
        if (ext_type == kServerName) {
            if (have_name) return malformed("ClientHello with two server_name extensions");
            if (!read_server_name(ext, d)) return malformed("server_name is not a host name");
            have_name = !d.name.name.empty();
        } else if (ext_type == kAlpn) {
            // RFC 8446 §4.2: an extension appears once.
            if (have_alpn) return malformed("ClientHello with two ALPN extensions");
            have_alpn = true;
            read_alpn(ext, d.name);
        } else if (ext_type == kEncryptedClientHello) {
            d.name.ech = true;
        }
    }
    if (have_name) {
        d.status = Status::found;
    } else {
        d.status = cut ? Status::incomplete : Status::no_name;
    }
    return d;
}

FirstPacketDecode decode_tls_first_segment(const uint8_t* p, size_t n) {
    // The handshake may span records: join the fragments the segment holds (bounded by the
    // segment's own size, never by a length field).
    ByteReader r(p, n);
    std::vector<uint8_t> handshake;
    bool first = true;
    while (r.left() > 0) {
        uint8_t content = 0, major = 0, minor = 0;
        uint16_t len = 0;
        if (!r.u8(content) || content != kHandshakeRecord) {
            if (first) return {};
            break;
        }
        if (!r.u8(major) || !r.u8(minor) || !r.u16(len)) {
            if (first) return {};
            break;
        }
        if (major != 3 || minor > 4) {
            if (first) return {};
            break;
        }
        if (len == 0 || len > kMaxRecord) return malformed("TLS record with a bad length");
        // The common case: the segment ends within or with the first record: no copy.
        if (first && r.left() <= len) return decode_client_hello(r.data(), r.left());
        const size_t here = std::min<size_t>(len, r.left());
        handshake.insert(handshake.end(), r.data(), r.data() + here);
        (void)r.skip(here);
        first = false;
    }
    if (handshake.empty()) return {};
    return decode_client_hello(handshake.data(), handshake.size());
}

}  // namespace em
