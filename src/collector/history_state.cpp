#include "collector/history_state.h"

#include <algorithm>

namespace em {

namespace {

constexpr uint8_t kDomainsVersion = 1;
constexpr uint8_t kIpsVersion = 1;
constexpr uint64_t kMaxEntries = uint64_t{1} << 28;

void put_varint(std::string& out, uint64_t v) {
    char buf[10];
    size_t n = 0;
    while (v >= 0x80) {
        buf[n++] = static_cast<char>((v & 0x7f) | 0x80);
        v >>= 7;
    }
    buf[n++] = static_cast<char>(v);
    out.append(buf, n);
}

uint64_t zigzag(int64_t v) {
    return (static_cast<uint64_t>(v) << 1) ^ static_cast<uint64_t>(v >> 63);
}
int64_t diff(int64_t a, int64_t b) {
    return static_cast<int64_t>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
}
int64_t unzigzag(uint64_t v) { return static_cast<int64_t>(v >> 1) ^ -static_cast<int64_t>(v & 1); }

void put_ip(std::string& out, const IpAddress& ip) {
    out.push_back(static_cast<char>(ip.is_v4() ? 4 : 6));
    out.append(reinterpret_cast<const char*>(ip.bytes()), ip.is_v4() ? 4 : 16);
}

void put_stats(std::string& out, const KeyStats& s, int64_t base) {
    put_varint(out, s.present ? 1 : 0);
    put_varint(out, static_cast<uint64_t>(s.count));
    put_varint(out, zigzag(diff(s.last_seen, base)));
    put_varint(out, zigzag(diff(s.first_seen, base)));
    put_varint(out, static_cast<uint64_t>(s.deltas));
    put_varint(out, static_cast<uint64_t>(s.delta_sum));
}

// A bounds-checked reader; any failure latches `bad`.
class Reader {
  public:
    explicit Reader(std::string_view s) : s_(s) {}
    bool bad() const { return bad_; }
    bool done() const { return i_ == s_.size(); }
    uint64_t varint() {
        uint64_t v = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (i_ >= s_.size()) break;
            auto b = static_cast<uint8_t>(s_[i_++]);
            v |= static_cast<uint64_t>(b & 0x7f) << shift;
            if (!(b & 0x80)) return v;
        }
        bad_ = true;
        return 0;
    }
    int64_t nonneg() {
        uint64_t v = varint();
        if (v > static_cast<uint64_t>(INT64_MAX)) bad_ = true;
        return bad_ ? 0 : static_cast<int64_t>(v);
    }
    std::string_view bytes(size_t n) {
        if (n > s_.size() - i_) {
            bad_ = true;
            return {};
        }
        auto out = s_.substr(i_, n);
        i_ += n;
        return out;
    }
    IpAddress ip() {
        auto fam = bytes(1);
        if (bad_) return {};
        auto raw = bytes(fam[0] == 4 ? 4 : fam[0] == 6 ? 16 : s_.size() + 1);
        if (bad_) return {};
        std::string key(fam);
        key.append(raw);
        auto ip = IpAddress::from_key(key);
        if (!ip) bad_ = true;
        return ip ? *ip : IpAddress();
    }
    KeyStats stats(int64_t base) {
        KeyStats s;
        uint64_t flags = varint();
        if (flags > 1) bad_ = true;
        s.present = flags & 1;
        s.count = nonneg();
        s.last_seen = add(base, unzigzag(varint()));
        s.first_seen = add(base, unzigzag(varint()));
        s.deltas = nonneg();
        s.delta_sum = nonneg();
        return s;
    }

  private:
    // Wrapping: a damaged blob must not overflow a signed addition.
    static int64_t add(int64_t a, int64_t b) {
        return static_cast<int64_t>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
    }
    std::string_view s_;
    size_t i_ = 0;
    bool bad_ = false;
};

template <class T>
int64_t base_time(const std::vector<T>& v) {
    int64_t base = 0;
    for (const auto& e : v) base = std::max(base, e.stats.last_seen);
    return base;
}

}  // namespace

std::string encode_domains(const std::vector<DomainState>& domains) {
    std::string out;
    out.reserve(domains.size() * 48 + 16);
    out.push_back(static_cast<char>(kDomainsVersion));
    put_varint(out, domains.size());
    const int64_t base = base_time(domains);
    put_varint(out, zigzag(base));
    std::string_view prev;
    for (const auto& d : domains) {
        size_t shared = 0;
        const size_t lim = std::min(prev.size(), d.name.size());
        while (shared < lim && prev[shared] == d.name[shared]) ++shared;
        put_varint(out, shared);
        put_varint(out, d.name.size() - shared);
        out.append(d.name, shared);
        put_stats(out, d.stats, base);
        put_varint(out, d.base_len);
        put_varint(out, d.ips.size());
        for (const auto& ip : d.ips) put_ip(out, ip);
        prev = d.name;
    }
    return out;
}

std::string encode_ips(const std::vector<IpState>& ips) {
    std::string out;
    out.reserve(ips.size() * 20 + 16);
    out.push_back(static_cast<char>(kIpsVersion));
    put_varint(out, ips.size());
    const int64_t base = base_time(ips);
    put_varint(out, zigzag(base));
    for (const auto& e : ips) {
        put_ip(out, e.ip);
        put_stats(out, e.stats, base);
    }
    return out;
}

Result<std::vector<DomainState>> decode_domains(std::string_view blob) {
    std::vector<DomainState> out;
    if (blob.empty()) return out;
    Reader r(blob);
    if (r.bytes(1)[0] != static_cast<char>(kDomainsVersion))
        return Error{"stored domain state has an unknown format"};
    uint64_t n = r.varint();
    int64_t base = unzigzag(r.varint());
    if (r.bad() || n > kMaxEntries || n > blob.size())
        return Error{"stored domain state is damaged (header)"};
    out.reserve(n);
    for (uint64_t i = 0; i < n && !r.bad(); ++i) {
        DomainState d;
        uint64_t shared = r.varint();
        uint64_t rest = r.varint();
        const std::string* prev = out.empty() ? nullptr : &out.back().name;
        if (r.bad() || shared > (prev ? prev->size() : 0) || rest > blob.size()) break;
        d.name.reserve(shared + rest);
        if (shared) d.name.assign(*prev, 0, shared);
        d.name.append(r.bytes(rest));
        d.stats = r.stats(base);
        uint64_t base_len = r.varint();
        if (base_len > d.name.size()) break;
        d.base_len = static_cast<uint16_t>(base_len);
        uint64_t nip = r.varint();
        if (r.bad() || nip > blob.size()) break;
        d.ips.reserve(nip);
        for (uint64_t k = 0; k < nip && !r.bad(); ++k) d.ips.push_back(r.ip());
        if (prev && !(*prev < d.name)) return Error{"stored domain state is out of order"};
        out.push_back(std::move(d));
    }
    if (r.bad() || out.size() != n || !r.done()) return Error{"stored domain state is damaged"};
    return out;
}

Result<std::vector<IpState>> decode_ips(std::string_view blob) {
    std::vector<IpState> out;
    if (blob.empty()) return out;
    Reader r(blob);
    if (r.bytes(1)[0] != static_cast<char>(kIpsVersion))
        return Error{"stored address state has an unknown format"};
    uint64_t n = r.varint();
    int64_t base = unzigzag(r.varint());
    if (r.bad() || n > kMaxEntries || n > blob.size())
        return Error{"stored address state is damaged (header)"};
    out.reserve(n);
    for (uint64_t i = 0; i < n && !r.bad(); ++i) {
        IpState e;
        e.ip = r.ip();
        e.stats = r.stats(base);
        if (!out.empty() && !(out.back().ip < e.ip))
            return Error{"stored address state is out of order"};
        out.push_back(e);
    }
    if (r.bad() || out.size() != n || !r.done()) return Error{"stored address state is damaged"};
    return out;
}

const DomainState* find_domain(const HostState& s, std::string_view name) {
    auto it = std::lower_bound(s.domains.begin(), s.domains.end(), name,
                               [](const DomainState& d, std::string_view n) { return d.name < n; });
    return it != s.domains.end() && it->name == name ? &*it : nullptr;
}

const IpState* find_ip(const HostState& s, const IpAddress& ip) {
    auto it = std::lower_bound(s.ips.begin(), s.ips.end(), ip,
                               [](const IpState& e, const IpAddress& a) { return e.ip < a; });
    return it != s.ips.end() && it->ip == ip ? &*it : nullptr;
}

}  // namespace em
