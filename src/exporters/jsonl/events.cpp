#include "exporters/jsonl/events.h"

#include <fcntl.h>
#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <climits>
#include <cstring>
#include <utility>

#include "common/log.h"
#include "common/time.h"

namespace em {

namespace {

constexpr size_t kBufferSize = 1 << 20;

void append_uint(uint64_t v, std::string& out) {
    char buf[20];
    auto r = std::to_chars(buf, buf + sizeof buf, v);
    out.append(buf, r.ptr);
}

/// Length of the well-formed UTF-8 sequence starting at s[i] (RFC 3629: no overlong
/// forms, no surrogates, nothing above U+10FFFF), or 0 when it is not one.

void append_key(std::string_view key, std::string& out) {
    out += '"';
    out.append(key);
    out += "\":";
}

// format_rfc3339_ms costs a gmtime_r and a strftime (about 0.35 us, a third of a flow event);
// events come in time order, so the seconds part is formatted once per second per thread.
void append_time(int64_t ms, std::string& out) {
    struct Cache {
        int64_t second = INT64_MIN;
        std::string prefix;  // "2026-11-24T10:00:00"
    };
    thread_local Cache cache;
    int64_t second = ms / 1000, frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        second -= 1;
    }
    if (second != cache.second) {
        std::string full = format_rfc3339_ms(ms);  // "2026-11-24T10:00:00.123Z"
        if (full.size() < 5) {                     // cannot happen; never cache garbage
            out += full;
            return;
        }
        cache.prefix.assign(full, 0, full.size() - 5);
        cache.second = second;
    }
    out += cache.prefix;
    const char tail[5] = {'.', static_cast<char>('0' + frac / 100),
                          static_cast<char>('0' + frac / 10 % 10),
                          static_cast<char>('0' + frac % 10), 'Z'};
    out.append(tail, sizeof tail);
}

// Writes everything up to and including the destination port, leaving the object open.
void append_meta(std::string_view type, const PacketMeta& meta, std::string& out) {
    out += R"({"type":")";
    out.append(type);
    out += R"(","time":")";
    append_time(meta.time_ms, out);
    out += R"(","proto":)";
    append_json_string(proto_name(meta.proto), out);
    // No source address: the eBPF connect hook runs before the kernel picks one.
    if (meta.src.is_set()) {
        out += R"(,"src":")";
        out += meta.src.to_string();
        out += R"(","sport":)";
    } else {
        out += R"(,"src":null,"sport":)";
    }
    append_uint(meta.sport, out);
    out += R"(,"dst":")";
    out += meta.dst.to_string();
    out += R"(","dport":)";
    append_uint(meta.dport, out);
}

void append_owner(const SocketOwner& owner, std::string& out) {
    if (owner.uid) {
        out += ",\"uid\":";
        append_uint(*owner.uid, out);
    }
    if (owner.gid) {
        out += ",\"gid\":";
        append_uint(*owner.gid, out);
    }
}

}  // namespace

std::string proto_name(uint8_t proto) {
    switch (proto) {
        case 1:
            return "icmp";
        case 6:
            return "tcp";
        case 17:
            return "udp";
        case 58:
            return "icmpv6";
        default:
            return std::to_string(proto);
    }
}

void format_flow_event(const PacketMeta& meta, const std::vector<std::string>& names, bool direct,
                       std::string& out) {
    append_meta("flow", meta, out);
    out += ",\"names\":[";
    for (size_t i = 0; i < names.size(); ++i) {
        if (i) out += ',';
        append_json_string(names[i], out);
    }
    out += "],\"direct\":";
    out += direct ? "true" : "false";
    append_owner(meta.owner, out);
    out += '}';
}

static void append_process(const ProcessInfo* p, std::string& out) {
    out += ",\"process\":";
    if (!p) {
        out += "null";
        return;
    }
    auto text = [&](const char* key, const std::string& v) {
        out += ",\"";
        out += key;
        out += "\":";
        if (v.empty())
            out += "null";
        else
            append_json_string(v, out);
    };
    out += "{\"pid\":";
    append_uint(static_cast<uint64_t>(p->pid), out);
    text("comm", p->comm);
    text("exe", p->exe);
    text("cmdline", p->cmdline);
    out += ",\"uid\":";
    append_uint(p->uid, out);
    text("user", p->user);
    out += ",\"ppid\":";
    append_uint(static_cast<uint64_t>(p->ppid), out);
    text("parent_comm", p->parent_comm);
    text("cgroup", p->cgroup);
    text("container_id", p->container_id);
    out += '}';
}

void format_flow_event(const PacketMeta& meta, const std::vector<std::string>& names, bool direct,
                       const ProcessInfo* p, std::string& out) {
    format_flow_event(meta, names, direct, out);
    out.pop_back();  // the closing brace: the process object goes inside
    append_process(p, out);
    out += '}';
}

void format_flow_name_event(const PacketMeta& meta, const FirstPacketName& fp,
                            const std::vector<std::string>& names, bool process_given,
                            const ProcessInfo* process, std::string& out) {
    append_meta("flow_name", meta, out);
    out += ",\"protocol\":\"";
    out += first_packet_protocol_name(static_cast<uint8_t>(fp.protocol));
    out += '"';
    const bool http = fp.protocol == FirstPacketProtocol::http;
    out += http ? ",\"host\":" : ",\"sni\":";
    append_json_string(fp.name, out);  // canonical_host_name: already plain ASCII
    if (!http) {
        out += ",\"alpn\":[";
        std::string_view alpn = fp.alpn;  // comma-separated, printable protocols
        for (bool first = true; !alpn.empty(); first = false) {
            size_t comma = alpn.find(',');
            if (!first) out += ',';
            append_json_string(alpn.substr(0, comma), out);
            alpn = comma == std::string_view::npos ? std::string_view{} : alpn.substr(comma + 1);
        }
        out += "],\"ech\":";
        out += fp.ech ? "true" : "false";
    }
    out += ",\"names\":[";
    for (size_t i = 0; i < names.size(); ++i) {
        if (i) out += ',';
        append_json_string(names[i], out);
    }
    out += "],\"direct\":";
    out += names.empty() ? "true" : "false";
    append_owner(meta.owner, out);
    if (process_given) append_process(process, out);
    out += '}';
}

void format_dns_event(const PacketMeta& meta, const DnsMessage& msg, const ProcessInfo* p,
                      std::string& out) {
    format_dns_event(meta, msg, out);
    out.pop_back();
    append_process(p, out);
    out += '}';
}

void format_dns_event(const PacketMeta& meta, const DnsMessage& msg, std::string& out) {
    append_meta("dns", meta, out);
    out += ",\"response\":";
    out += msg.response ? "true" : "false";
    out += ",\"id\":";
    append_uint(msg.id, out);
    out += ",\"qname\":";
    append_json_string(msg.qname, out);
    out += ",\"qtype\":";
    append_json_string(dns_type_name(msg.qtype), out);
    if (msg.response) {
        out += ",\"rcode\":";
        append_json_string(dns_rcode_name(msg.rcode), out);
        out += ",\"answers\":[";
        for (size_t i = 0; i < msg.answers.size(); ++i) {
            const DnsRecord& rr = msg.answers[i];
            if (i) out += ',';
            out += '{';
            append_key("name", out);
            append_json_string(rr.name, out);
            out += ',';
            append_key("type", out);
            append_json_string(dns_type_name(rr.type), out);
            out += ',';
            append_key("ttl", out);
            append_uint(rr.ttl, out);
            out += ',';
            append_key("data", out);
            if (rr.address)
                append_json_string(rr.address->to_string(), out);
            else
                append_json_string(rr.target, out);
            out += '}';
        }
        out += ']';
    }
    append_owner(meta.owner, out);
    out += '}';
}

Result<JsonLinesWriter> JsonLinesWriter::open(const std::string& path) {
    if (path == "-") return JsonLinesWriter(path, stdout, nullptr);
    // fopen() cannot choose the mode of a new file, so open(2) first; O_CLOEXEC as "ae".
    int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) return errno_error("cannot open " + path);
    FILE* f = ::fdopen(fd, "a");
    if (!f) {
        int err = errno;
        ::close(fd);
        return errno_error("cannot open " + path, err);
    }
    // glibc ignores the size when setvbuf() gets no buffer, so it is ours.
    std::unique_ptr<char[]> buf(new char[kBufferSize]);
    std::setvbuf(f, buf.get(), _IOFBF, kBufferSize);
    return JsonLinesWriter(path, f, std::move(buf));
}

JsonLinesWriter::JsonLinesWriter(JsonLinesWriter&& o) noexcept
    : path_(std::move(o.path_)),
      f_(std::exchange(o.f_, nullptr)),
      buf_(std::move(o.buf_)),
      lines_(o.lines_),
      errors_(o.errors_),
      reported_(o.reported_) {}

JsonLinesWriter& JsonLinesWriter::operator=(JsonLinesWriter&& o) noexcept {
    if (this != &o) {
        close();
        path_ = std::move(o.path_);
        f_ = std::exchange(o.f_, nullptr);
        buf_ = std::move(o.buf_);
        lines_ = o.lines_;
        errors_ = o.errors_;
        reported_ = o.reported_;
    }
    return *this;
}

JsonLinesWriter::~JsonLinesWriter() { close(); }

void JsonLinesWriter::close() {
    if (!f_) return;
    if (f_ == stdout) {
        std::fflush(f_);
    } else {
        // fclose flushes; the buffer must outlive it.
        if (std::fclose(f_) != 0) note_error(errno);
    }
    f_ = nullptr;
}

void JsonLinesWriter::note_error(int err) {
    ++errors_;
    if (!reported_) {
        reported_ = true;
        log_warn("cannot write JSON events to {}: {} (further errors are only counted)",
                 path_ == "-" ? "stdout" : path_, std::strerror(err));
    }
}

void JsonLinesWriter::write_line(std::string_view line) {
    if (!f_) {
        note_error(EBADF);
        return;
    }
    errno = 0;
    if (std::fwrite(line.data(), 1, line.size(), f_) != line.size() ||
        std::fputc('\n', f_) == EOF) {
        note_error(errno ? errno : EIO);
        std::clearerr(f_);
        return;
    }
    ++lines_;
}

Result<void> JsonLinesWriter::flush() {
    if (!f_) return Error{"JSON events " + path_ + ": not open"};
    if (std::fflush(f_) != 0) {
        int err = errno;
        note_error(err);
        std::clearerr(f_);
        return errno_error("cannot write JSON events to " + path_, err);
    }
    return {};
}

Result<void> JsonLinesWriter::reopen() {
    if (path_ == "-") return flush();
    // Open the new file first: when that fails, lines keep going to the old one.
    auto fresh = open(path_);
    if (!fresh) return fresh.error();
    Result<void> flushed = f_ ? flush() : Result<void>();
    close();
    f_ = std::exchange(fresh->f_, nullptr);
    buf_ = std::move(fresh->buf_);
    reported_ = false;  // a new file, a new chance to report its trouble
    return flushed;
}

}  // namespace em
