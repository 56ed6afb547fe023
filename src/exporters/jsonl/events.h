#pragma once
// JSON event lines (docs/agent.md, "JSON events"): one object per line, one line per DNS message
// or new flow. Formatting is separate from writing so the Loki exporter sends the same text.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/json.h"
#include "common/result.h"
#include "core/observation.h"
#include "dns/dns_message.h"
#include "flowname/first_packet.h"
#include "process/process_info.h"

namespace em {

/// {"type":"flow","time":"2026-11-24T10:00:00.123Z","proto":"tcp","src":...,"sport":...,
///  "dst":...,"dport":...,"names":["a.example"],"direct":false,"uid":0,"gid":0}
/// uid/gid only where known. Appends to `out` without a newline.
void format_flow_event(const PacketMeta& meta, const std::vector<std::string>& names, bool direct,
                       std::string& out);
/// The same with a "process" object: {"pid","comm","exe","cmdline","uid","user","ppid",
/// "parent_comm","cgroup","container_id"} (null where unknown), or "process":null when the
/// flow could not be attributed.
void format_flow_event(const PacketMeta& meta, const std::vector<std::string>& names, bool direct,
                       const ProcessInfo* process, std::string& out);
/// {"type":"dns",...5-tuple...,"response":true,"id":4711,"qname":"a.example","qtype":"A",
///  "rcode":"NOERROR","answers":[{"name":"a.example","type":"A","ttl":300,
///  "data":"192.0.2.1"}]}; "rcode" and "answers" only for responses.
void format_dns_event(const PacketMeta& meta, const DnsMessage& msg, std::string& out);
/// The same with the "process" object of the socket that sent or received it (eBPF source).
void format_dns_event(const PacketMeta& meta, const DnsMessage& msg, const ProcessInfo* process,
                      std::string& out);
/// What a flow's first packet named (docs/agent.md, "Names from first packets"):
/// {"type":"flow_name",...5-tuple...,"protocol":"tls","sni":"a.example","alpn":["h2"],
///  "ech":false,"names":["a.example"],"direct":false}; "host" instead of "sni" for HTTP,
/// no "alpn"/"ech" for HTTP; `names` are the DNS names that explain the address (as in the
/// flow event). With `process_given`, a "process" object as in format_flow_event.
void format_flow_name_event(const PacketMeta& meta, const FirstPacketName& fp,
                            const std::vector<std::string>& names, bool process_given,
                            const ProcessInfo* process, std::string& out);
/// "tcp", "udp", "icmp", "icmpv6" or the number as text.
std::string proto_name(uint8_t proto);

/// Appends lines to a file (or stdout for "-"), buffered; flush() at each commit. reopen()
/// after a log rotation (SIGHUP). Write errors are reported once and counted, never fatal.
/// A file is opened with O_APPEND | O_CLOEXEC, created with mode 0640, and buffered in
/// 1 MiB; stdout keeps its own buffering and is flushed, never closed. Not thread-safe.
class JsonLinesWriter {
  public:
    static Result<JsonLinesWriter> open(const std::string& path);
    JsonLinesWriter(JsonLinesWriter&&) noexcept;
    JsonLinesWriter& operator=(JsonLinesWriter&&) noexcept;
    ~JsonLinesWriter();
    void write_line(std::string_view line);  // adds the newline
    Result<void> flush();
    Result<void> reopen();
    uint64_t lines() const { return lines_; }
    uint64_t errors() const { return errors_; }

  private:
    JsonLinesWriter(std::string path, FILE* f, std::unique_ptr<char[]> buf)
        : path_(std::move(path)), f_(f), buf_(std::move(buf)) {}
    void close();
    void note_error(int err);
    std::string path_;
    FILE* f_ = nullptr;
    std::unique_ptr<char[]> buf_;  // f_'s stdio buffer; freed after f_ is closed
    uint64_t lines_ = 0, errors_ = 0;
    bool reported_ = false;
};

}  // namespace em
