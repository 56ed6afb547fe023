#pragma once
// The hostname allowlist of `egress-monitor enforce`: egress-eddie's config file, read by
// egress-eddie's rules (its config.go, parseConfigBytes), in TOML:
//
//   inboundDNSQueue = { ipv4 = 1, ipv6 = 10 }   # DNS responses coming in (required)
//   selfDNSQueue = { ipv4 = 100, ipv6 = 110 }   # enforce's own lookups going out (required
//                                                #   exactly when a filter has cachedHostnames
//                                                #   or lookupUnknownIPs)
//   [[filters]]
//   name = "web"
//   dnsQueue = { ipv4 = 1000, ipv6 = 1001 }     # the filter's DNS queries going out
//   trafficQueue = { ipv4 = 1002, ipv6 = 1003 } # the filter's other traffic going out
//   allowedHostnames = ["github.com"]           # suffix match: also api.github.com
//   allowAllHostnames = false                    # every name (no trafficQueue then)
//   allowAnswersFor = "10s"                      # how long an answer's addresses stay allowed
//   cachedHostnames = ["updates.example.com"]    # resolved by enforce itself, kept allowed
//   reCacheEvery = "1m"                          # how often those are resolved again
//   lookupUnknownIPs = false                     # a PTR lookup of an address no answer named
//
// Our extension keys (egress-eddie has none of them; they are optional):
//
//   recordTTL = "ignore"                         # ignore | shorter | longer | always: use
//                                                #   the record's TTL instead when shorter /
//                                                #   longer than allowAnswersFor / always
//   queryTimeout = "5s"                          # how long an accepted query waits for its
//                                                #   answer (a later one is unsolicited)
//   outstandingQueries = 4096                    # queries awaiting an answer at most (more
//                                                #   are dropped and counted)
//   allowByServerName = false                    # a TCP connection to an address no answer
//                                                #   named is held: its first data segment
//                                                #   (TLS server name, HTTP Host) decides it;
//                                                #   a UDP datagram to port 443 by its QUIC
//                                                #   Initial's name (engine.h, docs/enforce.md)
//
// A config is accepted exactly when egress-eddie accepts it (plus the extension keys), and
// rejected with egress-eddie's message, prefixed with "path:line: " (the key or filter
// concerned) or "path: " (the whole file): queue number 0 is "not set"; the families of each
// queue follow inboundDNSQueue's; no queue number serves twice; keys match ignoring ASCII
// case, as egress-eddie's TOML decoder matches them; durations are Go's (time.ParseDuration:
// "1h30m", "1.5h", "300ms"; a TOML integer is nanoseconds), "0s" is "not set"; host names
// are Go's domain names without a trailing dot; `unknown keys "a", "b"` lists keys nobody
// reads. When selfDNSQueue is set, the parsed config starts with egress-eddie's filter
// "self-filter": dnsQueue = selfDNSQueue, allowedHostnames = "in-addr.arpa" and "ip6.arpa"
// when some filter has lookupUnknownIPs, then every filter's cachedHostnames; no
// trafficQueue, allowAnswersFor kSelfFilterAllowAnswersForMs (the engine follows answers).
// The other filters follow it in the file's order (filter indices count it).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace em {

struct QueuePair {
    std::optional<uint16_t> ipv4, ipv6;
    bool any() const { return ipv4 || ipv6; }
};

enum class RecordTtl { ignore, shorter, longer, always };

struct FilterConfig {
    std::string name;
    QueuePair dns_queue, traffic_queue;
    std::vector<std::string> allowed_hostnames;  // lower case
    bool allow_all_hostnames = false;
    int64_t allow_answers_for_ms = 0;  // 0: not set (a set one under 1 ms counts as 1)
    RecordTtl record_ttl = RecordTtl::ignore;
    std::vector<std::string> cached_hostnames;
    int64_t recache_every_ms = 0;
    bool lookup_unknown_ips = false;
    int64_t query_timeout_ms = 5000;
    size_t outstanding_queries = 4096;
    bool allow_by_server_name = false;
};

struct EnforceConfig {
    QueuePair inbound_dns_queue;
    QueuePair self_dns_queue;
    std::vector<FilterConfig> filters;  // "self-filter" first when self_dns_queue is set
};

inline constexpr const char* kSelfFilterName = "self-filter";
inline constexpr int64_t kSelfFilterAllowAnswersForMs = 10000;

Result<EnforceConfig> parse_enforce_config(std::string_view text, const std::string& path);
Result<EnforceConfig> load_enforce_config(const std::string& path);

}  // namespace em
