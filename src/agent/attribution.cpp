#include "agent/attribution.h"

namespace em {

Result<std::unique_ptr<FlowAttribution>> FlowAttribution::create() {
    auto look = SocketLookup::open();
    if (!look) return look.error();
    return std::unique_ptr<FlowAttribution>(new FlowAttribution(std::move(look.value())));
}

std::pair<const ProcessInfo*, const char*> FlowAttribution::attribute(const PacketMeta& meta) {
    if (meta.proto != 6 && meta.proto != 17) return {nullptr, "attribution.unsupported"};
    auto sock = look_.find(meta.proto, meta.src, meta.sport, meta.dst, meta.dport);
    if (!sock || !*sock || (*sock)->inode == 0) return {nullptr, "attribution.no_socket"};
    const size_t misses = inodes_.budget_misses();
    auto pid = inodes_.pid_of((*sock)->inode);
    if (!pid && inodes_.budget_misses() != misses) return {nullptr, "attribution.scan_budget"};
    if (!pid) return {nullptr, "attribution.no_process"};
    auto info = processes_.lookup(*pid);
    if (!info) return {nullptr, "attribution.process_gone"};
    last_ = std::move(info.value());
    return {&last_, "attribution.found"};
}

}  // namespace em
