#pragma once
// The agent's live inputs behind one interface (STYLE.md, "Interfaces"): each exposes fds
// for epoll, drains what is ready into the pipeline, and reports cumulative counters
// (received, dropped, malformed). Built by make_live_source from the --source value:
//   nflog         the agent's nftables table + NFLOG (capture_rules.h, nflog.h)
//   conntrack     ctnetlink NEW events for flows + pcap on "any" for DNS (port 53 only)
//   pcap:IFACE    everything from packets on one interface (flows found by FlowTracker)
//   ebpf          cgroup v2 hooks + ring buffer (sources/ebpf/): flows and DNS with the
//                 process of each; falls back to nflog, saying why, where it cannot load
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "agent/pipeline.h"
#include "common/result.h"

namespace em {

struct LiveSourceOptions {
    std::string source = "ebpf";
    uint16_t nflog_group = 5353;
    std::string firewall_backend = "auto";
    size_t rcvbuf = 8 << 20;
    std::string ebpf_cgroup;             // attach point; "" for the cgroup v2 root
    size_t ebpf_ring_bytes = 16u << 20;  // ring buffer size (a power of two)
    bool ebpf_first_packets = true;      // copy each flow's first data (TLS, QUIC, HTTP names)
};

class LiveSource {
  public:
    virtual ~LiveSource() = default;
    /// Which source this is ("nflog" after a fallback from "ebpf").
    virtual std::string name() const = 0;
    virtual std::vector<int> fds() const = 0;
    /// Reads everything ready without blocking.
    virtual Result<void> drain(Pipeline& pipeline) = 0;
    /// Cumulative counters, "<source>.<name>" → value; losses under "*.lost*"/"*.overruns".
    virtual std::map<std::string, uint64_t> counters() const = 0;
    /// Called every second or so (address refresh, stats).
    virtual void tick() {}
    /// The longest the agent may wait before calling drain() although no fd is readable
    /// (a source that batches wake-ups), or -1.
    virtual int max_wait_ms() const { return -1; }
    /// Undoes what start-up changed on the host (the nflog table); also run by the
    /// destructor. Errors are reported, not thrown.
    virtual Result<void> shutdown() { return {}; }
};

Result<std::unique_ptr<LiveSource>> make_live_source(const LiveSourceOptions& opt);

/// The eBPF source alone (ebpf_live.cpp), without make_live_source's fallback.
Result<std::unique_ptr<LiveSource>> make_ebpf_source(const LiveSourceOptions& opt);

}  // namespace em
