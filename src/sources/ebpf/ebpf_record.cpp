#include "sources/ebpf/ebpf_record.h"

#include <sys/socket.h>

#include <cstring>

extern "C" {
#include "egress_event.h"
}

namespace em {

namespace {

IpAddress v4_at(const uint8_t* b) {
    return IpAddress::v4(uint32_t{b[0]} << 24 | uint32_t{b[1]} << 16 | uint32_t{b[2]} << 8 | b[3]);
}

// A fixed-size char field up to its first NUL (the whole field when it has none).
std::string_view text(const char* field, size_t size) {
    const void* nul = std::memchr(field, 0, size);
    return {field, nul ? static_cast<size_t>(static_cast<const char*>(nul) - field) : size};
}

void decode_task(const em_task& t, EbpfTask& out) {
    out.cgroup_id = t.cgroup_id;
    out.cookie = t.cookie;
    out.pid = t.pid;
    out.tid = t.tid;
    out.ppid = t.ppid;
    out.uid = t.uid;
    out.gid = t.gid;
    out.comm = text(t.comm, sizeof t.comm);
    out.parent_comm = text(t.parent_comm, sizeof t.parent_comm);
}

}  // namespace

bool decode_ebpf_record(const void* data, size_t len, EbpfRecord& out, std::string& why) {
    if (len < sizeof(uint32_t)) {
        why = "record of " + std::to_string(len) + " bytes is shorter than its kind";
        return false;
    }
    uint32_t kind;
    std::memcpy(&kind, data, sizeof kind);
    const auto* bytes = static_cast<const uint8_t*>(data);
    if (kind == EM_FLOW) {
        if (len != sizeof(em_flow)) {
            why = "flow record of " + std::to_string(len) + " bytes";
            return false;
        }
        em_flow f;  // records are 8-byte aligned in the ring; a copy is safe for any buffer
        std::memcpy(&f, data, sizeof f);
        out.kind = EbpfRecord::Kind::flow;
        out.time_ns = f.time_ns;
        out.task = EbpfTask{};
        out.task.cookie = f.cookie;
        out.task.cgroup_id = f.cgroup_id;
        out.task.pid = f.pid;
        out.task.uid = f.uid;
        out.proto = f.proto;
        out.dport = f.dport;
        if (f.family == AF_INET) {
            out.dst = v4_at(f.daddr);
        } else if (f.family == AF_INET6) {
            static constexpr uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
            out.dst = std::memcmp(f.daddr, kMapped, 12) == 0 ? v4_at(f.daddr + 12)
                                                             : IpAddress::v6(f.daddr);
        } else {
            why = "flow record with address family " + std::to_string(f.family);
            return false;
        }
        return true;
    }
    if (len < sizeof(em_hdr)) {
        why = "record of " + std::to_string(len) + " bytes is shorter than its header";
        return false;
    }
    em_hdr hdr;
    std::memcpy(&hdr, data, sizeof hdr);
    out.time_ns = hdr.time_ns;
    switch (hdr.kind) {
        case EM_TASK: {
            if (len != sizeof(em_task_rec)) {
                why = "task record of " + std::to_string(len) + " bytes";
                return false;
            }
            const auto* t = reinterpret_cast<const em_task_rec*>(bytes);
            out.kind = EbpfRecord::Kind::task;
            decode_task(t->hdr.task, out.task);
            out.start_time = t->start_time;
            return true;
        }
        case EM_DNS: {
            constexpr size_t head = offsetof(em_dns, data);
            if (len <= head || len > sizeof(em_dns)) {
                why = "dns record of " + std::to_string(len) + " bytes";
                return false;
            }
            const auto* d = reinterpret_cast<const em_dns*>(bytes);
            out.kind = EbpfRecord::Kind::dns;
            decode_task(d->hdr.task, out.task);
            out.egress = d->egress != 0;
            out.packet = bytes + head;
            out.packet_len = len - head;
            out.wire_len = d->wire_len;
            if (out.wire_len < out.packet_len) {
                why = "dns record holds more bytes than the packet had";
                return false;
            }
            return true;
        }
        case EM_FIRST: {
            constexpr size_t head = offsetof(em_first, data);
            if (len <= head || len > sizeof(em_first)) {
                why = "first-packet record of " + std::to_string(len) + " bytes";
                return false;
            }
            const auto* f = reinterpret_cast<const em_first*>(bytes);
            out.kind = EbpfRecord::Kind::first;
            decode_task(f->hdr.task, out.task);
            out.egress = true;
            out.packet = bytes + head;
            out.packet_len = len - head;
            out.wire_len = f->wire_len;
            if (out.wire_len < out.packet_len) {
                why = "first-packet record holds more bytes than the packet had";
                return false;
            }
            if (out.wire_len > out.packet_len && out.packet_len != EM_FIRST_CAP) {
                why = "first-packet record cut short of the capture size";
                return false;
            }
            return true;
        }
        case EM_EXEC: {
            if (len != sizeof(em_exec)) {
                why = "exec record of " + std::to_string(len) + " bytes";
                return false;
            }
            const auto* e = reinterpret_cast<const em_exec*>(bytes);
            if (e->args_len > sizeof e->args) {
                why = "exec record with " + std::to_string(e->args_len) + " bytes of arguments";
                return false;
            }
            out.kind = EbpfRecord::Kind::exec;
            decode_task(e->hdr.task, out.task);
            out.filename = text(e->filename, sizeof e->filename);
            out.args = {e->args, e->args_len};
            return true;
        }
        default:
            why = "record of unknown kind " + std::to_string(hdr.kind);
            return false;
    }
}

void join_args(std::string_view args, std::string& out) {
    out.clear();
    while (!args.empty() && args.back() == '\0') args.remove_suffix(1);
    for (char c : args) out += c == '\0' ? ' ' : c;
}

}  // namespace em
