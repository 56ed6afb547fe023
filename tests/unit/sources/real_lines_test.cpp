// Parser tests on lines captured from the real programs (tests/data/real, made by
// scripts/capture-test-data.sh). Expectations come from what that script sent.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <map>

#include "common/time.h"
#include "sources/dnsmasq_log/dnsmasq_parser.h"
#include "sources/kernel_log/kernel_line.h"

namespace em {

namespace {

std::string read_data(const std::string& name) {
    std::ifstream in(std::string(EM_TEST_DATA) + "/real/" + name, std::ios::binary);
    EXPECT_TRUE(in.good()) << name;
    return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

using Expected = std::map<std::string, std::pair<uint64_t, std::vector<std::string>>>;

// The capture script's queries: name → (queries, addresses answered).
const Expected kSent = {
    {"fixed.test", {2, {"192.0.2.10"}}},
    {"www.example.test", {1, {"203.0.113.5", "203.0.113.6"}}},
    {"deep.example.test", {1, {"203.0.113.5", "203.0.113.6"}}},
    {"host6.test", {2, {"192.0.2.20", "2001:db8::20"}}},
    {"v4only.test", {1, {}}},
    {"gone.nx.test", {1, {}}},
    {"unknown.refused.test", {1, {}}},
    {"txt.test", {1, {}}},
    {"mail.test", {1, {}}},
    {"local.test", {1, {"192.0.2.99"}}},
    {"hosts-file.test", {1, {"192.0.2.40"}}},
    {"10.1.168.192.in-addr.arpa", {1, {}}},
    {"tcp.fixed.test", {1, {"192.0.2.10"}}},
};

void expect_sent(const std::string& file) {
    setenv("TZ", "UTC", 1);
    tzset();
    Batch batch;
    DnsmasqParser parser(*parse_rfc3339("2026-11-24T18:00:00Z"));
    parser.feed(read_data(file), batch, file);
    EXPECT_EQ(parser.counters().malformed, 0u);
    EXPECT_EQ(parser.counters().queries, 15u);
    Expected got;
    for (const auto& [name, d] : batch.domains()) {
        std::vector<IpAddress> ips;
        for (auto& a : d.answers) ips.push_back(a.ip);
        std::sort(ips.begin(), ips.end());
        std::vector<std::string> text;
        for (auto& ip : ips) text.push_back(ip.to_string());
        got[std::string(name)] = {d.queries, text};
        if (d.queries) {
            EXPECT_EQ(format_rfc3339(d.last_seen).substr(0, 10), "2026-11-24") << name;
        }
    }
    EXPECT_EQ(got, kSent) << file;
}

}  // namespace

TEST(RealDnsmasqLines, ExtraLayout) { expect_sent("dnsmasq-extra.log"); }
TEST(RealDnsmasqLines, PlainLayout) { expect_sent("dnsmasq-plain.log"); }

TEST(RealKernelLines, KmsgMessages) {
    std::string text = read_data("kmsg.txt");
    std::map<std::string, int> flows;
    size_t pos = 0;
    while (pos < text.size()) {
        size_t nl = text.find('\n', pos);
        std::string_view rec(text.data() + pos, (nl == std::string::npos ? text.size() : nl) - pos);
        pos = nl == std::string::npos ? text.size() : nl + 1;
        KernelFlow f;
        ASSERT_EQ(parse_kernel_message(rec.substr(rec.find(';') + 1), "EGRESS: ", f),
                  KernelLineKind::flow)
            << rec;
        flows[f.dst.to_string()]++;
    }
    std::map<std::string, int> sent = {
        {"192.0.2.10", 1}, {"2001:db8::20", 1}, {"203.0.113.5", 1}, {"203.0.113.6", 1}};
    EXPECT_EQ(flows, sent);
}

TEST(RealKernelLines, SyslogFile) {
    setenv("TZ", "UTC", 1);
    tzset();
    Batch batch;
    SyslogKernelParser p("EGRESS: ", *parse_rfc3339("2026-11-24T18:00:00Z"));
    p.feed(read_data("kern.log"), batch, "kern.log");
    EXPECT_EQ(p.counters().flows, 4u);
    EXPECT_EQ(p.counters().malformed, 0u);
    EXPECT_EQ(batch.ips().size(), 4u);
    ASSERT_NE(batch.ips().find(*IpAddress::parse("2001:db8::20")), nullptr);
    EXPECT_EQ(batch.ips().at(*IpAddress::parse("2001:db8::20")).flows, 1u);
}

}  // namespace em
