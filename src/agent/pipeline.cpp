#include "agent/pipeline.h"

#include "common/log.h"
#include "exporters/jsonl/events.h"
#include "flowname/first_packet.h"

namespace em {

namespace {
constexpr size_t kMaxRecentLocal = 65536;

bool is_local_resolver(const PacketMeta& m) { return m.dst.is_loopback() || m.dst == m.src; }
}  // namespace

Pipeline::Pipeline(const PipelineConfig& cfg, const DomainFolder* folder, EventSink sink)
    : cfg_(cfg),
      folder_(folder),
      sink_(std::move(sink)),
      batch_(cfg.max_ips_per_domain, folder),
      cache_(cfg.cache_entries, cfg.min_ttl_s, cfg.max_ttl_s) {}

void Pipeline::on_dns_packet(const PacketMeta& meta, const PacketInfo& p) {
    if (p.payload_len == 0) return;  // a bare ACK, SYN or FIN of a TCP DNS connection
    if (p.proto == kProtoUdp) {
        if (p.payload_len < p.payload_wire_len) {
            count("dns.truncated_captures");
            return;
        }
        if (!decode_dns_into(p.payload, p.payload_len, msg_)) {
            count("dns.malformed");
            return;
        }
        on_dns(meta, msg_);
        return;
    }
    if (p.proto != kProtoTcp) return;
    // A segment cut short by the capture (eBPF copies 4 KiB): what is missing is a gap to the
    // reassembler, which skips to the next message it can find.
    if (p.payload_len < p.payload_wire_len) count("dns.truncated_captures");
    TcpStreamKey key{p.src, p.dst, p.sport, p.dport};
    bool syn = p.tcp_flags & tcp_flag::kSyn;
    bool end = p.tcp_flags & (tcp_flag::kFin | tcp_flag::kRst);
    uint64_t skipped = tcp_.skipped_segments();
    tcp_.feed(key, p.tcp_seq, syn, end, p.payload, p.payload_len,
              [&](const uint8_t* data, size_t len) {
                  if (!decode_dns_into(data, len, msg_)) {
                      count("dns.malformed");
                      return;
                  }
                  on_dns(meta, msg_);
              });
    if (uint64_t n = tcp_.skipped_segments() - skipped) batch_.count("dns.tcp_skipped_segments", n);
}

void Pipeline::on_dns_packet(const PacketMeta& meta, const PacketInfo& p,
                             const ProcessInfo* process) {
    process_ = process;
    process_given_ = true;
    on_dns_packet(meta, p);
    process_ = nullptr;
    process_given_ = false;
}

ProcessUseDelta* Pipeline::count_use(char kind, std::string_view dest, int64_t t) {
    const ProcessInfo& p = *process_;
    if (p.exe.empty()) {
        name_buf2_.assign("[").append(p.comm).append("]");
        return batch_.add_process_use(kind, dest, name_buf2_, p.user, p.container_id, t);
    }
    return batch_.add_process_use(kind, dest, p.exe, p.user, p.container_id, t);
}

// count_use('i', …) for process_, skipping the address's text and the key's hash when one
// of the last few flows went to the same address from the same executable, user and
// container.
void Pipeline::count_flow_use(const IpAddress& dst, int64_t t) {
    const ProcessInfo& p = *process_;
    auto same_exe = [&](const std::string& exe) {
        if (!p.exe.empty()) return exe == p.exe;
        return exe.size() == p.comm.size() + 2 && exe.front() == '[' &&
               exe.compare(1, p.comm.size(), p.comm) == 0;
    };
    for (UseMemo& m : memo_.uses) {
        if (m.use && m.dst == dst && m.user == p.user && m.container == p.container_id &&
            same_exe(m.exe)) {
            m.use->merge(ProcessUseDelta{1, t, t});
            return;
        }
    }
    name_buf_ = dst.to_string();
    UseMemo& m = memo_.uses[memo_.next++ % memo_.uses.size()];
    m.use = count_use('i', name_buf_, t);
    m.dst = dst;
    if (p.exe.empty())
        m.exe.assign("[").append(p.comm).append("]");
    else
        m.exe = p.exe;
    m.user = p.user;
    m.container = p.container_id;
}

void Pipeline::on_dns(const PacketMeta& meta, const DnsMessage& msg) {
    const int64_t t = meta.time_ms / 1000;
    if (sink_) {
        line_.clear();
        if (process_given_)
            format_dns_event(meta, msg, process_, line_);
        else
            format_dns_event(meta, msg, line_);
        sink_(meta.time_ms, line_);
    }
    if (msg.opcode != 0 || msg.question_count == 0 || msg.qname.empty()) {
        count("dns.other_messages");
        return;
    }
    if (!normalize_domain(msg.qname, name_buf_)) {
        count("dns.malformed_names");
        return;
    }
    if (!msg.response) {
        const uint64_t key =
            std::hash<std::string>()(name_buf_) * 0x9E3779B97F4A7C15ull + msg.qtype;
        if (is_local_resolver(meta)) {
            if (recent_local_.size() >= kMaxRecentLocal) tick(meta.time_ms);
            if (recent_local_.size() < kMaxRecentLocal) recent_local_[key] = meta.time_ms;
        } else if (auto it = recent_local_.find(key);
                   it != recent_local_.end() &&
                   meta.time_ms - it->second <= cfg_.forward_window_ms) {
            count("dns.forwarded_queries");
            return;
        }
        batch_.add_query(name_buf_, t);
        count("dns.queries");
        if (process_) count_use('d', name_buf_, t);
        return;
    }
    count("dns.responses");
    resolved_ = resolve_answers(msg);
    if (resolved_.empty()) return;
    for (const auto& r : resolved_) {
        if (!batch_.add_answer(name_buf_, r.ip, t)) continue;  // loopback, unspecified
        cache_.insert(r.ip, name_buf_, r.ttl, meta.time_ms);
    }
}

void Pipeline::on_flow(const PacketMeta& meta) {
    if (!attributor_) {
        flow(meta);
        return;
    }
    if (meta.dst.is_loopback()) {  // not egress: no socket lookup
        flow(meta);
        return;
    }
    auto [process, counter] = attributor_(meta);
    count(counter);
    on_flow(meta, process);
}

void Pipeline::on_flow(const PacketMeta& meta, const ProcessInfo* process) {
    process_ = process;
    process_given_ = true;
    flow(meta);
    process_ = nullptr;
    process_given_ = false;
}

void Pipeline::flow(const PacketMeta& meta) {
    if (!batch_.add_flow(meta.dst, meta.time_ms / 1000)) {
        count("flows.loopback");
        return;
    }
    if (memo_.batch != batch_.id()) {
        for (UseMemo& m : memo_.uses) m.use = nullptr;
        memo_.batch = batch_.id();
        memo_.flows = &batch_.counter("flows");
        memo_.direct = nullptr;  // made by the first direct flow: no zero counter
    }
    *memo_.flows += 1;
    cache_.lookup(meta.dst, meta.time_ms, names_);
    if (names_.empty()) {
        if (!memo_.direct) memo_.direct = &batch_.counter("flows.direct");
        *memo_.direct += 1;
    }
    batch_.add_flow_port(meta.dst, meta.proto, meta.dport, names_.empty());
    if (process_) count_flow_use(meta.dst, meta.time_ms / 1000);
    if (sink_) {
        line_.clear();
        if (process_given_)
            format_flow_event(meta, names_, names_.empty(), process_, line_);
        else
            format_flow_event(meta, names_, names_.empty(), line_);
        sink_(meta.time_ms, line_);
    }
}

void Pipeline::on_first_payload(const PacketMeta& meta, const PacketInfo& p) {
    if (!attributor_ || meta.dst.is_loopback()) {
        first_payload(meta, p);
        return;
    }
    // The attribution counters count flows: the flow of this payload was counted already.
    on_first_payload(meta, p, attributor_(meta).first);
}

void Pipeline::on_first_payload(const PacketMeta& meta, const PacketInfo& p,
                                const ProcessInfo* process) {
    process_ = process;
    process_given_ = true;
    first_payload(meta, p);
    process_ = nullptr;
    process_given_ = false;
}

void Pipeline::first_payload(const PacketMeta& meta, const PacketInfo& p) {
    if (meta.dst.is_loopback() || p.payload_len == 0) return;
    FirstPacketDecode d;
    if (p.proto == kProtoTcp) {
        d = decode_tls_first_segment(p.payload, p.payload_len);
        if (d.status == FirstPacketDecode::Status::not_protocol)
            d = decode_http_request(p.payload, p.payload_len);
    } else if (p.proto == kProtoUdp) {
        d = decode_quic_initial(p.payload, p.payload_len);
    }
    switch (d.status) {
        case FirstPacketDecode::Status::found:
            break;
        case FirstPacketDecode::Status::not_protocol:
            count("first_packets.other");
            return;
        case FirstPacketDecode::Status::no_name:
            count("first_packets.no_name");
            return;
        case FirstPacketDecode::Status::incomplete:
            count("first_packets.incomplete");
            return;
        case FirstPacketDecode::Status::malformed:
            count("first_packets.malformed");
            if (!malformed_logged_) {  // once: a hostile client must not flood the log
                malformed_logged_ = true;
                log_warn(
                    "first packet to {} port {}: {} (further ones only counted, as "
                    "first_packets.malformed)",
                    meta.dst.to_string(), meta.dport, d.reason);
            }
            return;
    }
    count("first_packets.named");
    const int64_t t = meta.time_ms / 1000;
    batch_.add_flow_name(meta.dst, static_cast<uint8_t>(d.name.protocol), d.name.name, d.name.ech,
                         t);
    if (d.name.ech) count("first_packets.ech");
    if (sink_) {
        cache_.lookup(meta.dst, meta.time_ms, names_);
        line_.clear();
        format_flow_name_event(meta, d.name, names_, process_given_, process_, line_);
        sink_(meta.time_ms, line_);
    }
}

Batch Pipeline::take_batch() {
    Batch out(cfg_.max_ips_per_domain, folder_);
    std::swap(out, batch_);
    return out;
}

bool Pipeline::flush_wanted() const { return batch_.keys() >= cfg_.max_batch_keys; }

void Pipeline::reconfigure(const PipelineConfig& cfg) {
    cfg_ = cfg;
    cache_.reconfigure(cfg.cache_entries, cfg.min_ttl_s, cfg.max_ttl_s);
}

void Pipeline::tick(int64_t now_ms) {
    cache_.expire(now_ms);
    std::erase_if(recent_local_,
                  [&](const auto& kv) { return now_ms - kv.second > cfg_.forward_window_ms; });
}

}  // namespace em
