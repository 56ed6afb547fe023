#include "exporters/http/render.h"

#include <gtest/gtest.h>

namespace em::http {

namespace {

LedgerSnapshot snapshot() {
    LedgerSnapshot lv;
    lv.present = true;
    lv.generations = {{"commit_generation", 4}, {"rendered_generation", 3}};
    lv.capacity = {{"ip_rows", 2}, {"max_ips", 2}};
    const IpAddress a = *IpAddress::parse("192.0.2.1"), b = *IpAddress::parse("2001:db8::1");
    lv.ports = {PortRow{a, 6, 443, 5, 1}, PortRow{a, 17, 53, 2, 0}, PortRow{b, 6, 22, 1, 1}};
    return lv;
}

}  // namespace

TEST(HttpRender, SummaryGroupsPortsPerDestination) {
    std::vector<FileState> files = {
        {"unique-domains.log", true, 3, 120, 7},
        {"unique-ips.log", false, std::nullopt, 0, 0},
    };
    std::string s = render_summary_json(0, files, snapshot(), {{"a.b", 1}});
    EXPECT_EQ(s,
              "{\"generated\":\"1970-01-01T00:00:00Z\",\"files\":{\"unique-domains.log\":"
              "{\"lines\":3,\"bytes\":120,\"age_seconds\":7},\"unique-ips.log\":null},"
              "\"ledger\":{\"commit_generation\":4,\"rendered_generation\":3},"
              "\"capacity\":{\"ips\":{\"lines\":2,\"limit\":2,\"at_capacity\":true}},"
              "\"counters\":{\"a.b\":1},\"destinations\":{\"192.0.2.1\":["
              "{\"proto\":\"tcp\",\"port\":443,\"count\":5,\"direct\":1},"
              "{\"proto\":\"udp\",\"port\":53,\"count\":2,\"direct\":0}],"
              "\"2001:db8::1\":[{\"proto\":\"tcp\",\"port\":22,\"count\":1,\"direct\":1}]},"
              "\"names\":{}}\n");
}

// Per destination, the names first packets gave next to the names DNS answers gave it.
TEST(HttpRender, SummaryListsFirstPacketNamesNextToDnsNames) {
    LedgerSnapshot lv = snapshot();
    const IpAddress a = *IpAddress::parse("192.0.2.1"), c = *IpAddress::parse("198.51.100.7");
    lv.flow_names = {FlowNameEntry{a, "api.example.test", 0, 3, 60, 120, false},
                     FlowNameEntry{a, "api.example.test", 1, 1, 90, 90, true},
                     FlowNameEntry{c, "dns.example.test", 2, 2, 0, 0, false}};
    lv.dns_names = {{"192.0.2.1", {"api.example.test", "cdn.example.test"}}};
    std::string s = render_summary_json(0, {}, lv, {});
    const std::string want =
        "\"names\":{\"192.0.2.1\":{\"dns\":[\"api.example.test\",\"cdn.example.test\"],"
        "\"first_packet\":[{\"name\":\"api.example.test\",\"protocol\":\"tls\",\"count\":3,"
        "\"first_seen\":\"1970-01-01T00:01:00Z\",\"last_seen\":\"1970-01-01T00:02:00Z\","
        "\"ech\":false},{\"name\":\"api.example.test\",\"protocol\":\"quic\",\"count\":1,"
        "\"first_seen\":\"1970-01-01T00:01:30Z\",\"last_seen\":\"1970-01-01T00:01:30Z\","
        "\"ech\":true}]},\"198.51.100.7\":{\"dns\":[],\"first_packet\":[{\"name\":"
        "\"dns.example.test\",\"protocol\":\"http\",\"count\":2,\"first_seen\":"
        "\"1970-01-01T00:00:00Z\",\"last_seen\":\"1970-01-01T00:00:00Z\",\"ech\":false}]}}}\n";
    ASSERT_GE(s.size(), want.size());
    EXPECT_EQ(s.substr(s.size() - want.size()), want) << s;
}

TEST(HttpRender, SummaryOfAnAbsentLedgerIsNull) {
    std::string s = render_summary_json(0, {}, LedgerSnapshot{}, {});
    EXPECT_NE(s.find("\"ledger\":null"), std::string::npos) << s;
}

TEST(HttpRender, MetricsEscapeLabelsAndSkipAbsentValues) {
    std::vector<FileState> files = {
        {"unique-domains.log", true, std::nullopt, 10, 1},
        {"unique-ips.log", false, std::nullopt, 0, 0},
    };
    std::string m = render_metrics({{"we\"ird\\name\n", 2}}, {{"requests", 9}}, snapshot(), files);
    EXPECT_NE(m.find("egress_monitor_counter{name=\"we\\\"ird\\\\name\\n\"} 2\n"),
              std::string::npos)
        << m;
    EXPECT_NE(m.find("egress_monitor_serve_total{what=\"requests\"} 9\n"), std::string::npos);
    EXPECT_NE(m.find("egress_monitor_ledger_readable 1\n"), std::string::npos);
    EXPECT_NE(m.find("egress_monitor_at_capacity{table=\"ips\"} 1\n"), std::string::npos);
    EXPECT_NE(m.find("egress_monitor_commit_generation 4\n"), std::string::npos);
    EXPECT_NE(m.find("egress_monitor_file_present{file=\"unique-ips.log\"} 0\n"),
              std::string::npos);
    EXPECT_NE(m.find("egress_monitor_file_bytes{file=\"unique-domains.log\"} 10\n"),
              std::string::npos);
    // No line count for a file too large to count, nothing for an absent file.
    EXPECT_EQ(m.find("egress_monitor_file_lines{"), std::string::npos);
    EXPECT_EQ(m.find("egress_monitor_file_age_seconds{file=\"unique-ips.log\"}"),
              std::string::npos);
}

}  // namespace em::http
