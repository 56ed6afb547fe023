#include "sources/pcap/pcap_source.h"

namespace em {

PcapSource::PcapSource(pcap_t* p, bool live, std::string what)
    : pcap_(p), live_(live), what_(std::move(what)), link_(pcap_datalink(p)) {}

Result<std::unique_ptr<PcapSource>> PcapSource::open_file(const std::string& path) {
    char err[PCAP_ERRBUF_SIZE] = "";
    pcap_t* p =
        pcap_open_offline_with_tstamp_precision(path.c_str(), PCAP_TSTAMP_PRECISION_MICRO, err);
    if (!p) return Error{path + ": " + err};
    return std::unique_ptr<PcapSource>(new PcapSource(p, false, path));
}

Result<std::unique_ptr<PcapSource>> PcapSource::open_live(const std::string& iface,
                                                          const std::string& filter) {
    char err[PCAP_ERRBUF_SIZE] = "";
    pcap_t* p = pcap_create(iface.c_str(), err);
    if (!p) return Error{"pcap " + iface + ": " + err};
    std::unique_ptr<PcapSource> src(new PcapSource(p, true, iface));
    pcap_set_snaplen(p, 65535);
    pcap_set_promisc(p, 0);
    pcap_set_immediate_mode(p, 0);
    pcap_set_timeout(p, 10);
    pcap_set_buffer_size(p, 8 << 20);
    if (int rc = pcap_activate(p); rc < 0)
        return Error{"pcap " + iface + ": " + pcap_statustostr(rc) + " " + pcap_geterr(p)};
    src->link_ = pcap_datalink(p);
    if (!filter.empty()) {
        bpf_program prog{};
        if (pcap_compile(p, &prog, filter.c_str(), 1, PCAP_NETMASK_UNKNOWN) < 0)
            return Error{"pcap " + iface + ": filter \"" + filter + "\": " + pcap_geterr(p)};
        int rc = pcap_setfilter(p, &prog);
        pcap_freecode(&prog);
        if (rc < 0) return Error{"pcap " + iface + ": setfilter: " + pcap_geterr(p)};
    }
    if (pcap_setnonblock(p, 1, err) < 0) return Error{"pcap " + iface + ": " + err};
    return src;
}

int PcapSource::fd() const { return live_ ? pcap_get_selectable_fd(pcap_.get()) : -1; }

Result<bool> PcapSource::drain(const Handler& handler, size_t max_packets) {
    pcap_pkthdr* h = nullptr;
    const u_char* data = nullptr;
    for (size_t n = 0; n < max_packets; ++n) {
        int rc = pcap_next_ex(pcap_.get(), &h, &data);
        if (rc == 0) break;                        // live: nothing buffered
        if (rc == PCAP_ERROR_BREAK) return false;  // end of file
        if (rc < 0) return Error{what_ + ": " + pcap_geterr(pcap_.get())};
        ++counters_.packets;
        PacketInfo p;
        if (!decode_frame(link_, data, h->caplen, p, why_)) {
            ++(why_.rfind("not IP", 0) == 0 ? counters_.not_ip : counters_.malformed);
            continue;
        }
        PacketMeta meta;
        meta.time_ms = int64_t{h->ts.tv_sec} * 1000 + h->ts.tv_usec / 1000;
        meta.proto = p.proto;
        meta.src = p.src;
        meta.dst = p.dst;
        meta.sport = p.sport;
        meta.dport = p.dport;
        handler(meta, p);
    }
    if (live_) {
        pcap_stat st{};
        if (pcap_stats(pcap_.get(), &st) == 0) counters_.kernel_drops = st.ps_drop + st.ps_ifdrop;
    }
    return true;
}

}  // namespace em
