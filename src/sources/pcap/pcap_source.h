#pragma once
// libpcap input: a capture file (`replay`) or a live interface (`--source pcap:IFACE`, and the
// DNS half of the conntrack source on "any"). Each packet is decoded down to the transport
// header (packet.h) with the capture's own timestamp.
#include <pcap/pcap.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "core/observation.h"
#include "packet/packet.h"

namespace em {

struct PcapCounters {
    uint64_t packets = 0;
    uint64_t not_ip = 0;        // ARP and other non-IP frames
    uint64_t malformed = 0;     // IP packets too damaged to decode
    uint64_t kernel_drops = 0;  // live: pcap_stats ps_drop + ps_ifdrop
};

class PcapSource {
  public:
    using Handler = std::function<void(const PacketMeta&, const PacketInfo&)>;

    static Result<std::unique_ptr<PcapSource>> open_file(const std::string& path);
    /// Live capture on `iface` ("any" for all), non-blocking, with an optional BPF filter.
    static Result<std::unique_ptr<PcapSource>> open_live(const std::string& iface,
                                                         const std::string& filter = {});
    int fd() const;  // live only
    /// Live: reads what is buffered now. File: reads up to `max_packets`; returns false at
    /// the end of the file.
    Result<bool> drain(const Handler& handler, size_t max_packets = 65536);
    const PcapCounters& counters() const { return counters_; }
    int link_type() const { return link_; }

  private:
    PcapSource(pcap_t* p, bool live, std::string what);
    std::unique_ptr<pcap_t, Deleter<pcap_close>> pcap_;
    bool live_;
    std::string what_;
    int link_ = 0;
    std::string why_;
    PcapCounters counters_;
};

}  // namespace em
