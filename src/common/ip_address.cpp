#include "common/ip_address.h"

#include <arpa/inet.h>

namespace em {

IpAddress IpAddress::v4(uint32_t host_order) {
    IpAddress a;
    a.family_ = 4;
    a.bytes_[0] = static_cast<uint8_t>(host_order >> 24);
    a.bytes_[1] = static_cast<uint8_t>(host_order >> 16);
    a.bytes_[2] = static_cast<uint8_t>(host_order >> 8);
    a.bytes_[3] = static_cast<uint8_t>(host_order);
    return a;
}

IpAddress IpAddress::v6(const uint8_t bytes[16]) {
    IpAddress a;
    a.family_ = 6;
    std::memcpy(a.bytes_.data(), bytes, 16);
    return a;
}

static std::optional<uint32_t> parse_v4(std::string_view s) {
    // Hand-written for the hot path of log parsing: inet_pton needs a NUL-terminated copy.
    uint32_t out = 0;
    int parts = 0;
    size_t i = 0;
    while (parts < 4) {
        if (i >= s.size() || s[i] < '0' || s[i] > '9') return std::nullopt;
        uint32_t v = 0;
        size_t start = i;
        while (i < s.size() && s[i] >= '0' && s[i] <= '9') {
            v = v * 10 + static_cast<uint32_t>(s[i] - '0');
            if (v > 255 || i - start >= 3) return std::nullopt;
            ++i;
        }
        out = (out << 8) | v;
        ++parts;
        if (parts < 4) {
            if (i >= s.size() || s[i] != '.') return std::nullopt;
            ++i;
        }
    }
    if (i != s.size()) return std::nullopt;
    return out;
}

std::optional<IpAddress> IpAddress::parse(std::string_view text) {
    if (text.empty() || text.size() > 45) return std::nullopt;
    if (text.find(':') == std::string_view::npos) {
        auto v = parse_v4(text);
        if (!v) return std::nullopt;
        return v4(*v);
    }
    char buf[46];
    std::memcpy(buf, text.data(), text.size());
    buf[text.size()] = '\0';
    uint8_t b[16];
    if (inet_pton(AF_INET6, buf, b) != 1) return std::nullopt;
    return v6(b);
}

std::optional<IpAddress> IpAddress::from_key(std::string_view key) {
    if (key.size() == 5 && key[0] == 4) {
        IpAddress a;
        a.family_ = 4;
        std::memcpy(a.bytes_.data(), key.data() + 1, 4);
        return a;
    }
    if (key.size() == 17 && key[0] == 6) {
        return v6(reinterpret_cast<const uint8_t*>(key.data() + 1));
    }
    return std::nullopt;
}

bool IpAddress::is_loopback() const {
    if (family_ == 4) return bytes_[0] == 127;
    static constexpr uint8_t kLoop6[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(bytes_.data(), kLoop6, 16) == 0) return true;
    return std::memcmp(bytes_.data(), kMapped, 12) == 0 && bytes_[12] == 127;
}

bool IpAddress::is_unspecified() const {
    size_t n = family_ == 4 ? 4 : 16;
    for (size_t i = 0; i < n; ++i)
        if (bytes_[i] != 0) return false;
    return family_ != 0;
}

namespace {

// RFC 5952 text of an IPv6 address exactly as glibc's inet_ntop writes it: the longest run of two
// or more zero groups (the first on a tie) is
// "::", and ::a.b.c.d / ::ffff:a.b.c.d keep the dotted quad. Written by hand because
// inet_ntop goes through sprintf: a third of the collector's parse time, and most of the
// cost of the key texts it stores. Returns the length written (<= 45).
size_t format_v6(const uint8_t* b, char* out) {
    static constexpr char kHex[] = "0123456789abcdef";
    unsigned w[8];
    for (int i = 0; i < 8; ++i) w[i] = unsigned{b[2 * i]} << 8 | b[2 * i + 1];
    int best = -1, best_len = 0, cur = -1, cur_len = 0;
    for (int i = 0; i <= 8; ++i) {
        if (i < 8 && w[i] == 0) {
            if (cur < 0) cur = i, cur_len = 0;
            ++cur_len;
        } else if (cur >= 0) {
            if (cur_len > best_len) best = cur, best_len = cur_len;
            cur = -1;
        }
    }
    if (best_len < 2) best = -1;
    char* p = out;
    for (int i = 0; i < 8; ++i) {
        if (best >= 0 && i >= best && i < best + best_len) {
            if (i == best) *p++ = ':';
            continue;
        }
        if (i) *p++ = ':';
        if (i == 6 && best == 0 && (best_len == 6 || (best_len == 5 && w[5] == 0xffff))) {
            for (int k = 12; k < 16; ++k) {
                if (k > 12) *p++ = '.';
                unsigned v = b[k];
                if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
                if (v >= 10) *p++ = static_cast<char>('0' + v / 10 % 10);
                *p++ = static_cast<char>('0' + v % 10);
            }
            return static_cast<size_t>(p - out);
        }
        bool started = false;
        for (int shift = 12; shift >= 0; shift -= 4) {
            unsigned nib = (w[i] >> shift) & 15;
            if (nib || started || shift == 0) {
                *p++ = kHex[nib];
                started = true;
            }
        }
    }
    if (best >= 0 && best + best_len == 8) *p++ = ':';
    return static_cast<size_t>(p - out);
}

size_t format_v4(const uint8_t* b, char* out) {
    char* p = out;
    for (int k = 0; k < 4; ++k) {
        if (k) *p++ = '.';
        unsigned v = b[k];
        if (v >= 100) *p++ = static_cast<char>('0' + v / 100);
        if (v >= 10) *p++ = static_cast<char>('0' + v / 10 % 10);
        *p++ = static_cast<char>('0' + v % 10);
    }
    return static_cast<size_t>(p - out);
}

}  // namespace

size_t IpAddress::format(char* out) const {
    // An unset address reads as "::", as it always did through inet_ntop.
    return family_ == 4 ? format_v4(bytes_.data(), out) : format_v6(bytes_.data(), out);
}

std::string IpAddress::to_string() const {
    char buf[kMaxText];
    return std::string(buf, format(buf));
}

std::string IpAddress::key() const {
    std::string k(1, static_cast<char>(family_));
    k.append(reinterpret_cast<const char*>(bytes_.data()), family_ == 4 ? 4 : 16);
    return k;
}

size_t IpAddress::hash() const {
    uint64_t a, b;
    std::memcpy(&a, bytes_.data(), 8);
    std::memcpy(&b, bytes_.data() + 8, 8);
    // MurmurHash3's 64-bit finaliser over both halves: every input bit reaches the low bits
    // that power-of-two tables index by.
    uint64_t h = a ^ (b * 0x9E3779B97F4A7C15ULL) ^ family_;
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return static_cast<size_t>(h);
}

}  // namespace em
