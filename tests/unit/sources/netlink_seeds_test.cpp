// The netlink sources' per-buffer decoders on the fuzz seeds (tests/fuzz/tools/
// netlink_seeds.cpp): what drain() would make of each received buffer, without a socket.
#include <gtest/gtest.h>

#include <cstring>
#include <fstream>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "sources/conntrack/conntrack.h"
#include "sources/conntrack/host_addresses.h"
#include "sources/nflog/nflog.h"
#include "sources/nfqueue/nfqueue.h"

namespace em {

namespace {

// A seed in a buffer aligned as recv() fills one.
struct Seed {
    explicit Seed(const std::string& name) {
        std::ifstream in(std::string(EM_TEST_DATA) + "/../fuzz/corpus/" + name, std::ios::binary);
        std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        EXPECT_FALSE(bytes.empty()) << name;
        words.resize(bytes.size() / 8 + 1);
        std::memcpy(words.data(), bytes.data(), bytes.size());
        size = bytes.size();
    }
    const void* data() const { return words.data(); }
    std::vector<uint64_t> words;
    size_t size = 0;
};

IpAddress ip(const char* s) { return *IpAddress::parse(s); }

}  // namespace

TEST(NetlinkSeeds, NflogBufferDecodes) {
    auto src = NflogSource::detached();
    std::vector<std::pair<NflogKind, PacketMeta>> got;
    auto handler = [&](NflogKind k, const PacketMeta& m, const PacketInfo&) {
        got.emplace_back(k, m);
    };
    Seed flow("nflog_fuzz/flow");
    src->decode(flow.data(), flow.size, 1000, handler);
    ASSERT_EQ(got.size(), 1u);
    EXPECT_EQ(got[0].first, NflogKind::flow);
    EXPECT_EQ(got[0].second.dst, ip("203.0.113.7"));
    EXPECT_EQ(got[0].second.dport, 443);
    EXPECT_EQ(got[0].second.owner.uid, 1000u);
    EXPECT_EQ(got[0].second.time_ms, 1000);

    Seed batch("nflog_fuzz/batch_gap_done");  // seq 5 then 9, after 1
    src->decode(batch.data(), batch.size, 2000, handler);
    ASSERT_EQ(got.size(), 3u);
    EXPECT_EQ(got[1].first, NflogKind::dns_query);
    EXPECT_EQ(got[1].second.dport, 53);
    EXPECT_EQ(src->counters().lost_seq, 3u + 3u);
    EXPECT_EQ(src->counters().malformed, 0u);
    // The same numbers again (the instance was recreated): no loss of ~2^32.
    src->decode(flow.data(), flow.size, 3000, handler);
    EXPECT_EQ(src->counters().lost_seq, 6u);
}

TEST(NetlinkSeeds, NflogFirstPayloadIsItsOwnKind) {
    // Logged by the capture table's em-first rule: a connection's first data segment, whole.
    auto src = NflogSource::detached();
    std::vector<NflogKind> kinds;
    std::string payload;
    Seed first("nflog_fuzz/first_payload");
    src->decode(first.data(), first.size, 1000,
                [&](NflogKind k, const PacketMeta&, const PacketInfo& p) {
                    kinds.push_back(k);
                    payload.assign(reinterpret_cast<const char*>(p.payload), p.payload_len);
                });
    ASSERT_EQ(kinds.size(), 1u);
    EXPECT_EQ(kinds[0], NflogKind::first_payload);
    EXPECT_EQ(payload.rfind("GET / HTTP/1.1\r\nHost: www.example.test\r\n", 0), 0u);
    EXPECT_EQ(src->counters().malformed, 0u);
}

TEST(NetlinkSeeds, ConntrackAndAddressBuffersDecode) {
    std::vector<std::optional<PacketMeta>> got;
    auto on_event = [&](const std::optional<PacketMeta>& m) { got.push_back(m); };
    Seed tcp("conntrack_fuzz/new_tcp_v4");
    EXPECT_TRUE(walk_conntrack_datagram(tcp.data(), tcp.size, on_event));
    Seed icmp("conntrack_fuzz/new_icmp_v4");
    EXPECT_TRUE(walk_conntrack_datagram(icmp.data(), icmp.size, on_event));
    Seed udp6("conntrack_fuzz/new_udp_v6");
    EXPECT_TRUE(walk_conntrack_datagram(udp6.data(), udp6.size, on_event));
    ASSERT_EQ(got.size(), 3u);
    ASSERT_TRUE(got[0] && got[1] && got[2]);
    EXPECT_EQ(got[0]->src, ip("192.0.2.10"));
    EXPECT_EQ(got[0]->dst, ip("203.0.113.7"));
    EXPECT_EQ(got[0]->sport, 40000);
    EXPECT_EQ(got[0]->dport, 443);
    EXPECT_EQ(got[1]->dport, 0);  // ICMP: no ports
    EXPECT_EQ(got[2]->dst, ip("2001:db8::2"));
    // Cut short: the bytes left over are no message.
    EXPECT_FALSE(walk_conntrack_datagram(tcp.data(), tcp.size - 3, on_event));

    HostAddressSet set;
    Seed addrs("conntrack_fuzz/rtnetlink_addrs");  // add v4, add v6, delete v4
    EXPECT_TRUE(set.apply_datagram(addrs.data(), addrs.size));
    EXPECT_TRUE(set.contains(ip("2001:db8::1")));
    EXPECT_FALSE(set.contains(ip("192.0.2.10")));
    EXPECT_EQ(set.size(), 1u);
}

TEST(NetlinkSeeds, NfqueueBufferIsJudged) {
    Seed batch("nfqueue_fuzz/batch_gap_nopayload");  // q3: ids 1, 2, 5; q4: id 1, no payload
    for (bool fail_open : {false, true}) {
        auto src = NfqueueSource::detached(fail_open);
        size_t seen = 0;
        std::string_view dgram(static_cast<const char*>(batch.data()), batch.size);
        std::string_view out =
            src->judge(std::span(&dgram, 1),
                       [&](uint16_t q, const uint8_t*, size_t, const NfqueueSource::Meta& m) {
                           EXPECT_EQ(q, 3);
                           EXPECT_FALSE(m.ct_info);  // the seed carries no conntrack state
                           ++seen;
                           return true;
                       });
        EXPECT_EQ(seen, 3u);
        EXPECT_FALSE(out.empty());
        const auto& c = src->counters();
        EXPECT_EQ(c.packets, 4u);
        EXPECT_EQ(c.malformed, 1u);  // the one without payload, dropped
        EXPECT_EQ(c.unseen, 2u);     // ids 3 and 4
        // q3: batch accept 1-2, batch gap 3-4, accept 5; q4: drop 1.
        EXPECT_EQ(c.verdict_messages, 4u);
    }
}

TEST(NetlinkSeeds, NfqueueMarkedVerdictIsItsOwnMessage) {
    Seed batch("nfqueue_fuzz/batch_gap_nopayload");  // q3: ids 1, 2, 5; q4: id 1, no payload
    auto src = NfqueueSource::detached(false);
    std::string_view dgram(static_cast<const char*>(batch.data()), batch.size);
    int n = 0;
    std::string_view out = src->judge(
        std::span(&dgram, 1), [&](uint16_t, const uint8_t*, size_t, const NfqueueSource::Meta& m) {
            EXPECT_EQ(m.mark, 0u);  // the seed carries no mark
            if (++n == 2) m.set_mark = 0x20000001u;
            return true;
        });
    // q3: accept 1, accept 2 with its mark (not batched with 1), batch gap 3-4, accept 5;
    // q4: drop 1.
    EXPECT_EQ(src->counters().verdict_messages, 5u);
    EXPECT_NE(out.find(std::string_view("\x20\x00\x00\x01", 4)), std::string_view::npos);
}

TEST(NetlinkSeeds, NfqueueConntrackStateReachesTheHandler) {
    Seed seed("nfqueue_fuzz/ct_states");  // q3 ids 1-5: NEW, UNTRACKED, none, 2 bytes, REPLY
    auto src = NfqueueSource::detached(false);
    std::vector<std::optional<uint32_t>> got;
    std::string_view dgram(static_cast<const char*>(seed.data()), seed.size);
    (void)src->judge(std::span(&dgram, 1),
                     [&](uint16_t, const uint8_t*, size_t, const NfqueueSource::Meta& m) {
                         got.push_back(m.ct_info);
                         return true;
                     });
    // libnetfilter_queue's parse refuses the message whose state is not 4 bytes: malformed,
    // and its packet judged unseen (dropped, failing closed).
    const std::vector<std::optional<uint32_t>> want = {2u, 7u, std::nullopt, 3u};
    EXPECT_EQ(got, want);
    EXPECT_EQ(src->counters().packets, 4u);
    EXPECT_EQ(src->counters().malformed, 1u);
    EXPECT_EQ(src->counters().unseen, 1u);
}

}  // namespace em
