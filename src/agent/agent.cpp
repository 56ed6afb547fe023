#include "agent/agent.h"

#include <signal.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include <filesystem>
#include <memory>
#include <mutex>

#include "agent/attribution.h"
#include "agent/first_payload_tracker.h"
#include "agent/flow_tracker.h"
#include "common/files.h"
#include "common/log.h"
#include "common/time.h"
#include "common/unique_fd.h"
#include "core/domain_folder.h"
#include "core/ledger.h"
#include "exporters/commit_render.h"
#include "exporters/jsonl/events.h"
#include "exporters/loki/loki.h"
#include "sources/pcap/pcap_source.h"

#include <fmt/core.h>

namespace em {

namespace {

int64_t monotonic_ms() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1000000;
}

// Everything downstream of the sources: ledger, folder, event outputs and the pipeline.
class Sink {
  public:
    static Result<std::unique_ptr<Sink>> open(const AgentSettings& s, bool persist) {
        std::unique_ptr<Sink> k(new Sink(s));
        auto folder = DomainFolder::create(static_cast<size_t>(s.max_names_per_domain));
        if (!folder) return folder.error();
        k->folder_ = std::make_unique<DomainFolder>(std::move(*folder));
        if (persist) {
            for (const auto& d : {s.state_dir, s.output_dir})
                if (auto r = make_directories(d, 0750); !r) return r.error();
            auto lock = lock_file(s.state_dir + "/consolidate.lock", s.lock_timeout_ms);
            if (!lock) return lock.error();
            k->lock_ = std::move(*lock);
            auto ledger =
                Ledger::open(s.state_dir + "/ledger.sqlite", s.pipeline.max_ips_per_domain);
            if (!ledger) return ledger.error();
            k->ledger_ = std::make_unique<Ledger>(std::move(*ledger));
            k->ledger_->set_caps(static_cast<size_t>(s.max_domains),
                                 static_cast<size_t>(s.max_ips));
        }
        if (!s.events.empty()) {
            auto w = JsonLinesWriter::open(s.events);
            if (!w) return w.error();
            k->events_ = std::make_unique<JsonLinesWriter>(std::move(*w));
        }
        if (!s.loki_url.empty()) {
            LokiConfig lc;
            lc.url = s.loki_url;
            lc.labels = s.loki_labels;
            auto l = LokiPusher::start(lc);
            if (!l) return l.error();
            k->loki_ = std::move(*l);
        }
        EventSink sink;
        if (k->events_ || k->loki_) {
            Sink* self = k.get();
            sink = [self](int64_t time_ms, const std::string& line) {
                if (self->events_) self->events_->write_line(line);
                if (self->loki_) self->loki_->push(time_ms * 1000000, line);
            };
        }
        k->pipeline_ = std::make_unique<Pipeline>(s.pipeline, k->folder_.get(), std::move(sink));
        if (s.attribute_processes && k->pipeline_) {
            auto a = FlowAttribution::create();
            if (!a) return Error{"attribute_processes: " + a.error().message};
            k->attribution_ = std::move(*a);
            FlowAttribution* at = k->attribution_.get();
            k->pipeline_->set_attributor([at](const PacketMeta& m) { return at->attribute(m); });
        }
        return k;
    }

    Pipeline& pipeline() { return *pipeline_; }
    Ledger* ledger() { return ledger_.get(); }
    JsonLinesWriter* events() { return events_.get(); }

    /// Commits what the pipeline holds (plus counter deltas of the sources) and rewrites the
    /// two files when something changed.
    Result<void> commit(const std::map<std::string, uint64_t>& source_counters,
                        const std::map<std::string, std::string>& cursors = {}) {
        if (events_) (void)events_->flush();
        Batch batch = pipeline_->take_batch();
        for (const auto& [k, v] : source_counters) {
            uint64_t& last = committed_counters_[k];
            if (v > last) batch.count(k, v - last);
            last = v;
        }
        if (loki_) {
            auto c = loki_->counters();
            uint64_t dropped = c.dropped_queue_full + c.dropped_failed;
            if (dropped > loki_dropped_) batch.count("loki.dropped", dropped - loki_dropped_);
            loki_dropped_ = dropped;
        }
        if (!ledger_) return {};
        // Until the first render, commit and render whatever the batch holds: the files
        // exist (and reflect the ledger) from the start.
        const CommitRequest req{
            .batch = batch,
            .cursors = cursors,
            .moved = !batch.empty() || !batch.counters().empty() || !cursors.empty(),
            .force = !rendered_once_,
            .folder = folder_.get(),
            .on_committed =
                [&] {
                    report_losses(batch);
                    if (ledger_->last_folded() > 0 ||
                        batch.counters().count("dnsmasq.folded_queries"))
                        log_warn(
                            "more than {} names under one registrable domain: {} new names "
                            "folded into *.<domain> entries",
                            folder_->limit(), ledger_->last_folded());
                    if (ledger_->last_capacity_folded() > 0)
                        log_warn("{}", ledger_->capacity_warning());
                },
        };
        auto done = commit_and_render(*ledger_, output_dir_, req);
        if (!done) return done.error();
        if (done->rendered) rendered_once_ = true;
        return {};
    }

    void reconfigure(const AgentSettings& s) {
        pipeline_->reconfigure(s.pipeline);
        if (events_)
            if (auto r = events_->reopen(); !r) log_warn("{}", r.error().message);
    }

  private:
    explicit Sink(const AgentSettings& s) : output_dir_(s.output_dir) {}

    static void report_losses(const Batch& b) {
        for (const auto& [k, v] : b.counters()) {
            bool loss = k.find("lost") != std::string::npos ||
                        k.find("overruns") != std::string::npos ||
                        k.find("kernel_drops") != std::string::npos ||
                        k.find("dropped") != std::string::npos;
            if (loss && v > 0) log_warn("{}: {} events lost since the last commit", k, v);
        }
    }

    std::string output_dir_;
    UniqueFd lock_;
    std::unique_ptr<DomainFolder> folder_;
    std::unique_ptr<Ledger> ledger_;
    std::unique_ptr<JsonLinesWriter> events_;
    std::unique_ptr<LokiPusher> loki_;
    std::unique_ptr<FlowAttribution> attribution_;  // before the pipeline that calls it
    std::unique_ptr<Pipeline> pipeline_;
    std::map<std::string, uint64_t> committed_counters_;
    uint64_t loki_dropped_ = 0;
    bool rendered_once_ = false;
};

size_t resident_bytes() {
    FILE* f = fopen("/proc/self/statm", "re");
    if (!f) return 0;
    unsigned long size = 0, resident = 0;
    int n = fscanf(f, "%lu %lu", &size, &resident);
    fclose(f);
    return n == 2 ? resident * static_cast<size_t>(sysconf(_SC_PAGESIZE)) : 0;
}

Result<UniqueFd> block_signals() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM, SIGHUP}) sigaddset(&set, s);
    if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return errno_error("sigprocmask");
    int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    if (fd < 0) return errno_error("signalfd");
    return UniqueFd(fd);
}

// Identity of a capture file: its size and a hash of its first 64 KiB.
Result<std::string> capture_identity(const std::string& path) {
    std::error_code ec;
    auto size = std::filesystem::file_size(path, ec);
    if (ec) return Error{path + ": " + ec.message()};
    auto head = read_file_head(path, 64 * 1024, path);
    if (!head) return head.error();
    uint64_t h = 1469598103934665603ull;  // FNV-1a: an identity, not a defence
    for (unsigned char c : *head) h = (h ^ c) * 1099511628211ull;
    return fmt::format("{}:{:016x}", size, h);
}

}  // namespace

Result<ReplaySummary> run_replay(const std::string& path, const AgentSettings& s) {
    const bool persist = !s.state_dir.empty();
    auto opened = PcapSource::open_file(path);
    if (!opened) return opened.error();
    auto identity = capture_identity(path);
    if (!identity) return identity.error();
    auto sink = Sink::open(s, persist);
    if (!sink) return sink.error();
    Sink& k = **sink;
    ReplaySummary sum;
    const std::string key = "pcap:" + *identity;
    if (persist) {
        auto seen = k.ledger()->cursor(key);
        if (!seen) return seen.error();
        if (*seen) {
            sum.already_replayed = true;
            return sum;
        }
    }
    FlowTracker tracker;
    FirstPayloadTracker first;
    Pipeline& p = k.pipeline();
    for (;;) {
        auto more = (*opened)->drain([&](const PacketMeta& m, const PacketInfo& pk) {
            if (!m.dst.is_loopback()) {
                const bool opens = tracker.is_new_flow(pk, m.time_ms);
                if (opens) p.on_flow(m);
                if (first.is_first_payload(pk, opens, m.time_ms)) p.on_first_payload(m, pk);
            }
            if ((pk.proto == kProtoUdp || pk.proto == kProtoTcp) &&
                (pk.sport == 53 || pk.dport == 53))
                p.on_dns_packet(m, pk);
        });
        if (!more) return more.error();
        if (!*more) break;
    }
    const auto& c = (*opened)->counters();
    const auto& bc = p.batch().counters();
    auto get = [&](const char* n) {
        auto it = bc.find(n);
        return it == bc.end() ? uint64_t{0} : it->second;
    };
    sum.packets = c.packets;
    sum.flows = get("flows");
    sum.queries = get("dns.queries");
    sum.responses = get("dns.responses");
    std::map<std::string, uint64_t> counters{
        {"pcap.packets", c.packets}, {"pcap.malformed", c.malformed}, {"pcap.not_ip", c.not_ip}};
    std::map<std::string, std::string> cursors;
    if (persist) cursors[key] = path;
    if (auto r = k.commit(counters, cursors); !r) return r.error();
    return sum;
}

Result<void> run_agent(const AgentSettings& settings, const ReloadSettings& reload) {
    return run_agent(settings, reload, make_live_source);
}

Result<void> run_agent(const AgentSettings& given, const ReloadSettings& reload,
                       const LiveSourceFactory& make_source) {
    AgentSettings s = given;
    auto signals = block_signals();
    if (!signals) return signals.error();
    auto sink = Sink::open(s, true);
    if (!sink) return sink.error();
    Sink& k = **sink;
    auto source = make_source(s.source);
    if (!source) return source.error();
    LiveSource& src = **source;
    // Render once the source captures, so the files exist (and reflect the ledger) from the
    // beginning — and their existence says the agent sees traffic (loading the eBPF
    // programs takes a few hundred milliseconds: traffic before that is not seen).
    if (auto r = k.commit({}); !r) return r;

    // The endpoint is a process of its own that leaves root (serve_child.h); it reads the
    // files and the ledger itself, and gets the live counters of the source and the pipeline
    // from here every second. Should it die, it is started again at most every 10 s.
    std::unique_ptr<ServeChild> server;
    ServeConfig serve_cfg;
    int64_t next_spawn = 0;
    if (s.serve) {
        serve_cfg = *s.serve;
        serve_cfg.output_dir = s.output_dir;
        serve_cfg.state_dir = s.state_dir;
        if (serve_cfg.user.empty() && ::geteuid() == 0)
            log_warn("agent: the endpoint runs as root; set serve.user to an unprivileged user");
        auto started = ServeChild::spawn(serve_cfg);
        if (!started) return Error{"serve: " + started.error().message};
        server = std::move(*started);
        log_info("agent: serving the files on {} (process {})", serve_cfg.listen, server->pid());
    }
    auto refresh_live = [&] {
        if (!s.serve) return;
        auto c = src.counters();
        c["agent.cache_entries"] = k.pipeline().cache().entries();
        c["agent.cache_evicted"] = k.pipeline().cache().evicted();
        if (server && server->publish(c)) return;
        if (server) {
            log_error("agent: the endpoint process {} is gone; starting it again", server->pid());
            server.reset();
        }
        if (monotonic_ms() < next_spawn) return;
        next_spawn = monotonic_ms() + 10000;
        auto again = ServeChild::spawn(serve_cfg);
        if (!again) {
            log_error("agent: serve: {}", again.error().message);
            return;
        }
        server = std::move(*again);
        server->publish(c);
    };
    refresh_live();

    UniqueFd ep(epoll_create1(EPOLL_CLOEXEC));
    if (!ep.valid()) return errno_error("epoll_create1");
    auto watch = [&](int fd) -> Result<void> {
        epoll_event ev{};
        ev.events = EPOLLIN;
        ev.data.fd = fd;
        if (epoll_ctl(ep.get(), EPOLL_CTL_ADD, fd, &ev) != 0) return errno_error("epoll_ctl");
        return {};
    };
    for (int fd : src.fds())
        if (auto r = watch(fd); !r) return r;
    if (auto r = watch(signals->get()); !r) return r;
    log_info("agent: capturing with {}; flushing every {} ms to {}", src.name(),
             s.flush_interval_ms, s.output_dir);

    int64_t next_flush = monotonic_ms() + s.flush_interval_ms;
    int64_t next_tick = monotonic_ms() + 1000;
    bool stop = false;
    Result<void> failure;
    while (!stop) {
        int64_t now = monotonic_ms();
        int timeout = static_cast<int>(std::max<int64_t>(0, std::min(next_flush, next_tick) - now));
        const int max_wait = src.max_wait_ms();
        if (max_wait >= 0) timeout = std::min(timeout, max_wait);
        epoll_event evs[8];
        int n = epoll_wait(ep.get(), evs, 8, timeout);
        if (n < 0 && errno != EINTR) return errno_error("epoll_wait");
        bool drained = max_wait >= 0;  // a batching source is read on every wake-up
        for (int i = 0; i < n; ++i) {
            if (evs[i].data.fd != signals->get()) {
                drained = true;
                continue;
            }
            signalfd_siginfo si{};
            while (read(signals->get(), &si, sizeof si) == sizeof si) {
                if (si.ssi_signo == SIGHUP) {
                    auto fresh = reload ? reload() : Result<AgentSettings>(s);
                    if (!fresh) {
                        log_error("reload: {} (keeping the running settings)",
                                  fresh.error().message);
                        continue;
                    }
                    if (fresh->source.source != s.source.source)
                        log_warn("reload: the source changes only on restart");
                    s.pipeline = fresh->pipeline;
                    s.flush_interval_ms = fresh->flush_interval_ms;
                    k.reconfigure(s);
                    log_info("reload: settings re-read");
                } else {
                    log_info("agent: signal {}: stopping", si.ssi_signo);
                    stop = true;
                }
            }
        }
        if (drained) {
            if (auto r = src.drain(k.pipeline()); !r) {
                failure = r;
                break;
            }
            // Let events pile up for a millisecond: one wakeup per batch, not per packet
            // (FIELD-NOTES: wakeups dominate the cost). A batching source wakes us only
            // once a batch is waiting, or on its timer.
            if (max_wait < 0) {
                timespec pause{0, 1000000};
                nanosleep(&pause, nullptr);
            }
        }
        now = monotonic_ms();
        bool over_memory = false;
        if (now >= next_tick) {
            src.tick();
            k.pipeline().tick(unix_now() * 1000);
            next_tick = now + 1000;
            refresh_live();
            const size_t limit = size_t(s.memory_limit_mb) << 20;
            over_memory = limit && resident_bytes() > limit / 10 * 8;
        }
        if (over_memory) {
            if (auto r = k.commit(src.counters()); !r) log_error("commit: {}", r.error().message);
            next_flush = now + s.flush_interval_ms;
            if (resident_bytes() > (size_t(s.memory_limit_mb) << 20) / 10 * 8 &&
                s.pipeline.cache_entries > 1000) {
                s.pipeline.cache_entries /= 2;
                k.pipeline().reconfigure(s.pipeline);
                log_warn(
                    "memory: resident {} MB near the {} MB limit: answer cache bound "
                    "lowered to {} entries",
                    resident_bytes() >> 20, s.memory_limit_mb, s.pipeline.cache_entries);
            }
        }
        if (now >= next_flush || k.pipeline().flush_wanted()) {
            if (auto r = k.commit(src.counters()); !r) log_error("commit: {}", r.error().message);
            next_flush = now + s.flush_interval_ms;
        }
    }
    // Final: read what is left, commit, export, remove the capture rules.
    if (failure.ok()) (void)src.drain(k.pipeline());
    server.reset();
    auto committed = k.commit(src.counters());
    auto removed = src.shutdown();
    if (!failure) return failure;
    if (!committed) return committed;
    return removed;
}

}  // namespace em
