#pragma once
// The verdicts of `enforce`, without the kernel: what a DNS query, a DNS response or a packet
// of other traffic gets, and what each response teaches the filters. Single-threaded: the
// verdict loop owns it (cached hostnames are handed in with set_cached).
//
//   query     (a filter's dnsQueue)  accepted when its one question is allowed: the filter
//             allows every name, or the name equals or lies under an allowedHostnames,
//             cachedHostnames or learnt name; the accepted query is then outstanding for
//             the filter (pending_queries.h) for queryTimeout. A message that is not a query,
//             has no question or more than one, is not a standard query (opcode), carries
//             records beyond the question and EDNS (answer, authority, other additional), or
//             does not decode is dropped, and so is a query the filter's outstanding-query
//             table has no room for (both counted).
//   response  (inboundDNSQueue)      accepted only when it answers an outstanding query of
//             some filter: the same transport, from the server address and port the query
//             went to, to the client address and port it came from, with its transaction id
//             and question. The query is consumed (one answer per query) and that filter
//             alone learns: A/AAAA addresses of the names in the answer chain are allowed
//             for the answer's duration (allowAnswersFor, or the TTL per recordTTL),
//             CNAME/SRV/MX/NS targets become allowed names for as long. Any other response
//             is dropped, teaches nothing, and is counted by why (counters()).
//   traffic   (a filter's trafficQueue)  accepted when the destination is allowed and not
//             expired, or is an address of its cachedHostnames. With allowByServerName, a
//             packet whose destination is not allowed goes on to server_name(): its
//             connection is held and judged by the name its first data claims
//             (server_names.h).
//
// Conntrack (egress-eddie's rule), checked before a DNS message is looked at: a query on a
// connection conntrack does not track (no state, or UNTRACKED) is dropped, and so is such a
// response (query_conntrack, response_conntrack); a response on a connection conntrack sees
// as NEW answers no query it let out (the query's own entry would make it a reply) and is
// never accepted: response() then only looks for the query it claims to answer, to say why,
// without consuming it.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/ip_address.h"
#include "dns/dns_message.h"
#include "enforce/enforce_config.h"
#include "enforce/pending_queries.h"
#include "enforce/server_names.h"
#include "packet/packet.h"

namespace em {

struct Verdict {
    bool accept = false;
    const char* reason = "";  // static text, for the log
    int filter = -1;          // an accepted response: the filter whose query it answered
};

/// Splits the payload of one TCP segment into its length-prefixed DNS messages and calls
/// `fn` on each until it returns false. Returns "whole" when the payload was exactly whole
/// messages, "split" when it ends inside one (a message across segments), "stopped" when
/// `fn` said stop.
enum class TcpDnsSplit { whole, split, stopped };
TcpDnsSplit for_each_tcp_dns_message(const uint8_t* data, size_t len,
                                     const std::function<bool(const uint8_t*, size_t)>& fn);

/// A DNS packet's connection as conntrack saw it, from the kernel's enum ip_conntrack_info
/// (NfqueueSource::Meta::ct_info).
enum class CtState {
    unknown,      // the kernel does not report it (NfqueueSource::conntrack): not checked
    untracked,    // no state, UNTRACKED, or a value the kernel does not report for a packet
    new_flow,     // NEW: the first packets of a connection, no reply seen yet
    established,  // ESTABLISHED, RELATED, or either in the reply direction
};
CtState ct_state(const std::optional<uint32_t>& ct_info);

/// Why DNS messages were dropped beyond their verdict counts (since construction).
struct EngineCounters {
    // Responses that answered no outstanding query, by what came closest (pending_queries.h).
    uint64_t unsolicited = 0, wrong_server = 0, wrong_id = 0, wrong_question = 0;
    // Allowed queries refused for want of room in the filter's outstanding-query table.
    uint64_t table_full = 0, socket_full = 0;
    // Queries that are not plain lookups: another opcode, or records beyond the question
    // and EDNS (a data channel).
    uint64_t not_a_lookup = 0, records_in_query = 0;
    // DNS packets on connections conntrack does not track; answers to an outstanding query
    // on a connection conntrack sees as NEW.
    uint64_t untracked_queries = 0, untracked_responses = 0, not_established = 0;
};

class Engine {
  public:
    explicit Engine(const EnforceConfig& cfg);

    /// `flow`: the query's transport, addresses and ports as it goes out.
    Verdict query(size_t filter, const DnsFlow& flow, const DnsMessage& msg, int64_t now_ms);
    /// `flow`: given as the query's would be (client = the response's destination). `ct`:
    /// what response_conntrack() let through; a NEW one is dropped whatever it matches.
    Verdict response(const DnsFlow& flow, const DnsMessage& msg, int64_t now_ms,
                     CtState ct = CtState::established);
    /// Whether a DNS packet's conntrack state lets it be judged further: a drop verdict
    /// (counted) or an accepting one (go on).
    Verdict query_conntrack(CtState ct);
    Verdict response_conntrack(CtState ct);
    Verdict traffic(size_t filter, const IpAddress& dst, int64_t now_ms) const;
    /// allowByServerName: a packet of `filter`'s traffic that traffic() did not accept,
    /// judged by its connection's first data (server_names.h). The claimed name, if any:
    /// server_names(filter).name().
    ServerNameVerdict server_name(size_t filter, const PacketInfo& p, int64_t now_ms);
    const ServerNameFlows& server_names(size_t filter) const { return filters_[filter].flows; }

    /// Whether `filter` allows `name` now (lower case, no trailing dot).
    bool name_allowed(size_t filter, std::string_view name, int64_t now_ms) const;
    /// Allows `ip` for `filter` until `until_ms` (a PTR lookup that named an allowed host).
    void allow_address(size_t filter, const IpAddress& ip, int64_t until_ms);
    /// The current addresses of a filter's cachedHostnames (replacing the previous ones).
    void set_cached(size_t filter, std::vector<IpAddress> ips);
    /// Drops expired entries (call now and then; verdicts check expiry anyway).
    void expire(int64_t now_ms);

    size_t filters() const { return filters_.size(); }
    const FilterConfig& config(size_t filter) const { return filters_[filter].cfg; }
    size_t allowed_addresses(size_t filter) const { return filters_[filter].addrs.size(); }
    size_t outstanding_queries(size_t filter) const { return filters_[filter].pending.size(); }
    const EngineCounters& counters() const { return counters_; }
    /// Outstanding queries forgotten unanswered when their queryTimeout was over.
    uint64_t unanswered_queries() const;

  private:
    struct State {
        FilterConfig cfg;
        std::unordered_map<IpAddress, int64_t, IpAddressHash> addrs;  // until (ms)
        std::unordered_map<std::string, int64_t> names;               // learnt, until (ms)
        std::unordered_map<IpAddress, bool, IpAddressHash> cached;
        PendingQueries pending;
        ServerNameFlows flows;  // allowByServerName only
    };
    int64_t duration_ms(const State& s, uint32_t ttl) const;
    void learn(State& s, const DnsMessage& msg, int64_t now_ms);
    static bool under(std::string_view name, std::string_view suffix);

    std::vector<State> filters_;
    EngineCounters counters_;
    std::vector<std::string> chain_;  // scratch of learn()
};

}  // namespace em
