#include "exporters/http/render.h"

#include <fmt/core.h>

#include <string_view>
#include <utility>

#include "common/json.h"
#include "common/time.h"
#include "exporters/jsonl/events.h"
#include "flowname/first_packet.h"

namespace em::http {

namespace {

constexpr std::pair<const char*, const char*> kGenerations[] = {
    {"commit_generation", "Generation of the last ledger commit."},
    {"rendered_generation", "Generation of the ledger last rendered into the aggregate files."}};

// Prometheus label values escape \, " and newlines.
std::string label(std::string_view s) {
    std::string out;
    for (char c : s) {
        if (c == '\\' || c == '"') {
            out += '\\';
            out += c;
        } else if (c == '\n') {
            out += "\\n";
        } else {
            out += c;
        }
    }
    return out;
}

void metric_header(std::string& out, const char* name, const char* type, const char* help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

}  // namespace

std::string render_summary_json(int64_t now, const std::vector<FileState>& files,
                                const LedgerSnapshot& lv,
                                const std::map<std::string, int64_t>& counters) {
    std::string out = "{\"generated\":\"" + format_rfc3339(now) + "\",\"files\":{";
    bool first = true;
    for (const FileState& s : files) {
        if (!first) out += ',';
        first = false;
        append_json_string(s.name, out);
        if (!s.present) {
            out += ":null";
            continue;
        }
        // lines is null for a file too large to count on request.
        out += ":{\"lines\":" + (s.lines ? std::to_string(*s.lines) : "null") +
               ",\"bytes\":" + std::to_string(s.bytes) +
               ",\"age_seconds\":" + std::to_string(s.age) + "}";
    }
    out += "},\"ledger\":";
    if (lv.present) {
        out += "{";
        first = true;
        for (const auto& [k, v] : lv.generations) {
            if (!first) out += ',';
            first = false;
            append_json_string(k, out);
            out += ':' + std::to_string(v);
        }
        out += "}";
    } else {
        out += "null";
    }
    // How full the ledger is: at capacity, new keys are counted under coarser lines
    // (Ledger::set_caps), which a flood of distinct names or addresses causes.
    out += ",\"capacity\":{";
    first = true;
    for (const auto& c : capacities(lv.capacity)) {
        if (!first) out += ',';
        first = false;
        out += fmt::format("\"{}\":{{\"lines\":{},\"limit\":{},\"at_capacity\":{}}}", c.table,
                           c.lines, c.limit, c.at_capacity() ? "true" : "false");
    }
    out += "}";
    out += ",\"counters\":{";
    first = true;
    for (const auto& [k, v] : counters) {
        if (!first) out += ',';
        first = false;
        append_json_string(k, out);
        out += ':' + std::to_string(v);
    }
    // The agent's flows per destination: which protocols and ports, and how many of
    // them no DNS answer explained ("direct").
    out += "},\"destinations\":{";
    for (size_t i = 0; i < lv.ports.size();) {
        const IpAddress& ip = lv.ports[i].ip;
        if (i) out += ',';
        append_json_string(ip.to_string(), out);
        out += ":[";
        for (size_t j = i; i < lv.ports.size() && lv.ports[i].ip == ip; ++i) {
            const PortRow& p = lv.ports[i];
            if (i != j) out += ',';
            out += "{\"proto\":";
            append_json_string(proto_name(p.proto), out);
            out += ",\"port\":" + std::to_string(p.port) + ",\"count\":" + std::to_string(p.count) +
                   ",\"direct\":" + std::to_string(p.direct) + "}";
        }
        out += ']';
    }
    // The names flows' first packets gave per destination (TLS/QUIC server name, HTTP Host),
    // next to the names DNS answers gave the same address: a destination with first-packet
    // names and no DNS names was resolved where this host did not see it.
    out += "},\"names\":{";
    for (size_t i = 0; i < lv.flow_names.size();) {
        const IpAddress& ip = lv.flow_names[i].ip;
        const std::string text = ip.to_string();
        if (i) out += ',';
        append_json_string(text, out);
        out += ":{\"dns\":[";
        if (auto it = lv.dns_names.find(text); it != lv.dns_names.end()) {
            for (size_t k = 0; k < it->second.size(); ++k) {
                if (k) out += ',';
                append_json_string(it->second[k], out);
            }
        }
        out += "],\"first_packet\":[";
        for (size_t j = i; i < lv.flow_names.size() && lv.flow_names[i].ip == ip; ++i) {
            const FlowNameEntry& n = lv.flow_names[i];
            if (i != j) out += ',';
            out += "{\"name\":";
            append_json_string(n.name, out);
            out += fmt::format(
                ",\"protocol\":\"{}\",\"count\":{},\"first_seen\":\"{}\",\"last_seen\":\"{}\","
                "\"ech\":{}}}",
                first_packet_protocol_name(n.protocol), n.count, format_rfc3339(n.first_seen),
                format_rfc3339(n.last_seen), n.ech ? "true" : "false");
        }
        out += "]}";
    }
    out += "}}\n";
    return out;
}

std::string render_metrics(const std::map<std::string, int64_t>& counters,
                           const std::map<std::string, uint64_t>& serve_counters,
                           const LedgerSnapshot& lv, const std::vector<FileState>& files) {
    std::string out;
    metric_header(out, "egress_monitor_up", "gauge", "1 while the endpoint serves.");
    out += "egress_monitor_up 1\n";
    metric_header(out, "egress_monitor_counter", "counter",
                  "Cumulative counters of the agent: the ledger's and the live ones.");
    for (const auto& [k, v] : counters)
        out += "egress_monitor_counter{name=\"" + label(k) + "\"} " + std::to_string(v) + "\n";
    metric_header(out, "egress_monitor_serve_total", "counter",
                  "This endpoint's requests and what its limits refused or cut.");
    for (const auto& [k, v] : serve_counters)
        out += "egress_monitor_serve_total{what=\"" + label(k) + "\"} " + std::to_string(v) + "\n";
    metric_header(out, "egress_monitor_ledger_readable", "gauge",
                  "1 when the ledger could be read (0: missing or unreadable).");
    out += "egress_monitor_ledger_readable " + std::string(lv.present ? "1" : "0") + "\n";
    const auto caps = capacities(lv.capacity);
    if (!caps.empty()) {
        metric_header(out, "egress_monitor_ledger_lines", "gauge",
                      "Lines of the ledger per table (the aggregate files' lines).");
        for (const auto& c : caps)
            out +=
                fmt::format("egress_monitor_ledger_lines{{table=\"{}\"}} {}\n", c.table, c.lines);
        metric_header(out, "egress_monitor_ledger_limit", "gauge",
                      "max_domains / max_ips: beyond, new keys fold into coarser lines.");
        for (const auto& c : caps)
            out +=
                fmt::format("egress_monitor_ledger_limit{{table=\"{}\"}} {}\n", c.table, c.limit);
        metric_header(out, "egress_monitor_at_capacity", "gauge",
                      "1 when the table holds its limit of lines (new keys fold).");
        for (const auto& c : caps)
            out += fmt::format("egress_monitor_at_capacity{{table=\"{}\"}} {}\n", c.table,
                               c.at_capacity() ? 1 : 0);
    }
    for (const auto& [key, help] : kGenerations) {
        auto it = lv.generations.find(key);
        if (it == lv.generations.end()) continue;
        std::string name = std::string("egress_monitor_") + key;
        metric_header(out, name.c_str(), "gauge", help);
        out += name + " " + std::to_string(it->second) + "\n";
    }
    metric_header(out, "egress_monitor_file_present", "gauge",
                  "1 when the aggregate file exists and could be read.");
    for (const auto& f : files)
        out += "egress_monitor_file_present{file=\"" + label(f.name) + "\"} " +
               (f.present ? "1" : "0") + "\n";
    auto gauge = [&](const char* name, const char* help, auto value_of) {
        metric_header(out, name, "gauge", help);
        for (const auto& f : files) {
            if (!f.present) continue;
            std::optional<uint64_t> v = value_of(f);
            if (v)
                out += std::string(name) + "{file=\"" + label(f.name) + "\"} " +
                       std::to_string(*v) + "\n";
        }
    };
    gauge("egress_monitor_file_age_seconds", "Seconds since the aggregate file was last rewritten.",
          [](const FileState& f) { return std::optional<uint64_t>(f.age); });
    gauge("egress_monitor_file_lines",
          "Lines of the aggregate file (absent for a file too large to count on request).",
          [](const FileState& f) { return f.lines; });
    gauge("egress_monitor_file_bytes", "Size of the aggregate file.",
          [](const FileState& f) { return std::optional<uint64_t>(f.bytes); });
    return out;
}

}  // namespace em::http
