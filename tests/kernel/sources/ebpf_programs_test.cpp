// The eBPF programs' logic, run in the kernel by BPF_PROG_TEST_RUN on packets and socket
// addresses made here: which packets the DNS programs copy (and how much), what a flow
// record holds, and the UDP repeat suppression. Loads the real object; needs root.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sched.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "sources/ebpf/ebpf_record.h"
#include "sources/ebpf/ebpf_source.h"

#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#include "egress.skel.h"
#pragma GCC diagnostic pop

extern "C" {
#include "egress_event.h"
}

namespace em {
namespace {

struct Records {
    std::vector<std::vector<uint8_t>> items;
    static int add(void* ctx, void* data, size_t len) {
        auto* self = static_cast<Records*>(ctx);
        auto* b = static_cast<uint8_t*>(data);
        self->items.emplace_back(b, b + len);
        return 0;
    }
};

class EbpfPrograms : public ::testing::Test {
  protected:
    void SetUp() override {
        if (geteuid() != 0) GTEST_SKIP() << "loading BPF programs needs root";
        skel_ = egress_bpf__open_and_load();
        ASSERT_NE(skel_, nullptr) << "the BPF object does not load: " << std::strerror(errno);
        ring_ = ring_buffer__new(bpf_map__fd(skel_->maps.events), Records::add, &got_, nullptr);
        ASSERT_NE(ring_, nullptr);
    }
    void TearDown() override {
        if (ring_) ring_buffer__free(ring_);
        if (skel_) egress_bpf__destroy(skel_);
    }
    // Runs a cgroup skb program on an Ethernet frame around `ip` (test runs take L2).
    int run_skb(bpf_program* prog, const std::vector<uint8_t>& ip, bool v6 = false) {
        std::vector<uint8_t> frame(14, 0);
        frame[12] = v6 ? 0x86 : 0x08;
        frame[13] = v6 ? 0xdd : 0x00;
        frame.insert(frame.end(), ip.begin(), ip.end());
        LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame.data(),
                    .data_size_in = static_cast<uint32_t>(frame.size()));
        int err = bpf_prog_test_run_opts(bpf_program__fd(prog), &opts);
        EXPECT_EQ(err, 0) << std::strerror(errno);
        EXPECT_EQ(opts.retval, 1u) << "an observer must let every packet through";
        return err;
    }
    void drain() { ring_buffer__consume(ring_); }
    uint64_t stat(uint32_t which) {
        int cpus = libbpf_num_possible_cpus();
        std::vector<uint64_t> v(static_cast<size_t>(cpus));
        if (bpf_map_lookup_elem(bpf_map__fd(skel_->maps.stats), &which, v.data())) return 0;
        uint64_t sum = 0;
        for (uint64_t x : v) sum += x;
        return sum;
    }

    egress_bpf* skel_ = nullptr;
    ring_buffer* ring_ = nullptr;
    Records got_;
};

// IPv4 + UDP (or TCP) with `payload`, ports as given.
std::vector<uint8_t> ipv4(uint8_t proto, uint16_t sport, uint16_t dport,
                          const std::vector<uint8_t>& payload) {
    size_t l4 = proto == IPPROTO_TCP ? 20 : 8;
    std::vector<uint8_t> p(20 + l4, 0);
    p[0] = 0x45;
    uint16_t total = static_cast<uint16_t>(20 + l4 + payload.size());
    p[2] = total >> 8;
    p[3] = total & 0xff;
    p[8] = 64;
    p[9] = proto;
    const uint8_t src[4] = {198, 51, 100, 2}, dst[4] = {198, 51, 100, 1};
    std::memcpy(&p[12], src, 4);
    std::memcpy(&p[16], dst, 4);
    p[20] = sport >> 8;
    p[21] = sport & 0xff;
    p[22] = dport >> 8;
    p[23] = dport & 0xff;
    if (proto == IPPROTO_UDP) {
        uint16_t ulen = static_cast<uint16_t>(8 + payload.size());
        p[24] = ulen >> 8;
        p[25] = ulen & 0xff;
    } else {
        p[32] = 5 << 4;  // data offset
        p[33] = 0x18;    // PSH ACK
    }
    p.insert(p.end(), payload.begin(), payload.end());
    return p;
}

std::vector<uint8_t> ipv6_udp(uint16_t sport, uint16_t dport, const std::vector<uint8_t>& payload) {
    std::vector<uint8_t> p(48, 0);
    p[0] = 0x60;
    uint16_t plen = static_cast<uint16_t>(8 + payload.size());
    p[4] = plen >> 8;
    p[5] = plen & 0xff;
    p[6] = IPPROTO_UDP;
    p[7] = 64;
    p[8] = 0x20, p[9] = 0x01, p[10] = 0x0d, p[11] = 0xb8, p[23] = 2;
    p[24] = 0x20, p[25] = 0x01, p[26] = 0x0d, p[27] = 0xb8, p[39] = 1;
    p[40] = sport >> 8;
    p[41] = sport & 0xff;
    p[42] = dport >> 8;
    p[43] = dport & 0xff;
    p[44] = plen >> 8;
    p[45] = plen & 0xff;
    p.insert(p.end(), payload.begin(), payload.end());
    return p;
}

// A DNS query for fixed.test A.
const std::vector<uint8_t> kQuery = {0x12, 0x34, 0x01, 0x00, 0, 1,   0,   0,   0,   0, 0, 0, 5, 'f',
                                     'i',  'x',  'e',  'd',  4, 't', 'e', 's', 't', 0, 0, 1, 0, 1};

TEST_F(EbpfPrograms, EgressCopiesQueriesToPort53Only) {
    auto query = ipv4(IPPROTO_UDP, 40000, 53, kQuery);
    ASSERT_EQ(run_skb(skel_->progs.em_dns_egress, query), 0);
    run_skb(skel_->progs.em_dns_egress, ipv4(IPPROTO_UDP, 40000, 80, kQuery));  // not DNS
    run_skb(skel_->progs.em_dns_egress, ipv4(IPPROTO_UDP, 53, 40000, kQuery));  // a reply leaving
    drain();
    ASSERT_EQ(got_.items.size(), 1u);
    EbpfRecord r;
    std::string why;
    ASSERT_TRUE(decode_ebpf_record(got_.items[0].data(), got_.items[0].size(), r, why)) << why;
    EXPECT_EQ(r.kind, EbpfRecord::Kind::dns);
    EXPECT_TRUE(r.egress);
    EXPECT_EQ(r.wire_len, query.size());
    ASSERT_EQ(r.packet_len, query.size());
    EXPECT_EQ(std::memcmp(r.packet, query.data(), query.size()), 0);
    EXPECT_NE(r.task.cookie, 0u) << "the socket cookie ties the packet to its process";
}

TEST_F(EbpfPrograms, IngressCopiesResponsesFromPort53AndTcpAndIpv6) {
    run_skb(skel_->progs.em_dns_ingress, ipv4(IPPROTO_UDP, 53, 40000, kQuery));
    run_skb(skel_->progs.em_dns_ingress, ipv4(IPPROTO_UDP, 40000, 53, kQuery));  // a query arriving
    run_skb(skel_->progs.em_dns_ingress, ipv4(IPPROTO_TCP, 53, 40001, kQuery));
    run_skb(skel_->progs.em_dns_ingress, ipv6_udp(53, 40002, kQuery), true);
    drain();
    ASSERT_EQ(got_.items.size(), 3u);
    for (const auto& item : got_.items) {
        EbpfRecord r;
        std::string why;
        ASSERT_TRUE(decode_ebpf_record(item.data(), item.size(), r, why)) << why;
        EXPECT_FALSE(r.egress);
        EXPECT_EQ(r.packet_len, r.wire_len);
    }
    EXPECT_EQ(stat(EM_STAT_LOST_DNS), 0u);
}

TEST_F(EbpfPrograms, FragmentsAndOtherProtocolsAreLeftAlone) {
    auto frag = ipv4(IPPROTO_UDP, 40000, 53, kQuery);
    frag[6] = 0x00, frag[7] = 0x10;  // fragment offset 16: no UDP header in this one
    run_skb(skel_->progs.em_dns_egress, frag);
    auto icmp = ipv4(IPPROTO_UDP, 40000, 53, kQuery);
    icmp[9] = 1;
    run_skb(skel_->progs.em_dns_egress, icmp);
    drain();
    EXPECT_TRUE(got_.items.empty());
}

// cgroup/connect4 and sendmsg4 have no test runs on this kernel (ENOTSUPP): they are
// attached to a cgroup made for the test, and a child process in it connects and sends on
// loopback (nothing leaves the host).
TEST_F(EbpfPrograms, FlowRecordsAndUdpRepeatSuppression) {
    std::string mount = find_cgroup2_mount();
    if (mount.empty()) GTEST_SKIP() << "no cgroup v2 mounted";
    std::string cg = mount + "/em-unit-" + std::to_string(getpid());
    ASSERT_EQ(mkdir(cg.c_str(), 0755), 0) << cg << ": " << std::strerror(errno);
    int cg_fd = open(cg.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    // Removed however the test ends (the child has exited by then: the cgroup is empty).
    struct Cleanup {
        std::string dir;
        int fd;
        ~Cleanup() {
            if (fd >= 0) close(fd);
            rmdir(dir.c_str());
        }
    } cleanup{cg, cg_fd};
    ASSERT_GE(cg_fd, 0);
    bpf_link* c4 = bpf_program__attach_cgroup(skel_->progs.em_connect4, cg_fd);
    bpf_link* s4 = bpf_program__attach_cgroup(skel_->progs.em_sendmsg4, cg_fd);
    ASSERT_NE(c4, nullptr);
    ASSERT_NE(s4, nullptr);
    pid_t child = fork();
    if (child == 0) {
        FILE* procs = fopen((cg + "/cgroup.procs").c_str(), "w");
        if (!procs || fprintf(procs, "%d\n", getpid()) < 0 || fclose(procs) != 0) _exit(2);
        sockaddr_in to{};
        to.sin_family = AF_INET;
        to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        to.sin_port = htons(9);
        int t = socket(AF_INET, SOCK_STREAM, 0);
        (void)connect(t, reinterpret_cast<sockaddr*>(&to), sizeof to);  // refused: fine
        // The sends hop between CPUs, whose clocks of one tick differ: still one destination.
        int u = socket(AF_INET, SOCK_DGRAM, 0);
        const long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        for (int i = 0; i < 3; ++i) {
            cpu_set_t set;
            CPU_ZERO(&set);
            CPU_SET(cpus > 1 ? (i % 2) : 0, &set);
            (void)sched_setaffinity(0, sizeof set, &set);
            (void)sendto(u, "x", 1, 0, reinterpret_cast<sockaddr*>(&to), sizeof to);
        }
        _exit(0);
    }
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    bpf_link__destroy(c4);
    bpf_link__destroy(s4);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    drain();
    // Records of the child only (the exec tracepoint is not attached here): who it is, once,
    // then its two flows.
    ASSERT_EQ(got_.items.size(), 3u) << "a task record, one TCP connect, one UDP destination";
    EbpfRecord r;
    std::string why;
    ASSERT_TRUE(decode_ebpf_record(got_.items[0].data(), got_.items[0].size(), r, why)) << why;
    EXPECT_EQ(r.kind, EbpfRecord::Kind::task);
    EXPECT_EQ(r.task.pid, static_cast<uint32_t>(child));
    EXPECT_EQ(r.task.ppid, static_cast<uint32_t>(getpid()));
    EXPECT_FALSE(r.task.comm.empty());
    EXPECT_NE(r.start_time, 0u);
    ASSERT_TRUE(decode_ebpf_record(got_.items[1].data(), got_.items[1].size(), r, why)) << why;
    EXPECT_EQ(r.kind, EbpfRecord::Kind::flow);
    EXPECT_EQ(r.dst.to_string(), "127.0.0.1");
    EXPECT_EQ(r.dport, 9);
    EXPECT_EQ(r.proto, IPPROTO_TCP);
    EXPECT_EQ(r.task.pid, static_cast<uint32_t>(child));
    EXPECT_EQ(r.task.uid, geteuid());
    // The cgroup id read through BTF is the cgroup's: its directory's inode number.
    struct stat st {};
    ASSERT_EQ(fstat(cg_fd, &st), 0);
    EXPECT_EQ(r.task.cgroup_id, static_cast<uint64_t>(st.st_ino));
    EXPECT_EQ(r.task.cookie, 0u) << "only UDP and port 53 sockets need their cookie";
    ASSERT_TRUE(decode_ebpf_record(got_.items[2].data(), got_.items[2].size(), r, why)) << why;
    EXPECT_EQ(r.kind, EbpfRecord::Kind::flow);
    EXPECT_EQ(r.proto, IPPROTO_UDP);
    EXPECT_NE(r.task.cookie, 0u);
    EXPECT_EQ(r.task.cgroup_id, static_cast<uint64_t>(st.st_ino));
    // A flow's time is the boot clock at the CPU's first flow in the same tick: at most a
    // tick (4 ms at HZ=250) early, never later than now.
    timespec now{};
    clock_gettime(CLOCK_BOOTTIME, &now);
    const uint64_t now_ns = uint64_t(now.tv_sec) * 1000000000u + uint64_t(now.tv_nsec);
    EXPECT_LE(r.time_ns, now_ns);
    EXPECT_GT(r.time_ns + 2000000000u, now_ns);
    EXPECT_EQ(stat(EM_STAT_UDP_REPEATS), 2u) << "the 2nd and 3rd send to the same destination";
    EXPECT_EQ(stat(EM_STAT_LOST_FLOW), 0u);
}

}  // namespace
}  // namespace em
