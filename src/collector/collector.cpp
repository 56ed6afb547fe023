#include "collector/collector.h"

#include <fmt/core.h>
#include <unistd.h>

#include <algorithm>
#include <future>
#include <optional>
#include <set>

#include "collector/actions.h"
#include "collector/alerts.h"
#include "collector/correlate.h"
#include "collector/history.h"
#include "collector/history_uses.h"
#include "collector/report.h"
#include "collector/rules.h"
#include "common/log.h"
#include "common/time.h"
#include "format/parser.h"

namespace em {

namespace {

constexpr std::string_view kRejected = "rejected";
constexpr int64_t kPruneEvery = 86400;

// A host's fetch result, hashed and parsed (on the worker thread).
struct Prepared {
    enum class Kind { failed, not_modified, unchanged, rejected, snapshot } kind = Kind::failed;
    std::string error;  // failed, rejected
    FileMeta meta;
    std::optional<Snapshot> snapshot;
    std::optional<HostState> stored_state;  // snapshot: the host's state, read on the worker
    // snapshot: flow-names.log, parsed, when the host sent one that is good; names_error when
    // it sent one that is not (the snapshot stands without names).
    std::optional<std::vector<FlowNameFileEntry>> names;
    std::string names_error;
    // Any good fetch: process-uses.log as accepted (stored for the dashboard), with its
    // hash and ETag; uses_same when its content is the one stored (the ETag only is kept);
    // uses_absent when the host sent none (the stored ones are dropped); uses_error when it
    // sent one that is not good (the stored ones stay). A 304 sets none of them.
    std::optional<std::string> uses;
    std::string uses_hash, uses_etag;
    bool uses_same = false, uses_absent = false;
    std::string uses_error;
};

// What the worker may read of a host's stored row.
struct StoredFiles {
    std::string domains_hash, ips_hash;
    bool has_snapshot = false;
    int64_t id = 0;
    std::string uses_hash;  // of the stored process uses; empty: none
};

// process-uses.log of a good fetch (Prepared's uses_* fields).
void prepare_uses(FetchResult& r, const std::string& host, const StoredFiles* stored, Prepared& p) {
    if (!r.uses.error.empty()) {
        p.uses_error = host + ": " + kProcessUsesFile + ": " + r.uses.error;
        return;
    }
    if (!r.uses.present) {
        p.uses_absent = true;
        return;
    }
    if (r.uses.not_modified) return;
    p.uses_etag = std::move(r.uses_etag);
    p.uses_hash = sha256_hex(r.uses.text);
    if (stored && stored->uses_hash == p.uses_hash) {
        p.uses_same = true;
        return;
    }
    SnapshotLimits limits;
    limits.max_bytes = kMaxProcessUsesBytes;
    limits.max_lines = kMaxProcessUsesLines;
    if (auto uses = parse_process_uses_file(r.uses.text, host, limits))
        p.uses = std::move(r.uses.text);
    else
        p.uses_error = uses.error().message;
}

// `reader`: where the stored state of a host with a new snapshot is read from (null: the
// writer reads it in ingest).
Prepared prepare(FetchResult r, const std::string& host, const StoredFiles* stored,
                 StateReader* reader) {
    Prepared p;
    if (!r.ok) {
        p.error = r.error.empty() ? "fetch failed" : std::move(r.error);
        return p;
    }
    p.meta.domains_etag = std::move(r.domains_etag);
    p.meta.ips_etag = std::move(r.ips_etag);
    prepare_uses(r, host, stored, p);
    if (r.not_modified) {
        p.kind = Prepared::Kind::not_modified;
        return p;
    }
    p.meta.domains_hash = sha256_hex(r.domains);
    p.meta.ips_hash = sha256_hex(r.ips);
    if (stored && stored->has_snapshot && stored->domains_hash == p.meta.domains_hash &&
        stored->ips_hash == p.meta.ips_hash) {
        p.kind = Prepared::Kind::unchanged;
        return p;
    }
    auto snap = parse_snapshot(r.domains, r.ips, host);
    if (!snap) {
        p.kind = Prepared::Kind::rejected;
        p.error = snap.error().message;
        return p;
    }
    p.kind = Prepared::Kind::snapshot;
    p.snapshot = std::move(snap.value());
    if (!r.names.error.empty()) {
        p.names_error = host + ": " + kFlowNamesFile + ": " + r.names.error;
    } else if (r.names.present) {
        auto names = parse_flow_names_file(r.names.text, host);
        if (names)
            p.names = std::move(names.value());
        else
            p.names_error = names.error().message;
    }
    if (reader && stored && stored->has_snapshot && stored->id) {
        // Decoding the stored state is a third of a host's ingest; done here it overlaps
        // the writer's work on the previous host. A failed read is left to the writer.
        if (auto st = reader->load(stored->id)) p.stored_state = std::move(st.value());
    }
    return p;
}

class CollectorImpl : public Collector {
  public:
    CollectorImpl(std::unique_ptr<HistoryStore> store, AlertBook book, const CollectorConfig& c)
        : store_(std::move(store)),
          book_(std::move(book)),
          config_(c),
          rare_(c.rules.rare),
          stale_(c.rules.stale),
          volume_(c.rules.volume_spike) {}

    Result<void> setup(std::vector<std::unique_ptr<AlertSink>> extra);
    std::map<std::string, PrevTags> etags() override;
    Result<CycleSummary> run_cycle(const std::vector<HostSpec>& hosts,
                                   const std::vector<FetchResult>& results, int64_t now) override;
    Result<CycleSummary> run_cycle(const std::vector<HostSpec>& hosts, const FetchSource& results,
                                   int64_t now) override;
    Result<std::string> report(ReportFormat format) override {
        return render_report(*store_, book_, format, unix_now());
    }

  private:
    Result<void> apply(const HostSpec& spec, Prepared& p, int64_t now, CycleSummary& sum);
    Result<void> apply_uses(const HostRecord& h, Prepared& p, int64_t now, CycleSummary& sum);
    Result<void> finish_cycle(const std::vector<HostSpec>& hosts, int64_t now, CycleSummary& sum);
    Result<void> resolve_disabled(int64_t now, std::vector<AlertEvent>& events);
    Result<void> group_fleet(const std::string& rule, int64_t now, std::vector<AlertEvent>& events);
    Result<void> load_actions(int64_t now, std::vector<AlertEvent>& events);
    bool allowed(std::string_view host, std::string_view rule, std::string_view key) const;
    void dispatch(const std::vector<AlertEvent>& events, CycleSummary& sum);

    std::unique_ptr<HistoryStore> store_;
    std::unique_ptr<StateReader> reader_;  // used by the worker, one host at a time
    AlertBook book_;
    CollectorConfig config_;
    std::vector<std::unique_ptr<HostRule>> host_rules_;  // evaluated on changed hosts
    RareRule rare_;
    StaleRule stale_;
    VolumeSpikeRule volume_;
    AlertDispatcher sinks_;
    std::vector<std::string> disabled_;
    // The findings of the rules grouped across hosts (new_domain, direct_ip), by rule, held
    // from each host's apply() to finish_cycle().
    struct Deferred {
        std::string host;
        std::vector<std::string> tags;
        RuleFindings found;
    };
    std::map<std::string, std::vector<Deferred>> deferred_;
    std::vector<AllowEntry> allows_;  // the operators', read at each cycle's start
    std::vector<Silence> silences_;   // active at this cycle's start
    std::string warning_;
    bool first_cycle_ = true;
};

Result<void> CollectorImpl::setup(std::vector<std::unique_ptr<AlertSink>> extra) {
    const RulesConfig& r = config_.rules;
    auto enable = [&](bool on, std::string_view name, auto make) {
        if (on)
            host_rules_.push_back(make());
        else
            disabled_.emplace_back(name);
    };
    enable(r.new_domain.enabled, "new_domain",
           [&] { return std::make_unique<NewDomainRule>(r.new_domain); });
    enable(r.capacity.enabled, "capacity", [&] { return std::make_unique<CapacityRule>(); });
    enable(r.direct_ip.enabled, "direct_ip",
           [&] { return std::make_unique<DirectIpRule>(r.direct_ip); });
    enable(r.tunnel.enabled, "tunnel", [&] { return std::make_unique<TunnelRule>(r.tunnel); });
    enable(r.dga.enabled, "dga", [&] { return std::make_unique<DgaRule>(r.dga); });
    if (r.public_resolver.enabled) {
        // The shipped list may be absent (a build run from the source tree): then the rule is
        // off with a warning. A list named in the config must load.
        const bool named = !r.public_resolver.list.empty();
        const std::string path = named ? r.public_resolver.list : kDefaultResolverList;
        if (!named && ::access(path.c_str(), R_OK) != 0) {
            log_warn(
                "public resolver list {} not found: rule public_resolver is off "
                "(set rules.public_resolver.list)",
                path);
            disabled_.emplace_back("public_resolver");
        } else {
            auto list = ResolverList::load(path);
            if (!list) return list.error();
            host_rules_.push_back(std::make_unique<PublicResolverRule>(std::move(list.value())));
        }
    } else {
        disabled_.emplace_back("public_resolver");
    }
    if (!r.volume_spike.enabled) disabled_.emplace_back("volume_spike");
    if (!r.rare.enabled) disabled_.emplace_back(RareRule::kName);
    if (!r.stale.enabled) disabled_.emplace_back(StaleRule::kName);

    const AlertsConfig& a = config_.alerts;
    if (a.to_stdout) sinks_.add(make_stdout_sink());
    if (!a.jsonl.empty()) {
        auto s = make_jsonl_sink(a.jsonl);
        if (!s) return s.error();
        sinks_.add(std::move(s.value()));
    }
    if (a.syslog) sinks_.add(make_syslog_sink());
    if (!a.webhook.empty()) {
        auto s = make_webhook_sink(
            WebhookOptions{a.webhook, a.webhook_ca_file, static_cast<int>(a.webhook_timeout_ms)});
        if (!s) return s.error();
        sinks_.add(std::move(s.value()));
    }
    for (auto& s : extra) sinks_.add(std::move(s));
    return {};
}

std::map<std::string, PrevTags> CollectorImpl::etags() {
    std::map<std::string, PrevTags> out;
    auto hosts = store_->hosts();
    if (!hosts) {
        log_warn("{}", hosts.error().message);
        return out;
    }
    auto uses = process_uses_tags(store_->db());
    if (!uses) log_warn("{}", uses.error().message);
    for (auto& h : *hosts) {
        std::string uses_etag;
        if (uses)
            if (auto it = uses->find(h.id); it != uses->end()) uses_etag = it->second.first;
        if (!h.domains_etag.empty() || !h.ips_etag.empty() || !uses_etag.empty())
            out.emplace(h.name, PrevTags{h.domains_etag, h.ips_etag, uses_etag});
    }
    return out;
}

// A good fetch's process uses (Prepared): stored, kept or dropped, in the host's transaction.
Result<void> CollectorImpl::apply_uses(const HostRecord& h, Prepared& p, int64_t now,
                                       CycleSummary& sum) {
    if (!p.uses_error.empty()) {
        ++sum.uses_rejected;
        log_warn("{}: process uses rejected (the host page keeps the last good ones): {}", h.name,
                 p.uses_error);
        return {};
    }
    if (p.uses)
        return store_process_uses(store_->db(), h.id, now, p.uses_etag, p.uses_hash, *p.uses);
    if (p.uses_same) return set_process_uses_etag(store_->db(), h.id, p.uses_etag);
    if (p.uses_absent) return forget_process_uses(store_->db(), h.id);
    return {};
}

void CollectorImpl::dispatch(const std::vector<AlertEvent>& all, CycleSummary& sum) {
    if (all.empty()) return;
    // A silenced alert's transitions are recorded, but no sink hears of them.
    for (const auto& e : all)
        ++(!e.open ? sum.alerts_resolved : e.updated ? sum.alerts_updated : sum.alerts_opened);
    std::vector<AlertEvent> heard;  // only filled when some silence is active
    if (!silences_.empty())
        for (const auto& e : all) {
            if (silenced_until(silences_, e.host, e.rule, e.key))
                ++sum.alerts_silenced;
            else
                heard.push_back(e);
        }
    uint64_t before = 0, after = 0;
    for (const auto& c : sinks_.counts()) before += c.failed;
    sinks_.dispatch(silences_.empty() ? all : heard);
    for (const auto& c : sinks_.counts()) after += c.failed;
    sum.sink_failures += after - before;
}

Result<CycleSummary> CollectorImpl::run_cycle(const std::vector<HostSpec>& hosts,
                                              const std::vector<FetchResult>& results,
                                              int64_t now) {
    if (results.size() != hosts.size())
        return Error{
            fmt::format("run_cycle: {} hosts but {} fetch results", hosts.size(), results.size())};
    return run_cycle(hosts, FetchSource([&](size_t i) { return results[i]; }), now);
}

Result<CycleSummary> CollectorImpl::run_cycle(const std::vector<HostSpec>& hosts,
                                              const FetchSource& results, int64_t now) {
    CycleSummary sum;
    sum.hosts = hosts.size();
    std::map<std::string, StoredFiles> stored;
    {
        auto rows = store_->hosts();
        if (!rows) return rows.error();
        auto uses = process_uses_tags(store_->db());
        if (!uses) return uses.error();
        for (auto& h : *rows) {
            auto it = uses->find(h.id);
            stored[h.name] = StoredFiles{h.domains_hash, h.ips_hash, h.first_fetch != 0, h.id,
                                         it == uses->end() ? "" : it->second.second};
        }
    }
    {
        if (first_cycle_ && !warning_.empty()) log_warn("{}", warning_);
        std::vector<AlertEvent> events;
        Transaction tx(*store_);
        if (auto r = tx.begin(); !r) return r.error();
        if (first_cycle_)
            if (auto r = resolve_disabled(now, events); !r) return r.error();
        if (auto r = load_actions(now, events); !r) return r.error();
        if (auto r = tx.commit(); !r) return r.error();
        dispatch(events, sum);
        first_cycle_ = false;
    }
    rare_.begin_cycle(*store_);
    deferred_.clear();
    if (!reader_) {
        auto r = StateReader::open(store_->target());
        if (r)
            reader_ = std::move(r.value());
        else  // not fatal: the writer reads the states itself
            log_warn("{} (host states are read by the writer)", r.error().message);
    }

    // Host i + 1 is fetched from the source, hashed and parsed on a worker while host i is
    // applied: at most two hosts' files are in memory.
    auto start = [&](size_t i) {
        auto it = stored.find(hosts[i].name);
        const StoredFiles* s = it == stored.end() ? nullptr : &it->second;
        return std::async(std::launch::async, [&results, &hosts, i, s, this] {
            FetchResult r = results(i);
            if (r.host != hosts[i].name && !r.host.empty())
                log_warn("fetch result for {} given for host {}", r.host, hosts[i].name);
            return prepare(std::move(r), hosts[i].name, s, reader_.get());
        });
    };
    std::future<Prepared> next;
    if (!hosts.empty()) next = start(0);
    for (size_t i = 0; i < hosts.size(); ++i) {
        Prepared p = next.get();
        if (i + 1 < hosts.size()) next = start(i + 1);
        if (auto r = apply(hosts[i], p, now, sum); !r) {
            if (next.valid()) next.wait();
            return r.error();
        }
    }
    if (auto r = finish_cycle(hosts, now, sum); !r) return r.error();
    auto open = book_.open_count();
    if (!open) return open.error();
    sum.alerts_open = static_cast<size_t>(*open);
    return sum;
}

Result<void> CollectorImpl::apply(const HostSpec& spec, Prepared& p, int64_t now,
                                  CycleSummary& sum) {
    using Kind = Prepared::Kind;
    std::vector<AlertEvent> events;
    HostState state;
    std::optional<IngestOutcome> outcome;
    Transaction tx(*store_);
    if (auto r = tx.begin(); !r) return r.error();
    auto host = store_->host(spec.name, spec.tags, now);
    if (!host) return host.error();
    HostRecord& h = *host;
    auto reconcile = [&](std::string_view rule, const std::vector<Finding>& f) {
        return book_.reconcile(h.name, h.tags, rule, f, now, events);
    };
    const std::vector<Finding> none;
    switch (p.kind) {
        case Kind::failed:
            ++sum.failed;
            log_warn("{}", p.error);  // starts with the host and its transport
            if (auto r = store_->record_failure(h, now, p.error); !r) return r;
            break;
        case Kind::rejected: {
            ++sum.rejected;
            log_warn("{}: snapshot rejected: {}", h.name, p.error);
            if (auto r = store_->record_failure(h, now, "rejected: " + p.error); !r) return r;
            std::string msg = "snapshot rejected, history not updated: " + p.error;
            if (msg.size() > 2000) msg.resize(2000);
            if (auto r = reconcile(kRejected, {Finding{h.name, msg}}); !r) return r;
            break;
        }
        case Kind::not_modified:
        case Kind::unchanged:
            ++(p.kind == Kind::not_modified ? sum.not_modified : sum.fetched);
            // The files are the accepted ones: no rejection stands, no spike in this fetch.
            if (auto r = store_->record_unchanged(h, now, &p.meta); !r) return r;
            if (auto r = apply_uses(h, p, now, sum); !r) return r;
            if (auto r = reconcile(kRejected, none); !r) return r;
            if (config_.rules.volume_spike.enabled)
                if (auto r = reconcile(volume_.name(), none); !r) return r;
            if (!p.uses && !p.uses_absent && events.empty())
                if (auto r = store_->status_only(); !r) return r;
            break;
        case Kind::snapshot: {
            ++sum.fetched;
            auto oc = store_->ingest(h, std::move(*p.snapshot), p.meta, now, state,
                                     p.stored_state ? &*p.stored_state : nullptr);
            p.snapshot.reset();
            if (!oc) return oc.error();
            outcome = std::move(oc.value());
            if (!p.names_error.empty()) {
                ++sum.names_rejected;
                log_warn("{}: flow names rejected (the snapshot stands without them): {}", h.name,
                         p.names_error);
            }
            if (auto r = apply_uses(h, p, now, sum); !r) return r;
            HostContext ctx{h, state, *outcome, *store_, now, p.names ? &*p.names : nullptr};
            std::vector<RuleFindings> found;
            for (const auto& rule : host_rules_) {
                found.push_back(RuleFindings{std::string(rule->name()), {}, {}});
                rule->evaluate(ctx, found.back().findings);
            }
            if (config_.rules.volume_spike.enabled) {
                found.push_back(RuleFindings{std::string(volume_.name()), {}, {}});
                volume_.evaluate(ctx, found.back().findings);
            }
            for (auto& f : found)
                std::erase_if(f.findings,
                              [&](const Finding& x) { return allowed(h.name, f.rule, x.key); });
            correlate(found, [&](std::string_view n) { return store_->base(n); });
            cap_findings(found, static_cast<size_t>(config_.rules.max_alerts_per_host));
            for (auto& f : found) {
                if (config_.rules.fleet_hosts > 0 &&
                    (f.rule == "new_domain" || f.rule == "direct_ip")) {
                    auto& of_rule = deferred_[f.rule];  // before f is moved from
                    of_rule.push_back(Deferred{h.name, h.tags, std::move(f)});
                    continue;
                }
                if (auto r =
                        book_.reconcile(h.name, h.tags, f.rule, f.findings, now, events, &f.why);
                    !r)
                    return r;
            }
            if (auto r = reconcile(kRejected, none); !r) return r;
            break;
        }
    }
    if (auto r = tx.commit(); !r) return r;
    if (outcome && config_.rules.rare.enabled) rare_.note(h, state, *outcome, *store_);
    dispatch(events, sum);
    return {};
}

Result<void> CollectorImpl::finish_cycle(const std::vector<HostSpec>& hosts, int64_t now,
                                         CycleSummary& sum) {
    std::vector<AlertEvent> events;
    Transaction tx(*store_);
    if (auto r = tx.begin(); !r) return r;
    for (const auto& [rule, list] : deferred_)
        if (auto r = group_fleet(rule, now, events); !r) return r;
    deferred_.clear();
    if (config_.rules.rare.enabled)
        if (auto r = rare_.finish(*store_, book_, now, events); !r) return r;
    if (auto r = store_->checkpoint_fleet(); !r) return r;
    if (config_.rules.stale.enabled) {
        std::vector<Finding> findings;
        for (const auto& spec : hosts) {
            auto h = store_->host(spec.name, spec.tags, now);
            if (!h) return h.error();
            findings.clear();
            stale_.evaluate(*h, now, findings);
            if (auto r = book_.reconcile(h->name, h->tags, StaleRule::kName, findings, now, events);
                !r)
                return r;
        }
    }
    if (config_.history.retention_days > 0) {
        auto last = store_->meta("deltas.pruned");
        if (!last) return last.error();
        if (!*last || now - **last >= kPruneEvery) {
            if (auto r = store_->prune_deltas(now - config_.history.retention_days * 86400); !r)
                return r;
            if (auto r = store_->set_meta("deltas.pruned", now); !r) return r;
        }
    }
    if (auto r = tx.commit(); !r) return r;
    dispatch(events, sum);
    return {};
}

// The fleet view of one rule's findings of this cycle. A key new (not already open) on at
// least fleet_hosts hosts, or one a fleet alert is open for, is reported once for the fleet:
// its hosts are recorded as the alert's members and their own alerts of it resolve ("part of
// the fleet alert"); every other finding is reconciled on its host as usual. The fleet alert
// resolves when no member reports the key any more; its weight is the number of hosts.
Result<void> CollectorImpl::group_fleet(const std::string& rule, int64_t now,
                                        std::vector<AlertEvent>& events) {
    std::vector<Deferred>& list = deferred_[rule];
    const std::string fleet(kFleetHost);
    auto fleet_open = book_.open_alerts(fleet, rule);
    if (!fleet_open) return fleet_open.error();
    std::set<std::string> keys;
    for (const auto& a : *fleet_open) keys.insert(a.key);
    std::map<std::string, int64_t> new_on;
    for (const Deferred& d : list) {
        auto open = book_.open_alerts(d.host, rule);
        if (!open) return open.error();
        std::set<std::string_view> was;
        for (const auto& a : *open) was.insert(a.key);
        for (const Finding& f : d.found.findings)
            if (!was.count(f.key)) ++new_on[f.key];
    }
    for (const auto& [key, n] : new_on)
        if (n >= config_.rules.fleet_hosts) keys.insert(key);
    std::map<std::string, std::vector<std::string>> tags_of;  // by key: the members' tags
    for (Deferred& d : list) {
        std::vector<Finding> own;
        std::set<std::string> reported;
        for (Finding& f : d.found.findings) {
            if (!keys.count(f.key)) {
                own.push_back(std::move(f));
                continue;
            }
            reported.insert(f.key);
            if (auto r = book_.set_member(rule, f.key, d.host, f.message); !r) return r;
            d.found.why[f.key] = "part of the fleet alert for " + f.key;
            auto& t = tags_of[f.key];
            for (const auto& tag : d.tags)
                if (std::find(t.begin(), t.end(), tag) == t.end()) t.push_back(tag);
        }
        for (const std::string& key : keys)
            if (!reported.count(key))
                if (auto r = book_.drop_member(rule, key, d.host); !r) return r;
        if (auto r = book_.reconcile(d.host, d.tags, rule, own, now, events, &d.found.why); !r)
            return r;
    }
    std::vector<Finding> fleet_findings;
    for (const std::string& key : keys) {
        auto members = book_.members(rule, key);
        if (!members) return members.error();
        if (members->empty()) continue;
        std::string hosts;
        const size_t shown = std::min<size_t>(members->size(), 10);
        for (size_t i = 0; i < shown; ++i) hosts += (i ? ", " : "") + (*members)[i].host;
        if (members->size() > shown) hosts += fmt::format(" and {} more", members->size() - shown);
        fleet_findings.push_back(
            Finding{key,
                    fmt::format("on {} hosts ({}); on {}: {}", members->size(), hosts,
                                members->front().host, members->front().message),
                    static_cast<int64_t>(members->size())});
    }
    std::vector<std::string> tags;
    for (const auto& [key, t] : tags_of)
        for (const auto& tag : t)
            if (std::find(tags.begin(), tags.end(), tag) == tags.end()) tags.push_back(tag);
    return book_.reconcile(fleet, tags, rule, fleet_findings, now, events);
}

// The operators' allow entries and silences (OperatorActions), read once a cycle. An allow
// entry added since the last cycle resolves the open alerts it explains, on every host and
// the fleet, with who allowed it and why.
Result<void> CollectorImpl::load_actions(int64_t now, std::vector<AlertEvent>& events) {
    auto actions = OperatorActions::create(store_->db());
    if (!actions) return actions.error();
    auto allows = actions->allows();
    if (!allows) return allows.error();
    allows_ = std::move(allows.value());
    auto silences = actions->silences(now);
    if (!silences) return silences.error();
    silences_ = std::move(silences.value());
    std::vector<const AllowEntry*> fresh;
    for (const auto& a : allows_)
        if (!a.applied) fresh.push_back(&a);
    if (fresh.empty()) return {};
    std::map<std::string, std::vector<std::string>> tags;
    if (auto hosts = store_->hosts(); hosts)
        for (auto& h : *hosts) tags[h.name] = std::move(h.tags);
    else
        return hosts.error();
    for (std::string_view rule : {"new_domain", "direct_ip"}) {
        auto open = book_.open_alerts("", rule);
        if (!open) return open.error();
        for (const auto& alert : *open)
            for (const AllowEntry* a : fresh)
                if (a->explains(alert.host, rule, alert.key)) {
                    if (auto r = book_.resolve(alert.host, tags[alert.host], rule, alert.key, now,
                                               fmt::format("allowed by {}: {} (allow #{} {})",
                                                           a->who, a->why, a->id, a->value),
                                               events);
                        !r)
                        return r;
                    break;
                }
    }
    for (const AllowEntry* a : fresh)
        if (auto r = actions->mark_applied(a->id); !r) return r;
    return {};
}

bool CollectorImpl::allowed(std::string_view host, std::string_view rule,
                            std::string_view key) const {
    return std::any_of(allows_.begin(), allows_.end(),
                       [&](const AllowEntry& a) { return a.explains(host, rule, key); });
}

Result<void> CollectorImpl::resolve_disabled(int64_t now, std::vector<AlertEvent>& events) {
    auto hosts = store_->hosts();
    if (!hosts) return hosts.error();
    std::map<std::string, std::vector<std::string>> tags;
    for (auto& h : *hosts) tags[h.name] = std::move(h.tags);
    for (const auto& rule : disabled_) {
        auto open = book_.open_alerts("", rule);
        if (!open) return open.error();
        for (const auto& a : *open)
            if (auto r = book_.resolve(a.host, tags[a.host], rule, a.key, now,
                                       "rule " + rule + " disabled", events);
                !r)
                return r;
    }
    return {};
}

}  // namespace

Result<std::unique_ptr<Collector>> Collector::create(
    const CollectorConfig& config, std::vector<std::unique_ptr<AlertSink>> extra_sinks) {
    auto store = HistoryStore::open(config.history.target());
    if (!store) return store.error();
    auto book = AlertBook::create(store.value()->db());
    if (!book) return book.error();
    auto c =
        std::make_unique<CollectorImpl>(std::move(store.value()), std::move(book.value()), config);
    if (auto r = c->setup(std::move(extra_sinks)); !r) return r.error();
    return std::unique_ptr<Collector>(std::move(c));
}

Result<std::unique_ptr<Collector>> Collector::open(const std::string& config_path,
                                                   bool config_required) {
    auto config = load_collector_config(config_path, config_required);
    if (!config) return config.error();
    return create(*config);
}

}  // namespace em
