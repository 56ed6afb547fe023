// The eBPF source as a LiveSource: ring-buffer records → pipeline calls, each with the
// process it belongs to (docs/agent.md, "The eBPF source").
//   EM_EXEC  → TaskResolver::on_exec (the executable and arguments of a new image)
//   EM_TASK  → TaskResolver::resolve (who a process is, before its first flow)
//   EM_FLOW  → Pipeline::on_flow with the task's process; a socket to port 53 remembers it
//   EM_DNS   → Pipeline::on_dns_packet with the process of the socket: the one that used it
//              for a flow, else (a socket older than the agent, such as a resolver's) the
//              fallback attribution by 5-tuple, once per socket
//   EM_FIRST → Pipeline::on_first_payload with the process that sent it (TCP) or connected
//              or sent to the destination (UDP), resolved by pid as its flows are
#include <time.h>
#include <unistd.h>

#include <list>
#include <optional>
#include <unordered_map>

#include "agent/attribution.h"
#include "agent/live_source.h"
#include "common/log.h"
#include "packet/packet.h"
#include "process/task_resolver.h"
#include "sources/ebpf/ebpf_record.h"
#include "sources/ebpf/ebpf_source.h"

namespace em {

namespace {

int64_t clock_ns(clockid_t id) {
    timespec ts{};
    clock_gettime(id, &ts);
    return int64_t{ts.tv_sec} * 1000000000 + ts.tv_nsec;
}

TaskFacts facts(const EbpfTask& t) {
    return TaskFacts{t.pid, t.ppid, t.uid, t.cgroup_id, t.comm, t.parent_comm};
}

class EbpfLive final : public LiveSource {
  public:
    static Result<std::unique_ptr<LiveSource>> create(const LiveSourceOptions& o) {
        EbpfOptions eo;
        eo.cgroup = o.ebpf_cgroup;
        eo.ring_bytes = o.ebpf_ring_bytes;
        eo.first_packets = o.ebpf_first_packets;
        auto src = EbpfSource::open(eo);
        if (!src) return src.error();
        auto fallback = FlowAttribution::create();
        if (!fallback)
            log_warn("ebpf: no socket lookup for DNS of older sockets: {}",
                     fallback.error().message);
        log_info("ebpf: programs attached to cgroup {}", (*src)->cgroup());
        return std::unique_ptr<LiveSource>(
            new EbpfLive(std::move(*src), fallback ? std::move(*fallback) : nullptr));
    }

    std::string name() const override { return "ebpf"; }
    std::vector<int> fds() const override { return {src_->fd()}; }
    int max_wait_ms() const override { return 100; }

    Result<void> drain(Pipeline& pipeline) override {
        auto n = src_->consume([&](const void* data, size_t len) { handle(pipeline, data, len); });
        if (!n) return n.error();
        records_ += *n;
        return {};
    }

    void tick() override { offset_ns_ = clock_ns(CLOCK_REALTIME) - clock_ns(CLOCK_BOOTTIME); }

    std::map<std::string, uint64_t> counters() const override {
        std::map<std::string, uint64_t> out{{"ebpf.records", records_},
                                            {"ebpf.flows", flows_},
                                            {"ebpf.dns_packets", dns_},
                                            {"ebpf.first_packets", first_},
                                            {"ebpf.execs", execs_},
                                            {"ebpf.tasks", tasks_seen_},
                                            {"ebpf.malformed", malformed_},
                                            {"ebpf.dns_by_socket", dns_by_socket_},
                                            {"ebpf.dns_by_lookup", dns_by_lookup_},
                                            {"ebpf.dns_unattributed", dns_unattributed_},
                                            {"ebpf.proc_reads", tasks_.proc_reads()}};
        for (const auto& [k, v] : src_->stats()) out["ebpf." + k] = v;
        return out;
    }

  private:
    EbpfLive(std::unique_ptr<EbpfSource> s, std::unique_ptr<FlowAttribution> fallback)
        : src_(std::move(s)), fallback_(std::move(fallback)), tasks_(src_->cgroup_mount()) {
        tick();
    }

    void handle(Pipeline& pipeline, const void* data, size_t len) {
        if (!decode_ebpf_record(data, len, rec_, why_)) {
            if (malformed_++ < 10) log_warn("ebpf: malformed record: {}", why_);
            return;
        }
        const int64_t ms = (static_cast<int64_t>(rec_.time_ns) + offset_ns_) / 1000000;
        switch (rec_.kind) {
            case EbpfRecord::Kind::exec:
                ++execs_;
                tasks_.on_exec(facts(rec_.task), rec_.filename, rec_.args, ms);
                return;
            case EbpfRecord::Kind::task:  // a process's first flow follows
                ++tasks_seen_;
                tasks_.on_task(facts(rec_.task), rec_.start_time / ns_per_tick_, ms);
                return;
            case EbpfRecord::Kind::flow: {
                ++flows_;
                PacketMeta m;
                m.time_ms = ms;
                m.proto = rec_.proto;
                m.dst = rec_.dst;
                m.dport = rec_.dport;
                m.owner.uid = rec_.task.uid;
                // Flows carry pid, uid and cgroup: the rest was in the task's EM_TASK/EM_EXEC.
                const ProcessInfo* p = tasks_.resolve(facts(rec_.task), ms);
                // Only sockets that talk to port 53 carry DNS packets to attribute.
                if (rec_.dport == 53) tasks_.bind_socket(rec_.task.cookie, rec_.task.pid);
                pipeline.on_flow(m, p);
                return;
            }
            case EbpfRecord::Kind::dns:
                ++dns_;
                on_dns(pipeline, ms);
                return;
            case EbpfRecord::Kind::first:
                ++first_;
                on_first(pipeline, ms);
                return;
        }
    }

    void on_first(Pipeline& pipeline, int64_t ms) {
        PacketInfo p;
        why_.clear();
        if (!decode_ip_packet(rec_.packet, rec_.packet_len, p, why_) ||
            (p.proto != kProtoTcp && p.proto != kProtoUdp) || p.payload_len == 0) {
            if (malformed_++ < 10)
                log_warn("ebpf: first packet: {}", why_.empty() ? "no TCP or UDP data" : why_);
            return;
        }
        PacketMeta m;
        m.time_ms = ms;
        m.proto = p.proto;
        m.src = p.src;
        m.dst = p.dst;
        m.sport = p.sport;
        m.dport = p.dport;
        m.owner.uid = rec_.task.uid;
        // pid 0: the segment left while the idle task ran (a softirq): no process to name.
        pipeline.on_first_payload(m, p,
                                  rec_.task.pid ? tasks_.resolve(facts(rec_.task), ms) : nullptr);
    }

    void on_dns(Pipeline& pipeline, int64_t ms) {
        PacketInfo p;
        if (!decode_ip_packet(rec_.packet, rec_.packet_len, p, why_)) {
            if (malformed_++ < 10) log_warn("ebpf: DNS packet: {}", why_);
            return;
        }
        PacketMeta m;
        m.time_ms = ms;
        m.proto = p.proto;
        m.src = p.src;
        m.dst = p.dst;
        m.sport = p.sport;
        m.dport = p.dport;
        m.owner.uid = rec_.task.uid;
        pipeline.on_dns_packet(m, p, owner(m));
    }

    // The process of the DNS packet's socket.
    const ProcessInfo* owner(const PacketMeta& m) {
        if (const ProcessInfo* p = tasks_.socket_owner(rec_.task.cookie)) {
            ++dns_by_socket_;
            return p;
        }
        auto cached = looked_up_.find(rec_.task.cookie);
        if (cached == looked_up_.end()) {
            std::optional<ProcessInfo> found;
            if (fallback_) {
                PacketMeta local = m;  // the socket's own end first
                if (!rec_.egress) {
                    std::swap(local.src, local.dst);
                    std::swap(local.sport, local.dport);
                }
                if (auto [p, counter] = fallback_->attribute(local); p) found = *p;
            }
            if (looked_up_.size() >= 4096) looked_up_.clear();
            cached = looked_up_.emplace(rec_.task.cookie, std::move(found)).first;
        }
        if (!cached->second) {
            ++dns_unattributed_;
            return nullptr;
        }
        ++dns_by_lookup_;
        return &*cached->second;
    }

    std::unique_ptr<EbpfSource> src_;
    std::unique_ptr<FlowAttribution> fallback_;
    TaskResolver tasks_;
    std::unordered_map<uint64_t, std::optional<ProcessInfo>> looked_up_;  // cookie → process
    int64_t offset_ns_ = 0;  // CLOCK_REALTIME - CLOCK_BOOTTIME
    // /proc/PID/stat's start time is in clock ticks (USER_HZ) of CLOCK_BOOTTIME.
    const uint64_t ns_per_tick_ = 1000000000ull / static_cast<uint64_t>(sysconf(_SC_CLK_TCK));
    EbpfRecord rec_;
    std::string why_;
    uint64_t records_ = 0, flows_ = 0, dns_ = 0, first_ = 0, execs_ = 0, tasks_seen_ = 0;
    uint64_t malformed_ = 0;
    uint64_t dns_by_socket_ = 0, dns_by_lookup_ = 0, dns_unattributed_ = 0;
};

}  // namespace

Result<std::unique_ptr<LiveSource>> make_ebpf_source(const LiveSourceOptions& o) {
    return EbpfLive::create(o);
}

}  // namespace em
