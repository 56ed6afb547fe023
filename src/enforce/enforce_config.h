#pragma once
// The hostname allowlist of `egress-monitor enforce`, egress-eddie's model in TOML:
//
//   inboundDNSQueue = { ipv4 = 1, ipv6 = 10 }   # DNS responses coming in (every filter learns)
//   [[filters]]
//   name = "web"
//   dnsQueue = { ipv4 = 1000, ipv6 = 1001 }     # the filter's DNS queries going out
//   trafficQueue = { ipv4 = 1002, ipv6 = 1003 } # the filter's other traffic going out
//   allowedHostnames = ["github.com"]           # suffix match: also api.github.com
//   allowAllHostnames = false                    # every name (answers still followed)
//   allowAnswersFor = "10s"                      # how long an answer's addresses stay allowed
//   recordTTL = "ignore"                         # ignore | shorter | longer | always: use
//                                                #   the record's TTL instead when shorter /
//                                                #   longer than allowAnswersFor / always
//   cachedHostnames = ["updates.example.com"]    # resolved by enforce itself, kept allowed
//   reCacheEvery = "1m"                          # how often those are resolved again
//   lookupUnknownIPs = false                     # a PTR lookup of an address no answer named
//   queryTimeout = "5s"                          # how long an accepted query waits for its
//                                                #   answer (a later one is unsolicited)
//   outstandingQueries = 4096                    # queries awaiting an answer at most (more
//                                                #   are dropped and counted)
//
// Queues are optional per family (ipv4 or ipv6 may be left out); every queue number is used
// once. Errors name the file, line and key.
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
    std::vector<std::string> allowed_hostnames;  // normalised: lower case, no trailing dot
    bool allow_all_hostnames = false;
    int64_t allow_answers_for_ms = 0;
    RecordTtl record_ttl = RecordTtl::ignore;
    std::vector<std::string> cached_hostnames;
    int64_t recache_every_ms = 0;
    bool lookup_unknown_ips = false;
    int64_t query_timeout_ms = 5000;
    size_t outstanding_queries = 4096;
};

struct EnforceConfig {
    QueuePair inbound_dns_queue;
    std::vector<FilterConfig> filters;
};

Result<EnforceConfig> parse_enforce_config(std::string_view text, const std::string& path);
Result<EnforceConfig> load_enforce_config(const std::string& path);

}  // namespace em
