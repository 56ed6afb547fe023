#pragma once
// The eBPF source's user half: loads bpf/egress.bpf.c (a CO-RE object compiled into the
// binary as a bpftool skeleton), attaches its programs to a cgroup v2 directory — the root
// of the hierarchy by default, so every process on the host and in its containers is seen —
// and the exec tracepoint, and reads the ring buffer. Records are handed over raw; decoding
// is ebpf_record.h's. Detaching is the skeleton's links closing: nothing stays attached
// after the process exits, however it exits.
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/result.h"

struct egress_bpf;
struct ring_buffer;

namespace em {

struct EbpfOptions {
    std::string cgroup;                // a cgroup v2 directory; "" for the hierarchy's root
    size_t ring_bytes = 16u << 20;     // a power of two, at least a page
    uint64_t wake_bytes = 256u << 10;  // wake the reader once this much is waiting
};

class EbpfSource {
  public:
    /// Loads and attaches. The error says why this kernel or host cannot run it (no BTF,
    /// no cgroup v2, verifier refusal, missing privilege): the caller's fallback reason.
    static Result<std::unique_ptr<EbpfSource>> open(const EbpfOptions& opt);
    ~EbpfSource();
    EbpfSource(const EbpfSource&) = delete;
    EbpfSource& operator=(const EbpfSource&) = delete;

    /// Readable when records are waiting (after wake_bytes, or poll on a short timer).
    int fd() const;
    using Handler = std::function<void(const void* data, size_t len)>;
    /// Hands every waiting record to `handler`; returns how many.
    Result<uint64_t> consume(const Handler& handler);
    /// The kernel half's counters ("lost_flow", "lost_dns", "lost_exec", "dns_truncated",
    /// "udp_repeats"), summed over CPUs.
    std::map<std::string, uint64_t> stats() const;
    /// The directory the programs are attached to, and the mount point of cgroup v2.
    const std::string& cgroup() const { return cgroup_; }
    const std::string& cgroup_mount() const { return mount_; }

  private:
    EbpfSource() = default;
    static int on_record(void* ctx, void* data, size_t len);
    egress_bpf* skel_ = nullptr;
    ring_buffer* ring_ = nullptr;
    const Handler* handler_ = nullptr;
    std::string cgroup_, mount_;
    bool mounted_ = false;  // mount_ is ours (no cgroup v2 was mounted): unmounted at the end
};

/// The mount point of cgroup v2 in `mounts` (/proc/mounts format); "" when there is none.
std::string find_cgroup2_mount(const std::string& mounts = "/proc/mounts");

}  // namespace em
