#include "sources/kernel_log/kernel_line.h"

#include <charconv>
#include <cstring>

#include "common/log.h"

namespace em {

namespace {

constexpr uint64_t kReportFirst = 5;

// Whether `key` (a field name with its '=', at most a few bytes) is at msg[pos]. A plain
// loop: memcmp with a run-time length is a library call, and this runs several times a line.
bool key_at(std::string_view msg, size_t pos, std::string_view key) {
    if (pos + key.size() > msg.size() || (pos != 0 && msg[pos - 1] != ' ')) return false;
    for (size_t i = 0; i < key.size(); ++i)
        if (msg[pos + i] != key[i]) return false;
    return true;
}

// The value of "KEY=" at or after `from` (a field starts the message or follows a space).
// The kernel prints fields in a fixed order ("SRC=a DST=b", "SPT=p DPT=q"), so the key is
// tried right at `from` first; otherwise candidates are found by their first byte.
std::optional<std::string_view> field(std::string_view msg, std::string_view key, size_t& from) {
    const char* base = msg.data();
    size_t pos = from;
    while (!key_at(msg, pos, key)) {
        if (pos >= msg.size()) return std::nullopt;
        const void* hit = std::memchr(base + pos + 1, key[0], msg.size() - pos - 1);
        if (!hit) return std::nullopt;
        pos = static_cast<size_t>(static_cast<const char*>(hit) - base);
    }
    size_t start = pos + key.size();
    const void* sp = std::memchr(base + start, ' ', msg.size() - start);
    size_t end = sp ? static_cast<size_t>(static_cast<const char*>(sp) - base) : msg.size();
    from = end + 1 <= msg.size() ? end + 1 : end;
    return msg.substr(start, end - start);
}

bool port(std::string_view s, uint16_t& out) {
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc() && p == s.data() + s.size();
}

}  // namespace

KernelLineKind parse_kernel_message(std::string_view msg, std::string_view prefix, KernelFlow& out,
                                    bool with_source) {
    if (msg.size() < prefix.size() || std::memcmp(msg.data(), prefix.data(), prefix.size()) != 0)
        return KernelLineKind::other;
    std::string_view body = msg.substr(prefix.size());
    // The LOG target prints "IN=" right after the prefix: a message that merely starts with
    // the prefix text is someone else's.
    size_t at = 0;
    while (at < body.size() && body[at] == ' ') ++at;
    if (body.substr(at, 3) != "IN=") return KernelLineKind::other;
    size_t from = at;
    auto src = field(body, "SRC=", from);
    auto dst = src ? field(body, "DST=", from) : std::nullopt;
    auto proto = dst ? field(body, "PROTO=", from) : std::nullopt;
    if (!proto) return KernelLineKind::malformed;
    auto d = IpAddress::parse(*dst);
    if (!d || proto->empty() || src->empty()) return KernelLineKind::malformed;
    out.dst = *d;
    out.src = IpAddress();
    if (with_source) {
        auto s = IpAddress::parse(*src);
        if (!s) return KernelLineKind::malformed;
        out.src = *s;
    }
    out.proto = *proto;
    out.sport = out.dport = 0;
    if (*proto == "TCP" || *proto == "UDP" || *proto == "UDPLITE" || *proto == "SCTP" ||
        *proto == "DCCP") {
        auto sp = field(body, "SPT=", from);
        auto dp = sp ? field(body, "DPT=", from) : std::nullopt;
        // A fragment or a truncated packet has no ports: still a flow to DST.
        if (dp && (!port(*sp, out.sport) || !port(*dp, out.dport)))
            return KernelLineKind::malformed;
    }
    return KernelLineKind::flow;
}

void KernelLineFolder::malformed(std::string_view l, const std::string& where, const char* why) {
    ++counters_.malformed;
    if (reported_++ < kReportFirst) {
        std::string shown(l.substr(0, 160));
        for (char& c : shown)
            if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
                c = '?';
        log_warn("{}: skipped a malformed kernel LOG line ({}): \"{}{}\"", where, why, shown,
                 l.size() > 160 ? "..." : "");
    }
}

void KernelLineFolder::message(std::string_view msg, int64_t t, Batch& batch,
                               const std::string& where) {
    ++counters_.lines;
    KernelFlow flow;
    switch (parse_kernel_message(msg, prefix_, flow, /*with_source=*/false)) {
        case KernelLineKind::other:
            ++counters_.other;
            return;
        case KernelLineKind::malformed:
            malformed(msg, where, "no usable SRC=/DST=/PROTO=");
            return;
        case KernelLineKind::flow:
            break;
    }
    if (batch.add_flow(flow.dst, t))
        ++counters_.flows;
    else
        ++counters_.loopback;
}

void SyslogKernelParser::feed(std::string_view lines, Batch& batch, const std::string& where) {
    if (lines.empty()) {
        folder_.other();
        return;  // an over-long line: not a kernel LOG line
    }
    while (!lines.empty()) {
        const char* nl = static_cast<const char*>(std::memchr(lines.data(), '\n', lines.size()));
        size_t len = nl ? static_cast<size_t>(nl - lines.data()) : lines.size();
        line(lines.substr(0, len), batch, where);
        lines.remove_prefix(nl ? len + 1 : len);
    }
}

void SyslogKernelParser::line(std::string_view l, Batch& batch, const std::string& where) {
    // "Nov 22 11:35:35 host kernel: [ 1234.567890] MSG" or "2026-11-22T11:35:35.1+00:00 host ..."
    std::optional<int64_t> t;
    std::string_view rest;
    if (l.size() > 16 && l[15] == ' ' && (t = clock_.parse(l))) {
        rest = l.substr(16);
    } else {
        size_t sp = l.find(' ');
        if (sp == std::string_view::npos || !(t = parse_rfc3339(l.substr(0, sp)))) {
            // Not a syslog line at all; ours only if it mentions the prefix.
            if (l.find(folder_.prefix()) != std::string_view::npos) {
                folder_.reject(l, where, "no time stamp");
                return;
            }
            folder_.other();
            return;
        }
        rest = l.substr(sp + 1);
    }
    size_t host_end = rest.find(' ');
    if (host_end == std::string_view::npos || rest.substr(host_end + 1, 8) != "kernel: ") {
        folder_.other();
        return;
    }
    rest.remove_prefix(host_end + 9);
    if (!rest.empty() && rest[0] == '[') {  // printk time: "[ 1234.567890] "
        size_t close = rest.find("] ");
        if (close < 24) rest.remove_prefix(close + 2);  // npos (not found) is not < 24
    }
    folder_.message(rest, *t, batch, where);
}

}  // namespace em
