#include "collector/history_state.h"

#include <fmt/core.h>

#include <algorithm>

namespace em {

namespace {

// Domains blob, version 2: version byte, varint count, varint base time, the entries (name
// shared with the previous entry's, stats, base_len, addresses), then one 4-byte
// little-endian offset per restart point. Every kRestartEvery-th entry is a restart point:
// its name is whole (shared 0), so a lookup can binary-search the restart points and decode
// one run of entries. Version 1 (no restart points) is still read.
constexpr uint8_t kDomainsVersionPlain = 1;
constexpr uint8_t kDomainsVersion = 2;
constexpr size_t kRestartEvery = 32;
// Addresses blob, version 2: the same layout (an address with its stats per entry; every
// kRestartEvery-th entry's offset in the table at the end). Version 1 has no table.
constexpr uint8_t kIpsVersionPlain = 1;
constexpr uint8_t kIpsVersion = 2;
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

void put_fixed32(std::string& out, uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

uint32_t get_fixed32(std::string_view s, size_t at) {
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i)
        v |= static_cast<uint32_t>(static_cast<uint8_t>(s[at + i])) << (8 * i);
    return v;
}

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
    size_t pos() const { return i_; }
    size_t left() const { return s_.size() - i_; }
    void seek(size_t i) {
        if (i > s_.size()) bad_ = true;
        i_ = bad_ ? s_.size() : i;
    }
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
    std::vector<uint32_t> restarts;
    restarts.reserve(domains.size() / kRestartEvery + 1);
    std::string_view prev;
    for (size_t i = 0; i < domains.size(); ++i) {
        const DomainState& d = domains[i];
        if (i % kRestartEvery == 0) {
            restarts.push_back(static_cast<uint32_t>(out.size()));
            prev = {};
        }
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
    for (uint32_t r : restarts) put_fixed32(out, r);
    return out;
}

std::string encode_ips(const std::vector<IpState>& ips) {
    std::string out;
    out.reserve(ips.size() * 20 + 16);
    out.push_back(static_cast<char>(kIpsVersion));
    put_varint(out, ips.size());
    const int64_t base = base_time(ips);
    put_varint(out, zigzag(base));
    std::vector<uint32_t> restarts;
    restarts.reserve(ips.size() / kRestartEvery + 1);
    for (size_t i = 0; i < ips.size(); ++i) {
        if (i % kRestartEvery == 0) restarts.push_back(static_cast<uint32_t>(out.size()));
        put_ip(out, ips[i].ip);
        put_stats(out, ips[i].stats, base);
    }
    for (uint32_t r : restarts) put_fixed32(out, r);
    return out;
}

namespace {

// One entry of a domains blob after `prev` (empty at a restart point); false when damaged.
bool read_entry(Reader& r, std::string_view prev, int64_t base, DomainState& d) {
    uint64_t shared = r.varint();
    uint64_t rest = r.varint();
    if (r.bad() || shared > prev.size()) return false;
    std::string_view tail = r.bytes(rest);
    if (r.bad()) return false;
    d.name.reserve(shared + rest);
    d.name.assign(prev.substr(0, shared));
    d.name.append(tail);
    d.stats = r.stats(base);
    uint64_t base_len = r.varint();
    if (base_len > d.name.size()) return false;
    d.base_len = static_cast<uint16_t>(base_len);
    uint64_t nip = r.varint();
    if (r.bad() || nip > r.left()) return false;
    d.ips.clear();
    d.ips.reserve(nip);
    for (uint64_t k = 0; k < nip && !r.bad(); ++k) d.ips.push_back(r.ip());
    return !r.bad();
}

struct BlobHeader {
    uint8_t version = 0;
    uint64_t n = 0;
    int64_t base = 0;
    size_t entries = 0;      // where the first entry starts
    size_t entries_end = 0;  // where the restart table starts (the blob's size in version 1)
    size_t restarts = 0;
};

// `head`: the blob's first bytes (at least min(size, 21)); `size`: the whole blob's. `what`
// names the state in errors; `with_table` is the version that has a restart table.
Result<BlobHeader> read_header(std::string_view head, size_t size, const char* what, uint8_t plain,
                               uint8_t with_table) {
    BlobHeader h;
    if (head.empty()) return Error{fmt::format("stored {} state is empty", what)};
    Reader r(head);
    h.version = static_cast<uint8_t>(r.bytes(1)[0]);
    if (h.version != with_table && h.version != plain)
        return Error{fmt::format("stored {} state has an unknown format", what)};
    h.n = r.varint();
    h.base = unzigzag(r.varint());
    if (r.bad() || h.n > kMaxEntries || h.n > size)
        return Error{fmt::format("stored {} state is damaged (header)", what)};
    h.entries = r.pos();
    h.entries_end = size;
    if (h.version == with_table) {
        h.restarts = (h.n + kRestartEvery - 1) / kRestartEvery;
        if (h.restarts * 4 > size - h.entries)
            return Error{fmt::format("stored {} state is damaged (restart table)", what)};
        h.entries_end = size - h.restarts * 4;
    }
    return h;
}

Result<BlobHeader> domains_header(std::string_view head, size_t size) {
    return read_header(head, size, "domain", kDomainsVersionPlain, kDomainsVersion);
}
Result<BlobHeader> ips_header(std::string_view head, size_t size) {
    return read_header(head, size, "address", kIpsVersionPlain, kIpsVersion);
}

}  // namespace

Result<std::vector<DomainState>> decode_domains(std::string_view blob) {
    std::vector<DomainState> out;
    if (blob.empty()) return out;
    auto h = domains_header(blob.substr(0, 21), blob.size());
    if (!h) return h.error();
    Reader r(blob.substr(0, h->entries_end));
    r.seek(h->entries);
    out.reserve(h->n);
    const bool restarts = h->version == kDomainsVersion;
    for (uint64_t i = 0; i < h->n && !r.bad(); ++i) {
        const bool restart = restarts && i % kRestartEvery == 0;
        if (restart && get_fixed32(blob, h->entries_end + 4 * (i / kRestartEvery)) != r.pos())
            return Error{"stored domain state is damaged (restart point)"};
        std::string_view prev = out.empty() || restart ? std::string_view() : out.back().name;
        DomainState d;
        if (!read_entry(r, prev, h->base, d)) break;
        if (!out.empty() && !(out.back().name < d.name))
            return Error{"stored domain state is out of order"};
        out.push_back(std::move(d));
    }
    if (r.bad() || out.size() != h->n || !r.done()) return Error{"stored domain state is damaged"};
    return out;
}

Result<std::optional<DomainState>> lookup_domain(BlobSource& blob, std::string_view name) {
    const size_t size = blob.size();
    if (size == 0) return std::optional<DomainState>();
    std::string buf;
    if (auto r = blob.read(0, std::min<size_t>(size, 21), buf); !r) return r.error();
    auto h = domains_header(buf, size);
    if (!h) return h.error();
    if (h->version == kDomainsVersionPlain) {  // written by an older release: decode it all
        if (auto r = blob.read(0, size, buf); !r) return r.error();
        auto all = decode_domains(buf);
        if (!all) return all.error();
        HostState s;
        s.domains = std::move(*all);
        const DomainState* d = find_domain(s, name);
        return d ? std::optional<DomainState>(*d) : std::nullopt;
    }
    if (h->n == 0) return std::optional<DomainState>();
    const Error damaged{"stored domain state is damaged (restart point)"};
    std::string table;
    if (auto r = blob.read(h->entries_end, h->restarts * 4, table); !r) return r.error();
    auto restart = [&](size_t k) -> std::optional<size_t> {
        size_t at = get_fixed32(table, 4 * k);
        if (at < h->entries || at >= h->entries_end) return std::nullopt;
        return at;
    };
    // The whole name at restart point k: its two length varints, then the bytes.
    std::string entry;
    auto name_at = [&](size_t k) -> Result<std::string> {
        auto at = restart(k);
        if (!at) return damaged;
        const size_t room = h->entries_end - *at;
        if (auto r = blob.read(*at, std::min<size_t>(room, 20), entry); !r) return r.error();
        Reader r(entry);
        uint64_t shared = r.varint();
        uint64_t len = r.varint();
        if (r.bad() || shared != 0 || len > room - r.pos()) return damaged;
        const size_t from = *at + r.pos();
        if (auto rd = blob.read(from, len, entry); !rd) return rd.error();
        return entry;
    };
    // The last restart point whose name is <= `name`.
    size_t lo = 0, hi = h->restarts;  // invariant: answer in [lo - 1, hi - 1]
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        auto n = name_at(mid);
        if (!n) return n.error();
        if (*n <= name)
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) return std::optional<DomainState>();  // before the first name
    const size_t k = lo - 1;
    auto from = restart(k);
    auto to = k + 1 < h->restarts ? restart(k + 1) : std::optional<size_t>(h->entries_end);
    if (!from || !to || *to <= *from) return damaged;
    if (auto r = blob.read(*from, *to - *from, buf); !r) return r.error();
    Reader r(buf);
    const uint64_t run = std::min<uint64_t>(kRestartEvery, h->n - k * kRestartEvery);
    DomainState d, prev;
    for (uint64_t i = 0; i < run; ++i) {
        if (!read_entry(r, i == 0 ? std::string_view() : std::string_view(prev.name), h->base, d))
            return damaged;
        if (d.name == name) return std::optional<DomainState>(std::move(d));
        if (d.name > name) break;
        std::swap(prev, d);
    }
    return std::optional<DomainState>();
}

Result<std::vector<IpState>> decode_ips(std::string_view blob) {
    std::vector<IpState> out;
    if (blob.empty()) return out;
    auto h = ips_header(blob.substr(0, 21), blob.size());
    if (!h) return h.error();
    Reader r(blob.substr(0, h->entries_end));
    r.seek(h->entries);
    out.reserve(h->n);
    const bool restarts = h->version == kIpsVersion;
    for (uint64_t i = 0; i < h->n && !r.bad(); ++i) {
        if (restarts && i % kRestartEvery == 0 &&
            get_fixed32(blob, h->entries_end + 4 * (i / kRestartEvery)) != r.pos())
            return Error{"stored address state is damaged (restart point)"};
        IpState e;
        e.ip = r.ip();
        e.stats = r.stats(h->base);
        if (!out.empty() && !(out.back().ip < e.ip))
            return Error{"stored address state is out of order"};
        out.push_back(e);
    }
    if (r.bad() || out.size() != h->n || !r.done()) return Error{"stored address state is damaged"};
    return out;
}

Result<std::optional<IpState>> lookup_ip(BlobSource& blob, const IpAddress& ip) {
    const size_t size = blob.size();
    if (size == 0) return std::optional<IpState>();
    std::string buf;
    if (auto r = blob.read(0, std::min<size_t>(size, 21), buf); !r) return r.error();
    auto h = ips_header(buf, size);
    if (!h) return h.error();
    if (h->version == kIpsVersionPlain) {  // written by an older release: decode it all
        if (auto r = blob.read(0, size, buf); !r) return r.error();
        auto all = decode_ips(buf);
        if (!all) return all.error();
        HostState s;
        s.ips = std::move(*all);
        const IpState* e = find_ip(s, ip);
        return e ? std::optional<IpState>(*e) : std::nullopt;
    }
    if (h->n == 0) return std::optional<IpState>();
    const Error damaged{"stored address state is damaged (restart point)"};
    std::string table;
    if (auto r = blob.read(h->entries_end, h->restarts * 4, table); !r) return r.error();
    auto restart = [&](size_t k) -> std::optional<size_t> {
        size_t at = get_fixed32(table, 4 * k);
        if (at < h->entries || at >= h->entries_end) return std::nullopt;
        return at;
    };
    std::string entry;
    auto ip_at = [&](size_t k) -> Result<IpAddress> {
        auto at = restart(k);
        if (!at) return damaged;
        if (auto r = blob.read(*at, std::min<size_t>(h->entries_end - *at, 17), entry); !r)
            return r.error();
        Reader r(entry);
        IpAddress a = r.ip();
        if (r.bad()) return damaged;
        return a;
    };
    size_t lo = 0, hi = h->restarts;  // the last restart point whose address is <= `ip`
    while (lo < hi) {
        const size_t mid = lo + (hi - lo) / 2;
        auto a = ip_at(mid);
        if (!a) return a.error();
        if (!(ip < *a))
            lo = mid + 1;
        else
            hi = mid;
    }
    if (lo == 0) return std::optional<IpState>();
    const size_t k = lo - 1;
    auto from = restart(k);
    auto to = k + 1 < h->restarts ? restart(k + 1) : std::optional<size_t>(h->entries_end);
    if (!from || !to || *to <= *from) return damaged;
    if (auto r = blob.read(*from, *to - *from, buf); !r) return r.error();
    Reader r(buf);
    const uint64_t run = std::min<uint64_t>(kRestartEvery, h->n - k * kRestartEvery);
    for (uint64_t i = 0; i < run; ++i) {
        IpState e;
        e.ip = r.ip();
        e.stats = r.stats(h->base);
        if (r.bad()) return damaged;
        if (e.ip == ip) return std::optional<IpState>(e);
        if (ip < e.ip) break;
    }
    return std::optional<IpState>();
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
