#include "sources/kernel_log/kernel_line.h"

#include <gtest/gtest.h>

namespace em {

TEST(KernelLine, ParsesIpv4Tcp) {
    KernelFlow f;
    ASSERT_EQ(
        parse_kernel_message(
            "EGRESS: IN= OUT=eth0 SRC=10.0.0.5 DST=140.82.112.5 LEN=60 TOS=0x00 PREC=0x00 "
            "TTL=64 ID=54321 DF PROTO=TCP SPT=43210 DPT=443 WINDOW=64240 RES=0x00 SYN URGP=0 ",
            "EGRESS: ", f),
        KernelLineKind::flow);
    EXPECT_EQ(f.src.to_string(), "10.0.0.5");
    EXPECT_EQ(f.dst.to_string(), "140.82.112.5");
    EXPECT_EQ(f.proto, "TCP");
    EXPECT_EQ(f.sport, 43210);
    EXPECT_EQ(f.dport, 443);
}

TEST(KernelLine, ParsesExpandedIpv6AndMac) {
    KernelFlow f;
    ASSERT_EQ(parse_kernel_message(
                  "EGRESS: IN= OUT=veth0 MAC=aa:bb SRC=2001:0db8:0000:0000:0000:0000:0000:0005 "
                  "DST=2001:0db8:0000:0000:0000:0000:0000:0020 LEN=80 TC=0 HOPLIMIT=64 FLOWLBL=0 "
                  "PROTO=UDP SPT=5353 DPT=53 LEN=40 ",
                  "EGRESS: ", f),
              KernelLineKind::flow);
    EXPECT_EQ(f.dst.to_string(), "2001:db8::20");
    EXPECT_EQ(f.dport, 53);
}

TEST(KernelLine, IcmpHasNoPorts) {
    KernelFlow f;
    ASSERT_EQ(parse_kernel_message("EGRESS: IN= OUT=eth0 SRC=10.0.0.5 DST=192.0.2.1 LEN=84 "
                                   "PROTO=ICMP TYPE=8 CODE=0 ID=1 SEQ=1 ",
                                   "EGRESS: ", f),
              KernelLineKind::flow);
    EXPECT_EQ(f.dport, 0);
}

TEST(KernelLine, OtherPrefixesAndDamage) {
    KernelFlow f;
    EXPECT_EQ(parse_kernel_message("OTHER: IN= OUT=eth0 SRC=1.2.3.4 DST=5.6.7.8 PROTO=TCP",
                                   "EGRESS: ", f),
              KernelLineKind::other);
    EXPECT_EQ(parse_kernel_message("EGRESS: something else", "EGRESS: ", f), KernelLineKind::other);
    EXPECT_EQ(parse_kernel_message("EGRESS: IN= OUT=eth0 SRC=1.2.3.4 DST=999.1.1.1 PROTO=TCP",
                                   "EGRESS: ", f),
              KernelLineKind::malformed);
    EXPECT_EQ(parse_kernel_message("EGRESS: IN= OUT=eth0 SRC=1.2.3.4", "EGRESS: ", f),
              KernelLineKind::malformed);
    // Field names inside other values do not match: "XSRC=" is not "SRC=".
    EXPECT_EQ(parse_kernel_message("EGRESS: IN= XSRC=1.1.1.1 OUT=eth0 SRC=1.2.3.4 DST=5.6.7.8 "
                                   "PROTO=UDP SPT=1 DPT=2",
                                   "EGRESS: ", f),
              KernelLineKind::flow);
    EXPECT_EQ(f.src.to_string(), "1.2.3.4");
}

TEST(SyslogKernelParser, FoldsFileLines) {
    setenv("TZ", "UTC", 1);
    tzset();
    Batch b;
    SyslogKernelParser p("EGRESS: ", *parse_rfc3339("2026-11-24T00:00:00Z"));
    p.feed(
        "Nov 22 11:35:35 host kernel: [12345.678901] EGRESS: IN= OUT=eth0 SRC=10.0.0.5 "
        "DST=203.0.113.5 LEN=60 PROTO=TCP SPT=1 DPT=443 \n"
        "Nov 22 11:35:36 host kernel: EGRESS: IN= OUT=eth0 SRC=10.0.0.5 DST=203.0.113.5 LEN=60 "
        "PROTO=TCP SPT=2 DPT=443 \n"
        "2026-11-22T11:35:37.000001+00:00 host kernel: [1.2] EGRESS: IN= OUT=eth0 SRC=10.0.0.5 "
        "DST=198.51.100.1 LEN=60 PROTO=UDP SPT=2 DPT=53 \n"
        "Nov 22 11:35:37 host kernel: [1.2] EGRESS: IN= OUT=lo SRC=127.0.0.1 DST=127.0.0.1 "
        "LEN=60 PROTO=TCP SPT=2 DPT=53 \n"
        "Nov 22 11:35:37 host sshd[1]: EGRESS: IN= OUT=eth0 SRC=10.0.0.5 DST=192.0.2.66 PROTO=TCP\n"
        "garbage EGRESS: line\n",
        b, "kern.log");
    ASSERT_EQ(b.ips().size(), 2u);
    auto& d = b.ips().at(*IpAddress::parse("203.0.113.5"));
    EXPECT_EQ(d.flows, 2u);
    EXPECT_EQ(format_rfc3339(d.last_seen), "2026-11-22T11:35:36Z");
    EXPECT_EQ(format_rfc3339(b.ips().at(*IpAddress::parse("198.51.100.1")).last_seen),
              "2026-11-22T11:35:37Z");
    EXPECT_EQ(p.counters().loopback, 1u);
    EXPECT_EQ(p.counters().other, 1u);
    EXPECT_EQ(p.counters().malformed, 1u);
    EXPECT_EQ(p.counters().lines, 6u);
}

}  // namespace em
