#pragma once
// Kernel LOG target lines: "PREFIX IN=eth0 OUT= ... SRC=a DST=b LEN=... PROTO=TCP SPT=p
// DPT=q ..." (IPv6 addresses printed fully expanded). One line is one new outbound flow
// to DST: the firewall rule logs each flow once (docs/install.md, install.sh).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/ip_address.h"
#include "common/time.h"
#include "core/batch.h"

namespace em {

struct KernelFlow {
    IpAddress src;
    IpAddress dst;
    std::string_view proto;  // "TCP", "UDP", "ICMP", "2", ...; a view into the line
    uint16_t sport = 0;      // 0 when the protocol has no ports
    uint16_t dport = 0;
};

enum class KernelLineKind { flow, other, malformed };

/// Parses a kernel message (no time stamp) that starts with `prefix`. `other` when it does
/// not start with the prefix; `malformed` when it does but SRC/DST/PROTO are unusable.
/// Without `with_source` the SRC address is only checked to be present (out.src unset):
/// counting needs the destination alone, and this is the per-line hot path.
KernelLineKind parse_kernel_message(std::string_view msg, std::string_view prefix, KernelFlow& out,
                                    bool with_source = true);

struct KernelCounters {
    uint64_t lines = 0;
    uint64_t flows = 0;
    uint64_t loopback = 0;  // flows to loopback: never egress
    uint64_t other = 0;     // other prefixes and other programs
    uint64_t malformed = 0;
};

/// Folds kernel messages into a Batch, counting and reporting what it skips. Used by the
/// syslog-file, kmsg and journald readers, each of which supplies the message and its time.
class KernelLineFolder {
  public:
    explicit KernelLineFolder(std::string prefix) : prefix_(std::move(prefix)) {}
    void message(std::string_view msg, int64_t t, Batch& batch, const std::string& where);
    /// A damaged line that never reached message(): counted and reported.
    void reject(std::string_view line, const std::string& where, const char* why) {
        ++counters_.lines;
        malformed(line, where, why);
    }
    /// A line of another program or prefix.
    void other() {
        ++counters_.lines;
        ++counters_.other;
    }
    const KernelCounters& counters() const { return counters_; }
    const std::string& prefix() const { return prefix_; }

  private:
    void malformed(std::string_view line, const std::string& where, const char* why);

    std::string prefix_;
    KernelCounters counters_;
    uint64_t reported_ = 0;
};

/// Reads syslog-format lines ("Nov 22 11:35:35 host kernel: [123.456] MSG" or with an
/// RFC 3339 stamp) — a kern.log file.
class SyslogKernelParser {
  public:
    SyslogKernelParser(std::string prefix, int64_t now) : folder_(std::move(prefix)), clock_(now) {}
    /// Same contract as DnsmasqParser::feed.
    void feed(std::string_view lines, Batch& batch, const std::string& where);
    const KernelCounters& counters() const { return folder_.counters(); }

  private:
    void line(std::string_view l, Batch& batch, const std::string& where);
    KernelLineFolder folder_;
    SyslogClock clock_;
};

}  // namespace em
