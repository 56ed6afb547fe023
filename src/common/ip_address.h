#pragma once
// IpAddress: an IPv4 or IPv6 address as a value type. Ordered numerically with every IPv4
// address before every IPv6 address (the order of unique-ips.log), hashable, and
// serialisable to a compact key (family byte + address bytes) whose byte order is the same
// numeric order, so SQLite can sort BLOBs of it.
#include <array>
#include <compare>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>

namespace em {

class IpAddress {
  public:
    IpAddress() = default;
    static IpAddress v4(uint32_t host_order);
    static IpAddress v6(const uint8_t bytes[16]);

    /// Parses dotted-quad IPv4 or any textual IPv6 form (including the fully expanded one
    /// the kernel prints). Returns nullopt for anything else.
    static std::optional<IpAddress> parse(std::string_view text);
    /// Parses a key made by key(); nullopt when malformed.
    static std::optional<IpAddress> from_key(std::string_view key);

    /// False for a default-constructed address.
    bool is_set() const { return family_ != 0; }
    bool is_v4() const { return family_ == 4; }
    bool is_v6() const { return family_ == 6; }
    /// 127.0.0.0/8, ::1 and IPv4-mapped 127.0.0.0/8.
    bool is_loopback() const;
    /// 0.0.0.0 and ::.
    bool is_unspecified() const;

    /// Dotted quad, or RFC 5952 for IPv6: byte for byte what glibc's inet_ntop writes.
    std::string to_string() const;
    /// The same text into `out` (at least kMaxText bytes, not NUL-terminated); its length.
    static constexpr size_t kMaxText = 46;
    size_t format(char* out) const;
    /// family byte (4 or 6) followed by 4 or 16 address bytes.
    std::string key() const;
    const uint8_t* bytes() const { return bytes_.data(); }

    friend auto operator<=>(const IpAddress& a, const IpAddress& b) {
        if (auto c = a.family_ <=> b.family_; c != 0) return c;
        return std::memcmp(a.bytes_.data(), b.bytes_.data(), 16) <=> 0;
    }
    friend bool operator==(const IpAddress& a, const IpAddress& b) {
        return a.family_ == b.family_ && a.bytes_ == b.bytes_;
    }
    size_t hash() const;

  private:
    uint8_t family_ = 0;
    std::array<uint8_t, 16> bytes_{};  // IPv4 uses the first four
};

struct IpAddressHash {
    size_t operator()(const IpAddress& a) const { return a.hash(); }
};

}  // namespace em
