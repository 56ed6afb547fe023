#pragma once
// Observations: what a live source saw, as plain values (DESIGN.md, "Data flow"). Sources
// produce them, the agent's pipeline enriches, counts and exports them.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/ip_address.h"

namespace em {

/// Who sent a packet, where the kernel knows (NFLOG's socket uid/gid).
struct SocketOwner {
    std::optional<uint32_t> uid;
    std::optional<uint32_t> gid;
};

/// The 5-tuple and time shared by both kinds of observation.
struct PacketMeta {
    int64_t time_ms = 0;  // Unix time in milliseconds
    uint8_t proto = 0;    // IPPROTO_*
    IpAddress src, dst;
    uint16_t sport = 0, dport = 0;
    SocketOwner owner;
};

/// A new outbound flow: a TCP connection attempt, a new UDP or ICMP flow.
struct FlowObservation {
    PacketMeta meta;
};

}  // namespace em
