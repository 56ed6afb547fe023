#include "enforce/server_names.h"

#include "flowname/first_packet.h"

namespace em {

size_t ServerNameFlows::KeyHash::operator()(const Key& k) const {
    size_t h = k.src.hash() * 31 + k.dst.hash();
    return h * 1000003 ^ (size_t{k.sport} << 24 | size_t{k.dport} << 8 | k.proto);
}

bool ServerNameFlows::room(int64_t now_ms) {
    if (flows_.size() < kMaxFlows) return true;
    expire(now_ms);
    return flows_.size() < kMaxFlows;
}

void ServerNameFlows::expire(int64_t now_ms) {
    std::erase_if(flows_, [&](const auto& e) {
        if (e.second.until_ms > now_ms) return false;
        if (e.second.state == State::held) ++counters_.timeout;
        return true;
    });
}

ServerNameVerdict ServerNameFlows::judge(const PacketInfo& p, int64_t now_ms,
                                         const std::function<bool(std::string_view)>& allowed) {
    name_.clear();
    if (p.fragment) return {false, false, "a fragment of a flow no answer allowed"};
    const bool tcp = p.proto == kProtoTcp;
    if (!tcp && !(p.proto == kProtoUdp && p.dport == 443))
        return {false, false, "no answer named the address (and not TCP or UDP to 443)"};
    const Key key{p.src, p.dst, p.sport, p.dport, p.proto};
    auto it = flows_.find(key);
    if (it != flows_.end() && it->second.until_ms <= now_ms) {
        if (it->second.state == State::held) ++counters_.timeout;
        if (it->second.state == State::held && tcp) {  // too late: denied from now on
            it->second = {State::denied, now_ms + kDeniedKeepMs};
            return {false, false, "held connection sent no data in time"};
        }
        flows_.erase(it);
        it = flows_.end();
    }
    if (it != flows_.end()) {
        Entry& e = it->second;
        if (e.state == State::allowed) {
            ++counters_.later;
            if (!tcp) e.until_ms = now_ms + kAllowedIdleMs;
            return {true, false, "connection allowed by its server name"};
        }
        if (e.state == State::denied) {
            ++counters_.later;
            return {false, false, "connection denied by its server name"};
        }
        if (p.payload_wire_len == 0) return {true, true, "held connection: no data yet"};
        return first_data(e, p, now_ms, allowed);
    }
    if (tcp) {
        const bool syn = (p.tcp_flags & (tcp_flag::kSyn | tcp_flag::kAck)) == tcp_flag::kSyn;
        if (!syn) {
            ++counters_.unknown;
            return {false, false, "not a SYN, and of no held connection"};
        }
        if (!room(now_ms)) {
            ++counters_.table_full;
            return {false, false, "no room to hold the connection (server-name table full)"};
        }
        ++counters_.held;
        Entry& e = flows_[key] = Entry{State::held, now_ms + kHeldTimeoutMs};
        if (p.payload_wire_len == 0)
            return {true, true, "handshake passes: held until its first data segment"};
        return first_data(e, p, now_ms, allowed);  // data on the SYN (TCP Fast Open)
    }
    // QUIC: only an allowed 5-tuple is remembered (a denied one is judged again each time).
    Entry e{State::held, 0};
    auto v = first_data(e, p, now_ms, allowed);
    if (!v.accept) return v;
    if (!room(now_ms)) {
        ++counters_.table_full;
        return {false, false, "server name allowed, but the server-name table is full"};
    }
    flows_[key] = e;
    return v;
}

ServerNameVerdict ServerNameFlows::first_data(
    Entry& e, const PacketInfo& p, int64_t now_ms,
    const std::function<bool(std::string_view)>& allowed) {
    auto deny = [&](uint64_t& counter, const char* why) {
        ++counter;
        e = {State::denied, now_ms + kDeniedKeepMs};
        return ServerNameVerdict{false, false, why};
    };
    if (p.payload_len < p.payload_wire_len)
        return deny(counters_.malformed, "first data cut short");
    FirstPacketDecode d;
    if (p.proto == kProtoTcp) {
        d = decode_tls_first_segment(p.payload, p.payload_len);
        if (d.status == FirstPacketDecode::Status::not_protocol)
            d = decode_http_request(p.payload, p.payload_len);
    } else {
        d = decode_quic_initial(p.payload, p.payload_len);
    }
    switch (d.status) {
        case FirstPacketDecode::Status::found:
            break;
        case FirstPacketDecode::Status::not_protocol:
            return deny(counters_.no_name, p.proto == kProtoTcp
                                               ? "first data is neither TLS nor HTTP"
                                               : "not a QUIC Initial");
        case FirstPacketDecode::Status::no_name:
            return deny(counters_.no_name, "first data names no server");
        case FirstPacketDecode::Status::incomplete:
            return deny(counters_.incomplete, "server name beyond the first segment");
        case FirstPacketDecode::Status::malformed:
            return deny(counters_.malformed, *d.reason ? d.reason : "malformed first data");
    }
    name_ = d.name.name;
    if (!allowed(name_)) return deny(counters_.denied, "server name not allowed");
    ++counters_.allowed;
    e = {State::allowed, now_ms + (p.proto == kProtoTcp ? kAllowedTcpKeepMs : kAllowedIdleMs)};
    return {true, false, "server name allowed"};
}

}  // namespace em
