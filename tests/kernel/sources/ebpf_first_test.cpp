// The eBPF source's first-packet capture (EM_FIRST) with real clients: the programs are
// attached to a cgroup made for the test; a child process in it, in a network namespace of
// its own (192.0.2.1 on its loopback, gone with it), runs `openssl s_client -servername`,
// an HTTP client that sends two requests on one connection to a server that answers, and
// QUIC Initials (RFC 9001 A.2) to port 443 from an unconnected and a connected UDP socket.
// Each connection's first data arrives once, with the process that connected, and names
// its host; nothing else does (not the second request, not the server's answer, not a
// server's banner nor the client's reply to it, not a repeated datagram). Needs root.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "flowname/first_packet.h"
#include "packet/packet.h"
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

std::vector<uint8_t> quic_initial() {
    std::ifstream in(std::string(EM_TEST_DATA) + "/quic/rfc9001_a2_client_initial.hex");
    std::stringstream ss;
    ss << in.rdbuf();
    std::string hex;
    for (char c : ss.str())
        if (std::isxdigit(static_cast<unsigned char>(c))) hex += c;
    std::vector<uint8_t> out;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
        out.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    return out;
}

sockaddr_in addr(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, "192.0.2.1", &a.sin_addr);
    return a;
}

bool readable(int fd, int ms) {
    pollfd p{fd, POLLIN, 0};
    return poll(&p, 1, ms) == 1;
}

// What the child does, in the test's cgroup and its own network namespace; the exit code
// says which step failed. The pids of the TLS client and of itself go to `pids`.
int child_main(const std::string& procs, int pids, const std::vector<uint8_t>& initial) {
    if (unshare(CLONE_NEWNET) != 0) return 10;
    if (system("ip link set lo up && ip addr add 192.0.2.1/24 dev lo") != 0) return 11;
    FILE* f = fopen(procs.c_str(), "w");
    if (!f || fprintf(f, "%d\n", getpid()) < 0 || fclose(f) != 0) return 12;
    // Sockets made in the cgroup: the server's own packets pass the programs too.
    int l = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in srv = addr(4433);
    if (bind(l, reinterpret_cast<sockaddr*>(&srv), sizeof srv) != 0 || listen(l, 8) != 0) return 13;
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in quic = addr(443);
    if (bind(u, reinterpret_cast<sockaddr*>(&quic), sizeof quic) != 0) return 14;

    // 1. openssl s_client: its ClientHello; the server reads it and closes.
    pid_t tls = fork();
    if (tls == 0) {
        int null = open("/dev/null", O_RDWR);
        dup2(null, 0), dup2(null, 1), dup2(null, 2);
        execlp("openssl", "openssl", "s_client", "-connect", "192.0.2.1:4433", "-servername",
               "name.example.test", static_cast<char*>(nullptr));
        _exit(127);
    }
    if (write(pids, &tls, sizeof tls) != sizeof tls) return 15;
    if (!readable(l, 5000)) return 16;
    int c = accept(l, nullptr, nullptr);
    char buf[4096];
    if (!readable(c, 5000) || read(c, buf, sizeof buf) <= 0) return 17;
    close(c);
    int status = 0;
    waitpid(tls, &status, 0);

    // 2. HTTP: two requests on one connection, the server answering the first.
    pid_t self = getpid();
    if (write(pids, &self, sizeof self) != sizeof self) return 18;
    int h = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(h, reinterpret_cast<sockaddr*>(&srv), sizeof srv) != 0) return 19;
    c = accept(l, nullptr, nullptr);
    const char req1[] = "GET /one HTTP/1.1\r\nHost: www.example.test\r\n\r\n";
    const char req2[] = "GET /two HTTP/1.1\r\nHost: second.example.test\r\n\r\n";
    const char resp[] = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
    if (write(h, req1, sizeof req1 - 1) < 0 || !readable(c, 5000) || read(c, buf, sizeof buf) <= 0)
        return 20;
    if (write(c, resp, sizeof resp - 1) < 0 || !readable(h, 5000) || read(h, buf, sizeof buf) <= 0)
        return 21;
    if (write(h, req2, sizeof req2 - 1) < 0 || !readable(c, 5000) || read(c, buf, sizeof buf) <= 0)
        return 22;
    close(h);
    close(c);

    // 2b. A server that speaks first (a banner), the client answering: neither side's data
    // is a client's first word.
    h = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(h, reinterpret_cast<sockaddr*>(&srv), sizeof srv) != 0) return 25;
    c = accept(l, nullptr, nullptr);
    const char banner[] = "220 mail.example.test ESMTP\r\n",
               ehlo[] = "EHLO client.example.test\r\n";
    if (write(c, banner, sizeof banner - 1) < 0 || !readable(h, 5000) ||
        read(h, buf, sizeof buf) <= 0)
        return 26;
    if (write(h, ehlo, sizeof ehlo - 1) < 0 || !readable(c, 5000) || read(c, buf, sizeof buf) <= 0)
        return 27;
    close(h);
    close(c);

    // 3. QUIC: an unconnected socket sends the Initial twice (one destination: one look),
    // a connected one once.
    int q = socket(AF_INET, SOCK_DGRAM, 0);
    for (int i = 0; i < 2; ++i)
        if (sendto(q, initial.data(), initial.size(), 0, reinterpret_cast<sockaddr*>(&quic),
                   sizeof quic) != static_cast<ssize_t>(initial.size()))
            return 23;
    int qc = socket(AF_INET, SOCK_DGRAM, 0);
    if (connect(qc, reinterpret_cast<sockaddr*>(&quic), sizeof quic) != 0 ||
        send(qc, initial.data(), initial.size(), 0) != static_cast<ssize_t>(initial.size()))
        return 24;
    return 0;
}

TEST(EbpfFirstPacket, RealClientsEachConnectionOnce) {
    if (geteuid() != 0) GTEST_SKIP() << "loading BPF programs needs root";
    if (system("command -v openssl >/dev/null && command -v ip >/dev/null") != 0)
        GTEST_SKIP() << "needs openssl and ip";
    std::string mount = find_cgroup2_mount();
    if (mount.empty()) GTEST_SKIP() << "no cgroup v2 mounted";
    const std::vector<uint8_t> initial = quic_initial();
    ASSERT_EQ(initial.size(), 1200u);

    egress_bpf* skel = egress_bpf__open_and_load();
    ASSERT_NE(skel, nullptr) << "the BPF object does not load: " << std::strerror(errno);
    Records got;
    ring_buffer* ring =
        ring_buffer__new(bpf_map__fd(skel->maps.events), Records::add, &got, nullptr);
    std::string cg = mount + "/em-first-" + std::to_string(getpid());
    ASSERT_EQ(mkdir(cg.c_str(), 0755), 0) << cg << ": " << std::strerror(errno);
    int cg_fd = open(cg.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    std::vector<bpf_link*> links;
    // Undone however the test ends (the child has exited by then: the cgroup is empty).
    struct Cleanup {
        std::string dir;
        int fd;
        egress_bpf* skel;
        ring_buffer* ring;
        std::vector<bpf_link*>& links;
        ~Cleanup() {
            for (bpf_link* l : links) bpf_link__destroy(l);
            if (fd >= 0) close(fd);
            rmdir(dir.c_str());
            if (ring) ring_buffer__free(ring);
            egress_bpf__destroy(skel);
        }
    } cleanup{cg, cg_fd, skel, ring, links};
    ASSERT_NE(ring, nullptr);
    ASSERT_GE(cg_fd, 0);
    for (bpf_program* p : {skel->progs.em_connect4, skel->progs.em_sendmsg4,
                           skel->progs.em_dns_egress, skel->progs.em_dns_ingress}) {
        links.push_back(bpf_program__attach_cgroup(p, cg_fd));
        ASSERT_NE(links.back(), nullptr) << bpf_program__name(p);
    }
    int pipe_fds[2];
    ASSERT_EQ(pipe(pipe_fds), 0);
    pid_t child = fork();
    if (child == 0) {
        close(pipe_fds[0]);
        _exit(child_main(cg + "/cgroup.procs", pipe_fds[1], initial));
    }
    close(pipe_fds[1]);
    int status = 0;
    ASSERT_EQ(waitpid(child, &status, 0), child);
    pid_t tls_pid = 0, http_pid = 0;
    EXPECT_EQ(read(pipe_fds[0], &tls_pid, sizeof tls_pid), static_cast<ssize_t>(sizeof tls_pid));
    EXPECT_EQ(read(pipe_fds[0], &http_pid, sizeof http_pid), static_cast<ssize_t>(sizeof http_pid));
    close(pipe_fds[0]);
    ASSERT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0)
        << "the child failed at step " << WEXITSTATUS(status);
    ring_buffer__consume(ring);

    struct Named {
        uint8_t proto;
        std::string name;
        uint32_t pid;
        uint16_t dport;
    };
    std::vector<Named> firsts;
    for (const auto& item : got.items) {
        EbpfRecord r;
        std::string why;
        ASSERT_TRUE(decode_ebpf_record(item.data(), item.size(), r, why)) << why;
        if (r.kind != EbpfRecord::Kind::first) continue;
        EXPECT_EQ(r.packet_len, r.wire_len) << "each fits the capture size";
        EXPECT_NE(r.task.cookie, 0u);
        PacketInfo p;
        ASSERT_TRUE(decode_ip_packet(r.packet, r.packet_len, p, why)) << why;
        EXPECT_EQ(p.dst.to_string(), "192.0.2.1");
        FirstPacketDecode d;
        if (p.proto == kProtoTcp) {
            d = decode_tls_first_segment(p.payload, p.payload_len);
            if (d.status == FirstPacketDecode::Status::not_protocol)
                d = decode_http_request(p.payload, p.payload_len);
        } else {
            d = decode_quic_initial(p.payload, p.payload_len);
        }
        EXPECT_EQ(d.status, FirstPacketDecode::Status::found)
            << d.reason << ": " << p.sport << " → " << p.dport << " "
            << std::string(reinterpret_cast<const char*>(p.payload),
                           std::min<size_t>(p.payload_len, 24));
        firsts.push_back({p.proto, d.name.name, r.task.pid, p.dport});
    }
    ASSERT_EQ(firsts.size(), 4u) << "TLS, the first HTTP request, two QUIC sockets";
    EXPECT_EQ(firsts[0].proto, kProtoTcp);
    EXPECT_EQ(firsts[0].name, "name.example.test");
    EXPECT_EQ(firsts[0].pid, static_cast<uint32_t>(tls_pid)) << "the process that connected";
    EXPECT_EQ(firsts[0].dport, 4433);
    EXPECT_EQ(firsts[1].name, "www.example.test") << "the first request, not the second";
    EXPECT_EQ(firsts[1].pid, static_cast<uint32_t>(http_pid));
    for (size_t i : {2u, 3u}) {
        EXPECT_EQ(firsts[i].proto, kProtoUdp);
        EXPECT_EQ(firsts[i].name, "example.com");
        EXPECT_EQ(firsts[i].dport, 443);
        EXPECT_EQ(firsts[i].pid, static_cast<uint32_t>(http_pid));
    }
    auto stat = [&](uint32_t which) {
        int cpus = libbpf_num_possible_cpus();
        std::vector<uint64_t> v(static_cast<size_t>(cpus));
        if (bpf_map_lookup_elem(bpf_map__fd(skel->maps.stats), &which, v.data()))
            return uint64_t{0};
        uint64_t sum = 0;
        for (uint64_t x : v) sum += x;
        return sum;
    };
    EXPECT_EQ(stat(EM_STAT_LOST_FIRST), 0u);
    EXPECT_EQ(stat(EM_STAT_FIRST_TRUNCATED), 0u);
}

}  // namespace
}  // namespace em
