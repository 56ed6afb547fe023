#include "sources/dnsmasq_log/dnsmasq_parser.h"

#include <charconv>
#include <cstring>

#include "common/ip_address.h"
#include "common/log.h"

namespace em {

namespace {

constexpr uint64_t kReportFirst = 5;  // malformed lines quoted in full; the rest are counted

bool starts_with(std::string_view s, std::string_view p) { return s.substr(0, p.size()) == p; }

// Splits off the token before the next space.
std::string_view token(std::string_view& s) {
    size_t sp = s.find(' ');
    std::string_view t = s.substr(0, sp);
    s.remove_prefix(sp == std::string_view::npos ? s.size() : sp + 1);
    return t;
}

bool all_digits(std::string_view s) {
    if (s.empty()) return false;
    for (char c : s)
        if (c < '0' || c > '9') return false;
    return true;
}

template <class T>
bool number(std::string_view s, T& out) {
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

void DnsmasqParser::malformed(std::string_view l, const std::string& where, const char* why) {
    ++counters_.malformed;
    if (reported_++ < kReportFirst) {
        std::string shown(l.substr(0, 120));
        for (char& c : shown)
            if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) c = '?';
        log_warn("{}: skipped a malformed dnsmasq line ({}): \"{}{}\"", where, why, shown,
                 l.size() > 120 ? "..." : "");
    }
}

void DnsmasqParser::remember(uint64_t key, std::string_view name) {
    Slot& s = slots_[(key & 0xffffffffULL) % kSlots];
    s.key = key;
    s.name.assign(name);
}

const std::string* DnsmasqParser::recall(uint64_t key) const {
    const Slot& s = slots_[(key & 0xffffffffULL) % kSlots];
    return s.key == key ? &s.name : nullptr;
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
    size_t close = rest.find("]: ");
    uint32_t pid = 0;
    if (close == std::string_view::npos || !number(rest.substr(8, close - 8), pid)) {
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
        if (all_digits(first) && !probe.empty()) {
            std::string_view second = token(probe);
            if (second.find('/') != std::string_view::npos && number(first, serial)) {
                extra = true;
                rest = probe;
            }
        }
    }
    uint64_t key = (static_cast<uint64_t>(pid) << 32) | serial;

    std::string_view kind = token(rest);
    if (starts_with(kind, "query[")) {
        std::string_view name = token(rest);
        if (kind.back() != ']' || rest.substr(0, 5) != "from " ||
            !normalize_domain(name, name_buf_)) {
            malformed(l, where, "bad query line");
            return;
        }
        batch.add_query(name_buf_, *t);
        ++counters_.queries;
        if (extra) remember(key, name_buf_);
        chain_head_.erase(pid);
        return;
    }
    bool answer = kind == "reply" || kind == "cached" || kind == "cached-stale" ||
                  kind == "config" || (!kind.empty() && kind[0] == '/');
    if (!answer) {
        if (kind == "started,") chain_head_.clear();  // a restarted dnsmasq starts serials anew
        if (!extra) chain_head_.erase(pid);
        ++counters_.ignored;
        return;
    }
    std::string_view name = token(rest);
    if (rest.substr(0, 3) != "is ") {
        malformed(l, where, "answer line without \"is\"");
        return;
    }
    rest.remove_prefix(3);
    if (!normalize_domain(name, name_buf_)) {
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
    const std::string* queried = extra ? recall(key) : nullptr;
    if (batch.add_answer(queried ? *queried : name_buf_, *ip, *t)) ++counters_.answers;
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
        if (kind == "K") remember(v, l);
        if (kind == "C") chain_head_[static_cast<uint32_t>(v)] = std::string(l);
    }
}

}  // namespace em
