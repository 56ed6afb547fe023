#include "format/fields.h"

#include <charconv>

namespace em::format_detail {

namespace {

constexpr int64_t kMaxCount = int64_t{1} << 62;
constexpr size_t kMaxDomainBytes = 253;

bool is_digit(char c) { return c >= '0' && c <= '9'; }

int two(const char* p) { return (p[0] - '0') * 10 + (p[1] - '0'); }

// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil).
int64_t days_from_civil(int64_t y, int m, int d) {
    y -= m <= 2;
    int64_t era = y / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

}  // namespace

const char* parse_count(std::string_view s, int64_t& out) {
    if (s.empty()) return "missing count";
    for (char c : s)
        if (!is_digit(c)) return "bad count (not a decimal integer)";
    if (s[0] == '0') return s.size() == 1 ? "bad count (zero)" : "bad count (leading zero)";
    if (s.size() > 19) return "bad count (too large)";
    uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc() || p != s.data() + s.size() || v > static_cast<uint64_t>(kMaxCount))
        return "bad count (too large)";
    out = static_cast<int64_t>(v);
    return nullptr;
}

// No leap second: the writer never writes one, and format_rfc3339 could not give it back.
std::optional<int64_t> parse_time(std::string_view s) {
    if (s.size() != 20) return std::nullopt;
    const char* p = s.data();
    for (int i : {0, 1, 2, 3, 5, 6, 8, 9, 11, 12, 14, 15, 17, 18})
        if (!is_digit(p[i])) return std::nullopt;
    if (p[4] != '-' || p[7] != '-' || p[10] != 'T' || p[13] != ':' || p[16] != ':' || p[19] != 'Z')
        return std::nullopt;
    int year = two(p) * 100 + two(p + 2);
    int mon = two(p + 5), day = two(p + 8), hour = two(p + 11), min = two(p + 14),
        sec = two(p + 17);
    if (year < 1970 || mon < 1 || mon > 12 || day < 1 || hour > 23 || min > 59 || sec > 59)
        return std::nullopt;
    static constexpr int kDays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    int mdays = kDays[mon - 1] + (mon == 2 && leap ? 1 : 0);
    if (day > mdays) return std::nullopt;
    return days_from_civil(year, mon, day) * 86400 + int64_t{hour} * 3600 + min * 60 + sec;
}

// IpAddress::to_string() gives back the same text: no leading zeros in a quad; RFC 5952
// lower case, compressed, for IPv6.
std::optional<IpAddress> parse_ip(std::string_view s) {
    auto ip = IpAddress::parse(s);
    if (!ip) return std::nullopt;
    if (ip->is_v4()) {
        // parse() checked the shape; only a leading zero could make the text differ.
        for (size_t i = 0; i + 1 < s.size(); ++i)
            if (s[i] == '0' && (i == 0 || s[i - 1] == '.') && is_digit(s[i + 1]))
                return std::nullopt;
        return ip;
    }
    char buf[IpAddress::kMaxText];
    if (std::string_view(buf, ip->format(buf)) != s) return std::nullopt;
    return ip;
}

const char* check_domain(std::string_view s) {
    if (s.empty()) return "missing domain";
    if (s.size() > kMaxDomainBytes) return "bad domain (longer than 253 bytes)";
    for (char c : s) {
        if (c >= 'A' && c <= 'Z') return "bad domain (upper case)";
        if (c <= 0x20 || c >= 0x7f) return "bad domain (not printable ASCII)";
    }
    if (s.back() == '.') return "bad domain (trailing dot)";
    return nullptr;
}

const char* check_flow_name(std::string_view s) {
    if (s.empty()) return "missing name";
    if (s.size() > kMaxDomainBytes) return "bad name (longer than 253 bytes)";
    char prev = '.';
    for (char c : s) {
        if (c >= 'A' && c <= 'Z') return "bad name (upper case)";
        const bool ok =
            (c >= 'a' && c <= 'z') || is_digit(c) || c == '-' || c == '_' || c == '.' || c == ':';
        if (!ok) return "bad name (not a host name)";
        if (c == '.' && prev == '.') return "bad name (empty label)";
        prev = c;
    }
    if (s.back() == '.') return "bad name (trailing dot)";
    return nullptr;
}

bool is_flow_protocol(std::string_view s) { return s == "http" || s == "quic" || s == "tls"; }

const char* check_use_dest(char kind, std::string_view dest) {
    if (kind == 'd') return check_domain(dest);
    if (kind == 'i') return parse_ip(dest) ? nullptr : "bad address";
    return "bad kind (want d or i)";
}

const char* check_field(std::string_view value) {
    return value.size() > kMaxFieldBytes ? "bad field (longer than 4096 bytes)" : nullptr;
}

namespace {

bool needs_escape(unsigned char c) { return c <= 0x20 || c >= 0x7f || c == '%'; }

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;  // lower case is not the writer's spelling
}

}  // namespace

void append_field(std::string& out, std::string_view value) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    if (value.empty()) {
        out += '-';
        return;
    }
    if (value == "-") {
        out += "%2D";
        return;
    }
    for (char ch : value) {
        auto c = static_cast<unsigned char>(ch);
        if (needs_escape(c)) {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        } else {
            out += ch;
        }
    }
}

const char* parse_field(std::string_view s, std::string& out) {
    out.clear();
    if (s == "-") return nullptr;
    if (s == "%2D") {
        out = "-";
        return nullptr;
    }
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] != '%') {
            if (needs_escape(static_cast<unsigned char>(s[i])))
                return "bad field (a control, space or non-ASCII byte not %-escaped)";
            out += s[i];
            continue;
        }
        if (i + 2 >= s.size()) return "bad field (short %-escape)";
        const int hi = hex_value(s[i + 1]), lo = hex_value(s[i + 2]);
        if (hi < 0 || lo < 0) return "bad field (not an upper-case %-escape)";
        const auto c = static_cast<unsigned char>(hi * 16 + lo);
        if (!needs_escape(c)) return "bad field (a %-escape of a byte written as itself)";
        out += static_cast<char>(c);
        i += 2;
    }
    if (out.size() > kMaxFieldBytes) return "bad field (longer than 4096 bytes)";
    return nullptr;
}

const char* split_fields(std::string_view line, std::string_view* fields, size_t n) {
    size_t got = 0, start = 0;
    while (true) {
        size_t sp = line.find(' ', start);
        std::string_view f = line.substr(start, sp == std::string_view::npos ? sp : sp - start);
        if (f.empty()) return "extra space or empty field";
        if (got == n) return "too many fields";
        fields[got++] = f;
        if (sp == std::string_view::npos) break;
        start = sp + 1;
    }
    return got == n ? nullptr : "too few fields";
}

}  // namespace em::format_detail
