#include "format/parser.h"

#include <algorithm>
#include <cstring>
#include <optional>
#include <tuple>

#include "format/fields.h"

namespace em {

namespace {

using format_detail::check_domain;
using format_detail::check_flow_name;
using format_detail::check_use_dest;
using format_detail::is_flow_protocol;
using format_detail::parse_count;
using format_detail::parse_field;
using format_detail::parse_ip;
using format_detail::parse_time;
using format_detail::split_fields;

constexpr size_t kExcerptBytes = 60;

// Problems of one snapshot, listed up to a limit and counted beyond it.
class Problems {
  public:
    Problems(const std::string& host, size_t max_reported) : host_(host), max_(max_reported) {}

    void add(const char* file, size_t line, std::string_view what, std::string_view excerpt) {
        if (++total_ > max_) return;
        start(file);
        text_ += std::to_string(line);
        text_ += ": ";
        text_.append(what);
        text_ += " \"";
        append_excerpt(excerpt);
        text_ += '"';
    }
    // A problem of the whole file (no line to point at).
    void add_file(const char* file, const std::string& what) {
        if (++total_ > max_) return;
        if (!text_.empty()) text_ += '\n';
        text_ += host_;
        text_ += ": ";
        text_ += file;
        text_ += ": ";
        text_ += what;
    }
    bool any() const { return total_ > 0; }
    Error error() const {
        std::string out = text_;
        if (total_ > max_) {
            if (!out.empty()) out += '\n';
            out += "... and " + std::to_string(total_ - max_) + " more";
        }
        return Error{std::move(out)};
    }

  private:
    void start(const char* file) {
        if (!text_.empty()) text_ += '\n';
        text_ += host_;
        text_ += ": ";
        text_ += file;
        text_ += ':';
    }
    void append_excerpt(std::string_view s) {
        static constexpr char kHex[] = "0123456789abcdef";
        size_t n = std::min(s.size(), kExcerptBytes);
        for (size_t i = 0; i < n; ++i) {
            auto c = static_cast<unsigned char>(s[i]);
            if (c >= 0x20 && c < 0x7f && c != '"' && c != '\\') {
                text_ += static_cast<char>(c);
            } else {
                text_ += "\\x";
                text_ += kHex[c >> 4];
                text_ += kHex[c & 15];
            }
        }
        if (s.size() > n) text_ += "...";
    }

    const std::string& host_;
    size_t max_;
    size_t total_ = 0;
    std::string text_;
};

// Walks the lines of one file, enforcing the limits common to both; `fn(line_no, line)`
// parses one line that ends in '\n' (without it).
template <class Fn>
void for_each_line(std::string_view text, const char* file, const SnapshotLimits& limits,
                   Problems& problems, Fn&& fn) {
    if (text.size() > limits.max_bytes) {
        problems.add_file(file, "too large: " + std::to_string(text.size()) + " bytes, limit " +
                                    std::to_string(limits.max_bytes));
        return;
    }
    size_t pos = 0, line_no = 0;
    while (pos < text.size()) {
        ++line_no;
        const char* nl =
            static_cast<const char*>(std::memchr(text.data() + pos, '\n', text.size() - pos));
        size_t end = nl ? static_cast<size_t>(nl - text.data()) : text.size();
        std::string_view line = text.substr(pos, end - pos);
        pos = end + 1;
        if (line_no > limits.max_lines) {
            problems.add(file, line_no,
                         "too many lines (limit " + std::to_string(limits.max_lines) + ")", line);
            return;
        }
        if (!nl) {
            problems.add(file, line_no, "no newline at end of file (truncated?)", line);
            return;
        }
        if (line.size() > limits.max_line_bytes) {
            problems.add(file, line_no,
                         "line too long (" + std::to_string(line.size()) + " bytes, limit " +
                             std::to_string(limits.max_line_bytes) + ")",
                         line);
            continue;
        }
        if (line.empty()) {
            problems.add(file, line_no, "empty line", line);
            continue;
        }
        if (!line.empty() && line.back() == '\r') {
            problems.add(file, line_no, "carriage return at end of line", line);
            continue;
        }
        fn(line_no, line);
    }
}

size_t count_lines(std::string_view text, const SnapshotLimits& limits) {
    if (text.size() > limits.max_bytes) return 0;
    return std::min(static_cast<size_t>(std::count(text.begin(), text.end(), '\n')),
                    limits.max_lines);
}

void parse_domains(std::string_view text, const SnapshotLimits& limits, Problems& problems,
                   std::vector<DomainEntry>& out) {
    out.reserve(count_lines(text, limits));
    std::string_view prev;  // the key of the last well-formed line
    for_each_line(text, kDomainsFile, limits, problems, [&](size_t no, std::string_view line) {
        std::string_view f[4];
        if (const char* err = split_fields(line, f, 4)) {
            problems.add(kDomainsFile, no, err, line);
            return;
        }
        if (const char* err = check_domain(f[0])) {
            problems.add(kDomainsFile, no, err, f[0]);
            return;
        }
        bool bad = false;
        if (!prev.empty() && f[0] <= prev) {
            problems.add(kDomainsFile, no, f[0] == prev ? "duplicate domain" : "domains not sorted",
                         f[0]);
            bad = true;
        }
        prev = f[0];
        DomainEntry e;
        if (const char* err = parse_count(f[1], e.count)) {
            problems.add(kDomainsFile, no, err, f[1]);
            bad = true;
        }
        if (auto t = parse_time(f[2])) {
            e.last_seen = *t;
        } else {
            problems.add(kDomainsFile, no, "bad time", f[2]);
            bad = true;
        }
        if (f[3] != "-") {
            std::string_view list = f[3];
            size_t start = 0;
            while (true) {
                size_t comma = list.find(',', start);
                std::string_view item =
                    list.substr(start, comma == std::string_view::npos ? comma : comma - start);
                auto ip = parse_ip(item);
                if (!ip) {
                    problems.add(kDomainsFile, no, "bad address", item);
                    bad = true;
                    break;
                }
                if (!e.ips.empty() && *ip <= e.ips.back()) {
                    problems.add(kDomainsFile, no,
                                 *ip == e.ips.back() ? "duplicate address" : "addresses not sorted",
                                 item);
                    bad = true;
                    break;
                }
                e.ips.push_back(*ip);
                if (comma == std::string_view::npos) break;
                start = comma + 1;
            }
        }
        if (bad || problems.any()) return;  // rejected anyway: stop collecting
        e.name.assign(f[0]);
        out.push_back(std::move(e));
    });
}

void parse_ips(std::string_view text, const SnapshotLimits& limits, Problems& problems,
               std::vector<IpEntry>& out) {
    out.reserve(count_lines(text, limits));
    std::optional<IpAddress> prev;
    for_each_line(text, kIpsFile, limits, problems, [&](size_t no, std::string_view line) {
        std::string_view f[3];
        if (const char* err = split_fields(line, f, 3)) {
            problems.add(kIpsFile, no, err, line);
            return;
        }
        IpEntry e;
        bool bad = false;
        if (auto ip = parse_ip(f[0])) {
            if (prev && *ip <= *prev) {
                problems.add(kIpsFile, no,
                             *ip == *prev ? "duplicate address" : "addresses not sorted", f[0]);
                bad = true;
            }
            prev = *ip;
            e.ip = *ip;
        } else {
            problems.add(kIpsFile, no, "bad address", f[0]);
            bad = true;
        }
        if (const char* err = parse_count(f[1], e.count)) {
            problems.add(kIpsFile, no, err, f[1]);
            bad = true;
        }
        if (auto t = parse_time(f[2])) {
            e.last_seen = *t;
        } else {
            problems.add(kIpsFile, no, "bad time", f[2]);
            bad = true;
        }
        if (bad || problems.any()) return;
        out.push_back(e);
    });
}

void parse_flow_names(std::string_view text, const SnapshotLimits& limits, Problems& problems,
                      std::vector<FlowNameFileEntry>& out) {
    out.reserve(count_lines(text, limits));
    // The key of the last well-formed line.
    std::optional<IpAddress> prev_ip;
    std::string_view prev_name, prev_protocol;
    for_each_line(text, kFlowNamesFile, limits, problems, [&](size_t no, std::string_view line) {
        std::string_view f[6];
        const size_t n = std::count(line.begin(), line.end(), ' ') == 5 ? 6 : 5;
        if (const char* err = split_fields(line, f, n)) {
            problems.add(kFlowNamesFile, no, err, line);
            return;
        }
        auto ip = parse_ip(f[0]);
        if (!ip) {
            problems.add(kFlowNamesFile, no, "bad address", f[0]);
            return;
        }
        if (const char* err = check_flow_name(f[1])) {
            problems.add(kFlowNamesFile, no, err, f[1]);
            return;
        }
        if (!is_flow_protocol(f[2])) {
            problems.add(kFlowNamesFile, no, "bad protocol (want http, quic or tls)", f[2]);
            return;
        }
        bool bad = false;
        if (prev_ip) {
            const auto key = std::tie(*ip, f[1], f[2]);
            const auto prev = std::tie(*prev_ip, prev_name, prev_protocol);
            if (key <= prev) {
                problems.add(kFlowNamesFile, no,
                             key == prev ? "duplicate address, name and protocol"
                                         : "lines not sorted (address, name, protocol)",
                             line);
                bad = true;
            }
        }
        prev_ip = *ip;
        prev_name = f[1];
        prev_protocol = f[2];
        FlowNameFileEntry e;
        e.ip = *ip;
        if (const char* err = parse_count(f[3], e.count)) {
            problems.add(kFlowNamesFile, no, err, f[3]);
            bad = true;
        }
        if (auto t = parse_time(f[4])) {
            e.last_seen = *t;
        } else {
            problems.add(kFlowNamesFile, no, "bad time", f[4]);
            bad = true;
        }
        if (n == 6) {
            if (f[5] == "ech") {
                e.ech = true;
            } else {
                problems.add(kFlowNamesFile, no, "bad flag (want ech)", f[5]);
                bad = true;
            }
        }
        if (bad || problems.any()) return;
        e.name.assign(f[1]);
        e.protocol.assign(f[2]);
        out.push_back(std::move(e));
    });
}

void parse_process_uses(std::string_view text, const SnapshotLimits& limits, Problems& problems,
                        std::vector<ProcessUseEntry>& out) {
    out.reserve(count_lines(text, limits));
    for_each_line(text, kProcessUsesFile, limits, problems, [&](size_t no, std::string_view line) {
        std::string_view f[8];
        if (const char* err = split_fields(line, f, 8)) {
            problems.add(kProcessUsesFile, no, err, line);
            return;
        }
        ProcessUseEntry e;
        if (f[0].size() != 1 || (f[0][0] != 'd' && f[0][0] != 'i')) {
            problems.add(kProcessUsesFile, no, "bad kind (want d or i)", f[0]);
            return;
        }
        e.kind = f[0][0];
        if (const char* err = check_use_dest(e.kind, f[1])) {
            problems.add(kProcessUsesFile, no, err, f[1]);
            return;
        }
        e.dest.assign(f[1]);
        std::string* values[] = {&e.exe, &e.user, &e.container};
        for (size_t i = 0; i < 3; ++i) {
            if (const char* err = parse_field(f[2 + i], *values[i])) {
                problems.add(kProcessUsesFile, no, err, f[2 + i]);
                return;
            }
        }
        bool bad = false;
        // Compared with the last line kept: after a problem nothing is kept (the file is
        // refused anyway), so one bad line does not report a cascade.
        if (!out.empty()) {
            const ProcessUseEntry& p = out.back();
            const auto key = std::tie(e.kind, e.dest, e.exe, e.user, e.container);
            const auto prev = std::tie(p.kind, p.dest, p.exe, p.user, p.container);
            if (key <= prev) {
                problems.add(kProcessUsesFile, no,
                             key == prev
                                 ? "duplicate kind, destination, exe, user and container"
                                 : "lines not sorted (kind, destination, exe, user, container)",
                             line);
                bad = true;
            }
        }
        if (const char* err = parse_count(f[5], e.count)) {
            problems.add(kProcessUsesFile, no, err, f[5]);
            bad = true;
        }
        auto first = parse_time(f[6]);
        auto last = parse_time(f[7]);
        if (!first || !last) {
            problems.add(kProcessUsesFile, no, "bad time", !first ? f[6] : f[7]);
            bad = true;
        } else if (*first > *last) {
            problems.add(kProcessUsesFile, no, "first seen after last seen", line);
            bad = true;
        } else {
            e.first_seen = *first;
            e.last_seen = *last;
        }
        if (bad || problems.any()) return;
        out.push_back(std::move(e));
    });
}

}  // namespace

Result<std::vector<ProcessUseEntry>> parse_process_uses_file(std::string_view text,
                                                             const std::string& host,
                                                             const SnapshotLimits& limits) {
    Problems problems(host, limits.max_reported);
    std::vector<ProcessUseEntry> out;
    parse_process_uses(text, limits, problems, out);
    if (problems.any()) return problems.error();
    return out;
}

Result<std::vector<FlowNameFileEntry>> parse_flow_names_file(std::string_view text,
                                                             const std::string& host,
                                                             const SnapshotLimits& limits) {
    Problems problems(host, limits.max_reported);
    std::vector<FlowNameFileEntry> out;
    parse_flow_names(text, limits, problems, out);
    if (problems.any()) return problems.error();
    return out;
}

Result<Snapshot> parse_snapshot(std::string_view domains_text, std::string_view ips_text,
                                const std::string& host, const SnapshotLimits& limits) {
    Problems problems(host, limits.max_reported);
    Snapshot s;
    parse_domains(domains_text, limits, problems, s.domains);
    parse_ips(ips_text, limits, problems, s.ips);
    if (problems.any()) return problems.error();
    return s;
}

Result<std::vector<DomainEntry>> parse_domains_file(std::string_view text, const std::string& host,
                                                    const SnapshotLimits& limits) {
    Problems problems(host, limits.max_reported);
    std::vector<DomainEntry> out;
    parse_domains(text, limits, problems, out);
    if (problems.any()) return problems.error();
    return out;
}

Result<std::vector<IpEntry>> parse_ips_file(std::string_view text, const std::string& host,
                                            const SnapshotLimits& limits) {
    Problems problems(host, limits.max_reported);
    std::vector<IpEntry> out;
    parse_ips(text, limits, problems, out);
    if (problems.any()) return problems.error();
    return out;
}

}  // namespace em
