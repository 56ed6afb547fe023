#include "collector/snapshot.h"

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

#include "common/time.h"

namespace em {

namespace {

constexpr const char* kDomainsName = "unique-domains.log";
constexpr const char* kIpsName = "unique-ips.log";
constexpr int64_t kMaxCount = int64_t{1} << 62;
constexpr size_t kExcerptBytes = 60;
constexpr size_t kMaxDomainBytes = 253;

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

bool is_digit(char c) { return c >= '0' && c <= '9'; }

// A count: decimal, no sign, no leading zero, 1..2^62. Returns the problem or nullptr.
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

// Exactly "YYYY-MM-DDTHH:MM:SSZ", a real UTC time from 1970 to 9999 (no leap second: the
// agent never writes one, and format_rfc3339 could not give it back).
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

// An address exactly as the agent writes it: IpAddress::to_string() gives back the same
// text (no leading zeros in a quad; RFC 5952 lower case, compressed, for IPv6).
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

// Splits `line` at single spaces into exactly `n` non-empty fields.
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
    for_each_line(text, kDomainsName, limits, problems, [&](size_t no, std::string_view line) {
        std::string_view f[4];
        if (const char* err = split_fields(line, f, 4)) {
            problems.add(kDomainsName, no, err, line);
            return;
        }
        if (const char* err = check_domain(f[0])) {
            problems.add(kDomainsName, no, err, f[0]);
            return;
        }
        bool bad = false;
        if (!prev.empty() && f[0] <= prev) {
            problems.add(kDomainsName, no, f[0] == prev ? "duplicate domain" : "domains not sorted",
                         f[0]);
            bad = true;
        }
        prev = f[0];
        DomainEntry e;
        if (const char* err = parse_count(f[1], e.count)) {
            problems.add(kDomainsName, no, err, f[1]);
            bad = true;
        }
        if (auto t = parse_time(f[2])) {
            e.last_seen = *t;
        } else {
            problems.add(kDomainsName, no, "bad time", f[2]);
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
                    problems.add(kDomainsName, no, "bad address", item);
                    bad = true;
                    break;
                }
                if (!e.ips.empty() && *ip <= e.ips.back()) {
                    problems.add(kDomainsName, no,
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
    for_each_line(text, kIpsName, limits, problems, [&](size_t no, std::string_view line) {
        std::string_view f[3];
        if (const char* err = split_fields(line, f, 3)) {
            problems.add(kIpsName, no, err, line);
            return;
        }
        IpEntry e;
        bool bad = false;
        if (auto ip = parse_ip(f[0])) {
            if (prev && *ip <= *prev) {
                problems.add(kIpsName, no,
                             *ip == *prev ? "duplicate address" : "addresses not sorted", f[0]);
                bad = true;
            }
            prev = *ip;
            e.ip = *ip;
        } else {
            problems.add(kIpsName, no, "bad address", f[0]);
            bad = true;
        }
        if (const char* err = parse_count(f[1], e.count)) {
            problems.add(kIpsName, no, err, f[1]);
            bad = true;
        }
        if (auto t = parse_time(f[2])) {
            e.last_seen = *t;
        } else {
            problems.add(kIpsName, no, "bad time", f[2]);
            bad = true;
        }
        if (bad || problems.any()) return;
        out.push_back(e);
    });
}

}  // namespace

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

std::string render_domains_file(const std::vector<DomainEntry>& domains) {
    std::string out;
    for (const auto& d : domains) {
        out += d.name;
        out += ' ';
        out += std::to_string(d.count);
        out += ' ';
        out += format_rfc3339(d.last_seen);
        out += ' ';
        if (d.ips.empty()) out += '-';
        for (size_t i = 0; i < d.ips.size(); ++i) {
            if (i) out += ',';
            out += d.ips[i].to_string();
        }
        out += '\n';
    }
    return out;
}

std::string render_ips_file(const std::vector<IpEntry>& ips) {
    std::string out;
    for (const auto& e : ips) {
        out += e.ip.to_string();
        out += ' ';
        out += std::to_string(e.count);
        out += ' ';
        out += format_rfc3339(e.last_seen);
        out += '\n';
    }
    return out;
}

}  // namespace em
