#pragma once
// Pipeline: the agent's core, independent of where packets come from. Sources hand it DNS
// packets and new flows; it decodes DNS (UDP, and TCP through reassembly), counts client
// queries and flows into the current Batch, keeps the IP→names answer cache, labels each
// flow with the names that explain its address (or `direct`), and formats JSON events.
//
// Counting (docs/agent.md, "What the agent counts"): a DNS query is a client query unless it is the
// local resolver forwarding one: a query to a non-local server for the same (name, type) that a
// client asked a local resolver (loopback, or the sender's own address) within the last
// forward_window_ms is counted as "dns.forwarded_queries", not as a query. Answers from
// any response add the addresses to the queried name. Single-threaded.
#include <array>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/answer_cache.h"
#include "core/batch.h"
#include "core/domain_folder.h"
#include "core/observation.h"
#include "dns/dns_message.h"
#include "dns/tcp_stream.h"
#include "packet/packet.h"
#include "process/process_info.h"

namespace em {

struct PipelineConfig {
    size_t max_ips_per_domain = 32;
    size_t cache_entries = 100000;
    uint32_t min_ttl_s = 60;
    uint32_t max_ttl_s = 86400;
    int64_t forward_window_ms = 10000;
    size_t max_batch_keys = 200000;  // flush_wanted() beyond this many keys (Batch::keys)
};

/// Receives each event as a JSON line (without newline) with its time in Unix ms.
using EventSink = std::function<void(int64_t time_ms, const std::string& line)>;

class Pipeline {
  public:
    /// `folder` may be null (no folding); it must outlive the pipeline. Without a sink no
    /// events are formatted.
    Pipeline(const PipelineConfig& cfg, const DomainFolder* folder, EventSink sink = {});

    /// A DNS packet (to or from port 53) seen at `meta.time_ms`. UDP payloads are decoded
    /// at once; TCP segments go through reassembly first.
    void on_dns_packet(const PacketMeta& meta, const PacketInfo& p);
    /// One decoded DNS message.
    void on_dns(const PacketMeta& meta, const DnsMessage& msg);
    /// A new outbound flow.
    void on_flow(const PacketMeta& meta);
    /// The same from a source that knows who sent or received it (eBPF): events carry the
    /// "process" object (null when `process` is), and the batch counts the destination per
    /// process (Batch::add_process_use).
    void on_flow(const PacketMeta& meta, const ProcessInfo* process);
    void on_dns_packet(const PacketMeta& meta, const PacketInfo& p, const ProcessInfo* process);
    /// The first data a client sent on a flow: a TCP connection's first data segment, or a UDP
    /// datagram to port 443 (a QUIC Initial). Decodes the name it gives (src/flowname: TLS
    /// server name, QUIC, HTTP Host), records it per destination in the batch
    /// (Batch::add_flow_name) and emits a "flow_name" event. Counted under "first_packets.*":
    /// named, no_name, incomplete (the name lies beyond the bytes captured), malformed, other.
    /// Sources call this once per flow; a payload of none of these protocols costs one
    /// counter. With a `process` (eBPF), events carry it as flow events do.
    void on_first_payload(const PacketMeta& meta, const PacketInfo& p);
    void on_first_payload(const PacketMeta& meta, const PacketInfo& p, const ProcessInfo* process);
    /// Who made a flow (FlowAttribution::attribute): with one set, flow events carry a
    /// "process" object and the outcome is counted under the counter it names.
    using Attributor = std::function<std::pair<const ProcessInfo*, const char*>(const PacketMeta&)>;
    void set_attributor(Attributor a) { attributor_ = std::move(a); }

    /// The observations since the last take, and a fresh batch for the next ones.
    Batch take_batch();
    const Batch& batch() const { return batch_; }
    /// True when the batch holds max_batch_keys keys: commit early to stay bounded.
    bool flush_wanted() const;
    void reconfigure(const PipelineConfig& cfg);
    AnswerCache& cache() { return cache_; }
    /// Housekeeping: expires cache entries and old forward-detection records.
    void tick(int64_t now_ms);

  private:
    void count(const char* counter) { batch_.count(counter); }
    void flow(const PacketMeta& meta);
    void first_payload(const PacketMeta& meta, const PacketInfo& p);
    ProcessUseDelta* count_use(char kind, std::string_view dest, int64_t t);
    void count_flow_use(const IpAddress& dst, int64_t t);

    // What recent flows counted in batch_ (the batch's id says whether it still is): sources
    // sending many flows to a few destinations find their counters without a lookup.
    struct UseMemo {
        ProcessUseDelta* use = nullptr;  // of (dst, exe, user, container) below
        IpAddress dst;
        std::string exe, user, container;
    };
    struct FlowMemo {
        uint64_t batch = 0;
        uint64_t* flows = nullptr;
        uint64_t* direct = nullptr;
        std::array<UseMemo, 4> uses;  // the 4 most recent process uses, replaced in turn
        size_t next = 0;
    };
    FlowMemo memo_;

    // Who the packet being handled belongs to, while on_flow/on_dns_packet run with one.
    const ProcessInfo* process_ = nullptr;
    bool process_given_ = false;
    bool malformed_logged_ = false;  // the first malformed first packet, logged once

    PipelineConfig cfg_;
    const DomainFolder* folder_;
    EventSink sink_;
    Attributor attributor_;
    Batch batch_;
    AnswerCache cache_;
    TcpDnsStreams tcp_;
    // (name, type) asked of a local resolver → last time (ms). Keyed by a 64-bit hash: a
    // collision could at worst take one query for a forward, once in 2^64.
    std::unordered_map<uint64_t, int64_t> recent_local_;
    DnsMessage msg_;  // decoded into, storage reused
    std::string name_buf_, name_buf2_, line_;
    std::vector<std::string> names_;
    std::vector<ResolvedAddress> resolved_;
};

}  // namespace em
