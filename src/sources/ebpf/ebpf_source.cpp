#include "sources/ebpf/ebpf_source.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdarg>
#include <cstring>
#include <fstream>
#include <sstream>
#include <vector>

#include "common/log.h"
#include "common/unique_fd.h"

// The generated skeleton is C; it is included once, here, without the C++ warnings it was
// never written for.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"
#pragma GCC diagnostic ignored "-Wold-style-cast"
#pragma GCC diagnostic ignored "-Wpedantic"
#include "egress.skel.h"
#pragma GCC diagnostic pop

extern "C" {
#include "egress_event.h"
}

namespace em {

namespace {

constexpr const char* kOwnMount = "/run/egress-monitor/cgroup2";

// libbpf's diagnostics: warnings (a verifier log on a failed load) go to our log.
int libbpf_print(enum libbpf_print_level level, const char* format, va_list args) {
    if (level != LIBBPF_WARN) return 0;
    char buf[1024];
    int n = vsnprintf(buf, sizeof buf, format, args);
    std::string line(buf, n > 0 ? std::min<size_t>(n, sizeof buf - 1) : 0);
    while (!line.empty() && line.back() == '\n') line.pop_back();
    if (!line.empty()) log_warn("libbpf: {}", line);
    return 0;
}

Error libbpf_error(const std::string& what, long err) {
    return Error{what + ": " + std::strerror(static_cast<int>(err < 0 ? -err : err))};
}

}  // namespace

std::string find_cgroup2_mount(const std::string& mounts) {
    std::ifstream in(mounts);
    std::string line;
    while (std::getline(in, line)) {
        std::istringstream f(line);
        std::string dev, dir, type;
        if (f >> dev >> dir >> type && type == "cgroup2") return dir;
    }
    return "";
}

Result<std::unique_ptr<EbpfSource>> EbpfSource::open(const EbpfOptions& opt) {
    if (access("/sys/kernel/btf/vmlinux", R_OK) != 0)
        return Error{"the kernel has no BTF (/sys/kernel/btf/vmlinux): CO-RE programs cannot load"};
    std::unique_ptr<EbpfSource> s(new EbpfSource());
    s->mount_.path = find_cgroup2_mount();
    // Ours, left by an agent that was killed: unmounted at the end this time.
    if (s->mount_.path == kOwnMount) s->mount_.mounted = true;
    if (s->mount_.path.empty()) {
        // `ip netns exec` remounts /sys and hides it (FIELD-NOTES.md); so may a container.
        if (mkdir("/run/egress-monitor", 0755) != 0 && errno != EEXIST)
            return errno_error("no cgroup v2 mounted, and mkdir /run/egress-monitor");
        if (mkdir(kOwnMount, 0755) != 0 && errno != EEXIST)
            return errno_error(std::string("no cgroup v2 mounted, and mkdir ") + kOwnMount);
        if (mount("cgroup2", kOwnMount, "cgroup2", MS_NOSUID | MS_NODEV | MS_NOEXEC, nullptr) != 0)
            return errno_error(std::string("no cgroup v2 mounted, and mounting one on ") +
                               kOwnMount);
        s->mount_.path = kOwnMount;
        s->mount_.mounted = true;
    }
    s->cgroup_ = opt.cgroup.empty() ? s->mount_.path : opt.cgroup;
    UniqueFd cg(::open(s->cgroup_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!cg.valid()) return errno_error("open cgroup " + s->cgroup_);

    libbpf_set_print(libbpf_print);
    s->skel_.reset(egress_bpf__open());
    if (!s->skel_) return libbpf_error("opening the BPF object", errno);
    s->skel_->rodata->wake_bytes = opt.wake_bytes;
    s->skel_->rodata->first_packets = opt.first_packets;
    if (int err =
            bpf_map__set_max_entries(s->skel_->maps.events, static_cast<uint32_t>(opt.ring_bytes)))
        return libbpf_error("ring buffer size", err);
    if (int err = egress_bpf__load(s->skel_.get()))
        return libbpf_error("loading the BPF programs", err);

    struct Attach {
        bpf_program* prog;
        bpf_link** link;
    };
    auto& p = s->skel_->progs;
    auto& l = s->skel_->links;
    for (Attach a :
         {Attach{p.em_connect4, &l.em_connect4}, Attach{p.em_connect6, &l.em_connect6},
          Attach{p.em_sendmsg4, &l.em_sendmsg4}, Attach{p.em_sendmsg6, &l.em_sendmsg6},
          Attach{p.em_dns_egress, &l.em_dns_egress}, Attach{p.em_dns_ingress, &l.em_dns_ingress}}) {
        *a.link = bpf_program__attach_cgroup(a.prog, cg.get());
        if (!*a.link)
            return libbpf_error(
                std::string("attaching ") + bpf_program__name(a.prog) + " to " + s->cgroup_, errno);
    }
    l.em_exec = bpf_program__attach(p.em_exec);
    if (!l.em_exec) return libbpf_error("attaching the sched_process_exec tracepoint", errno);

    s->ring_.reset(
        ring_buffer__new(bpf_map__fd(s->skel_->maps.events), on_record, s.get(), nullptr));
    if (!s->ring_) return libbpf_error("ring buffer", errno);
    return s;
}

void EbpfSource::SkeletonDeleter::operator()(egress_bpf* skel) const { egress_bpf__destroy(skel); }

void EbpfSource::RingDeleter::operator()(ring_buffer* ring) const { ring_buffer__free(ring); }

EbpfSource::CgroupMount::~CgroupMount() {
    if (mounted) umount2(path.c_str(), MNT_DETACH);
}

// The members free the ring buffer, destroy the skeleton and unmount, in that order.
EbpfSource::~EbpfSource() = default;

int EbpfSource::fd() const { return ring_buffer__epoll_fd(ring_.get()); }

int EbpfSource::on_record(void* ctx, void* data, size_t len) {
    auto* self = static_cast<EbpfSource*>(ctx);
    (*self->handler_)(data, len);
    return 0;
}

Result<uint64_t> EbpfSource::consume(const Handler& handler) {
    handler_ = &handler;
    int n = ring_buffer__consume(ring_.get());
    handler_ = nullptr;
    if (n < 0) return libbpf_error("reading the ring buffer", n);
    return static_cast<uint64_t>(n);
}

std::map<std::string, uint64_t> EbpfSource::stats() const {
    static constexpr const char* kNames[EM_STAT_COUNT] = {
        "lost_flow",   "lost_dns",   "lost_exec",      "dns_truncated",
        "udp_repeats", "lost_first", "first_truncated"};
    std::map<std::string, uint64_t> out;
    int cpus = libbpf_num_possible_cpus();
    if (cpus <= 0) return out;
    std::vector<uint64_t> values(static_cast<size_t>(cpus));
    int fd = bpf_map__fd(skel_->maps.stats);
    for (uint32_t i = 0; i < EM_STAT_COUNT; ++i) {
        uint64_t sum = 0;
        if (bpf_map_lookup_elem(fd, &i, values.data()) == 0)
            for (uint64_t v : values) sum += v;
        out[kNames[i]] = sum;
    }
    return out;
}

}  // namespace em
