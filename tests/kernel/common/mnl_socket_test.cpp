#include "common/mnl/mnl_socket.h"

#include <gtest/gtest.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

namespace em {

TEST(OpenNetlink, OpensAndBindsWithAPortTheKernelPicked) {
    auto s = open_netlink(NETLINK_ROUTE, SOCK_CLOEXEC, 0, "rtnetlink", 1 << 16);
    ASSERT_TRUE(s.ok()) << s.error().message;
    EXPECT_GE(mnl_socket_get_fd(s->get()), 0);
    EXPECT_NE(mnl_socket_get_portid(s->get()), 0u);  // bound
}

TEST(OpenNetlink, SubscribesToGroups) {
    auto s =
        open_netlink(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK, RTMGRP_IPV4_IFADDR, "rtnetlink");
    ASSERT_TRUE(s.ok()) << s.error().message;
}

TEST(OpenNetlink, AnErrorNamesWhoAndTheStep) {
    auto s = open_netlink(MAX_LINKS + 1, SOCK_CLOEXEC, 0, "test bus");
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().message.rfind("test bus: cannot open netlink socket: ", 0), 0u)
        << s.error().message;
}

}  // namespace em
