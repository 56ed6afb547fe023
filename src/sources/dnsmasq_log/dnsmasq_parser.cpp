#include "sources/dnsmasq_log/dnsmasq_parser.h"

#include <charconv>
#include <cstring>

#include "common/ip_address.h"
#include "common/log.h"
#include "core/domain_folder.h"

namespace em {

namespace {

constexpr uint64_t kReportFirst = 5;  // malformed lines quoted in full; the rest are counted

// These helpers are written out instead of calling string_view::find/compare and
// std::from_chars: on short tokens the library calls' overhead was a third of the parse cost.

// `s` starts with the literal `p` (a constant-size compare the compiler inlines).
template <size_t N>
bool starts_with(std::string_view s, const char (&p)[N]) {
    return s.size() >= N - 1 && std::memcmp(s.data(), p, N - 1) == 0;
}

// Splits off the token before the next space.
std::string_view token(std::string_view& s) {
    const void* sp = std::memchr(s.data(), ' ', s.size());
    size_t i = sp ? static_cast<size_t>(static_cast<const char*>(sp) - s.data()) : s.size();
    std::string_view t = s.substr(0, i);
    s.remove_prefix(i < s.size() ? i + 1 : i);
    return t;
}

// dnsmasq's stand-in for a name with bytes it will not print (a raw binary label, as DNS
// tunnels such as iodine's Base128 codec send): the only name field with a space in it.
constexpr std::string_view kUnprintableField = "<name unprintable>";

// The name field: one token, or dnsmasq's two-word stand-in for an unprintable name.
std::string_view name_token(std::string_view& s) {
    if (s.starts_with(kUnprintableField) &&
        (s.size() == kUnprintableField.size() || s[kUnprintableField.size()] == ' ')) {
        std::string_view t = s.substr(0, kUnprintableField.size());
        s.remove_prefix(std::min(s.size(), t.size() + 1));
        return t;
    }
    return token(s);
}

// A decimal uint32 spelling the whole of `s`.
bool number(std::string_view s, uint32_t& out) {
    if (s.empty() || s.size() > 10) return false;
    uint64_t v = 0;
    for (char c : s) {
        if (c < '0' || c > '9') return false;
        v = v * 10 + static_cast<uint64_t>(c - '0');
    }
    if (v > UINT32_MAX) return false;
    out = static_cast<uint32_t>(v);
    return true;
}

bool number(std::string_view s, uint64_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

void DnsmasqParser::feed(std::string_view lines, Batch& batch, const std::string& where) {
    if (lines.empty()) {
        ++counters_.lines;
        malformed("", where, "line longer than the read buffer");
        return;
    }
    while (!lines.empty()) {
        const char* nl = static_cast<const char*>(std::memchr(lines.data(), '\n', lines.size()));
        size_t len = nl ? static_cast<size_t>(nl - lines.data()) : lines.size();
        ++counters_.lines;
        line(lines.substr(0, len), batch, where);
        lines.remove_prefix(nl ? len + 1 : len);
    }
}

bool DnsmasqParser::domain_name(std::string_view field) {
    if (field == kUnprintableField) {
        // Never blind: counted, under a name no real domain has (DomainFolder::kUnprintable).
        name_buf_ = DomainFolder::kUnprintable;
        ++counters_.unprintable;
        return true;
    }
    return normalize_domain(field, name_buf_);
}

void DnsmasqParser::malformed(std::string_view l, const std::string& where, const char* why) {
    ++counters_.malformed;
    if (reported_++ < kReportFirst) {
        std::string shown(l.substr(0, 120));
        for (char& c : shown)
            if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
                c = '?';
        log_warn("{}: skipped a malformed dnsmasq line ({}): \"{}{}\"", where, why, shown,
                 l.size() > 120 ? "..." : "");
    }
}

void DnsmasqParser::remember(uint64_t key, std::string_view name, DomainDelta* delta,
                             uint64_t batch_id) {
    Slot& s = slots_[(key & 0xffffffffULL) % kSlots];
    s.key = key;
    s.name.assign(name);
    s.delta = delta;
    s.batch_id = batch_id;
}

DnsmasqParser::Slot* DnsmasqParser::recall(uint64_t key) {
    Slot& s = slots_[(key & 0xffffffffULL) % kSlots];
    return s.key == key ? &s : nullptr;
}

void DnsmasqParser::line(std::string_view l, Batch& batch, const std::string& where) {
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (l.empty()) {
        ++counters_.ignored;
        return;
    }
    // Time stamp: "Nov 22 11:35:35 " (log-facility file, traditional syslog) or RFC 3339.
    std::optional<int64_t> t;
    std::string_view rest;
    if (l.size() > 16 && l[15] == ' ' && (t = clock_.parse(l))) {
        rest = l.substr(16);
    } else {
        size_t sp = l.find(' ');
        if (sp == std::string_view::npos || !(t = parse_rfc3339(l.substr(0, sp)))) {
            malformed(l, where, "no time stamp");
            return;
        }
        rest = l.substr(sp + 1);
    }
    // Tag: "dnsmasq[PID]: ", possibly after a syslog host name.
    if (!starts_with(rest, "dnsmasq[")) {
        std::string_view host = token(rest);
        if (host.empty() || !starts_with(rest, "dnsmasq")) {
            ++counters_.other;
            return;
        }
    }
    if (!starts_with(rest, "dnsmasq[")) {  // dnsmasq-dhcp, dnsmasq-tftp, ...
        ++counters_.other;
        return;
    }
    size_t close = 8;
    while (close < rest.size() && rest[close] != ']') ++close;
    uint32_t pid = 0;
    if (!number(rest.substr(8, close - 8), pid) || !starts_with(rest.substr(close), "]: ")) {
        malformed(l, where, "bad dnsmasq[PID] tag");
        return;
    }
    rest.remove_prefix(close + 3);

    // log-queries=extra: "SERIAL CLIENT/PORT ".
    bool extra = false;
    uint32_t serial = 0;
    {
        std::string_view probe = rest;
        std::string_view first = token(probe);
        if (!probe.empty() && first[0] >= '0' && first[0] <= '9' && number(first, serial)) {
            std::string_view second = token(probe);
            if (second.find('/') != std::string_view::npos) {
                extra = true;
                rest = probe;
            }
        }
    }
    uint64_t key = (static_cast<uint64_t>(pid) << 32) | serial;

    std::string_view kind = token(rest);
    if (starts_with(kind, "query[")) {
        std::string_view name = name_token(rest);
        if (kind.back() != ']' || !starts_with(rest, "from ") || !domain_name(name)) {
            malformed(l, where, "bad query line");
            return;
        }
        DomainDelta& d = batch.add_query(name_buf_, *t);
        ++counters_.queries;
        if (extra) remember(key, name_buf_, &d, batch.id());
        chain_head_.erase(pid);
        return;
    }
    bool answer =
        !kind.empty() &&
        ((kind[0] == 'r' && kind == "reply") ||
         (kind[0] == 'c' && (kind == "cached" || kind == "cached-stale" || kind == "config")) ||
         kind[0] == '/');
    if (!answer) {
        if (kind == "started,") chain_head_.clear();  // a restarted dnsmasq starts serials anew
        if (!extra) chain_head_.erase(pid);
        ++counters_.ignored;
        return;
    }
    std::string_view name = name_token(rest);
    if (!starts_with(rest, "is ")) {
        malformed(l, where, "answer line without \"is\"");
        return;
    }
    rest.remove_prefix(3);
    if (extra) {
        // The common case first: the query of this serial is known.
        if (Slot* q = recall(key)) {
            auto ip = IpAddress::parse(rest);
            if (!ip) {
                ++counters_.ignored;
                return;
            }
            bool added = q->batch_id == batch.id() ? batch.add_answer(*q->delta, *ip, *t)
                                                   : batch.add_answer(q->name, *ip, *t);
            if (added) ++counters_.answers;
            return;
        }
    }
    if (!domain_name(name)) {
        malformed(l, where, "bad name in answer line");
        return;
    }
    if (!extra) {
        // Plain layout: "NAME is <CNAME>" opens a chain; later answers continue it.
        auto it = chain_head_.find(pid);
        if (rest == "<CNAME>") {
            if (it == chain_head_.end()) chain_head_.emplace(pid, name_buf_);
            ++counters_.ignored;
            return;
        }
        if (it != chain_head_.end()) name_buf_ = it->second;
    }
    auto ip = IpAddress::parse(rest);
    if (!ip) {
        ++counters_.ignored;  // NXDOMAIN, NODATA*, <CNAME>, TXT, a reverse lookup's name, ...
        return;
    }
    if (batch.add_answer(name_buf_, *ip, *t)) ++counters_.answers;
}

std::string DnsmasqParser::save_state() const {
    // "K <key> <name>" per remembered query, "C <pid> <name>" per open chain.
    std::string out;
    for (const Slot& s : slots_)
        if (s.key != UINT64_MAX) out += "K " + std::to_string(s.key) + " " + s.name + "\n";
    for (const auto& [pid, head] : chain_head_)
        out += "C " + std::to_string(pid) + " " + head + "\n";
    return out;
}

void DnsmasqParser::load_state(std::string_view text) {
    while (!text.empty()) {
        size_t nl = text.find('\n');
        std::string_view l = text.substr(0, nl);
        text.remove_prefix(nl == std::string_view::npos ? text.size() : nl + 1);
        std::string_view kind = token(l);
        std::string_view num = token(l);
        uint64_t v = 0;
        if (!number(num, v) || l.empty()) continue;
        if (kind == "K") remember(v, l, nullptr, 0);
        if (kind == "C") chain_head_[static_cast<uint32_t>(v)] = std::string(l);
    }
}

}  // namespace em
