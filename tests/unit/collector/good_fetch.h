// A successful fetch of a host's two files, rendered by the agent's writer from the entries
// given (sorted here), with ETags from their sizes: what the collector and dashboard tests
// feed Collector::run_cycle.
#pragma once
#include <algorithm>
#include <string>
#include <vector>

#include "collector/fetch.h"
#include "format/writer.h"

namespace em::test {

inline FetchResult good_fetch(const std::string& host, std::vector<DomainEntry> d,
                              std::vector<IpEntry> i) {
    std::sort(d.begin(), d.end(),
              [](const DomainEntry& a, const DomainEntry& b) { return a.name < b.name; });
    std::sort(i.begin(), i.end(), [](const IpEntry& a, const IpEntry& b) { return a.ip < b.ip; });
    FetchResult r;
    r.host = host;
    r.ok = true;
    r.domains = render_domains_file(d);
    r.ips = render_ips_file(i);
    r.domains_etag = "\"d-" + std::to_string(r.domains.size()) + "\"";
    r.ips_etag = "\"i-" + std::to_string(r.ips.size()) + "\"";
    return r;
}

}  // namespace em::test
