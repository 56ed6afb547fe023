// SPDX-License-Identifier: GPL-2.0
/* The eBPF source's kernel half (docs/agent.md, "The eBPF source"). Attached to the cgroup v2 root,
 * so every process of the host and of its containers passes through it:
 *   cgroup/connect4|6   a TCP connection attempt or a connected UDP socket → EM_FLOW, after
 *                       an EM_TASK the first time a process is seen (since its exec)
 *   cgroup/sendmsg4|6   an unconnected UDP send; reported once per (socket, destination)
 *                       until it has been idle for udp_timeout_ns, as conntrack would
 *   cgroup_skb/egress   a packet to port 53 (a query) → EM_DNS with the packet; a flow's
 *                       first data (TCP: its first data segment; UDP: the first datagram to
 *                       a new destination port 443, a QUIC Initial) → EM_FIRST with the
 *                       packet, once per connection: TCP by the socket's own counters,
 *                       UDP by a flag connect/sendmsg put on the socket (first_look)
 *   cgroup_skb/ingress  a packet from port 53 (a response) → EM_DNS
 *   tp_btf/sched_process_exec  every exec, so a process that connects and exits at once
 *                       is still known by its executable and arguments → EM_EXEC
 * Every program lets the packet or call through (returns 1): this is an observer. A record
 * the ring buffer has no room for is counted in "stats", never silently lost. User space
 * is woken only once wake_bytes are waiting (it also polls on a short timer): a wake-up per
 * event would cost each connect() several microseconds (FIELD-NOTES.md). */
#include "vmlinux.h"

#include <bpf/bpf_core_read.h>
#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

#include "egress_event.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET 2
#define AF_INET6 10
#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17

const volatile __u64 wake_bytes = 256 * 1024;
const volatile __u64 udp_timeout_ns = 30ULL * 1000 * 1000 * 1000;
/* EM_FIRST records (0: the agent's ebpf_first_packets = false; the code is then dead and
 * pruned by the verifier). */
const volatile __u8 first_packets = 1;

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 16 << 20); /* user space may change it before loading */
} events SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, EM_STAT_COUNT);
    __type(key, __u32);
    __type(value, __u64);
} stats SEC(".maps");

struct udp_key {
    __u64 cookie;
    __u8 daddr[16];
    __u16 dport;
    __u16 family;
    __u32 pad;
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 65536);
    __type(key, struct udp_key);
    __type(value, __u64);
} udp_seen SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct em_dns);
} dns_scratch SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct em_first);
} first_scratch SEC(".maps");

/* UDP sockets whose next datagram to port 443 is wanted: created when a socket connects or
 * sends to a new such destination, deleted at that datagram; it holds the process. (Not for
 * TCP: creating it cost each connect() 1.3 µs here, the program's cost tripled.) */
struct first_look {
    __u32 tgid;
    __u32 pad;
};
struct {
    __uint(type, BPF_MAP_TYPE_SK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, struct first_look);
} first_look SEC(".maps");

/* Processes announced to user space (EM_TASK or EM_EXEC): a flag in their main thread's
 * task storage — one pointer away from the task, and gone with it, so a reused pid is a
 * new task and announced again. (An LRU hash by tgid cost each connect() 0.5 µs.) */
struct {
    __uint(type, BPF_MAP_TYPE_TASK_STORAGE);
    __uint(map_flags, BPF_F_NO_PREALLOC);
    __type(key, int);
    __type(value, __u64);
} tasks_seen SEC(".maps");

/* The process that last announced itself or flowed on this CPU (its main thread's address
 * and tgid): a busy process's next connect() needs no task storage lookup. */
struct last_task {
    __u64 leader;
    __u32 tgid;
    __u32 gen; /* exec_losses when cached: a lost exec record invalidates every CPU's */
    /* The clock, read once per scheduler tick on this CPU: reading CLOCK_BOOTTIME cost each
     * connect() 180 ns here (a virtual machine's clock), jiffies cost nothing. A flow's time
     * is that of the first flow of the same tick: at most one tick (4 ms at HZ=250) early. */
    __u64 jiffies;
    __u64 tick_ns;
};

/* Exec records the ring had no room for: the processes they were about must be announced
 * again (their flag is cleared; this invalidates the per-CPU caches). */
__u32 exec_losses = 0;
struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct last_task);
} last_task SEC(".maps");

static __always_inline void stat_add(__u32 which) {
    __u64* v = bpf_map_lookup_elem(&stats, &which);
    if (v) *v += 1;
}

/* Wakes the reader once, when the record of `size` bytes just reserved (or about to be
 * written) makes the waiting data cross wake_bytes. Waking on every record above the mark
 * instead would cost each connect() a wake-up until the reader has drained (measured: the
 * connector ran at 75-85 % of its speed); a crossing missed by racing CPUs is caught by
 * the reader's timer. */
/* What a record of `size` bytes takes in the ring: an 8-byte header, rounded up to 8. */
static __always_inline __u64 ring_len(__u64 size) { return (size + 8 + 7) & ~7ULL; }

static __always_inline __u64 wake_flags(__u64 size) {
    __u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA); /* includes the reserved */
    return avail >= wake_bytes && avail - ring_len(size) < wake_bytes ? BPF_RB_FORCE_WAKEUP
                                                                       : BPF_RB_NO_WAKEUP;
}

/* The same for bpf_ringbuf_output, asked before the record is in the ring. */
static __always_inline __u64 wake_flags_before(__u64 size) {
    __u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
    return avail < wake_bytes && avail + ring_len(size) >= wake_bytes ? BPF_RB_FORCE_WAKEUP
                                                                       : BPF_RB_NO_WAKEUP;
}

/* The running task; its parent through CO-RE reads of task_struct. */
static __always_inline void fill_current(struct em_task* t) {
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u64 uid_gid = bpf_get_current_uid_gid();
    t->pid = pid_tgid >> 32;
    t->tid = (__u32)pid_tgid;
    t->uid = (__u32)uid_gid;
    t->gid = uid_gid >> 32;
    t->cgroup_id = bpf_get_current_cgroup_id();
    /* The process's name, as /proc/PID/comm says it: its main thread's, not the name of
     * the thread that happens to connect (dig connects from "isc-net-0000"). */
    struct task_struct* task = (struct task_struct*)bpf_get_current_task();
    struct task_struct* leader = BPF_CORE_READ(task, group_leader);
    if (bpf_probe_read_kernel_str(t->comm, sizeof(t->comm), &leader->comm) < 0)
        bpf_get_current_comm(t->comm, sizeof(t->comm));
    struct task_struct* parent = BPF_CORE_READ(task, real_parent, group_leader);
    t->ppid = BPF_CORE_READ(parent, tgid);
    bpf_probe_read_kernel_str(t->parent_comm, sizeof(t->parent_comm), &parent->comm);
}

static __always_inline int flow(struct bpf_sock_addr* ctx, int v6, int sendmsg) {
    __u8 proto = ctx->protocol;
    if (proto != IPPROTO_TCP && proto != IPPROTO_UDP) return 1;
    struct udp_key k = {};
    k.dport = bpf_ntohs(ctx->user_port);
    /* The socket cookie keys a UDP socket's destinations, and ties a DNS socket's packets to
     * its process; no other flow needs it (50 ns a call). */
    if (proto == IPPROTO_UDP || k.dport == 53) k.cookie = bpf_get_socket_cookie(ctx);
    k.family = v6 ? AF_INET6 : AF_INET;
    if (v6) {
        __u32* a = (__u32*)k.daddr;
        a[0] = ctx->user_ip6[0];
        a[1] = ctx->user_ip6[1];
        a[2] = ctx->user_ip6[2];
        a[3] = ctx->user_ip6[3];
    } else {
        *(__u32*)k.daddr = ctx->user_ip4;
    }
    __u32 zero = 0;
    struct last_task* last = bpf_map_lookup_elem(&last_task, &zero);
    if (!last) return 1; /* a per-CPU array's only slot: never */
    __u64 j = bpf_jiffies64(), now;
    if (last->jiffies != j) {
        /* The time before the tick that it belongs to: a program preempted between the two
         * (a preemptible kernel) leaves the old tick, and the next one reads the clock. */
        now = bpf_ktime_get_boot_ns();
        last->tick_ns = now;
        last->jiffies = j;
    } else {
        now = last->tick_ns;
    }
    if (sendmsg) {
        __u64* seen = bpf_map_lookup_elem(&udp_seen, &k);
        /* Signed: another CPU's clock of the same tick may be ahead of this one's, and a
         * destination "seen in the future" was seen just now. */
        if (seen && (__s64)(now - *seen) < (__s64)udp_timeout_ns) {
            if ((__s64)(now - *seen) > 0) *seen = now;
            stat_add(EM_STAT_UDP_REPEATS);
            return 1;
        }
    }
    __u64 pid_tgid = bpf_get_current_pid_tgid();
    __u32 tgid = pid_tgid >> 32;
    struct task_struct* task = bpf_get_current_task_btf();
    struct task_struct* leader = task->group_leader;
    __u32 gen = exec_losses;
    if (last->leader != (__u64)leader || last->tgid != tgid || last->gen != gen) {
        __u64* announced =
            bpf_task_storage_get(&tasks_seen, leader, 0, BPF_LOCAL_STORAGE_GET_F_CREATE);
        /* Without storage (an allocation failure) the process is announced every time. */
        if (!announced || !*announced) {
            struct em_task_rec* t = bpf_ringbuf_reserve(&events, sizeof(*t), 0);
            if (!t) {
                stat_add(EM_STAT_LOST_FLOW);
                return 1;
            }
            t->hdr.kind = EM_TASK;
            t->hdr.pad = 0;
            t->hdr.time_ns = now;
            fill_current(&t->hdr.task);
            t->hdr.task.cookie = k.cookie;
            t->hdr.task.pad = 0;
            t->start_time = leader->start_boottime;
            bpf_ringbuf_submit(t, wake_flags(sizeof(*t)));
            if (announced) *announced = 1;
        }
        if (announced) {
            last->leader = (__u64)leader;
            last->tgid = tgid;
            last->gen = gen;
        }
    }
    struct em_flow* e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        stat_add(EM_STAT_LOST_FLOW);
        return 1;
    }
    e->kind = EM_FLOW;
    e->dport = k.dport;
    e->family = k.family;
    e->proto = proto;
    e->time_ns = now;
    e->cookie = k.cookie;
    /* What bpf_get_current_cgroup_id() returns, read through BTF: a third of its cost. */
    e->cgroup_id = task->cgroups->dfl_cgrp->kn->id;
    e->pid = tgid;
    e->uid = (__u32)bpf_get_current_uid_gid();
    __builtin_memcpy(e->daddr, k.daddr, sizeof(e->daddr));
    bpf_ringbuf_submit(e, wake_flags(sizeof(*e)));
    /* A UDP socket's first datagram to a new destination port 443 is wanted (TCP needs no
     * flag: see first_data). */
    if (first_packets && proto == IPPROTO_UDP && k.dport == 443) {
        struct first_look init = {.tgid = tgid};
        struct first_look* look =
            bpf_sk_storage_get(&first_look, ctx->sk, &init, BPF_SK_STORAGE_GET_F_CREATE);
        if (look) look->tgid = tgid; /* a UDP socket's earlier flag: now this process's */
    }
    /* A UDP socket's destination, connected or not, is reported once per idle period; only
     * once it has been reported (a lost record leaves the next send reported again). */
    if (proto == IPPROTO_UDP) bpf_map_update_elem(&udp_seen, &k, &now, BPF_ANY);
    return 1;
}

SEC("cgroup/connect4")
int em_connect4(struct bpf_sock_addr* ctx) { return flow(ctx, 0, 0); }

SEC("cgroup/connect6")
int em_connect6(struct bpf_sock_addr* ctx) { return flow(ctx, 1, 0); }

SEC("cgroup/sendmsg4")
int em_sendmsg4(struct bpf_sock_addr* ctx) { return flow(ctx, 0, 1); }

SEC("cgroup/sendmsg6")
int em_sendmsg6(struct bpf_sock_addr* ctx) { return flow(ctx, 1, 1); }

/* Where a packet's data starts (0: not TCP or UDP, or a later fragment); its protocol. */
static __always_inline __u32 data_offset(struct __sk_buff* skb, __u8* proto) {
    __u32 l4 = 0;
    if (skb->protocol == bpf_htons(ETH_P_IP)) {
        struct iphdr ip;
        if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip))) return 0;
        if (ip.frag_off & bpf_htons(0x1fff)) return 0;
        *proto = ip.protocol;
        l4 = ip.ihl * 4;
    } else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr ip6;
        if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6))) return 0;
        *proto = ip6.nexthdr;
        l4 = sizeof(ip6);
    } else {
        return 0;
    }
    if (*proto == IPPROTO_TCP) {
        __u8 doff;
        if (bpf_skb_load_bytes(skb, l4 + 12, &doff, 1)) return 0;
        return l4 + (doff >> 4) * 4;
    }
    if (*proto == IPPROTO_UDP) {
        __u16 dport;
        if (bpf_skb_load_bytes(skb, l4 + 2, &dport, 2)) return 0;
        return dport == bpf_htons(443) ? l4 + 8 : 0; /* UDP: QUIC's port only */
    }
    return 0;
}

/* The packet → EM_FIRST, when it carries data of `want` (TCP or UDP). */
static __always_inline int emit_first(struct __sk_buff* skb, __u8 want, __u32 tgid) {
    __u8 proto = 0;
    __u32 data = data_offset(skb, &proto);
    if (!data || proto != want || skb->len <= data) return 0; /* no data: an ACK */
    __u32 zero = 0;
    struct em_first* e = bpf_map_lookup_elem(&first_scratch, &zero);
    if (!e) return 0;
    __u32 len = skb->len;
    e->wire_len = len;
    if (len > EM_FIRST_CAP) {
        len = EM_FIRST_CAP;
        stat_add(EM_STAT_FIRST_TRUNCATED);
    }
    if (len == 0 || bpf_skb_load_bytes(skb, 0, e->data, len)) return 0;
    e->hdr.kind = EM_FIRST;
    e->hdr.pad = 0;
    e->hdr.time_ns = bpf_ktime_get_boot_ns();
    __builtin_memset(&e->hdr.task, 0, sizeof(e->hdr.task));
    e->hdr.task.cookie = bpf_get_socket_cookie(skb);
    e->hdr.task.uid = bpf_get_socket_uid(skb);
    e->hdr.task.cgroup_id = bpf_skb_cgroup_id(skb);
    e->hdr.task.pid = tgid;
    e->pad = 0;
    __u64 size = __builtin_offsetof(struct em_first, data) + len;
    if (bpf_ringbuf_output(&events, e, size, wake_flags_before(size)))
        stat_add(EM_STAT_LOST_FIRST);
    return 1;
}

/* A UDP socket flagged in first_look (a new destination port 443): its first datagram
 * there, a QUIC Initial; the flag goes with it. */
static __always_inline int first_udp(struct __sk_buff* skb, struct bpf_sock* sk) {
    struct first_look* look = bpf_sk_storage_get(&first_look, sk, 0, 0);
    if (!look) return 1;
    __u32 tgid = look->tgid;
    if (emit_first(skb, IPPROTO_UDP, tgid)) bpf_sk_storage_delete(&first_look, sk);
    return 1;
}

/* A packet leaving a connected socket. TCP needs no flag: the socket's own counters say
 * that this is the first transmission of its first data (data_segs_out already counts this
 * packet's segments, and only this packet's: a retransmission counts again), that nothing
 * was received before (the client speaks first: not a server's reply) and that it is a
 * client (not an accepted socket sending its banner). The
 * data usually leaves in the writing process's own system call: the running task is its
 * sender (user space drops a pid of 0, the idle task). */
static __always_inline int first_data(struct __sk_buff* skb, struct bpf_sock* sk) {
    if (sk->state == BPF_TCP_SYN_SENT) return 1; /* a SYN (TCP Fast Open data: not seen) */
    struct tcp_sock* tp = bpf_skc_to_tcp_sock(sk);
    if (!tp) return first_udp(skb, sk);
    __u32 segs = skb->gso_segs;
    if (tp->data_segs_out != (segs ? segs : 1) || tp->bytes_received) return 1;
    /* A client: it has received one segment only, the SYN-ACK (an accepted socket has had
     * the SYN and the handshake's ACK). Not sk_userlocks' SOCK_CONNECT_BIND: a bitfield on
     * the kernels before it, which a CO-RE read of this build's u8 would fail to load on. */
    if (tp->segs_in > 1) return 1;
    emit_first(skb, IPPROTO_TCP, bpf_get_current_pid_tgid() >> 32);
    return 1;
}

/* Packets start at the IP header in cgroup skb programs. */
static __always_inline int dns(struct __sk_buff* skb, int egress) {
    /* Most packets belong to a connected socket whose peer is not port 53: they are known
     * from the socket without reading the packet (leaving, the first data of its flow is
     * looked for in the socket's storage). */
    struct bpf_sock* sk = skb->sk;
    if (sk) {
        __u16 peer = bpf_ntohs(sk->dst_port);
        if (peer != 0 && peer != 53) return egress && first_packets ? first_data(skb, sk) : 1;
    }
    __u32 l4 = 0;
    if (skb->protocol == bpf_htons(ETH_P_IP)) {
        struct iphdr ip;
        if (bpf_skb_load_bytes(skb, 0, &ip, sizeof(ip))) return 1;
        if (ip.protocol != IPPROTO_UDP && ip.protocol != IPPROTO_TCP) return 1;
        if (ip.frag_off & bpf_htons(0x1fff)) return 1; /* no ports in a later fragment */
        l4 = ip.ihl * 4;
    } else if (skb->protocol == bpf_htons(ETH_P_IPV6)) {
        struct ipv6hdr ip6;
        if (bpf_skb_load_bytes(skb, 0, &ip6, sizeof(ip6))) return 1;
        if (ip6.nexthdr != IPPROTO_UDP && ip6.nexthdr != IPPROTO_TCP) return 1;
        l4 = sizeof(ip6);
    } else {
        return 1;
    }
    __u16 ports[2];
    if (bpf_skb_load_bytes(skb, l4, ports, sizeof(ports))) return 1;
    if ((egress ? ports[1] : ports[0]) != bpf_htons(53)) {
        /* An unconnected UDP socket's datagram to port 443: perhaps a QUIC Initial. */
        if (egress && first_packets && sk && ports[1] == bpf_htons(443))
            return first_udp(skb, sk);
        return 1;
    }

    __u32 zero = 0;
    struct em_dns* e = bpf_map_lookup_elem(&dns_scratch, &zero);
    if (!e) return 1;
    __u32 len = skb->len;
    e->wire_len = len;
    if (len > EM_DNS_CAP) {
        len = EM_DNS_CAP;
        stat_add(EM_STAT_DNS_TRUNCATED);
    }
    if (len == 0 || bpf_skb_load_bytes(skb, 0, e->data, len)) return 1;
    e->hdr.kind = EM_DNS;
    e->hdr.pad = 0;
    e->hdr.time_ns = bpf_ktime_get_boot_ns();
    __builtin_memset(&e->hdr.task, 0, sizeof(e->hdr.task));
    e->hdr.task.cookie = bpf_get_socket_cookie(skb);
    e->hdr.task.uid = bpf_get_socket_uid(skb);
    e->hdr.task.cgroup_id = bpf_skb_cgroup_id(skb);
    e->egress = egress;
    e->pad8 = 0;
    e->pad16 = 0;
    __u64 size = __builtin_offsetof(struct em_dns, data) + len;
    if (bpf_ringbuf_output(&events, e, size, wake_flags_before(size)))
        stat_add(EM_STAT_LOST_DNS);
    return 1;
}

SEC("cgroup_skb/egress")
int em_dns_egress(struct __sk_buff* skb) { return dns(skb, 1); }

SEC("cgroup_skb/ingress")
int em_dns_ingress(struct __sk_buff* skb) { return dns(skb, 0); }

SEC("tp_btf/sched_process_exec")
int BPF_PROG(em_exec, struct task_struct* p, pid_t old_pid, struct linux_binprm* bprm) {
    struct em_exec* e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e) {
        stat_add(EM_STAT_LOST_EXEC);
        /* User space still has the old image: announce the process again at its next flow. */
        __u64* announced = bpf_task_storage_get(&tasks_seen, p->group_leader, 0, 0);
        if (announced) *announced = 0;
        __sync_fetch_and_add(&exec_losses, 1);
        return 0;
    }
    e->hdr.kind = EM_EXEC;
    e->hdr.pad = 0;
    e->hdr.time_ns = bpf_ktime_get_boot_ns();
    fill_current(&e->hdr.task);
    e->hdr.task.cookie = 0;
    e->hdr.task.pad = 0;
    e->pad = 0;
    if (bpf_probe_read_kernel_str(e->filename, sizeof(e->filename), BPF_CORE_READ(bprm, filename)) < 0)
        e->filename[0] = 0;
    struct mm_struct* mm = BPF_CORE_READ(p, mm);
    unsigned long start = BPF_CORE_READ(mm, arg_start), end = BPF_CORE_READ(mm, arg_end);
    __u32 n = end > start ? end - start : 0;
    if (n > EM_ARGS_LEN - 1) n = EM_ARGS_LEN - 1;
    n &= EM_ARGS_LEN - 1; /* a bound the verifier can see */
    if (n && bpf_probe_read_user(e->args, n, (void*)start)) n = 0;
    e->args_len = n;
    /* The exec record says who the process now is: its next flow needs no EM_TASK. */
    bpf_ringbuf_submit(e, wake_flags(sizeof(*e)));
    __u64* announced = bpf_task_storage_get(&tasks_seen, p->group_leader, 0,
                                            BPF_LOCAL_STORAGE_GET_F_CREATE);
    if (announced) *announced = 1;
    return 0;
}
