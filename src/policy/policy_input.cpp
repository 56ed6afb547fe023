// Where `egress-monitor rules` reads what was observed: the ledger or the two files.
#include <fmt/core.h>
#include <sys/stat.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "common/files.h"
#include "core/ledger.h"
#include "flowname/first_packet.h"
#include "format/parser.h"
#include "policy/policy.h"

namespace em {

namespace {

Result<std::string> read_whole(const std::string& path, size_t limit) {
    return read_file_limited(
        path, limit, {"cannot read " + path, fmt::format("{}: larger than {} bytes", path, limit)});
}

}  // namespace

Result<PolicyInput> load_policy_from_ledger(const std::string& state_dir) {
    const std::string path = state_dir + "/ledger.sqlite";
    struct stat st {};
    if (::stat(path.c_str(), &st) != 0)
        return Error{
            fmt::format("no ledger at {}: {} (run the agent or consolidate first, or "
                        "use --files)",
                        path, std::strerror(errno))};
    auto ledger = Ledger::open(path, 1 << 20);
    if (!ledger) return ledger.error();
    PolicyInput in;
    in.source = path;
    if (auto r = ledger->for_each_domain([&](const DomainRow& d) {
            in.domains.push_back(PolicyDomain{std::string(d.name), d.count, d.last_seen,
                                              d.ips ? *d.ips : std::vector<IpAddress>{}});
        });
        !r)
        return r.error();
    std::map<IpAddress, std::vector<PolicyPort>> ports;
    if (auto r = ledger->for_each_port([&](const PortRow& p) {
            ports[p.ip].push_back(PolicyPort{p.proto, p.port, p.count});
        });
        !r)
        return r.error();
    if (auto r = ledger->for_each_ip([&](const IpRow& row) {
            PolicyAddress a{row.ip, row.count, row.last_seen, {}};
            if (auto it = ports.find(row.ip); it != ports.end()) a.ports = std::move(it->second);
            in.ips.push_back(std::move(a));
        });
        !r)
        return r.error();
    if (auto r = ledger->for_each_flow_name([&](const FlowNameRow& n) {
            in.first_packet_names.push_back(PolicyFirstPacketName{
                n.ip, std::string(n.name), first_packet_protocol_name(n.protocol), n.count,
                n.last_seen});
        });
        !r)
        return r.error();
    if (auto r = ledger->for_each_process_use([&](const ProcessUseRow& u) {
            in.uses.push_back(PolicyUse{u.kind, std::string(u.dest), std::string(u.exe),
                                        std::string(u.user), std::string(u.container), u.count});
        });
        !r)
        return r.error();
    return in;
}

Result<PolicyInput> load_policy_from_files(const std::string& dir) {
    SnapshotLimits limits;
    const std::string dpath = dir + "/" + kDomainsFile, ipath = dir + "/" + kIpsFile;
    auto dtext = read_whole(dpath, limits.max_bytes);
    if (!dtext) return dtext.error();
    auto itext = read_whole(ipath, limits.max_bytes);
    if (!itext) return itext.error();
    auto domains = parse_domains_file(*dtext, dir, limits);
    if (!domains) return domains.error();
    auto ips = parse_ips_file(*itext, dir, limits);
    if (!ips) return ips.error();
    PolicyInput in;
    in.source = dir;
    for (auto& d : *domains)
        in.domains.push_back(
            PolicyDomain{std::move(d.name), d.count, d.last_seen, std::move(d.ips)});
    for (auto& i : *ips) in.ips.push_back(PolicyAddress{i.ip, i.count, i.last_seen, {}});
    // The agent's third file, where it wrote one: the names first packets gave.
    const std::string npath = dir + "/" + kFlowNamesFile;
    auto ntext = read_file_if_present(
        npath, limits.max_bytes,
        {"cannot read " + npath, fmt::format("{}: larger than {} bytes", npath, limits.max_bytes)});
    if (!ntext) return ntext.error();
    if (*ntext) {
        auto names = parse_flow_names_file(**ntext, dir, limits);
        if (!names) return names.error();
        for (auto& n : *names)
            in.first_packet_names.push_back(PolicyFirstPacketName{
                n.ip, std::move(n.name), std::move(n.protocol), n.count, n.last_seen});
    }
    // And who used each destination, where its agent attributed them (so --process, --user
    // and --container work from a host's files as from its ledger).
    const std::string upath = dir + "/" + kProcessUsesFile;
    auto utext = read_file_if_present(
        upath, limits.max_bytes,
        {"cannot read " + upath, fmt::format("{}: larger than {} bytes", upath, limits.max_bytes)});
    if (!utext) return utext.error();
    if (*utext) {
        auto uses = parse_process_uses_file(**utext, dir, limits);
        if (!uses) return uses.error();
        for (auto& u : *uses)
            in.uses.push_back(PolicyUse{u.kind, std::move(u.dest), std::move(u.exe),
                                        std::move(u.user), std::move(u.container), u.count});
    }
    return in;
}

}  // namespace em
