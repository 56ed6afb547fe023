// HistoryStore::ingest: the per-host diff of a new snapshot against the stored state.
#include <fmt/core.h>

#include <limits>
#include <type_traits>

#include "collector/history.h"
#include "common/log.h"

namespace em {

namespace {

std::string_view key_of(const DomainState& d) { return d.name; }
std::string_view key_of(const DomainEntry& d) { return d.name; }
const IpAddress& key_of(const IpState& e) { return e.ip; }
const IpAddress& key_of(const IpEntry& e) { return e.ip; }

DomainState make_state(DomainEntry&& e) {
    DomainState s;
    s.name = std::move(e.name);
    s.ips = std::move(e.ips);
    return s;
}
IpState make_state(IpEntry&& e) {
    IpState s;
    s.ip = e.ip;
    return s;
}
void take_details(DomainState& s, DomainEntry&& e) { s.ips = std::move(e.ips); }
void take_details(IpState&, IpEntry&&) {}

std::string key_text(const DomainState& s) { return s.name; }
std::string key_text(const IpState& s) { return s.ip.to_string(); }
std::string key_text(const DomainEntry& s) { return s.name; }
std::string key_text(const IpEntry& s) { return s.ip.to_string(); }

int64_t saturating_add(int64_t a, int64_t b) {
    return a > std::numeric_limits<int64_t>::max() - b ? std::numeric_limits<int64_t>::max()
                                                       : a + b;
}

struct KindResult {
    bool reset = false;
    std::string detail;
    int64_t present = 0;
};

// Merges the stored keys of one file (`old`, consumed) with the fresh lines (consumed) into
// `out`. Both inputs are sorted by key.
template <class State, class Entry>
KindResult merge(std::vector<State>& old, std::vector<Entry>& fresh, char kind, bool first,
                 int64_t now, std::vector<State>& out, IngestOutcome& oc, const char* file) {
    KindResult res;
    // Pass 1: did the counters go backwards?
    size_t present = 0, gone = 0;
    std::string decreased;
    for (size_t i = 0, j = 0; i < old.size() || j < fresh.size();) {
        if (j == fresh.size() || (i < old.size() && key_of(old[i]) < key_of(fresh[j]))) {
            if (old[i].stats.present) {
                ++present;
                ++gone;
            }
            ++i;
        } else if (i == old.size() || key_of(fresh[j]) < key_of(old[i])) {
            ++j;
        } else {
            if (old[i].stats.present) ++present;
            // Only a present key's counter says the agent started again; a ghost that comes
            // back simply counts from zero.
            if (old[i].stats.present && fresh[j].count < old[i].stats.count && decreased.empty())
                decreased = fmt::format("{}: the count of {} went from {} to {}", file,
                                        key_text(fresh[j]), old[i].stats.count, fresh[j].count);
            ++i, ++j;
        }
    }
    if (!first && !decreased.empty()) {
        res.reset = true;
        res.detail = decreased;
    } else if (!first && gone * 2 > present) {
        res.reset = true;
        res.detail = fmt::format("{}: {} of {} keys gone", file, gone, present);
    }

    // Pass 2: the new state.
    out.clear();
    out.reserve(old.size() + fresh.size());
    for (size_t i = 0, j = 0; i < old.size() || j < fresh.size();) {
        if (j == fresh.size() || (i < old.size() && key_of(old[i]) < key_of(fresh[j]))) {
            State s = std::move(old[i++]);
            if (s.stats.present) {
                s.stats.present = false;
                if constexpr (std::is_same_v<State, DomainState>)
                    oc.fleet_removed.push_back(out.size());
            }
            if (res.reset) s.stats.count = 0;
            out.push_back(std::move(s));
        } else if (i == old.size() || key_of(fresh[j]) < key_of(old[i])) {
            Entry& e = fresh[j++];
            KeyStats st;
            st.count = e.count;
            st.last_seen = e.last_seen;
            st.first_seen = now;
            if (!first && e.count > 0) {
                oc.changes.push_back(KeyChange{kind, out.size(), e.count, 0, 0, true});
                st.deltas = 1;
                st.delta_sum = e.count;
            }
            if (!first) ++oc.new_keys;
            State s = make_state(std::move(e));
            s.stats = st;
            if constexpr (std::is_same_v<State, DomainState>) {
                oc.fleet_added.push_back(out.size());
                oc.answers_changed.push_back(out.size());
            } else {
                oc.ips_added.push_back(out.size());
            }
            out.push_back(std::move(s));
            ++res.present;
        } else {
            State s = std::move(old[i++]);
            Entry& e = fresh[j++];
            const int64_t from = res.reset ? 0 : s.stats.count;
            const int64_t delta = e.count >= from ? e.count - from : e.count;
            if (!s.stats.present) {
                if constexpr (std::is_same_v<State, DomainState>)
                    oc.fleet_added.push_back(out.size());
            }
            s.stats.present = true;
            s.stats.count = e.count;
            s.stats.last_seen = e.last_seen;
            if (delta > 0) {
                oc.changes.push_back(
                    KeyChange{kind, out.size(), delta, s.stats.deltas, s.stats.delta_sum, false});
                ++s.stats.deltas;
                s.stats.delta_sum = saturating_add(s.stats.delta_sum, delta);
            }
            if constexpr (std::is_same_v<State, DomainState>)
                if (s.ips != e.ips) oc.answers_changed.push_back(out.size());
            take_details(s, std::move(e));
            out.push_back(std::move(s));
            ++res.present;
        }
    }
    old.clear();
    fresh.clear();
    return res;
}

}  // namespace

Result<IngestOutcome> HistoryStore::ingest(HostRecord& h, Snapshot&& snap, const FileMeta& meta,
                                           int64_t now, HostState& state, HostState* preloaded) {
    IngestOutcome oc;
    oc.first = h.first_fetch == 0;
    Result<HostState> old = preloaded ? Result<HostState>(std::move(*preloaded)) : load_state(h.id);
    if (!old) return old.error();
    KindResult d = merge(old->domains, snap.domains, 'd', oc.first, now, state.domains, oc,
                         "unique-domains.log");
    KindResult i = merge(old->ips, snap.ips, 'i', oc.first, now, state.ips, oc, "unique-ips.log");
    oc.domains_reset = d.reset;
    oc.ips_reset = i.reset;

    const auto fail = [&](const Result<void>& r) {
        return Error{"host " + h.name + ": " + r.error().message};
    };
    if (!oc.first && !oc.changes.empty())
        if (auto r = cover_deltas(now); !r) return fail(r);
    if (!oc.first) {
        for (const KeyChange& c : oc.changes) {
            const std::string key =
                c.kind == 'd' ? key_text(state.domains[c.index]) : key_text(state.ips[c.index]);
            const std::string_view kind = c.kind == 'd' ? "d" : "i";
            if (c.new_key) {
                add_first_seen_.bind(1, h.id).bind(2, kind).bind(3, key).bind(4, now);
                if (auto r = db_.queue(add_first_seen_); !r) return fail(r);
            }
            add_delta_.bind(1, h.id).bind(2, now).bind(3, kind).bind(4, key).bind(5, c.delta);
            if (auto r = db_.queue(add_delta_); !r) return fail(r);
        }
    }
    for (size_t i : oc.fleet_added) {
        DomainState& d = state.domains[i];
        if (fleet_hosts(d.name) == 0) {  // no host lists it now: it may be new to the fleet
            add_name_.bind(1, d.name);
            if (auto r = db_.queue(add_name_); !r) return fail(r);
        }
        const size_t base_len = fleet_add(d.name);
        if (d.base_len == 0) d.base_len = static_cast<uint16_t>(base_len);
    }
    for (size_t i : oc.fleet_removed) fleet_remove(state.domains[i].name);
    for (size_t i : oc.answers_changed)
        if (auto r = index_answers(state.domains[i]); !r) return fail(r);
    for (size_t i : oc.ips_added)
        if (auto r = index_address(state.ips[i].ip); !r) return fail(r);
    if (auto r = set_meta("ingest.seq", ++ingest_seq_); !r) return fail(r);

    for (const KindResult* k : {&d, &i}) {
        if (!k->reset) continue;
        if (!oc.reset_detail.empty()) oc.reset_detail += "; ";
        oc.reset_detail += k->detail;
    }
    if (!oc.reset_detail.empty()) {
        add_event_.bind(1, h.id)
            .bind(2, now)
            .bind(3, std::string_view("reset"))
            .bind(4, oc.reset_detail);
        if (auto r = db_.queue(add_event_); !r) return fail(r);
        h.last_reset = now;
        log_warn("{}: counters reset ({}): counting again from zero", h.name, oc.reset_detail);
    }

    const bool domains_changed = oc.first || d.reset || meta.domains_hash != h.domains_hash;
    const bool ips_changed = oc.first || i.reset || meta.ips_hash != h.ips_hash;
    if (domains_changed)
        if (auto r = write_state(h, 'd', encode_domains(state.domains)); !r) return r.error();
    if (ips_changed)
        if (auto r = write_state(h, 'i', encode_ips(state.ips)); !r) return r.error();

    if (oc.first) {
        h.first_fetch = now;
        ++fleet_size_;
        ++fleet_size_undo_;
    }
    h.last_attempt = h.last_ok = now;
    h.last_error.clear();
    if (domains_changed || ips_changed) h.last_change = now;
    h.domains_etag = meta.domains_etag;
    h.ips_etag = meta.ips_etag;
    h.domains_hash = meta.domains_hash;
    h.ips_hash = meta.ips_hash;
    h.domains = d.present;
    h.ips = i.present;
    if (auto r = write_host(h); !r) return r.error();
    return oc;
}

}  // namespace em
