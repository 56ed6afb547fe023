// Writes the netlink seeds of the nflog, conntrack and nfqueue fuzz targets: messages built
// with libmnl (and libnetfilter_conntrack for the ctnetlink event) as the kernel lays them
// out, carrying documentation-range addresses. Not part of the build; regenerate with
//   g++ -std=c++20 tests/fuzz/tools/netlink_seeds.cpp -o /tmp/netlink_seeds \
//       $(pkg-config --cflags --libs libmnl libnetfilter_conntrack) && \
//   /tmp/netlink_seeds tests/fuzz/corpus
#include <arpa/inet.h>
#include <libmnl/libmnl.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack.h>
#include <linux/if_addr.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_conntrack_tcp.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_conntrack.h>
#include <linux/netfilter/nfnetlink_log.h>
#include <linux/netfilter/nfnetlink_queue.h>
#include <linux/rtnetlink.h>

#include <cstdint>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace {

alignas(8) char buf[65536];
size_t used = 0;

void reset() { used = 0; }
void save(const std::string& path) { std::ofstream(path, std::ios::binary).write(buf, used); }

nlmsghdr* put_nfnl(uint16_t type, uint8_t family, uint16_t res_id) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf + used);
    nlh->nlmsg_type = type;
    auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
    nfg->nfgen_family = family;
    nfg->version = NFNETLINK_V0;
    nfg->res_id = htons(res_id);
    return nlh;
}
void done(nlmsghdr* nlh) { used += nlh->nlmsg_len; }

// IPv4 TCP SYN 192.0.2.10:40000 -> 203.0.113.7:443.
std::vector<uint8_t> tcp_syn() {
    std::vector<uint8_t> p = {0x45, 0,  0,   40, 0,    1,    0x40, 0,    64,   6,    0, 0, 192, 0,
                              2,    10, 203, 0,  113,  7,    0x9c, 0x40, 0x01, 0xbb, 0, 0, 0,   1,
                              0,    0,  0,   0,  0x50, 0x02, 0xfa, 0xf0, 0,    0,    0, 0};
    return p;
}
// IPv4 UDP DNS query for example.com A, 192.0.2.10:53000 -> 192.0.2.53:53.
std::vector<uint8_t> dns_query() {
    std::vector<uint8_t> dns = {0x12, 0x34, 1,   0,   0,   1, 0,   0,   0,   0, 0, 0, 7, 'e', 'x',
                                'a',  'm',  'p', 'l', 'e', 3, 'c', 'o', 'm', 0, 0, 1, 0, 1};
    uint16_t ulen = static_cast<uint16_t>(8 + dns.size()), tlen = static_cast<uint16_t>(20 + ulen);
    std::vector<uint8_t> p = {0x45,
                              0,
                              uint8_t(tlen >> 8),
                              uint8_t(tlen),
                              0,
                              2,
                              0,
                              0,
                              64,
                              17,
                              0,
                              0,
                              192,
                              0,
                              2,
                              10,
                              192,
                              0,
                              2,
                              53,
                              0xcf,
                              0x08,
                              0,
                              53,
                              uint8_t(ulen >> 8),
                              uint8_t(ulen),
                              0,
                              0};
    p.insert(p.end(), dns.begin(), dns.end());
    return p;
}

// IPv4 TCP data segment (ACK|PSH) 192.0.2.10:40001 -> 203.0.113.7:80: an HTTP request, the
// first payload of its connection.
std::vector<uint8_t> http_request() {
    const std::string req = "GET / HTTP/1.1\r\nHost: www.example.test\r\nAccept: */*\r\n\r\n";
    const uint16_t tlen = static_cast<uint16_t>(40 + req.size());
    std::vector<uint8_t> p = {0x45,
                              0,
                              uint8_t(tlen >> 8),
                              uint8_t(tlen),
                              0,
                              3,
                              0x40,
                              0,
                              64,
                              6,
                              0,
                              0,
                              192,
                              0,
                              2,
                              10,
                              203,
                              0,
                              113,
                              7,
                              0x9c,
                              0x41,
                              0,
                              80,
                              0,
                              0,
                              0,
                              2,
                              0,
                              0,
                              0,
                              1,
                              0x50,
                              0x18,
                              0xfa,
                              0xf0,
                              0,
                              0,
                              0,
                              0};
    p.insert(p.end(), req.begin(), req.end());
    return p;
}

void nflog_packet(const char* prefix, uint32_t seq, const std::vector<uint8_t>& pkt) {
    nlmsghdr* nlh = put_nfnl((NFNL_SUBSYS_ULOG << 8) | NFULNL_MSG_PACKET, AF_INET, 7);
    nfulnl_msg_packet_hdr ph{htons(0x0800), NF_INET_LOCAL_OUT, {}};
    mnl_attr_put(nlh, NFULA_PACKET_HDR, sizeof ph, &ph);
    mnl_attr_put_u32(nlh, NFULA_MARK, 0);
    mnl_attr_put_strz(nlh, NFULA_PREFIX, prefix);
    mnl_attr_put_u32(nlh, NFULA_IFINDEX_OUTDEV, htonl(2));
    mnl_attr_put_u32(nlh, NFULA_UID, htonl(1000));
    mnl_attr_put_u32(nlh, NFULA_GID, htonl(1000));
    mnl_attr_put_u32(nlh, NFULA_SEQ, htonl(seq));
    mnl_attr_put(nlh, NFULA_PAYLOAD, pkt.size(), pkt.data());
    done(nlh);
}

// `ct`: the NFQA_CT_INFO the packet carries (enum ip_conntrack_info); -1 none, -2 one of the
// wrong size (two bytes).
void nfqueue_packet(uint16_t queue, uint32_t id, const std::vector<uint8_t>* pkt, int ct = -1) {
    nlmsghdr* nlh = put_nfnl((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET, AF_UNSPEC, queue);
    nfqnl_msg_packet_hdr ph{htonl(id), htons(0x0800), NF_INET_LOCAL_OUT};
    mnl_attr_put(nlh, NFQA_PACKET_HDR, sizeof ph, &ph);
    mnl_attr_put_u32(nlh, NFQA_IFINDEX_OUTDEV, htonl(2));
    if (ct >= 0) mnl_attr_put_u32(nlh, NFQA_CT_INFO, htonl(static_cast<uint32_t>(ct)));
    if (ct == -2) mnl_attr_put_u16(nlh, NFQA_CT_INFO, htons(2));
    if (pkt) mnl_attr_put(nlh, NFQA_PAYLOAD, pkt->size(), pkt->data());
    done(nlh);
}

void ct_new(bool v6, uint8_t proto) {
    nf_conntrack* ct = nfct_new();
    if (v6) {
        uint8_t s[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        uint8_t d[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2};
        nfct_set_attr_u8(ct, ATTR_ORIG_L3PROTO, AF_INET6);
        nfct_set_attr(ct, ATTR_ORIG_IPV6_SRC, s);
        nfct_set_attr(ct, ATTR_ORIG_IPV6_DST, d);
        nfct_set_attr_u8(ct, ATTR_REPL_L3PROTO, AF_INET6);
        nfct_set_attr(ct, ATTR_REPL_IPV6_SRC, d);
        nfct_set_attr(ct, ATTR_REPL_IPV6_DST, s);
    } else {
        nfct_set_attr_u8(ct, ATTR_ORIG_L3PROTO, AF_INET);
        nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_SRC, inet_addr("192.0.2.10"));
        nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_DST, inet_addr("203.0.113.7"));
        nfct_set_attr_u8(ct, ATTR_REPL_L3PROTO, AF_INET);
        nfct_set_attr_u32(ct, ATTR_REPL_IPV4_SRC, inet_addr("203.0.113.7"));
        nfct_set_attr_u32(ct, ATTR_REPL_IPV4_DST, inet_addr("192.0.2.10"));
    }
    nfct_set_attr_u8(ct, ATTR_ORIG_L4PROTO, proto);
    nfct_set_attr_u8(ct, ATTR_REPL_L4PROTO, proto);
    if (proto == IPPROTO_ICMP) {
        nfct_set_attr_u8(ct, ATTR_ICMP_TYPE, 8);
        nfct_set_attr_u8(ct, ATTR_ICMP_CODE, 0);
        nfct_set_attr_u16(ct, ATTR_ICMP_ID, htons(77));
    } else {
        nfct_set_attr_u16(ct, ATTR_ORIG_PORT_SRC, htons(40000));
        nfct_set_attr_u16(ct, ATTR_ORIG_PORT_DST, htons(443));
        nfct_set_attr_u16(ct, ATTR_REPL_PORT_SRC, htons(443));
        nfct_set_attr_u16(ct, ATTR_REPL_PORT_DST, htons(40000));
    }
    if (proto == IPPROTO_TCP) nfct_set_attr_u8(ct, ATTR_TCP_STATE, TCP_CONNTRACK_SYN_SENT);
    nfct_set_attr_u32(ct, ATTR_TIMEOUT, 120);
    nfct_set_attr_u32(ct, ATTR_ID, 0x1234);
    nlmsghdr* nlh =
        put_nfnl((NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_NEW, v6 ? AF_INET6 : AF_INET, 0);
    nlh->nlmsg_flags = NLM_F_CREATE | NLM_F_EXCL;
    nfct_nlmsg_build(nlh, ct);
    nfct_destroy(ct);
    done(nlh);
}

void rt_addr(uint16_t type, bool v6, uint32_t ifindex) {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf + used);
    nlh->nlmsg_type = type;
    auto* ifa = static_cast<ifaddrmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifaddrmsg)));
    ifa->ifa_family = v6 ? AF_INET6 : AF_INET;
    ifa->ifa_prefixlen = v6 ? 64 : 24;
    ifa->ifa_index = ifindex;
    if (v6) {
        uint8_t a[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        mnl_attr_put(nlh, IFA_ADDRESS, 16, a);
    } else {
        uint32_t a = inet_addr("192.0.2.10");
        mnl_attr_put(nlh, IFA_ADDRESS, 4, &a);
        mnl_attr_put(nlh, IFA_LOCAL, 4, &a);
        mnl_attr_put_strz(nlh, IFA_LABEL, "eth0");
    }
    done(nlh);
}

void nlmsg_done() {
    nlmsghdr* nlh = mnl_nlmsg_put_header(buf + used);
    nlh->nlmsg_type = NLMSG_DONE;
    mnl_nlmsg_put_extra_header(nlh, sizeof(int));
    done(nlh);
}

}  // namespace

int main(int argc, char** argv) {
    const std::string dir = argc > 1 ? argv[1] : "tests/fuzz/corpus";
    auto syn = tcp_syn(), query = dns_query();

    reset();
    nflog_packet("em-flow", 1, syn);
    save(dir + "/nflog_fuzz/flow");
    reset();
    nflog_packet("em-dnsq", 5, query);
    nflog_packet("em-flow", 9, syn);  // a gap of three
    nlmsg_done();
    save(dir + "/nflog_fuzz/batch_gap_done");
    reset();
    nflog_packet("em-first", 2, http_request());
    save(dir + "/nflog_fuzz/first_payload");

    reset();
    ct_new(false, IPPROTO_TCP);
    save(dir + "/conntrack_fuzz/new_tcp_v4");
    reset();
    ct_new(true, IPPROTO_UDP);
    save(dir + "/conntrack_fuzz/new_udp_v6");
    reset();
    ct_new(false, IPPROTO_ICMP);
    save(dir + "/conntrack_fuzz/new_icmp_v4");
    reset();
    rt_addr(RTM_NEWADDR, false, 2);
    rt_addr(RTM_NEWADDR, true, 2);
    rt_addr(RTM_DELADDR, false, 2);
    nlmsg_done();
    save(dir + "/conntrack_fuzz/rtnetlink_addrs");

    reset();
    nfqueue_packet(3, 1, &query);
    save(dir + "/nfqueue_fuzz/dns_query");
    reset();
    nfqueue_packet(3, 1, &query);
    nfqueue_packet(3, 2, &syn);
    nfqueue_packet(3, 5, &query);  // 3 and 4 lost
    nfqueue_packet(4, 1, nullptr);
    save(dir + "/nfqueue_fuzz/batch_gap_nopayload");
    reset();
    nfqueue_packet(3, 1, &query, 2);   // NEW
    nfqueue_packet(3, 2, &query, 7);   // UNTRACKED
    nfqueue_packet(3, 3, &query);      // no state
    nfqueue_packet(3, 4, &query, -2);  // refused by nfq_nlmsg_parse: malformed
    nfqueue_packet(3, 5, &query, 3);   // ESTABLISHED_REPLY
    save(dir + "/nfqueue_fuzz/ct_states");
    return 0;
}
