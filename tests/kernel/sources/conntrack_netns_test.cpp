// ConntrackSource against the kernel: two network namespaces joined by a veth pair; needs
// root (kernel_tests). Decoding without a kernel is tests/unit/sources/conntrack_test.cpp.
#include "sources/conntrack/conntrack.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <ctime>
#include <iostream>
#include <thread>
#include <tuple>
#include <vector>

#include "sources/conntrack/host_addresses.h"

namespace em {

namespace {

IpAddress ip(const char* text) { return *IpAddress::parse(text); }

// ---------------------------------------------------------------------------------------
// Against the kernel: two network namespaces joined by a veth pair. Needs root.

int sh(const std::string& cmd) { return std::system(cmd.c_str()); }

// Runs `fn` on a thread that entered the named network namespace; sockets it creates stay
// in that namespace whichever thread uses them later.
template <class F>
void in_netns(const std::string& name, F&& fn) {
    std::thread t([&] {
        UniqueFd ns(::open(("/run/netns/" + name).c_str(), O_RDONLY | O_CLOEXEC));
        if (!ns.valid() || setns(ns.get(), CLONE_NEWNET) != 0) {
            ADD_FAILURE() << "cannot enter netns " << name << ": " << std::strerror(errno);
            return;
        }
        fn();
    });
    t.join();
}

struct SockAddr {
    sockaddr_storage ss{};
    socklen_t len = 0;
    SockAddr(const std::string& text, uint16_t port) {
        if (text.find(':') == std::string::npos) {
            auto* a = reinterpret_cast<sockaddr_in*>(&ss);
            a->sin_family = AF_INET;
            a->sin_port = htons(port);
            inet_pton(AF_INET, text.c_str(), &a->sin_addr);
            len = sizeof(sockaddr_in);
        } else {
            auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
            a->sin6_family = AF_INET6;
            a->sin6_port = htons(port);
            inet_pton(AF_INET6, text.c_str(), &a->sin6_addr);
            len = sizeof(sockaddr_in6);
        }
    }
    const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&ss); }
    int family() const { return ss.ss_family; }
};

// A TCP connect to a closed port: refused, but its SYN created a conntrack entry.
// Returns the connect errno (0 when it connected).
int tcp_connect(const std::string& dst, uint16_t port, const std::string& bind_to = {}) {
    SockAddr to(dst, port);
    UniqueFd s(::socket(to.family(), SOCK_STREAM | SOCK_CLOEXEC, 0));
    if (!s.valid()) return errno;
    timeval timeout{10, 0};  // a first SYN can be lost while the veth comes up
    setsockopt(s.get(), SOL_SOCKET, SO_SNDTIMEO, &timeout, sizeof timeout);
    if (!bind_to.empty()) {
        SockAddr from(bind_to, 0);
        if (::bind(s.get(), from.get(), from.len) != 0) return errno;
    }
    return ::connect(s.get(), to.get(), to.len) == 0 ? 0 : errno;
}

int udp_send(const std::string& dst, uint16_t port) {
    SockAddr to(dst, port);
    UniqueFd s(::socket(to.family(), SOCK_DGRAM | SOCK_CLOEXEC, 0));
    if (!s.valid()) return errno;
    return ::sendto(s.get(), "x", 1, 0, to.get(), to.len) == 1 ? 0 : errno;
}

uint16_t inet_checksum(const uint8_t* p, size_t n) {
    uint32_t sum = 0;
    for (size_t i = 0; i + 1 < n; i += 2) sum += static_cast<uint32_t>(p[i] << 8 | p[i + 1]);
    if (n & 1) sum += static_cast<uint32_t>(p[n - 1] << 8);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    return htons(static_cast<uint16_t>(~sum));
}

// One echo request over a raw socket (ICMPv6: the kernel fills in the checksum).
int ping_once(const std::string& dst) {
    SockAddr to(dst, 0);
    const bool v6 = to.family() == AF_INET6;
    UniqueFd s(::socket(to.family(), SOCK_RAW | SOCK_CLOEXEC,
                        v6 ? int{IPPROTO_ICMPV6} : int{IPPROTO_ICMP}));
    if (!s.valid()) return errno;
    uint8_t pkt[8] = {static_cast<uint8_t>(v6 ? 128 : ICMP_ECHO), 0, 0, 0, 0x12, 0x34, 0, 1};
    if (!v6) {
        const uint16_t c = inet_checksum(pkt, sizeof pkt);
        std::memcpy(pkt + 2, &c, 2);
    }
    return ::sendto(s.get(), pkt, sizeof pkt, 0, to.get(), to.len) == sizeof pkt ? 0 : errno;
}

using FlowKey = std::tuple<int, std::string, std::string, int>;  // proto, src, dst, dport

FlowKey key(const FlowObservation& f) {
    return {f.meta.proto, f.meta.src.to_string(), f.meta.dst.to_string(), f.meta.dport};
}

int64_t now_ms() {
    timespec ts{};
    clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1000000;
}

// Drains until `want` flows arrived (or 3 s passed), then `settle_ms` longer for extras.
std::vector<FlowObservation> collect(ConntrackSource& src, size_t want, int settle_ms = 300) {
    std::vector<FlowObservation> out;
    auto sink = [&](const FlowObservation& f) { out.push_back(f); };
    auto run_until = [&](std::chrono::steady_clock::time_point end, bool stop_at_want) {
        for (;;) {
            auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                end - std::chrono::steady_clock::now());
            if (left.count() <= 0 || (stop_at_want && out.size() >= want)) return;
            pollfd p{src.fd(), POLLIN, 0};
            ::poll(&p, 1, static_cast<int>(left.count()));
            auto r = src.drain(sink);
            EXPECT_TRUE(r.ok()) << (r.ok() ? "" : r.error().message);
        }
    };
    run_until(std::chrono::steady_clock::now() + std::chrono::seconds(3), true);
    run_until(std::chrono::steady_clock::now() + std::chrono::milliseconds(settle_ms), false);
    return out;
}

class ConntrackSourceNetns : public ::testing::Test {
  protected:
    void SetUp() override {
        if (::geteuid() != 0) GTEST_SKIP() << "needs root (network namespaces, ctnetlink)";
        const std::string test = ::testing::UnitTest::GetInstance()->current_test_info()->name();
        if (test.starts_with("Bench") && !std::getenv("EM_CONNTRACK_BENCH"))
            GTEST_SKIP() << "a benchmark: set EM_CONNTRACK_BENCH=1";
        if (sh("command -v ip >/dev/null && command -v nft >/dev/null") != 0)
            GTEST_SKIP() << "needs ip and nft";
        const std::string id = std::to_string(::getpid());
        local_ = "emct" + id + "l";
        peer_ = "emct" + id + "p";
        remove_namespaces();
        created_ = true;
        // conntrack only runs in a namespace once a rule needs it: the nft table.
        const std::string setup =
            "set -e\n"
            "ip netns add " +
            local_ +
            "\n"
            "ip netns add " +
            peer_ +
            "\n"
            "ip -n " +
            local_ +
            " link set lo up\n"
            "ip -n " +
            peer_ +
            " link set lo up\n"
            "ip -n " +
            local_ + " link add emct0 type veth peer name emct1 netns " + peer_ +
            "\n"
            "ip -n " +
            local_ +
            " addr add 192.0.2.1/24 dev emct0\n"
            "ip -n " +
            local_ +
            " addr add 2001:db8::1/64 dev emct0 nodad\n"
            "ip -n " +
            peer_ +
            " addr add 192.0.2.2/24 dev emct1\n"
            "ip -n " +
            peer_ +
            " addr add 2001:db8::2/64 dev emct1 nodad\n"
            "ip -n " +
            local_ +
            " link set emct0 up\n"
            "ip -n " +
            peer_ +
            " link set emct1 up\n"
            "ip netns exec " +
            local_ +
            " nft -f - <<'EOF'\n"
            "table inet emct {\n"
            "    chain o {\n"
            "        type filter hook output priority 0\n"
            "        ct state new counter\n"
            "    }\n"
            "}\n"
            "EOF\n";
        ASSERT_EQ(sh(setup), 0) << setup;
    }
    void TearDown() override {
        if (created_) remove_namespaces();
    }

    // Deleting the namespaces takes the veth pair and the nft table with them.
    void remove_namespaces() {
        sh("ip netns del " + local_ + " 2>/dev/null");
        sh("ip netns del " + peer_ + " 2>/dev/null");
    }

    std::unique_ptr<ConntrackSource> open_source(size_t rcvbuf = 8 << 20) {
        std::unique_ptr<ConntrackSource> src;
        in_netns(local_, [&] {
            auto r = ConntrackSource::open(rcvbuf);
            if (!r) {
                ADD_FAILURE() << r.error().message;
                return;
            }
            src = std::move(*r);
        });
        return src;
    }

    std::string local_, peer_;
    bool created_ = false;
};

TEST_F(ConntrackSourceNetns, ReportsExactlyTheOutboundFlows) {
    auto src = open_source();
    ASSERT_TRUE(src);
    EXPECT_TRUE(src->is_local(ip("192.0.2.1")));
    EXPECT_TRUE(src->is_local(ip("2001:db8::1")));
    EXPECT_TRUE(src->is_local(ip("127.0.0.1")));
    EXPECT_TRUE(src->is_local(ip("::1")));
    EXPECT_FALSE(src->is_local(ip("192.0.2.2")));
    EXPECT_FALSE(src->is_local(ip("2001:db8::2")));

    constexpr int kN = 4;
    std::vector<FlowKey> expected;
    const int64_t start = now_ms();
    in_netns(local_, [&] {
        for (const char* peer : {"192.0.2.2", "2001:db8::2"}) {
            const std::string self =
                std::string(peer).find(':') == std::string::npos ? "192.0.2.1" : "2001:db8::1";
            for (int i = 0; i < kN; ++i) {
                const auto tport = static_cast<uint16_t>(1001 + i);
                const auto uport = static_cast<uint16_t>(2001 + i);
                EXPECT_EQ(tcp_connect(peer, tport), ECONNREFUSED) << peer << " " << tport;
                EXPECT_EQ(udp_send(peer, uport), 0) << peer << " " << uport;
                expected.emplace_back(IPPROTO_TCP, self, peer, tport);
                expected.emplace_back(IPPROTO_UDP, self, peer, uport);
            }
            const bool v6 = self[0] == '2';
            EXPECT_EQ(ping_once(peer), 0);
            expected.emplace_back(v6 ? int{IPPROTO_ICMPV6} : int{IPPROTO_ICMP}, self, peer, 0);
        }
        // Loopback: tracked, never reported.
        EXPECT_EQ(tcp_connect("127.0.0.1", 9), ECONNREFUSED);
        EXPECT_EQ(tcp_connect("::1", 9), ECONNREFUSED);
        EXPECT_EQ(udp_send("127.0.0.1", 9), 0);
    });
    // Inbound: the peer connects to us; tracked here with a foreign source.
    in_netns(peer_, [&] {
        EXPECT_EQ(tcp_connect("192.0.2.1", 9), ECONNREFUSED);
        EXPECT_EQ(udp_send("2001:db8::1", 9), 0);
    });

    auto flows = collect(*src, expected.size());
    std::vector<FlowKey> got;
    for (const auto& f : flows) {
        got.push_back(key(f));
        EXPECT_GE(f.meta.time_ms, start - 1000);
        EXPECT_LE(f.meta.time_ms, now_ms() + 1000);
        EXPECT_FALSE(f.meta.owner.uid);
        if (f.meta.proto == IPPROTO_TCP || f.meta.proto == IPPROTO_UDP)
            EXPECT_NE(f.meta.sport, 0);
        else
            EXPECT_EQ(f.meta.sport, 0);
    }
    std::sort(expected.begin(), expected.end());
    std::sort(got.begin(), got.end());
    EXPECT_EQ(got, expected);

    const auto& c = src->counters();
    EXPECT_EQ(c.outbound, expected.size());
    EXPECT_GE(c.not_outbound, 5u);  // three loopback, two inbound
    EXPECT_EQ(c.events, c.outbound + c.not_outbound + c.malformed);
    EXPECT_EQ(c.malformed, 0u);
    EXPECT_EQ(c.overruns, 0u);
}

TEST_F(ConntrackSourceNetns, AddressAddedAfterOpenIsLocal) {
    auto src = open_source();
    ASSERT_TRUE(src);
    EXPECT_FALSE(src->is_local(ip("192.0.2.3")));
    ASSERT_EQ(sh("ip -n " + local_ + " addr add 192.0.2.3/24 dev emct0"), 0);

    in_netns(local_, [&] { EXPECT_EQ(tcp_connect("192.0.2.2", 1234, "192.0.2.3"), ECONNREFUSED); });
    auto flows = collect(*src, 1);
    ASSERT_EQ(flows.size(), 1u);
    EXPECT_EQ(key(flows[0]), FlowKey(IPPROTO_TCP, "192.0.2.3", "192.0.2.2", 1234));
    EXPECT_TRUE(src->is_local(ip("192.0.2.3")));

    // And removed: known at the next drain.
    ASSERT_EQ(sh("ip -n " + local_ + " addr del 192.0.2.3/24 dev emct0"), 0);
    EXPECT_TRUE(src->drain([](const FlowObservation&) {}).ok());
    EXPECT_FALSE(src->is_local(ip("192.0.2.3")));
    EXPECT_TRUE(src->is_local(ip("192.0.2.1")));
}

TEST_F(ConntrackSourceNetns, OverrunIsCountedAndReadingGoesOn) {
    auto src = open_source(4096);  // the kernel's minimum: a few events
    ASSERT_TRUE(src);
    in_netns(local_, [&] {
        for (int i = 0; i < 300; ++i) tcp_connect("192.0.2.2", static_cast<uint16_t>(3000 + i));
    });
    EXPECT_TRUE(src->drain([](const FlowObservation&) {}).ok());
    EXPECT_GE(src->counters().overruns, 1u);
    EXPECT_LT(src->counters().events, 300u);

    in_netns(local_, [&] {
        for (int i = 0; i < 3; ++i)
            EXPECT_EQ(tcp_connect("192.0.2.2", static_cast<uint16_t>(4000 + i)), ECONNREFUSED);
    });
    auto flows = collect(*src, 3);
    std::vector<FlowKey> got;
    got.reserve(flows.size());
    for (const auto& f : flows) got.push_back(key(f));
    std::sort(got.begin(), got.end());
    const std::vector<FlowKey> want = {{IPPROTO_TCP, "192.0.2.1", "192.0.2.2", 4000},
                                       {IPPROTO_TCP, "192.0.2.1", "192.0.2.2", 4001},
                                       {IPPROTO_TCP, "192.0.2.1", "192.0.2.2", 4002}};
    EXPECT_EQ(got, want);
}

// Throughput of the reader: refused connects as fast as one thread makes them for 3 s,
// drained every millisecond. Run with EM_CONNTRACK_BENCH=1; prints the rate.
TEST_F(ConntrackSourceNetns, BenchRefusedConnects) {
    auto src = open_source();
    ASSERT_TRUE(src);
    std::atomic<bool> stop{false};
    std::atomic<uint64_t> made{0};
    const int threads = std::getenv("EM_CONNTRACK_BENCH_THREADS")
                            ? std::atoi(std::getenv("EM_CONNTRACK_BENCH_THREADS"))
                            : 1;
    std::vector<std::thread> gens;
    gens.reserve(static_cast<size_t>(threads));
    for (int t = 0; t < threads; ++t)
        gens.emplace_back([&, t] {
            in_netns(local_, [&] {
                auto port = static_cast<uint16_t>(1 + t * 20000);
                while (!stop.load(std::memory_order_relaxed)) {
                    // Distinct destination ports, so no tuple is reused while in CLOSE.
                    tcp_connect("192.0.2.2", port);
                    port = static_cast<uint16_t>(port % 60000 + 1);
                    made.fetch_add(1, std::memory_order_relaxed);
                }
            });
        });
    uint64_t flows = 0;
    auto count = [&](const FlowObservation&) { ++flows; };
    auto cpu_ns = [] {
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
    };
    const int64_t cpu_start = cpu_ns();
    const auto start = std::chrono::steady_clock::now();
    const auto end = start + std::chrono::seconds(3);
    while (std::chrono::steady_clock::now() < end) {
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
        EXPECT_TRUE(src->drain(count).ok());
    }
    stop = true;
    const double secs =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    for (auto& g : gens) g.join();
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
    EXPECT_TRUE(src->drain(count).ok());
    const double cpu_us = static_cast<double>(cpu_ns() - cpu_start) / 1000;
    const auto& c = src->counters();
    std::cout << "connects " << made << " ("
              << static_cast<uint64_t>(static_cast<double>(made) / secs) << "/s), NEW events "
              << c.events << " (" << static_cast<uint64_t>(static_cast<double>(c.events) / secs)
              << "/s), overruns " << c.overruns << ", reader CPU "
              << (c.events ? cpu_us / static_cast<double>(c.events) : 0) << " us/event\n";
    EXPECT_GT(c.events, 0u);
    EXPECT_EQ(flows, c.events);  // every connect was outbound
    EXPECT_EQ(c.malformed, 0u);
}

}  // namespace

}  // namespace em
