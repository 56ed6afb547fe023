#include "sources/dnsmasq_log/dnsmasq_parser.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "common/time.h"

namespace em {

namespace {

struct Folded {
    Batch batch{32};
    DnsmasqParser parser{*parse_rfc3339("2026-11-24T12:00:00Z")};
    void feed(std::string_view lines) { parser.feed(lines, batch, "test"); }
    uint64_t queries(const std::string& name) const {
        const DomainDelta* d = batch.domains().find(name);
        return d ? d->queries : 0;
    }
    std::vector<std::string> ips(const std::string& name) const {
        std::vector<std::string> out;
        const DomainDelta* d = batch.domains().find(name);
        if (!d) return out;
        for (auto& a : d->answers) out.push_back(a.ip.to_string());
        std::sort(out.begin(), out.end());
        return out;
    }
};

class DnsmasqParserTest : public ::testing::Test {
  protected:
    void SetUp() override {
        setenv("TZ", "UTC", 1);
        tzset();
    }
};

}  // namespace

TEST_F(DnsmasqParserTest, ExtraLayoutCreditsCnameChainToQueriedName) {
    Folded f;
    f.feed(
        "Nov 22 11:35:35 dnsmasq[4522]: 4 127.0.0.1/36000 query[A] www.example.test from "
        "127.0.0.1\n"
        "Nov 22 11:35:35 dnsmasq[4522]: 4 127.0.0.1/36000 forwarded www.example.test to 10.0.0.1\n"
        "Nov 22 11:35:35 dnsmasq[4522]: 5 127.0.0.1/36001 query[A] other.test from 127.0.0.1\n"
        "Nov 22 11:35:35 dnsmasq[4522]: 4 127.0.0.1/36000 reply www.example.test is <CNAME>\n"
        "Nov 22 11:35:35 dnsmasq[4522]: 4 127.0.0.1/36000 reply cdn.example.test is 203.0.113.5\n"
        "Nov 22 11:35:36 dnsmasq[4522]: 5 127.0.0.1/36001 reply other.test is 198.51.100.7\n");
    EXPECT_EQ(f.queries("www.example.test"), 1u);
    EXPECT_EQ(f.ips("www.example.test"), std::vector<std::string>{"203.0.113.5"});
    EXPECT_EQ(f.ips("other.test"), std::vector<std::string>{"198.51.100.7"});
    EXPECT_EQ(f.batch.domains().count("cdn.example.test"), 0u);
    EXPECT_EQ(format_rfc3339(f.batch.domains().at("www.example.test").last_seen),
              "2026-11-22T11:35:35Z");
}

// iodine's Base128 codec puts raw binary bytes in its labels; dnsmasq logs such a name as
// "<name unprintable>" (seen in integration.tunnel_tools). Those queries are counted under
// unprintable.invalid, never skipped as malformed: skipping them would hide the tunnel.
TEST_F(DnsmasqParserTest, UnprintableNamesAreCountedNotSkipped) {
    Folded f;
    f.feed(
        "Dec  3 06:59:43 dnsmasq[6825]: 9 127.0.0.1/42597 query[NULL] <name unprintable> from "
        "127.0.0.1\n"
        "Dec  3 06:59:43 dnsmasq[6825]: 9 127.0.0.1/42597 forwarded <name unprintable> to "
        "192.0.2.53\n"
        "Dec  3 06:59:43 dnsmasq[6825]: 9 127.0.0.1/42597 reply <name unprintable> is <NULL>\n"
        "Dec  3 06:59:44 dnsmasq[6825]: 10 127.0.0.1/42597 query[NULL] <name unprintable> from "
        "127.0.0.1\n"
        "Dec  3 06:59:44 dnsmasq[6825]: 11 127.0.0.1/42597 query[A] <name unprintable>x from "
        "127.0.0.1\n");
    EXPECT_EQ(f.queries("unprintable.invalid"), 2u);
    EXPECT_EQ(f.parser.counters().queries, 2u);
    EXPECT_EQ(f.parser.counters().unprintable, 2u);  // the reply is matched by its serial
    EXPECT_EQ(f.parser.counters().malformed, 1u);    // "<name unprintable>x": not the stand-in
}

TEST_F(DnsmasqParserTest, PlainLayoutFollowsChainUntilAnotherLine) {
    Folded f;
    f.feed(
        "Nov 22 11:35:35 dnsmasq[10]: query[A] WWW.Example.Test. from 127.0.0.1\n"
        "Nov 22 11:35:35 dnsmasq[10]: reply www.example.test is <CNAME>\n"
        "Nov 22 11:35:35 dnsmasq[10]: reply cdn.example.test is 203.0.113.5\n"
        "Nov 22 11:35:35 dnsmasq[10]: reply cdn.example.test is 203.0.113.6\n"
        "Nov 22 11:35:36 dnsmasq[10]: query[AAAA] host6.test from 127.0.0.1\n"
        "Nov 22 11:35:36 dnsmasq[10]: reply host6.test is 2001:db8::20\n");
    EXPECT_EQ(f.queries("www.example.test"), 1u);
    EXPECT_EQ(f.ips("www.example.test"), (std::vector<std::string>{"203.0.113.5", "203.0.113.6"}));
    EXPECT_EQ(f.ips("host6.test"), std::vector<std::string>{"2001:db8::20"});
}

TEST_F(DnsmasqParserTest, AnswerFormsWithoutAddresses) {
    Folded f;
    f.feed(
        "Nov 22 11:35:35 dnsmasq[1]: 1 127.0.0.1/1 query[A] nx.test from 127.0.0.1\n"
        "Nov 22 11:35:35 dnsmasq[1]: 1 127.0.0.1/1 reply nx.test is NXDOMAIN\n"
        "Nov 22 11:35:35 dnsmasq[1]: 2 127.0.0.1/1 query[AAAA] v4only.test from 127.0.0.1\n"
        "Nov 22 11:35:35 dnsmasq[1]: 2 127.0.0.1/1 reply v4only.test is NODATA-IPv6\n"
        "Nov 22 11:35:35 dnsmasq[1]: 3 127.0.0.1/1 query[A] refused.test from 127.0.0.1\n"
        "Nov 22 11:35:35 dnsmasq[1]: 3 127.0.0.1/1 reply error is REFUSED\n"
        "Nov 22 11:35:35 dnsmasq[1]: 4 127.0.0.1/1 query[TXT] txt.test from 127.0.0.1\n"
        "Nov 22 11:35:35 dnsmasq[1]: 4 127.0.0.1/1 reply txt.test is v=spf1 -all\n"
        "Nov 22 11:35:35 dnsmasq[1]: 5 127.0.0.1/1 query[PTR] 10.1.168.192.in-addr.arpa from "
        "127.0.0.1\n"
        "Nov 22 11:35:35 dnsmasq[1]: 5 127.0.0.1/1 config 192.168.1.10 is NXDOMAIN\n"
        "Nov 22 11:35:35 dnsmasq[1]: 6 127.0.0.1/1 query[A] localhost from 127.0.0.1\n"
        "Nov 22 11:35:35 dnsmasq[1]: 6 127.0.0.1/1 /etc/hosts localhost is 127.0.0.1\n"
        "Nov 22 11:35:35 dnsmasq[1]: 7 127.0.0.1/1 query[A] local.test from 127.0.0.1\n"
        "Nov 22 11:35:35 dnsmasq[1]: 7 127.0.0.1/1 config local.test is 192.0.2.1\n"
        "Nov 22 11:35:35 dnsmasq[1]: 8 127.0.0.1/1 query[A] hosts.test from 127.0.0.1\n"
        "Nov 22 11:35:35 dnsmasq[1]: 8 127.0.0.1/1 /tmp/x/hosts hosts.test is 192.0.2.2\n"
        "Nov 22 11:35:35 dnsmasq[1]: 9 127.0.0.1/1 query[A] blocked.test from 127.0.0.1\n"
        "Nov 22 11:35:35 dnsmasq[1]: 9 127.0.0.1/1 config blocked.test is 0.0.0.0\n");
    for (auto* n :
         {"nx.test", "v4only.test", "refused.test", "txt.test", "localhost", "blocked.test"})
        EXPECT_TRUE(f.ips(n).empty()) << n;
    EXPECT_EQ(f.queries("10.1.168.192.in-addr.arpa"), 1u);
    EXPECT_EQ(f.ips("local.test"), std::vector<std::string>{"192.0.2.1"});
    EXPECT_EQ(f.ips("hosts.test"), std::vector<std::string>{"192.0.2.2"});
    EXPECT_EQ(f.parser.counters().queries, 9u);
    EXPECT_EQ(f.parser.counters().malformed, 0u);
}

TEST_F(DnsmasqParserTest, CachedAnswersAndTcpChildPids) {
    Folded f;
    f.feed(
        "Nov 22 11:35:35 dnsmasq[100]: 7 127.0.0.1/5 query[A] a.test from 127.0.0.1\n"
        "Nov 22 11:35:35 dnsmasq[100]: 7 127.0.0.1/5 cached a.test is 192.0.2.9\n"
        "Nov 22 11:35:35 dnsmasq[101]: 7 127.0.0.1/6 query[A] tcp.test from 127.0.0.1\n"
        "Nov 22 11:35:35 dnsmasq[101]: 7 127.0.0.1/6 reply tcp.test is <CNAME>\n"
        "Nov 22 11:35:35 dnsmasq[101]: 7 127.0.0.1/6 reply real.test is 192.0.2.10\n");
    EXPECT_EQ(f.ips("a.test"), std::vector<std::string>{"192.0.2.9"});
    EXPECT_EQ(f.ips("tcp.test"), std::vector<std::string>{"192.0.2.10"});
}

TEST_F(DnsmasqParserTest, SyslogFormsAndNoise) {
    Folded f;
    f.feed(
        "Nov 22 11:35:30 myhost dnsmasq[4522]: started, version 2.90 cachesize 150\n"
        "Nov 22 11:35:30 myhost dnsmasq[4522]: compile time options: IPv6 GNU-getopt DBus\n"
        "Nov 22 11:35:30 myhost dnsmasq-dhcp[4522]: DHCP, IP range 10.0.0.2 -- 10.0.0.9\n"
        "Nov 22 11:35:30 myhost sshd[77]: Accepted publickey for root\n"
        "2026-11-22T11:35:35.123456+00:00 myhost dnsmasq[4522]: query[A] iso.test from 10.0.0.2\n"
        "Nov 22 11:35:35 myhost dnsmasq[4522]: dnssec-query[DS] test to 10.0.0.1\n"
        "Nov 22 11:35:35 myhost dnsmasq[4522]: validation iso.test is INSECURE\n");
    EXPECT_EQ(f.queries("iso.test"), 1u);
    EXPECT_EQ(f.queries("test"), 0u);
    EXPECT_EQ(f.parser.counters().other, 2u);
    EXPECT_EQ(f.parser.counters().malformed, 0u);
}

TEST_F(DnsmasqParserTest, MalformedLinesAreCountedAndSkipped) {
    Folded f;
    std::string junk = "\x01\x02garbage\n";
    junk +=
        "Nov 22 11:35:35 dnsmasq[1]: query[A] bad\xff"
        "name.test from 127.0.0.1\n";
    junk += "Nov 22 11:35:35 dnsmasq[x]: query[A] a.test from 127.0.0.1\n";
    junk += "Nov 22 11:35:35 dnsmasq[1]: query[A] ok.test from 127.0.0.1\n";
    junk += "Nov 22 11:35:35 dnsmasq[1]: query[A] truncated.te";
    f.feed(junk);
    f.parser.feed("", f.batch, "test");  // an over-long line dropped by the reader
    EXPECT_EQ(f.queries("ok.test"), 1u);
    EXPECT_EQ(f.batch.domains().size(), 1u);
    EXPECT_EQ(f.parser.counters().malformed, 5u);
}

TEST_F(DnsmasqParserTest, StateCarriesAttributionAcrossRuns) {
    Folded first;
    first.feed("Nov 22 11:35:35 dnsmasq[9]: 3 127.0.0.1/1 query[A] slow.test from 127.0.0.1\n");
    Folded second;
    second.parser.load_state(first.parser.save_state());
    second.feed(
        "Nov 22 11:35:36 dnsmasq[9]: 3 127.0.0.1/1 reply slow.test is <CNAME>\n"
        "Nov 22 11:35:36 dnsmasq[9]: 3 127.0.0.1/1 reply edge.test is 192.0.2.3\n");
    EXPECT_EQ(second.ips("slow.test"), std::vector<std::string>{"192.0.2.3"});
    EXPECT_EQ(second.queries("slow.test"), 0u);
}

}  // namespace em
