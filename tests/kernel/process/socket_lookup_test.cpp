// Process lookup through the kernel's sock_diag netlink interface (kernel_tests).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "process/socket_owner.h"

namespace em {

// The fallback path: sock_diag finds our own sockets by 5-tuple, the fd scan finds us.
TEST(SocketLookup, FindsOwnTcpAndUdpSocketsAndTheirProcess) {
    auto look = SocketLookup::open();
    ASSERT_TRUE(look.ok()) << look.error().message;
    auto bound = [](int type, sockaddr_in& a) {
        int s = socket(AF_INET, type | SOCK_CLOEXEC, 0);
        a = {};
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
        socklen_t len = sizeof a;
        getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
        return s;
    };
    auto inode_of = [](int fd) {
        struct stat st {};
        fstat(fd, &st);
        return static_cast<uint64_t>(st.st_ino);
    };
    const IpAddress lo = *IpAddress::parse("127.0.0.1");
    sockaddr_in srv{}, cli{};
    int listener = bound(SOCK_STREAM, srv);
    ASSERT_EQ(listen(listener, 4), 0);
    int client = bound(SOCK_STREAM, cli);
    ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&srv), sizeof srv), 0);
    auto t = look->find(6, lo, ntohs(cli.sin_port), lo, ntohs(srv.sin_port));
    ASSERT_TRUE(t.ok()) << t.error().message;
    ASSERT_TRUE(t->has_value());
    EXPECT_EQ((*t)->inode, inode_of(client));
    EXPECT_EQ((*t)->uid, getuid());

    // UDP, unconnected: sendto from a bound socket; found by its local port.
    sockaddr_in u{}, peer{};
    int udp = bound(SOCK_DGRAM, u);
    int sink = bound(SOCK_DGRAM, peer);
    ASSERT_EQ(sendto(udp, "x", 1, 0, reinterpret_cast<sockaddr*>(&peer), sizeof peer), 1);
    auto d = look->find(17, lo, ntohs(u.sin_port), lo, ntohs(peer.sin_port));
    ASSERT_TRUE(d.ok()) << d.error().message;
    ASSERT_TRUE(d->has_value());
    EXPECT_EQ((*d)->inode, inode_of(udp));
    // Nothing there: no answer, not an error.
    auto none = look->find(6, lo, 1, lo, 2);
    ASSERT_TRUE(none.ok());
    EXPECT_FALSE(none->has_value());

    InodeIndex index;
    EXPECT_EQ(index.pid_of(inode_of(client)), getpid());
    EXPECT_EQ(index.pid_of(inode_of(udp)), getpid());  // from the same scan
    EXPECT_EQ(index.scans(), 1u);
    // A socket opened right after: found by a rescan at once (within the budget).
    int later = socket(AF_INET, SOCK_DGRAM, 0);
    ASSERT_GE(later, 0);
    EXPECT_EQ(index.pid_of(inode_of(later)), getpid());
    EXPECT_EQ(index.scans(), 2u);
    EXPECT_EQ(index.budget_misses(), 0u);
    // Without a budget nothing is scanned: the miss is counted, not guessed.
    InodeIndex unfunded(std::string("/proc"), 0.0, 0);
    EXPECT_EQ(unfunded.pid_of(inode_of(later)), std::nullopt);
    EXPECT_EQ(unfunded.scans(), 0u);
    EXPECT_EQ(unfunded.budget_misses(), 1u);
    for (int fd : {listener, client, udp, sink, later}) close(fd);
}

}  // namespace em
