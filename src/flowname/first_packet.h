#pragma once
// What the first packet of a connection says about where it is going: the server name of a
// TLS ClientHello (over TCP, or inside a QUIC Initial), or the Host of an HTTP/1.x request.
// The decoders read only the bytes given, allocate nothing sized by a length field of the
// input, and never throw.
#include <cstddef>
#include <cstdint>
#include <string>

namespace em {

enum class FirstPacketProtocol : uint8_t { tls, quic, http };

/// "tls", "quic" or "http" (events, summary.json, show); "unknown" for a value out of range
/// (a ledger row written by a later version).
inline const char* first_packet_protocol_name(uint8_t p) {
    switch (p) {
        case static_cast<uint8_t>(FirstPacketProtocol::tls):
            return "tls";
        case static_cast<uint8_t>(FirstPacketProtocol::quic):
            return "quic";
        case static_cast<uint8_t>(FirstPacketProtocol::http):
            return "http";
        default:
            return "unknown";
    }
}

struct FirstPacketName {
    FirstPacketProtocol protocol = FirstPacketProtocol::tls;
    /// The server name (TLS/QUIC) or Host (HTTP), lower case, without a trailing dot or a
    /// port; only letters, digits, '-', '_' and '.' (an IPv6 literal Host: hex digits and ':').
    std::string name;
    /// TLS/QUIC: the ALPN protocols offered, comma-separated in the client's order
    /// (printable ones only, at most kMaxAlpn); empty when none.
    std::string alpn;
    /// TLS/QUIC: the client offered Encrypted Client Hello (a real or a GREASE
    /// encrypted_client_hello extension): the visible name may be only the outer one.
    bool ech = false;
};

inline constexpr size_t kMaxAlpn = 8;

struct FirstPacketDecode {
    enum class Status : uint8_t {
        found,         // `name` holds the name
        not_protocol,  // not the start of this protocol (other traffic): nothing to say
        no_name,       // this protocol, complete enough, but it names no host
        incomplete,    // this protocol, but the name is beyond the bytes given
        malformed,     // this protocol, broken or hostile: `reason` says how
    };
    Status status = Status::not_protocol;
    FirstPacketName name;
    const char* reason = "";  // static text, for malformed
};

/// A TCP client's first data segment: a TLS record carrying a ClientHello.
FirstPacketDecode decode_tls_first_segment(const uint8_t* p, size_t n);
/// A TLS handshake message (no record layer): the ClientHello as QUIC carries it.
FirstPacketDecode decode_client_hello(const uint8_t* p, size_t n);
/// A UDP datagram: a QUIC v1 (RFC 9000) or v2 (RFC 9369) client Initial, decrypted with the
/// keys derived from its destination connection id (RFC 9001 §5.2).
FirstPacketDecode decode_quic_initial(const uint8_t* p, size_t n);
/// A TCP client's first data segment: an HTTP/1.x request line and its Host header.
FirstPacketDecode decode_http_request(const uint8_t* p, size_t n);

/// Puts a host name in `out` (lower case, trailing dot removed) when it has the shape of one:
/// 1–253 characters of letters, digits, '-', '_' and '.', no empty label.
bool canonical_host_name(const uint8_t* p, size_t n, std::string& out);

}  // namespace em
