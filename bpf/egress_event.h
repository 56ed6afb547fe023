/* Kernel/user shared types of the eBPF source (bpf/egress.bpf.c, src/sources/ebpf/).
 * Plain C, fixed-width types only: the BPF object and the agent agree on this layout and
 * on nothing else. Every ring-buffer record starts with struct em_hdr; `kind` says which
 * of the structs below it is. */
#ifndef EGRESS_EVENT_H
#define EGRESS_EVENT_H

#ifdef __bpf__
typedef __u8 em_u8;
typedef __u16 em_u16;
typedef __u32 em_u32;
typedef __u64 em_u64;
#else
#include <stdint.h>
typedef uint8_t em_u8;
typedef uint16_t em_u16;
typedef uint32_t em_u32;
typedef uint64_t em_u64;
#endif

#define EM_COMM_LEN 16
#define EM_PATH_LEN 256
#define EM_ARGS_LEN 256
#define EM_DNS_CAP 4096 /* bytes of a DNS packet copied (IP header onwards), a power of 2 */
/* Bytes of a flow's first packet copied (IP header onwards), a power of 2: a ClientHello
 * with a post-quantum key share (~1.8 KB) or a whole QUIC Initial (~1.2-1.5 KB) fits. */
#define EM_FIRST_CAP 2048

enum em_kind {
    EM_FLOW = 1, /* connect4/6, sendmsg4/6 (a new UDP destination of a socket) */
    EM_DNS = 2,  /* a DNS packet: egress to port 53 or ingress from port 53 */
    EM_EXEC = 3, /* sched_process_exec */
    EM_TASK = 4, /* a process's first flow (or first since its exec): who it is */
    EM_FIRST = 5, /* a flow's first data: a TCP connection's first data segment, or the
                   * first datagram of a UDP socket to a new destination port 443 (QUIC) */
};

/* Counters in the per-CPU array "stats", summed over CPUs by user space. */
enum em_stat {
    EM_STAT_LOST_FLOW = 0, /* ring buffer full: a flow not reported */
    EM_STAT_LOST_DNS,
    EM_STAT_LOST_EXEC,
    EM_STAT_DNS_TRUNCATED, /* DNS packet longer than EM_DNS_CAP: reported cut short */
    EM_STAT_UDP_REPEATS,   /* sendmsg to a destination the socket used within the timeout */
    EM_STAT_LOST_FIRST,    /* ring buffer full: a flow's first packet not reported */
    EM_STAT_FIRST_TRUNCATED, /* first packet longer than EM_FIRST_CAP: reported cut short */
    EM_STAT_COUNT
};

/* Who was running when the event happened; for DNS ingress (softirq) only `cookie` is
 * meaningful: user space attributes the packet to the socket's flow process. */
struct em_task {
    em_u64 cgroup_id;
    em_u64 cookie; /* socket cookie */
    em_u32 pid;    /* tgid */
    em_u32 tid;
    em_u32 ppid;
    em_u32 uid;
    em_u32 gid;
    em_u32 pad;
    char comm[EM_COMM_LEN];
    char parent_comm[EM_COMM_LEN];
};

struct em_hdr {
    em_u32 kind;
    em_u32 pad;
    em_u64 time_ns; /* CLOCK_BOOTTIME */
    struct em_task task;
};

/* Small on purpose (56 bytes): the ring buffer's cost per record grows with its size, and
 * this one is written on every connect(). Who the process is was sent once before, in an
 * EM_TASK (or EM_EXEC) record for the same pid. */
struct em_flow {
    em_u32 kind;
    em_u16 dport; /* host order */
    em_u8 family; /* AF_INET or AF_INET6 */
    em_u8 proto;  /* IPPROTO_TCP or IPPROTO_UDP */
    em_u64 time_ns; /* CLOCK_BOOTTIME of the CPU's first flow in this scheduler tick */
    em_u64 cookie;  /* 0 unless UDP or port 53 */
    em_u64 cgroup_id;
    em_u32 pid; /* tgid */
    em_u32 uid;
    em_u8 daddr[16];
};

struct em_task_rec {
    struct em_hdr hdr;
    em_u64 start_time; /* the process's, CLOCK_BOOTTIME ns (/proc/PID/stat field 22 in
                        * clock ticks): with the pid, its identity */
};

struct em_dns {
    struct em_hdr hdr;
    em_u8 egress; /* 1: leaving a socket (query), 0: arriving at one (response) */
    em_u8 pad8;
    em_u16 pad16;
    em_u32 wire_len; /* the packet's length; data holds min(wire_len, EM_DNS_CAP) bytes */
    em_u8 data[EM_DNS_CAP];
};

/* A flow's first data: the packet from its IP header, cut to EM_FIRST_CAP. hdr.task holds
 * the socket's cookie, uid and cgroup id, and the pid of the process that sent the segment
 * (TCP: the task running as it left, 0 for the idle task) or that connected or sent to the
 * destination (UDP: kept with the socket's flag). */
struct em_first {
    struct em_hdr hdr;
    em_u32 wire_len; /* the packet's length; data holds min(wire_len, EM_FIRST_CAP) bytes */
    em_u32 pad;
    em_u8 data[EM_FIRST_CAP];
};

struct em_exec {
    struct em_hdr hdr;
    em_u32 args_len; /* bytes of args (NUL-separated argv) */
    em_u32 pad;
    char filename[EM_PATH_LEN];
    char args[EM_ARGS_LEN];
};

#ifdef __cplusplus
#define EM_ASSERT_SIZE(t, n) static_assert(sizeof(t) == (n), #t " changed size")
#else
#define EM_ASSERT_SIZE(t, n) _Static_assert(sizeof(t) == (n), #t " changed size")
#endif
EM_ASSERT_SIZE(struct em_task, 72);
EM_ASSERT_SIZE(struct em_hdr, 88);
EM_ASSERT_SIZE(struct em_flow, 56);
EM_ASSERT_SIZE(struct em_task_rec, 96);
EM_ASSERT_SIZE(struct em_dns, 96 + EM_DNS_CAP);
EM_ASSERT_SIZE(struct em_first, 96 + EM_FIRST_CAP);
EM_ASSERT_SIZE(struct em_exec, 608);

#endif
