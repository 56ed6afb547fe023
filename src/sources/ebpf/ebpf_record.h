#pragma once
// Decoding of the eBPF source's ring-buffer records (bpf/egress_event.h) into views. The
// kernel half is trusted but versioned separately from nothing: a record of the wrong size
// or kind is rejected with a reason and counted, never read past its end. Views point into
// the record and are valid as long as it.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/ip_address.h"

namespace em {

struct EbpfTask {
    uint64_t cgroup_id = 0;
    uint64_t cookie = 0;  // socket cookie (0 for exec)
    uint32_t pid = 0, tid = 0, ppid = 0, uid = 0, gid = 0;
    std::string_view comm, parent_comm;
};

struct EbpfRecord {
    // task: who a process is, sent before its first flow (flows carry only pid, uid,
    // cgroup id and socket cookie in `task`)
    // first: a flow's first data (TCP's first data segment, a QUIC Initial), with the
    // socket's cookie, uid and cgroup id and the connecting process's pid in `task`
    enum class Kind { flow, dns, exec, task, first } kind = Kind::flow;
    uint64_t time_ns = 0;  // CLOCK_BOOTTIME
    EbpfTask task;
    // flow
    uint8_t proto = 0;
    uint16_t dport = 0;
    IpAddress dst;  // IPv4-mapped IPv6 destinations come out as IPv4
    // dns, first: the packet from its IP header, cut to the capture size
    bool egress = false;
    const uint8_t* packet = nullptr;
    size_t packet_len = 0;
    size_t wire_len = 0;
    // task
    uint64_t start_time = 0;
    // exec
    std::string_view filename;
    std::string_view args;  // argv, NUL-separated, possibly cut short
};

/// Decodes one record; false with the reason in `why` when it is malformed.
bool decode_ebpf_record(const void* data, size_t len, EbpfRecord& out, std::string& why);

/// "a\0b\0c\0" → "a b c" (the shape of /proc/PID/cmdline), into `out`.
void join_args(std::string_view args, std::string& out);

}  // namespace em
