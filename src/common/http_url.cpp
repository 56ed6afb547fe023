#include "common/http_url.h"

#include <fmt/core.h>

#include <charconv>

#include "common/ip_address.h"

namespace em {

Result<HttpUrl> parse_http_url(const std::string& url, std::string_view what, bool query_allowed) {
    auto bad = [&](std::string_view why) {
        return Error{fmt::format("bad {} '{}': {}", what, url, why)};
    };
    for (char c : url)
        if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f)
            return bad("contains white space or control characters");
    size_t sep = url.find("://");
    if (sep == std::string::npos) return bad("want http://host[:port][/path] or https://...");
    HttpUrl out;
    for (char c : std::string_view(url).substr(0, sep))
        out.scheme += c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
    if (out.scheme != "http" && out.scheme != "https") return bad("scheme must be http or https");

    std::string_view rest = std::string_view(url).substr(sep + 3);
    if (rest.find('#') != std::string_view::npos) return bad("fragments are not supported");
    if (!query_allowed && rest.find('?') != std::string_view::npos)
        return bad("query strings are not supported");
    size_t slash = rest.find_first_of("/?");
    std::string_view authority = rest.substr(0, slash);
    std::string_view path = slash == std::string_view::npos ? "" : rest.substr(slash);
    if (authority.find('@') != std::string_view::npos)
        return bad("credentials in the URL are not supported");

    std::string_view port;
    bool has_port = false;
    if (!authority.empty() && authority.front() == '[') {
        size_t close = authority.find(']');
        if (close == std::string_view::npos) return bad("unterminated [IPv6 address]");
        std::string_view literal = authority.substr(1, close - 1);
        auto ip = IpAddress::parse(literal);
        if (!ip || !ip->is_v6()) return bad("not an IPv6 address in brackets");
        out.host = std::string(literal);
        std::string_view after = authority.substr(close + 1);
        if (!after.empty()) {
            if (after.front() != ':') return bad("junk after ]");
            port = after.substr(1);
            has_port = true;
        }
    } else {
        size_t colon = authority.find(':');
        out.host = std::string(authority.substr(0, colon));
        if (colon != std::string_view::npos) {
            port = authority.substr(colon + 1);
            has_port = true;
            if (port.find(':') != std::string_view::npos)
                return bad("an IPv6 address must be written in brackets");
        }
        for (char c : out.host) {
            bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '-' || c == '_';
            if (!ok) return bad("bad character in host name");
        }
    }
    if (out.host.empty()) return bad("no host");

    if (has_port) {
        int value = 0;
        auto r = std::from_chars(port.data(), port.data() + port.size(), value);
        if (port.empty() || r.ec != std::errc() || r.ptr != port.data() + port.size() ||
            value < 1 || value > 65535)
            return bad("port must be a number from 1 to 65535");
        out.port = value;
    } else {
        out.port = out.scheme == "https" ? 443 : 80;
    }
    if (path.find('?') == std::string_view::npos)
        while (!path.empty() && path.back() == '/') path.remove_suffix(1);
    out.path = std::string(path);
    if (!out.path.empty() && out.path.front() == '?') out.path.insert(0, "/");
    return out;
}

}  // namespace em
