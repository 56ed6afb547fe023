#pragma once
// Pushes event lines to Grafana Loki (POST /loki/api/v1/push, JSON body, one stream with
// the configured labels) from its own thread, so a slow or dead Loki never stalls capture.
// push() only enqueues: the queue is bounded (max_queue lines) and what does not fit is
// dropped and counted. Batches of up to max_batch lines or every flush_ms are sent; a failed
// push is retried with backoff (up to 3 times, then the batch is dropped and counted).
// http:// and https:// URLs (net/http_client: server certificates verified against the system
// CAs, or ca_file; one deadline of timeout_ms for each request).
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "common/http_url.h"
#include "common/result.h"

namespace em {

namespace net {
class HttpClient;
}

struct LokiConfig {
    std::string url;                            // e.g. http://127.0.0.1:3100 (path optional)
    std::map<std::string, std::string> labels;  // stream labels; "job" defaults to egress-monitor
    size_t max_queue = 100000;
    size_t max_batch = 1000;
    int flush_ms = 1000;
    int timeout_ms = 5000;
    std::string ca_file;      // optional, for https
    int retry_base_ms = 100;  // backoff before the 1st, 2nd, 3rd retry: x1, x4, x16
};

/// A Loki URL taken apart (common/http_url.h); `path` is the full push path (the URL's path
/// with /loki/api/v1/push appended unless it already ends with it).
using LokiUrl = HttpUrl;
/// Errors name the URL and what is wrong with it.
Result<LokiUrl> parse_loki_url(const std::string& url);

/// Cumulative line counts: queued = accepted by push(), sent = acknowledged by Loki;
/// push_errors counts failed HTTP attempts (retries included), not lines.
struct LokiCounters {
    uint64_t queued = 0, sent = 0, dropped_queue_full = 0, dropped_failed = 0, push_errors = 0;
};

class LokiPusher {
  public:
    /// Validates the URL and labels and starts the thread.
    static Result<std::unique_ptr<LokiPusher>> start(const LokiConfig& cfg);
    /// Sends what is queued, for at most about timeout_ms (then aborts the request in flight
    /// and counts the rest as dropped_failed), then stops the thread.
    ~LokiPusher();
    /// Non-blocking. `time_ns`: the event's time in Unix nanoseconds.
    void push(int64_t time_ns, std::string line);
    LokiCounters counters() const;

  private:
    LokiPusher(LokiConfig cfg, LokiUrl url, std::unique_ptr<net::HttpClient> client);
    void run();
    void send_with_retries(const std::string& body, size_t lines);
    void sleep_until(std::chrono::steady_clock::time_point until);
    LokiConfig cfg_;
    LokiUrl url_;
    std::string body_prefix_;  // {"streams":[{"stream":{labels},"values":[
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::pair<int64_t, std::string>> queue_;
    LokiCounters counters_;
    bool stopping_ = false;
    std::chrono::steady_clock::time_point deadline_;  // set with stopping_
    bool done_ = false;                               // run() has returned
    bool failing_ = false;  // the last batch was dropped (logged once per outage); thread only
    std::unique_ptr<net::HttpClient> client_;  // used by the thread; abort() from the destructor
    std::thread thread_;
};

/// Parses "K=V" (label names as Loki wants them: [a-zA-Z_][a-zA-Z0-9_]*).
Result<std::pair<std::string, std::string>> parse_loki_label(const std::string& kv);

}  // namespace em
