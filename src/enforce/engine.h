#pragma once
// The verdicts of `enforce`, without the kernel: what a DNS query, a DNS response or a packet
// of other traffic gets, and what each response teaches the filters. Single-threaded: the
// verdict loop owns it (cached hostnames are handed in with set_cached).
//
//   query     (a filter's dnsQueue)  accepted when its one question is allowed: the filter
//             allows every name, or the name equals or lies under an allowedHostnames,
//             cachedHostnames or learnt name. A message that is not a query, has no question
//             or more than one, or does not decode is dropped.
//   response  (inboundDNSQueue)      accepted when some filter allows its question; then
//             every filter that allows it learns: A/AAAA addresses of the names in the
//             answer chain are allowed for the answer's duration (allowAnswersFor, or the
//             TTL per recordTTL), CNAME/SRV/MX/NS targets become allowed names for as long.
//             A response no filter allows is dropped.
//   traffic   (a filter's trafficQueue)  accepted when the destination is allowed and not
//             expired, or is an address of its cachedHostnames.
#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/ip_address.h"
#include "dns/dns_message.h"
#include "enforce/enforce_config.h"

namespace em {

struct Verdict {
    bool accept = false;
    const char* reason = "";  // static text, for the log
};

/// Splits the payload of one TCP segment into its length-prefixed DNS messages and calls
/// `fn` on each until it returns false. Returns "whole" when the payload was exactly whole
/// messages, "split" when it ends inside one (a message across segments), "stopped" when
/// `fn` said stop.
enum class TcpDnsSplit { whole, split, stopped };
TcpDnsSplit for_each_tcp_dns_message(const uint8_t* data, size_t len,
                                     const std::function<bool(const uint8_t*, size_t)>& fn);

class Engine {
  public:
    explicit Engine(const EnforceConfig& cfg);

    Verdict query(size_t filter, const DnsMessage& msg, int64_t now_ms) const;
    Verdict response(const DnsMessage& msg, int64_t now_ms);
    Verdict traffic(size_t filter, const IpAddress& dst, int64_t now_ms) const;

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

  private:
    struct State {
        FilterConfig cfg;
        std::unordered_map<IpAddress, int64_t, IpAddressHash> addrs;  // until (ms)
        std::unordered_map<std::string, int64_t> names;               // learnt, until (ms)
        std::unordered_map<IpAddress, bool, IpAddressHash> cached;
    };
    int64_t duration_ms(const State& s, uint32_t ttl) const;
    static bool under(std::string_view name, std::string_view suffix);

    std::vector<State> filters_;
};

}  // namespace em
