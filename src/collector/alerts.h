#pragma once
// Alerts: deduplicated per (host, rule, key) in the history database, each open or resolved,
// with first/last seen and the number of evaluations that raised it. An alert is an incident:
// it gets an id when it opens (kept while it stays open, a new one if it opens again), and a
// weight — how many names, hosts or connections it stands for. Rules hand in what they see;
// the book turns that into transitions (opened, updated, resolved), which alone go to the
// sinks. "Updated" is a material change: the weight at least doubled since the sinks were
// last told (3 names became 6), so a growing incident is re-announced a logarithmic number
// of times, never once per name. Host "*" is the fleet: an alert for several hosts at once.
//
// Sinks: stdout (one human line), a JSON lines file (appended), syslog (LOG_AUTH |
// LOG_WARNING), a webhook (HTTP POST of the JSON object plus a Slack-style "text"). A failing
// sink is counted and logged, never fatal.
#include <cstdint>
#include <cstdio>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "store/store.h"

namespace em {

/// A condition a rule sees now. `key` is the domain, address or host it is about.
struct Finding {
    std::string key;
    std::string message;
    int64_t weight = 1;  // names, hosts, connections: what a material change is measured in
    /// Registrable domains this finding is the cause for, beyond its key (a rule keyed per
    /// host, e.g. dga, lists the domains it names): their new_domain findings fold into it.
    /// public_resolver's finding for a name first packets gave lists the addresses those
    /// flows went to: their direct_ip findings fold into it.
    std::vector<std::string> covers = {};
};

/// The host name of fleet alerts (no host can be called that: host names are DNS names).
inline constexpr std::string_view kFleetHost = "*";

struct AlertRecord {
    std::string host, rule, key;
    bool open = true;
    int64_t first_seen = 0, last_seen = 0, occurrences = 0;
    int64_t changed = 0;  // time of the last transition
    std::string message;
    int64_t id = 0;  // the incident
    int64_t weight = 0;
    std::string acked_by;  // who acknowledged this incident ("" none); no updates go out then
    int64_t acked_at = 0;
};

/// A transition: an alert opened (or re-opened), updated (`open` and `updated`: its weight
/// at least doubled) or resolved.
struct AlertEvent {
    int64_t time = 0;
    std::string host, rule, key;
    bool open = true;
    std::string message;
    std::vector<std::string> tags;
    int64_t occurrences = 0;
    int64_t id = 0;  // the incident: the same in its opened, updated and resolved events
    bool updated = false;
    int64_t weight = 0;
};

class AlertBook {
  public:
    /// Uses the `alerts` table of `db` (created by HistoryStore). `db` must outlive the book.
    static Result<AlertBook> create(store::Database& db);

    /// Makes the open alerts of (host, rule) exactly `findings`: a finding not open opens (an
    /// event), one already open gets last_seen = now, one more occurrence, its new message and
    /// weight (an "updated" event when the weight at least doubled since the last event), and
    /// an open alert of that scope not among the findings resolves (an event; `why` of its key
    /// when given, else "no longer seen"). Duplicate keys in `findings` count once.
    Result<void> reconcile(const std::string& host, const std::vector<std::string>& tags,
                           std::string_view rule, const std::vector<Finding>& findings, int64_t now,
                           std::vector<AlertEvent>& events,
                           const std::map<std::string, std::string>* why = nullptr);
    /// Resolves one alert if it is open.
    Result<void> resolve(const std::string& host, const std::vector<std::string>& tags,
                         std::string_view rule, const std::string& key, int64_t now,
                         const std::string& why, std::vector<AlertEvent>& events);

    /// Open alerts: of every host (host empty), or of one host; of every rule (rule empty) or
    /// one. Ordered by host, rule, key.
    Result<std::vector<AlertRecord>> open_alerts(const std::string& host = "",
                                                 std::string_view rule = "");
    Result<std::vector<AlertRecord>> all_alerts();
    Result<int64_t> open_count();

    /// The hosts a fleet alert of (rule, key) stands for, each with its own finding's message.
    struct Member {
        std::string host, message;
    };
    Result<void> set_member(std::string_view rule, const std::string& key, const std::string& host,
                            const std::string& message);
    Result<void> drop_member(std::string_view rule, const std::string& key,
                             const std::string& host);
    /// Ordered by host.
    Result<std::vector<Member>> members(std::string_view rule, const std::string& key);

  private:
    explicit AlertBook(store::Database& db) : db_(&db) {}
    store::Database* db_;
    store::Statement open_of_scope_, upsert_, set_notified_, set_resolved_, open_all_, open_host_,
        everything_, count_open_, set_member_, drop_member_, members_;
    int64_t next_id_ = 1;
};

/// {"time","host","rule","key","state","message","tags","id","weight"} (+ "text" when
/// `with_text`: the alert_line with Slack markup escaped), one line, no newline. "state" is
/// "open", "updated" or "resolved".
std::string alert_json(const AlertEvent& e, bool with_text = false);
/// "2026-11-22T11:35:35Z OPEN new_domain web1 evil.example: <message> [prod,web] #12": always
/// one line, every field through append_text_escaped (no control byte, no newline); UPDATED
/// for an update; "#id" when the event has an incident id.
std::string alert_line(const AlertEvent& e);

class AlertSink {
  public:
    virtual ~AlertSink() = default;
    virtual std::string_view name() const = 0;
    virtual Result<void> emit(const AlertEvent& e) = 0;
};

std::unique_ptr<AlertSink> make_stdout_sink(std::FILE* out = stdout);
/// Appends to `path` (created 0640 when missing); each line is written with one write(2).
Result<std::unique_ptr<AlertSink>> make_jsonl_sink(const std::string& path);
/// openlog("egress-collector", LOG_PID, LOG_AUTH); each event at LOG_AUTH | LOG_WARNING.
std::unique_ptr<AlertSink> make_syslog_sink();

struct WebhookOptions {
    std::string url;      // http://host[:port]/path or https://...
    std::string ca_file;  // https: verify against this CA bundle instead of the system's
    int timeout_ms = 5000;
};
/// Checks the URL; nothing is contacted until an event is emitted.
Result<std::unique_ptr<AlertSink>> make_webhook_sink(const WebhookOptions& opt);

/// Fans events out to the sinks. A sink that fails three times in a row within one
/// dispatch() is skipped for the rest of it (so a dead webhook cannot stall a cycle by its
/// timeout once per event); skipped events count as failed.
class AlertDispatcher {
  public:
    void add(std::unique_ptr<AlertSink> sink);
    void dispatch(const std::vector<AlertEvent>& events);
    struct Counts {
        std::string sink;
        uint64_t sent = 0, failed = 0;
    };
    std::vector<Counts> counts() const;

  private:
    struct Entry {
        std::unique_ptr<AlertSink> sink;
        uint64_t sent = 0, failed = 0;
    };
    std::vector<Entry> sinks_;
};

}  // namespace em
