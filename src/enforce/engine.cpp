#include "enforce/engine.h"

#include <algorithm>

namespace em {

TcpDnsSplit for_each_tcp_dns_message(const uint8_t* data, size_t len,
                                     const std::function<bool(const uint8_t*, size_t)>& fn) {
    while (len > 0) {
        if (len < 2) return TcpDnsSplit::split;
        const size_t n = size_t{data[0]} << 8 | data[1];
        if (n + 2 > len) return TcpDnsSplit::split;
        if (!fn(data + 2, n)) return TcpDnsSplit::stopped;
        data += n + 2;
        len -= n + 2;
    }
    return TcpDnsSplit::whole;
}

CtState ct_state(const std::optional<uint32_t>& ct_info) {
    if (!ct_info) return CtState::untracked;
    switch (*ct_info) {
        case 0:  // IP_CT_ESTABLISHED
        case 1:  // IP_CT_RELATED
        case 3:  // IP_CT_ESTABLISHED_REPLY
        case 4:  // IP_CT_RELATED_REPLY
            return CtState::established;
        case 2:  // IP_CT_NEW
            return CtState::new_flow;
        default:  // 7 IP_CT_UNTRACKED; 5 and 6 are never a packet's
            return CtState::untracked;
    }
}

Verdict Engine::query_conntrack(CtState ct) {
    if (ct != CtState::untracked) return {true, "tracked"};
    ++counters_.untracked_queries;
    return {false, "query on a connection conntrack does not track"};
}

Verdict Engine::response_conntrack(CtState ct) {
    if (ct != CtState::untracked) return {true, "tracked"};
    ++counters_.untracked_responses;
    return {false, "response on a connection conntrack does not track"};
}

Engine::Engine(const EnforceConfig& cfg) {
    filters_.reserve(cfg.filters.size());
    for (const auto& f : cfg.filters)
        filters_.push_back(
            State{f, {}, {}, {}, PendingQueries(f.outstanding_queries, f.query_timeout_ms), {}});
}

bool Engine::under(std::string_view name, std::string_view suffix) {
    if (name.size() == suffix.size()) return name == suffix;
    return name.size() > suffix.size() && name.ends_with(suffix) &&
           name[name.size() - suffix.size() - 1] == '.';
}

bool Engine::name_allowed(size_t filter, std::string_view name, int64_t now_ms) const {
    const State& s = filters_[filter];
    if (s.cfg.allow_all_hostnames) return true;
    for (const auto& h : s.cfg.allowed_hostnames)
        if (under(name, h)) return true;
    for (const auto& h : s.cfg.cached_hostnames)
        if (under(name, h)) return true;
    // A learnt name (a CNAME target, ...) is allowed exactly, not with what lies under it.
    auto it = s.names.find(std::string(name));
    return it != s.names.end() && it->second > now_ms;
}

Verdict Engine::query(size_t filter, const DnsFlow& flow, const DnsMessage& msg, int64_t now_ms) {
    if (msg.response) return {false, "not a query"};
    if (msg.question_count != 1 || msg.qname.empty())
        return {false, msg.question_count == 0 ? "no question" : "more than one question"};
    // A query carries a question and at most EDNS options: records in it would be a data
    // channel to any server on port 53 under an allowed name (egress-eddie drops answers
    // too). Updates, notifies and other opcodes are not lookups.
    if (msg.opcode != 0) {
        ++counters_.not_a_lookup;
        return {false, "not a standard query (an opcode other than QUERY)"};
    }
    if (msg.answer_count || msg.other_records) {
        ++counters_.records_in_query;
        return {false, msg.answer_count ? "a query carrying answer records"
                                        : "a query carrying authority or additional records"};
    }
    if (!name_allowed(filter, msg.qname, now_ms)) return {false, "name not allowed"};
    switch (filters_[filter].pending.add(flow, {msg.id, msg.qname, msg.qtype}, now_ms)) {
        case PendingQueries::Added::table_full:
            ++counters_.table_full;
            return {false, "name allowed, but the outstanding-query table is full"};
        case PendingQueries::Added::socket_full:
            ++counters_.socket_full;
            return {false, "name allowed, but its client port has too many outstanding queries"};
        default:
            return {true, "name allowed"};
    }
}

uint64_t Engine::unanswered_queries() const {
    uint64_t n = 0;
    for (const auto& s : filters_) n += s.pending.expired();
    return n;
}

int64_t Engine::duration_ms(const State& s, uint32_t ttl) const {
    const int64_t fixed = s.cfg.allow_answers_for_ms, rec = int64_t{ttl} * 1000;
    switch (s.cfg.record_ttl) {
        case RecordTtl::ignore:
            return fixed;
        case RecordTtl::shorter:
            return std::min(fixed, rec);
        case RecordTtl::longer:
            return std::max(fixed, rec);
        case RecordTtl::always:
            return rec;
    }
    return fixed;
}

Verdict Engine::response(const DnsFlow& flow, const DnsMessage& msg, int64_t now_ms, CtState ct) {
    if (!msg.response) return {false, "not a response"};
    if (msg.question_count != 1 || msg.qname.empty()) return {false, "no single question"};
    if (ct == CtState::untracked) return response_conntrack(ct);
    // Not a reply to anything conntrack saw go out: looked up to say why, not consumed (the
    // real answer, a reply, still finds its query).
    const bool established = ct != CtState::new_flow;
    auto closest = PendingQueries::Match::unsolicited;
    const DnsQuestion q{msg.id, msg.qname, msg.qtype};
    for (size_t f = 0; f < filters_.size(); ++f) {
        const auto m = filters_[f].pending.take(flow, q, now_ms, established);
        if (m == PendingQueries::Match::matched && !established) {
            ++counters_.not_established;
            return {false, "answer on a connection conntrack has not seen established"};
        }
        if (m == PendingQueries::Match::matched) {
            learn(filters_[f], msg, now_ms);
            return {true, "answer to an outstanding query learnt", static_cast<int>(f)};
        }
        closest = std::min(closest, m);
    }
    switch (closest) {
        case PendingQueries::Match::wrong_question:
            ++counters_.wrong_question;
            return {false, "question differs from the outstanding query's"};
        case PendingQueries::Match::wrong_id:
            ++counters_.wrong_id;
            return {false, "transaction id of no outstanding query to that server"};
        case PendingQueries::Match::wrong_server:
            ++counters_.wrong_server;
            return {false, "from an address or port no outstanding query went to"};
        default:
            ++counters_.unsolicited;
            return {false, "no outstanding query from that client port (unsolicited)"};
    }
}

void Engine::learn(State& s, const DnsMessage& msg, int64_t now_ms) {
    const auto resolved = resolve_answers(msg, &chain_);
    for (const auto& a : resolved) {
        if (a.ip.is_loopback() || a.ip.is_unspecified()) continue;
        const int64_t end = now_ms + duration_ms(s, a.ttl);
        int64_t& until = s.addrs[a.ip];
        until = std::max(until, end);
        // An IPv4-mapped AAAA answer (::ffff:192.0.2.1): a client's IPv6 socket sends to it
        // as IPv4, so the IPv4 address is allowed too (as egress-eddie does).
        const uint8_t* b = a.ip.bytes();
        if (a.ip.is_v6() && std::all_of(b, b + 10, [](uint8_t x) { return x == 0; }) &&
            b[10] == 0xff && b[11] == 0xff) {
            const auto v4 = IpAddress::v4(uint32_t{b[12]} << 24 | uint32_t{b[13]} << 16 |
                                          uint32_t{b[14]} << 8 | b[15]);
            int64_t& u4 = s.addrs[v4];
            u4 = std::max(u4, end);
        }
    }
    // Targets of the chain and of SRV/MX/NS answers to names of the chain.
    for (const auto& r : msg.answers) {
        if (r.target.empty() || r.type == 12) continue;  // PTR targets allow nothing
        if (std::find(chain_.begin(), chain_.end(), r.name) == chain_.end() && r.name != msg.qname)
            continue;
        int64_t& until = s.names[r.target];
        until = std::max(until, now_ms + duration_ms(s, r.ttl));
    }
}

Verdict Engine::traffic(size_t filter, const IpAddress& dst, int64_t now_ms) const {
    const State& s = filters_[filter];
    if (s.cached.count(dst)) return {true, "address of a cached hostname"};
    auto it = s.addrs.find(dst);
    if (it == s.addrs.end()) return {false, "no allowed answer named the address"};
    if (it->second <= now_ms) return {false, "the answer naming the address expired"};
    return {true, "address from an allowed answer"};
}

ServerNameVerdict Engine::server_name(size_t filter, const PacketInfo& p, int64_t now_ms) {
    return filters_[filter].flows.judge(
        p, now_ms, [&](std::string_view name) { return name_allowed(filter, name, now_ms); });
}

void Engine::allow_address(size_t filter, const IpAddress& ip, int64_t until_ms) {
    int64_t& until = filters_[filter].addrs[ip];
    until = std::max(until, until_ms);
}

void Engine::set_cached(size_t filter, std::vector<IpAddress> ips) {
    auto& c = filters_[filter].cached;
    c.clear();
    for (const auto& ip : ips) c.emplace(ip, true);
}

void Engine::expire(int64_t now_ms) {
    for (auto& s : filters_) {
        s.pending.expire(now_ms);
        s.flows.expire(now_ms);
        std::erase_if(s.addrs, [&](const auto& e) { return e.second <= now_ms; });
        std::erase_if(s.names, [&](const auto& e) { return e.second <= now_ms; });
    }
}

}  // namespace em
