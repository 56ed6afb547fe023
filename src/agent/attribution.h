#pragma once
// Fallback process attribution for the packet sources (nflog, conntrack): the flow's socket
// by sock_diag, its process by the /proc fd index, who the process is by the ProcessCache
// (process/). Costs a netlink round trip per flow (and a /proc scan when a socket is new to
// the index), so it is off unless `[agent] attribute_processes = true`. A socket closed or a
// process gone before the lookup — a connector that exits right after connecting — cannot be
// attributed this way: such flows carry "process": null and are counted.
#include <memory>
#include <utility>

#include "core/observation.h"
#include "process/process_info.h"
#include "process/socket_owner.h"

namespace em {

class FlowAttribution {
  public:
    static Result<std::unique_ptr<FlowAttribution>> create();
    /// The process of the flow's socket, or null; the counter names what happened
    /// ("attribution.found", "attribution.no_socket", "attribution.no_process",
    /// "attribution.process_gone", "attribution.unsupported", "attribution.scan_budget": the
    /// socket is new to the /proc index and the index's scanning budget is spent).
    std::pair<const ProcessInfo*, const char*> attribute(const PacketMeta& meta);

  private:
    explicit FlowAttribution(SocketLookup look) : look_(std::move(look)) {}
    SocketLookup look_;
    InodeIndex inodes_;
    ProcessCache processes_;
    ProcessInfo last_;
};

}  // namespace em
