#include "enforce/enforce.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/core.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <cstring>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <utility>

#include "common/json.h"
#include "common/log.h"
#include "common/time.h"
#include "common/unique_fd.h"
#include "dns/dns_message.h"
#include "enforce/engine.h"
#include "enforce/harden.h"
#include "enforce/reverse_lookups.h"
#include "packet/packet.h"
#include "sources/nfqueue/nfqueue.h"

namespace em {

namespace {

// Under load, the wait before the next read: kWaitPerPacketUs per packet the last read
// brought (more than one), at most kMaxWaitUs. See run_enforce.
constexpr int64_t kWaitPerPacketUs = 100, kMaxWaitUs = 1000;

// Lines about dropped DNS responses, which anyone who can reach the host may send: at most a
// burst of kDropLogBurst, then kDropLogPerSecond (the counts stay exact).
constexpr double kDropLogBurst = 20, kDropLogPerSecond = 10;
constexpr double kDropWarnBurst = 3, kDropWarnPerSecond = 0.2;

// A token bucket: take() says whether one more line may be written now, and counts the
// lines it refused since the last one it allowed.
class RateLimit {
  public:
    RateLimit(double burst, double per_second) : burst_(burst), per_ms_(per_second / 1000) {}
    bool take(int64_t now_ms) {
        tokens_ = std::min(burst_, tokens_ + static_cast<double>(now_ms - last_ms_) * per_ms_);
        last_ms_ = now_ms;
        if (tokens_ < 1) {
            ++suppressed_;
            return false;
        }
        tokens_ -= 1;
        return true;
    }
    /// Lines refused since the last allowed one; resets.
    uint64_t suppressed() { return std::exchange(suppressed_, 0); }

  private:
    double burst_, per_ms_, tokens_ = 0;
    int64_t last_ms_ = 0;
    uint64_t suppressed_ = 0;
};

enum class QueueKind { inbound_dns, dns, traffic };
struct QueueRole {
    QueueKind kind;
    size_t filter = 0;
};

int64_t now_ms() {
    return std::chrono::duration_cast<std::chrono::milliseconds>(
               std::chrono::system_clock::now().time_since_epoch())
        .count();
}

// The addresses of one filter's cachedHostnames, resolved through the system resolver.
std::vector<IpAddress> resolve_all(const std::vector<std::string>& names) {
    std::vector<IpAddress> out;
    for (const auto& name : names) {
        addrinfo hints{};
        hints.ai_family = AF_UNSPEC;
        hints.ai_socktype = SOCK_STREAM;
        addrinfo* res = nullptr;
        if (getaddrinfo(name.c_str(), nullptr, &hints, &res) != 0) {
            log_warn("enforce: cannot resolve cached hostname {}", name);
            continue;
        }
        for (addrinfo* a = res; a; a = a->ai_next) {
            if (a->ai_family == AF_INET) {
                auto* s = reinterpret_cast<sockaddr_in*>(a->ai_addr);
                out.push_back(IpAddress::v4(ntohl(s->sin_addr.s_addr)));
            } else if (a->ai_family == AF_INET6) {
                auto* s = reinterpret_cast<sockaddr_in6*>(a->ai_addr);
                out.push_back(IpAddress::v6(s->sin6_addr.s6_addr));
            }
        }
        freeaddrinfo(res);
    }
    return out;
}

// Resolves the cachedHostnames of every filter that has them, at start() and then every
// reCacheEvery, on its own thread; the loop picks the results up with take(). Started only
// once the queues are bound (the lookups' own queries and answers pass through them: the
// operator's rules send them to selfDNSQueue, judged by the self filter the config put first,
// and their answers to inboundDNSQueue, as egress-eddie's; resolved before, the answer
// arrived on a queue nobody read and was dropped). Capabilities are per thread: with `harden` the
// thread drops its own before its first lookup (the seccomp filter, installed with TSYNC, covers it
// anyway).
class Recacher {
  public:
    explicit Recacher(const EnforceConfig& cfg) : cfg_(cfg), pending_(cfg.filters.size()) {}
    void start(bool harden) {
        bool any = false;
        for (const auto& f : cfg_.filters) any = any || !f.cached_hostnames.empty();
        if (!any) return;
        std::promise<bool> dropped;  // before the caller hardens (and forbids capset)
        auto done = dropped.get_future();
        thread_ = std::thread([this, harden, &dropped] {
            if (harden) {
                if (auto r = drop_capabilities(); !r) {
                    log_error("enforce: cachedHostnames not resolved: {}", r.error().message);
                    dropped.set_value(false);
                    return;
                }
            }
            dropped.set_value(true);
            loop();
        });
        done.wait();
    }
    ~Recacher() {
        {
            std::lock_guard lock(mu_);
            stop_ = true;
        }
        cv_.notify_all();
        if (thread_.joinable()) thread_.join();
    }
    /// Hands new results to the engine; cheap when there are none (called per wakeup).
    void take(Engine& engine) {
        if (!ready_.load(std::memory_order_acquire)) return;
        std::lock_guard lock(mu_);
        for (size_t f = 0; f < pending_.size(); ++f)
            if (pending_[f]) {
                engine.set_cached(f, std::move(*pending_[f]));
                pending_[f].reset();
            }
        ready_.store(false, std::memory_order_relaxed);
    }

  private:
    void loop() {
        std::vector<int64_t> next(cfg_.filters.size(), 0);  // the first pass at once
        std::unique_lock lock(mu_);
        for (bool first = true; !stop_; first = false) {
            if (!first) cv_.wait_for(lock, std::chrono::milliseconds(200));
            for (size_t f = 0; f < next.size() && !stop_; ++f) {
                const auto& fc = cfg_.filters[f];
                if (fc.cached_hostnames.empty() || now_ms() < next[f]) continue;
                lock.unlock();
                auto ips = resolve_all(fc.cached_hostnames);
                lock.lock();
                pending_[f] = std::move(ips);
                ready_.store(true, std::memory_order_release);
                next[f] = now_ms() + fc.recache_every_ms;
            }
        }
    }

    const EnforceConfig& cfg_;
    std::mutex mu_;
    std::condition_variable cv_;
    std::vector<std::optional<std::vector<IpAddress>>> pending_;
    std::atomic<bool> ready_ = false;
    bool stop_ = false;
    std::thread thread_;
};

class Loop {
  public:
    Loop(const EnforceConfig& cfg, std::FILE* log) : cfg_(cfg), engine_(cfg), log_(log) {
        auto add = [&](const QueuePair& q, QueueKind k, size_t f) {
            if (q.ipv4) roles_.emplace_back(*q.ipv4, QueueRole{k, f});
            if (q.ipv6) roles_.emplace_back(*q.ipv6, QueueRole{k, f});
        };
        add(cfg.inbound_dns_queue, QueueKind::inbound_dns, 0);
        for (size_t f = 0; f < cfg.filters.size(); ++f) {
            add(cfg.filters[f].dns_queue, QueueKind::dns, f);
            add(cfg.filters[f].traffic_queue, QueueKind::traffic, f);
        }
    }
    // Traffic verdicts need the headers only (IPv6 with extension headers and the ports fit
    // in 128 bytes); DNS verdicts need the whole message and the conntrack state.
    std::vector<NfqueueSource::Queue> queues() const {
        std::vector<NfqueueSource::Queue> q;
        // allowByServerName: a traffic queue's first data segments are decoded whole.
        for (const auto& [n, r] : roles_) {
            const bool dns = r.kind != QueueKind::traffic;
            const bool whole = dns || cfg_.filters[r.filter].allow_by_server_name;
            q.push_back({n, whole ? 0xffffu : 128u, dns});
        }
        return q;
    }
    Engine& engine() { return engine_; }
    /// Where traffic() asks for the names of unknown addresses (lookupUnknownIPs).
    void set_reverse_lookups(ReverseLookups* l) { lookups_ = l; }
    /// Picks up the names the reverse lookups found; forgets those older than `max_keep_ms`.
    void take_reverse_names(int64_t max_keep_ms) {
        if (!lookups_) return;
        ptr_done_.clear();
        lookups_->take(ptr_done_);
        for (auto& [ip, name] : ptr_done_)
            ptr_names_.insert_or_assign(ip, std::pair{std::move(name), now_ms()});
        if (int64_t t = now_ms(); t >= next_ptr_sweep_) {
            std::erase_if(ptr_names_,
                          [&](const auto& e) { return e.second.second + max_keep_ms <= t; });
            next_ptr_sweep_ = t + 1000;
        }
    }
    std::map<std::string, uint64_t> counts() const {
        std::map<std::string, uint64_t> out;
        for (size_t k = 0; k < kKinds; ++k)
            for (int a = 0; a < 2; ++a)
                if (counts_[k][a])
                    out[std::string(kKindNames[k]) + (a ? ".accept" : ".drop")] = counts_[k][a];
        const EngineCounters& e = engine_.counters();
        for (const auto& [key, n] : {std::pair{"dns-response.drop.unsolicited", e.unsolicited},
                                     {"dns-response.drop.wrong_server", e.wrong_server},
                                     {"dns-response.drop.wrong_id", e.wrong_id},
                                     {"dns-response.drop.wrong_question", e.wrong_question},
                                     {"dns-query.drop.table_full", e.table_full},
                                     {"dns-query.drop.socket_full", e.socket_full},
                                     {"dns-query.drop.not_a_lookup", e.not_a_lookup},
                                     {"dns-query.drop.records", e.records_in_query},
                                     {"dns-query.drop.untracked", e.untracked_queries},
                                     {"dns-response.drop.untracked", e.untracked_responses},
                                     {"dns-response.drop.not_established", e.not_established},
                                     {"dns-query.unanswered", engine_.unanswered_queries()}})
            if (n) out[key] = n;
        ServerNameCounters sn;
        for (size_t f = 0; f < engine_.filters(); ++f) {
            const ServerNameCounters& c = engine_.server_names(f).counters();
            sn.held += c.held, sn.allowed += c.allowed, sn.denied += c.denied;
            sn.no_name += c.no_name, sn.malformed += c.malformed, sn.incomplete += c.incomplete;
            sn.timeout += c.timeout, sn.table_full += c.table_full, sn.unknown += c.unknown;
            sn.later += c.later;
        }
        for (const auto& [key, n] : {std::pair{"server-name.held", sn.held},
                                     {"server-name.allowed", sn.allowed},
                                     {"server-name.denied", sn.denied},
                                     {"server-name.no_name", sn.no_name},
                                     {"server-name.malformed", sn.malformed},
                                     {"server-name.incomplete", sn.incomplete},
                                     {"server-name.timeout", sn.timeout},
                                     {"server-name.table_full", sn.table_full},
                                     {"server-name.unknown", sn.unknown},
                                     {"server-name.later", sn.later}})
            if (n) out[key] = n;
        return out;
    }

    /// The time of the packets of one read from the queues (one clock reading for them all).
    void set_now() { now_ = now_ms(); }

    bool on_packet(uint16_t queue, const uint8_t* data, size_t len,
                   const NfqueueSource::Meta& meta) {
        const QueueRole* found = nullptr;
        for (const auto& [n, r] : roles_)  // a handful of queues: a scan beats a tree
            if (n == queue) {
                found = &r;
                break;
            }
        if (!found)
            return note("unknown", nullptr, queue, nullptr,
                        {false, "packet from an unconfigured queue"});
        const QueueRole& role = *found;
        PacketInfo p;
        if (!decode_ip_packet(data, len, p, why_))
            return note(kind_name(role.kind), nullptr, queue, nullptr,
                        {false, "undecodable packet"});
        if (role.kind == QueueKind::traffic)
            return note("traffic", &p, queue, &role, traffic(role.filter, p, meta));
        return note(role.kind == QueueKind::dns ? "dns-query" : "dns-response", &p, queue, &role,
                    dns(role, p, meta.conntrack ? ct_state(meta.ct_info) : CtState::unknown));
    }

  private:
    static const char* kind_name(QueueKind k) {
        return k == QueueKind::traffic ? "traffic"
               : k == QueueKind::dns   ? "dns-query"
                                       : "dns-response";
    }

    Verdict traffic(size_t filter, const PacketInfo& p, const NfqueueSource::Meta& meta) {
        server_name_ = nullptr;
        Verdict v = engine_.traffic(filter, p.dst, now_);
        const FilterConfig& fc = cfg_.filters[filter];
        if (fc.allow_by_server_name) {
            // Held connections leave marked (their packets come back), others unmarked (an
            // allowed one's packets stop coming once its mark is cleared).
            const bool judged =
                !v.accept && (p.proto == kProtoTcp || (p.proto == kProtoUdp && p.dport == 443));
            if (judged) {
                const ServerNameVerdict s = engine_.server_name(filter, p, now_);
                if (!engine_.server_names(filter).name().empty())
                    server_name_ = &engine_.server_names(filter).name();
                v = {s.accept, s.reason};
                if (s.held) meta.set_mark = meta.mark | kServerNameHeldMark;
            }
            if (v.accept && !meta.set_mark && (meta.mark & kServerNameHeldMark))
                meta.set_mark = meta.mark & ~kServerNameHeldMark;
            if (v.accept || judged || !fc.lookup_unknown_ips) return v;
        }
        if (v.accept || !fc.lookup_unknown_ips) return v;
        // A name is kept for allowAnswersFor (or a minute).
        const int64_t keep = std::max<int64_t>(fc.allow_answers_for_ms, 60000);
        auto known = ptr_names_.find(p.dst);
        if (is_private_address(p.dst))
            return {false, "no answer named the address (private: not looked up)"};
        if (known == ptr_names_.end() || known->second.second + keep <= now_) {
            if (!lookups_ || !lookups_->request(p.dst))
                return {false, "no answer named the address, and the reverse lookups are busy"};
            return {false, "no answer named the address yet: its reverse lookup is under way"};
        }
        const std::string& name = known->second.first;
        if (!name.empty() && engine_.name_allowed(filter, name, now_)) {
            engine_.allow_address(filter, p.dst, now_ + fc.allow_answers_for_ms);
            return {true, "reverse lookup named an allowed host"};
        }
        return {false, name.empty() ? "no answer named the address, nor its reverse lookup"
                                    : "the address's reverse lookup named a host not allowed"};
    }

    Verdict dns(const QueueRole& role, const PacketInfo& p, CtState ct) {
        msg_.qname.clear();  // no question logged for a packet dropped before decoding
        // Conntrack first, as egress-eddie: nothing on an untracked connection is looked at.
        const Verdict tracked = role.kind == QueueKind::dns ? engine_.query_conntrack(ct)
                                                            : engine_.response_conntrack(ct);
        if (!tracked.accept) {
            if (!warned_untracked_) {  // once: every DNS packet is untracked if it is a set-up
                warned_untracked_ = true;
                log_warn(
                    "enforce: DNS packet on a connection conntrack does not track dropped (a "
                    "-j CT --notrack rule, or conntrack not active in this namespace: a rule "
                    "with -m conntrack or -m state activates it)");
            }
            return tracked;
        }
        const uint8_t* data = p.payload;
        size_t len = p.payload_len;
        if (p.payload_len < p.payload_wire_len) return {false, "packet cut short"};
        if (p.proto != kProtoUdp && p.proto != kProtoTcp) return {false, "not UDP or TCP"};
        // As the query goes out: client → server.
        if (role.kind == QueueKind::dns)
            flow_ = DnsFlow{p.proto, p.src, p.dst, p.sport, p.dport};
        else
            flow_ = DnsFlow{p.proto, p.dst, p.src, p.dport, p.sport};
        if (p.proto == kProtoUdp) return dns_message(role, data, len, ct);
        if (len == 0) {
            if (role.kind == QueueKind::inbound_dns && ct == CtState::new_flow)
                return {false, "TCP segment from a DNS server not on an established connection"};
            return {true, "TCP segment without data"};
        }
        // Whole length-prefixed messages only; each must pass.
        Verdict last{false, "empty"};
        auto split = for_each_tcp_dns_message(data, len, [&](const uint8_t* m, size_t n) {
            last = dns_message(role, m, n, ct);
            return last.accept;
        });
        if (split == TcpDnsSplit::split)
            return {false, "DNS over TCP: message split across segments"};
        return last;
    }

    Verdict dns_message(const QueueRole& role, const uint8_t* data, size_t len, CtState ct) {
        if (auto r = decode_dns_into(data, len, msg_); !r) {
            msg_.qname.clear();
            return {false, "undecodable DNS message"};
        }
        return role.kind == QueueKind::dns ? engine_.query(role.filter, flow_, msg_, now_)
                                           : engine_.response(flow_, msg_, now_, ct);
    }

    bool note(const char* kind, const PacketInfo* p, uint16_t queue, const QueueRole* role,
              Verdict v) {
        // Counted in place: a string key built per packet cost more than the verdict.
        for (size_t k = 0; k < kKinds; ++k)
            if (kind == kKindNames[k] || std::strcmp(kind, kKindNames[k]) == 0) {
                ++counts_[k][v.accept];
                break;
            }
        // Dropped responses (anyone may send them) are logged at a bounded rate.
        const bool limited = !v.accept && role && role->kind == QueueKind::inbound_dns;
        if (limited && p && drop_warn_.take(now_)) {
            const uint64_t more = drop_warn_.suppressed();
            log_warn("enforce: DNS response from {}:{} to {}:{} dropped: {}{}{}",
                     p->src.to_string(), p->sport, p->dst.to_string(), p->dport, v.reason,
                     msg_.qname.empty() ? "" : "; question " + msg_.qname,
                     more ? fmt::format(" ({} more such drops not logged)", more) : "");
        }
        if (!log_) return v.accept;
        uint64_t suppressed = 0;
        if (limited) {
            if (!drop_log_.take(now_)) return v.accept;
            suppressed = drop_log_.suppressed();
        }
        line_.clear();
        line_ += "{\"time\":\"" + format_rfc3339_ms(now_) +
                 "\",\"queue\":" + std::to_string(queue) + ",\"filter\":";
        if (role && role->kind != QueueKind::inbound_dns)
            append_json_string(cfg_.filters[role->filter].name, line_);
        else if (v.filter >= 0)  // the filter that learnt from a response
            append_json_string(cfg_.filters[static_cast<size_t>(v.filter)].name, line_);
        else
            line_ += "null";
        line_ += ",\"kind\":\"";
        line_ += kind;
        line_ += v.accept ? "\",\"verdict\":\"accept\",\"reason\":"
                          : "\",\"verdict\":\"drop\",\"reason\":";
        append_json_string(v.reason, line_);
        if (p) {
            line_ += ",\"proto\":" + std::to_string(p->proto) + ",\"src\":\"" + p->src.to_string() +
                     "\",\"dst\":\"" + p->dst.to_string() +
                     "\",\"sport\":" + std::to_string(p->sport) +
                     ",\"dport\":" + std::to_string(p->dport);
            if (role && role->kind != QueueKind::traffic && !msg_.qname.empty()) {
                line_ += ",\"qname\":";
                append_json_string(msg_.qname, line_);
            }
            if (role && role->kind == QueueKind::traffic && server_name_) {
                line_ += ",\"server_name\":";
                append_json_string(*server_name_, line_);
            }
        }
        if (suppressed) line_ += ",\"suppressed\":" + std::to_string(suppressed);
        line_ += "}\n";
        std::fwrite(line_.data(), 1, line_.size(), log_);
        return v.accept;
    }

    const EnforceConfig& cfg_;
    Engine engine_;
    std::FILE* log_;
    std::vector<std::pair<uint16_t, QueueRole>> roles_;
    std::string why_;  // why the last undecodable packet did not decode (storage reused)
    static constexpr size_t kKinds = 4;
    static constexpr const char* kKindNames[kKinds] = {"traffic", "dns-query", "dns-response",
                                                       "unknown"};
    uint64_t counts_[kKinds][2] = {};
    ReverseLookups* lookups_ = nullptr;
    // Names of reverse lookups and when they came (lookupUnknownIPs).
    std::unordered_map<IpAddress, std::pair<std::string, int64_t>, IpAddressHash> ptr_names_;
    std::vector<std::pair<IpAddress, std::string>> ptr_done_;
    int64_t next_ptr_sweep_ = 0;
    DnsMessage msg_;
    DnsFlow flow_;
    const std::string* server_name_ = nullptr;  // the name a judged first packet claimed
    bool warned_untracked_ = false;
    RateLimit drop_log_{kDropLogBurst, kDropLogPerSecond};
    RateLimit drop_warn_{kDropWarnBurst, kDropWarnPerSecond};
    std::string line_;
    int64_t now_ = 0;
};

}  // namespace

Result<void> run_enforce(const EnforceConfig& cfg, const EnforceOptions& opt) {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGINT, SIGTERM}) sigaddset(&set, s);
    if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return errno_error("sigprocmask");
    UniqueFd sig(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!sig.valid()) return errno_error("signalfd");

    std::unique_ptr<std::FILE, int (*)(std::FILE*)> log_file(nullptr, std::fclose);
    std::FILE* log = nullptr;
    if (opt.log_path == "-") {
        log = stdout;
    } else if (!opt.log_path.empty()) {
        log_file.reset(std::fopen(opt.log_path.c_str(), "ae"));
        if (!log_file) return errno_error("enforce: cannot open " + opt.log_path);
        log = log_file.get();
    }

    if (opt.nice != 0 && setpriority(PRIO_PROCESS, 0, opt.nice) != 0)
        log_warn("enforce: cannot run at nice {} ({}); verdicts compete with the traffic", opt.nice,
                 std::strerror(errno));
    Loop loop(cfg, log);
    auto src = NfqueueSource::open(loop.queues(), opt.queue_bypass);
    if (!src) return src.error();
    Recacher recache(cfg);
    recache.start(opt.harden);  // after binding: see Recacher
    // lookupUnknownIPs: its own thread, after binding too (see reverse_lookups.h).
    std::unique_ptr<ReverseLookups> reverse;
    int64_t max_ptr_keep_ms = 0;
    for (const auto& f : cfg.filters)
        if (f.lookup_unknown_ips)
            max_ptr_keep_ms = std::max({max_ptr_keep_ms, f.allow_answers_for_ms, int64_t{60000}});
    if (max_ptr_keep_ms) {
        reverse = std::make_unique<ReverseLookups>();
        if (reverse->start(opt.harden)) loop.set_reverse_lookups(reverse.get());
    }
    if (opt.harden) {
        if (auto r = drop_capabilities(); !r) return Error{"enforce: " + r.error().message};
        if (auto r = install_seccomp_allowlist(); !r) return Error{"enforce: " + r.error().message};
    }
    for (const auto& q : loop.queues())
        if (q.conntrack && !(*src)->conntrack(q.num))
            log_warn(
                "enforce: NFQUEUE {}: the kernel does not report conntrack state "
                "(CONFIG_NETFILTER_NETLINK_GLUE_CT): DNS packets on untracked connections are "
                "not dropped; see docs/enforce.md",
                q.num);
    log_info("enforce: {} queues bound, {} filters{}", loop.queues().size(), cfg.filters.size(),
             opt.harden ? "; capabilities dropped but CAP_NET_ADMIN, seccomp allowlist on" : "");

    const NfqueueSource::Handler handler = [&](uint16_t q, const uint8_t* d, size_t n,
                                               const NfqueueSource::Meta& m) {
        return loop.on_packet(q, d, n, m);
    };
    const std::function<void()> on_read = [&] { loop.set_now(); };
    int64_t next_tick = now_ms() + 1000;
    Result<void> failure;
    for (;;) {
        pollfd p[2] = {{(*src)->fd(), POLLIN, 0}, {sig.get(), POLLIN, 0}};
        int rc = ::poll(p, 2, 1000);
        if (rc < 0 && errno != EINTR) {
            failure = errno_error("poll");
            break;
        }
        if (p[1].revents & POLLIN) break;
        recache.take(loop.engine());
        loop.take_reverse_names(max_ptr_keep_ms);
        if (p[0].revents & POLLIN) {
            const uint64_t before = (*src)->counters().packets;
            if (auto r = (*src)->drain(handler, on_read); !r) {
                failure = r;
                break;
            }
            if (log) std::fflush(log);
            // Under load (more than one packet per wakeup) wait before the next read, so
            // that one wakeup serves many packets: each wakeup (a context switch out and in)
            // costs ~3 us of CPU on a VM, more than judging a packet. The wait grows with
            // the packets that came while we were away, up to kMaxWaitUs of added latency;
            // a lone packet (one client, one connection after another) is judged at once.
            const auto got = static_cast<int64_t>((*src)->counters().packets - before);
            if (got > 1)
                std::this_thread::sleep_for(
                    std::chrono::microseconds(std::min(kMaxWaitUs, got * kWaitPerPacketUs)));
        }
        if (int64_t t = now_ms(); t >= next_tick) {
            loop.engine().expire(t);
            next_tick = t + 1000;
        }
    }
    if (log) std::fflush(log);
    std::string summary;
    for (const auto& [k, v] : loop.counts()) summary += fmt::format(" {}={}", k, v);
    const auto& c = (*src)->counters();
    log_info(
        "enforce: stopping; verdicts:{}; packets={} verdict_messages={} overruns={} unseen={} "
        "malformed={}",
        summary.empty() ? " none" : summary, c.packets, c.verdict_messages, c.overruns, c.unseen,
        c.malformed);
    return failure;
}

}  // namespace em
