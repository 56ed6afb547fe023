#include "agent/live_source.h"

#include "agent/first_payload_tracker.h"
#include "agent/flow_tracker.h"
#include "common/log.h"
#include "sources/conntrack/conntrack.h"
#include "sources/conntrack/host_addresses.h"
#include "sources/nflog/capture_rules.h"
#include "sources/nflog/nflog.h"
#include "sources/pcap/pcap_source.h"

namespace em {

namespace {

bool is_dns(const PacketInfo& p) {
    return (p.proto == kProtoUdp || p.proto == kProtoTcp) && (p.sport == 53 || p.dport == 53);
}

class NflogLive final : public LiveSource {
  public:
    static Result<std::unique_ptr<LiveSource>> create(const LiveSourceOptions& o) {
        CaptureRules rules;
        rules.group = o.nflog_group;
        rules.backend = o.firewall_backend;
        // Open the group before the rules exist, so the first logged packet has a reader.
        auto src = NflogSource::open(o.nflog_group, o.rcvbuf);
        if (!src) return src.error();
        auto backend = install_capture_rules(rules);
        if (!backend) return Error{"installing the capture rules: " + backend.error().message};
        log_info("nflog: table inet {} installed ({}), group {}", rules.table, *backend,
                 rules.group);
        return std::unique_ptr<LiveSource>(
            new NflogLive(std::move(*src), std::move(rules), std::move(*backend)));
    }
    ~NflogLive() override { (void)shutdown(); }
    std::string name() const override { return "nflog"; }
    std::vector<int> fds() const override { return {src_->fd()}; }
    Result<void> drain(Pipeline& pipeline) override {
        return src_->drain([&](NflogKind kind, const PacketMeta& m, const PacketInfo& p) {
            if (kind == NflogKind::flow) {
                pipeline.on_flow(m);
            } else if (kind == NflogKind::dns_query || kind == NflogKind::dns_response) {
                pipeline.on_dns_packet(m, p);
            } else if (kind == NflogKind::first_payload && first_.first_look(p, m.time_ms)) {
                pipeline.on_first_payload(m, p);
            }
        });
    }
    std::map<std::string, uint64_t> counters() const override {
        const auto& c = src_->counters();
        return {{"nflog.messages", c.messages},
                {"nflog.lost_seq", c.lost_seq},
                {"nflog.overruns", c.overruns},
                {"nflog.malformed", c.malformed},
                {"nflog.first_payloads_forgotten", first_.forgotten()}};
    }
    Result<void> shutdown() override {
        if (removed_) return {};
        removed_ = true;
        auto r = remove_capture_rules(rules_, backend_);
        if (!r) log_error("removing the capture rules: {}", r.error().message);
        return r;
    }

  private:
    NflogLive(std::unique_ptr<NflogSource> s, CaptureRules r, std::string backend)
        : src_(std::move(s)), rules_(std::move(r)), backend_(std::move(backend)) {}
    std::unique_ptr<NflogSource> src_;
    CaptureRules rules_;
    std::string backend_;
    FirstPayloadTracker first_;  // the user-space "already looked" set
    bool removed_ = false;
};

class ConntrackLive final : public LiveSource {
  public:
    static Result<std::unique_ptr<LiveSource>> create(const LiveSourceOptions& o) {
        auto ct = ConntrackSource::open(o.rcvbuf);
        if (!ct) return ct.error();
        // DNS has no conntrack event: read it from packets, queries as they leave and
        // responses as they arrive (on loopback each packet shows both ways).
        auto dns = PcapSource::open_live(
            "any", "(udp or tcp) and ((dst port 53 and outbound) or (src port 53 and inbound))");
        if (!dns) return Error{"DNS capture for the conntrack source: " + dns.error().message};
        if (auto r = install_conntrack_enabler(); !r)
            return Error{"turning connection tracking on: " + r.error().message};
        return std::unique_ptr<LiveSource>(new ConntrackLive(std::move(*ct), std::move(*dns)));
    }
    ~ConntrackLive() override { (void)shutdown(); }
    Result<void> shutdown() override {
        if (removed_) return {};
        removed_ = true;
        auto r = remove_conntrack_enabler();
        if (!r) log_error("removing table inet egress_monitor_ct: {}", r.error().message);
        return r;
    }
    std::string name() const override { return "conntrack"; }
    std::vector<int> fds() const override { return {ct_->fd(), dns_->fd()}; }
    Result<void> drain(Pipeline& pipeline) override {
        if (auto r = ct_->drain([&](const FlowObservation& f) { pipeline.on_flow(f.meta); }); !r)
            return r;
        auto r = dns_->drain([&](const PacketMeta& m, const PacketInfo& p) {
            if (is_dns(p)) pipeline.on_dns_packet(m, p);
        });
        if (!r) return r.error();
        return {};
    }
    std::map<std::string, uint64_t> counters() const override {
        const auto& c = ct_->counters();
        const auto& d = dns_->counters();
        return {{"conntrack.events", c.events},       {"conntrack.overruns", c.overruns},
                {"conntrack.malformed", c.malformed}, {"pcap.packets", d.packets},
                {"pcap.malformed", d.malformed},      {"pcap.kernel_drops", d.kernel_drops}};
    }

  private:
    ConntrackLive(std::unique_ptr<ConntrackSource> ct, std::unique_ptr<PcapSource> dns)
        : ct_(std::move(ct)), dns_(std::move(dns)) {}
    std::unique_ptr<ConntrackSource> ct_;
    std::unique_ptr<PcapSource> dns_;
    bool removed_ = false;
};

class PcapLive final : public LiveSource {
  public:
    static Result<std::unique_ptr<LiveSource>> create(const std::string& iface) {
        auto src = PcapSource::open_live(iface);
        if (!src) return src.error();
        auto host = HostAddresses::open();
        if (!host) return host.error();
        return std::unique_ptr<LiveSource>(new PcapLive(std::move(*src), std::move(*host)));
    }
    std::string name() const override { return "pcap"; }
    std::vector<int> fds() const override { return {src_->fd()}; }
    Result<void> drain(Pipeline& pipeline) override {
        auto r = src_->drain([&](const PacketMeta& m, const PacketInfo& p) {
            if (host_.contains(m.src) && !m.dst.is_loopback()) {
                const bool opens = tracker_.is_new_flow(p, m.time_ms);
                if (opens) pipeline.on_flow(m);
                if (first_.is_first_payload(p, opens, m.time_ms)) pipeline.on_first_payload(m, p);
            }
            if (is_dns(p)) pipeline.on_dns_packet(m, p);
        });
        if (!r) return r.error();
        return {};
    }
    std::map<std::string, uint64_t> counters() const override {
        const auto& d = src_->counters();
        return {{"pcap.packets", d.packets},
                {"pcap.malformed", d.malformed},
                {"pcap.kernel_drops", d.kernel_drops},
                {"pcap.flows_forgotten", tracker_.forgotten()},
                {"pcap.first_payloads_forgotten", first_.forgotten()}};
    }
    void tick() override {
        if (auto r = host_.sync(); !r) log_warn("{}", r.error().message);
    }

  private:
    PcapLive(std::unique_ptr<PcapSource> s, HostAddresses h)
        : src_(std::move(s)), host_(std::move(h)) {}
    std::unique_ptr<PcapSource> src_;
    HostAddresses host_;
    FlowTracker tracker_;
    FirstPayloadTracker first_;
};

}  // namespace

Result<std::unique_ptr<LiveSource>> make_live_source(const LiveSourceOptions& o) {
    if (o.source == "nflog") return NflogLive::create(o);
    if (o.source == "ebpf") {
        auto ebpf = make_ebpf_source(o);
        if (ebpf) return ebpf;
        log_warn("ebpf source unavailable ({}); falling back to nflog", ebpf.error().message);
        return NflogLive::create(o);
    }
    if (o.source == "conntrack") return ConntrackLive::create(o);
    if (o.source.rfind("pcap:", 0) == 0 && o.source.size() > 5)
        return PcapLive::create(o.source.substr(5));
    return Error{"unknown source \"" + o.source + "\" (ebpf, nflog, conntrack or pcap:IFACE)"};
}

}  // namespace em
