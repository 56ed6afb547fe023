// An HTTP/1.x request's start (RFC 9112 §3, §3.2): a known method, a request target, the
// version, then the header fields up to the Host field. Anything else is not HTTP: a
// segment of another protocol that happens to begin with letters says nothing.
#include <algorithm>
#include <array>
#include <string_view>

#include "common/ascii.h"
#include "common/ip_address.h"
#include "flowname/first_packet.h"

namespace em {
namespace {

using Status = FirstPacketDecode::Status;

constexpr std::array<std::string_view, 9> kMethods = {
    "GET ", "POST ", "HEAD ", "PUT ", "DELETE ", "OPTIONS ", "PATCH ", "CONNECT ", "TRACE "};
constexpr size_t kMaxLine = 8192;  // a longer line is cut off: the name is not in this segment

bool port_digits(std::string_view s) {
    if (s.empty() || s.size() > 5) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

// Host = uri-host [ ":" port ]; uri-host is a reg-name, an IPv4 address or "[" IPv6 "]".
bool host_name(std::string_view v, std::string& out) {
    if (!v.empty() && v.front() == '[') {
        const size_t close = v.find(']');
        if (close == std::string_view::npos || close < 3 || close > 40) return false;
        std::string_view rest = v.substr(close + 1);
        if (!rest.empty() && (rest.front() != ':' || !port_digits(rest.substr(1)))) return false;
        // An IPv6 literal: parsed, and given in its canonical (RFC 5952) form.
        auto ip = IpAddress::parse(v.substr(1, close - 1));
        if (!ip || !ip->is_v6()) return false;
        out = ip->to_string();
        return true;
    }
    if (const size_t colon = v.rfind(':'); colon != std::string_view::npos) {
        if (!port_digits(v.substr(colon + 1))) return false;
        v = v.substr(0, colon);
    }
    return canonical_host_name(reinterpret_cast<const uint8_t*>(v.data()), v.size(), out);
}

}  // namespace

FirstPacketDecode decode_http_request(const uint8_t* p, size_t n) {
    FirstPacketDecode d;
    d.name.protocol = FirstPacketProtocol::http;
    const std::string_view in(reinterpret_cast<const char*>(p), n);
    bool method = false;
    for (auto m : kMethods) method = method || in.substr(0, m.size()) == m;
    if (!method) return {};
    size_t eol = in.find("\r\n");
    const std::string_view line = in.substr(0, std::min(eol, kMaxLine));
    if (eol > kMaxLine) {  // npos too: not a complete request line yet
        d.status = Status::incomplete;
        return d;
    }
    const size_t sp = line.rfind(' ');
    if (sp == std::string_view::npos || line.substr(sp + 1, 7) != "HTTP/1." ||
        line.size() != sp + 9)
        return {};  // a method word, but not an HTTP/1.x request line
    size_t pos = eol + 2;
    bool ended = false;  // the empty line that ends the header section was seen
    while (pos < in.size()) {
        eol = in.find("\r\n", pos);
        if (eol == std::string_view::npos || eol - pos > kMaxLine) {
            d.status = Status::incomplete;
            return d;
        }
        const std::string_view field = in.substr(pos, eol - pos);
        pos = eol + 2;
        if (field.empty()) {
            ended = true;
            break;
        }
        const size_t colon = field.find(':');
        if (colon == std::string_view::npos) {
            d.status = Status::malformed;
            d.reason = "HTTP header field without a colon";
            return d;
        }
        if (!iequals_ascii(field.substr(0, colon), "host")) continue;
        if (!host_name(trim_space(field.substr(colon + 1)), d.name.name)) {
            d.status = Status::malformed;
            d.reason = "HTTP Host is not a host name";
            return d;
        }
        d.status = Status::found;
        return d;
    }
    d.status = ended ? Status::no_name : Status::incomplete;
    return d;
}

}  // namespace em
