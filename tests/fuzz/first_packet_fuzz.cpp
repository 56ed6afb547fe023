// Fuzzes the first-packet decoders (TLS ClientHello in a TCP segment or bare, QUIC Initial,
// HTTP request): every input gives a status; a name is always one canonical field, ALPN
// printable, and a malformed input always says why.
#include <cstdint>
#include <cstring>

#include "flowname/first_packet.h"

namespace {

void check(const em::FirstPacketDecode& d) {
    using Status = em::FirstPacketDecode::Status;
    if (d.status == Status::malformed && std::strlen(d.reason) == 0) __builtin_trap();
    if (d.status == Status::found && d.name.name.empty()) __builtin_trap();
    if (d.name.name.size() > 253) __builtin_trap();
    for (char c : d.name.name) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                        c == '.' || c == ':';
        if (!ok) __builtin_trap();
    }
    for (char c : d.name.alpn)
        if (c <= 0x20 || c >= 0x7f) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    check(em::decode_tls_first_segment(data, size));
    check(em::decode_client_hello(data, size));
    check(em::decode_quic_initial(data, size));
    check(em::decode_http_request(data, size));
    return 0;
}
