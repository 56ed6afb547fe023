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
    bool first_packets = true;         // EM_FIRST records: each flow's first data
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
    /// "udp_repeats", "lost_first", "first_truncated"), summed over CPUs.
    std::map<std::string, uint64_t> stats() const;
    /// The directory the programs are attached to, and the mount point of cgroup v2.
    const std::string& cgroup() const { return cgroup_; }
    const std::string& cgroup_mount() const { return mount_.path; }

  private:
    // Deleters defined where the skeleton is included (egress_bpf__destroy is inline there).
    struct SkeletonDeleter {
        void operator()(egress_bpf* skel) const;
    };
    struct RingDeleter {
        void operator()(ring_buffer* ring) const;
    };
    // The cgroup v2 mount point; one this process mounted (or an earlier agent left) is
    // unmounted (lazily) when this is destroyed.
    struct CgroupMount {
        std::string path;
        bool mounted = false;  // path is ours (no cgroup v2 was mounted): unmounted at the end
        CgroupMount() = default;
        CgroupMount(const CgroupMount&) = delete;
        CgroupMount& operator=(const CgroupMount&) = delete;
        ~CgroupMount();
    };

    EbpfSource() = default;
    static int on_record(void* ctx, void* data, size_t len);

    // Member order is teardown order, last to first: the ring buffer is freed before the
    // skeleton it reads from is destroyed (libbpf-bootstrap's order: the ring buffer holds
    // the map's fd and mappings), and the skeleton (its links: the programs detach) before
    // the cgroup hierarchy they are attached to is unmounted.
    CgroupMount mount_;
    std::unique_ptr<egress_bpf, SkeletonDeleter> skel_;
    std::unique_ptr<ring_buffer, RingDeleter> ring_;
    const Handler* handler_ = nullptr;
    std::string cgroup_;
};

/// The mount point of cgroup v2 in `mounts` (/proc/mounts format); "" when there is none.
std::string find_cgroup2_mount(const std::string& mounts = "/proc/mounts");

}  // namespace em
