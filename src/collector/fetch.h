#pragma once
// Fetching the two files from every host of the inventory, in parallel, with timeouts and
// retries. Transports:
//   https://host:port   GET /v1/unique-domains.log and /v1/unique-ips.log with the host's
//                       bearer token, verified against its CA file (or the system CAs), TLS
//                       1.2 or later, no redirects, no proxy; If-None-Match with the previous
//                       ETags; the Digest header checked when present (a mismatch rejects the
//                       snapshot as tampered). libcurl, both files on one connection.
//   http://...          the same without TLS (only when the inventory says so explicitly)
//   ssh                 `ssh -o BatchMode=yes -o ConnectTimeout=N -o StrictHostKeyChecking=yes
//                       [-o UserKnownHostsFile=F] [-p P] [-i KEY] TARGET sh -c SCRIPT ...` with
//                       the system's ssh, one session for both files: a POSIX sh script (cat,
//                       wc) prints each file preceded by its size, checked on arrival (no
//                       ETags: always fetched whole)
//
// The agent's optional files (format/aggregate.h) — flow-names.log (the names its first
// packets gave) and process-uses.log (who used each destination) — are fetched with the two
// files when the host has them, on the same connection and within the same deadline: over
// HTTP(S) GET /v1/flow-names.log whole (no ETag: it changes when unique-ips.log does) and
// only when the two files are not both unchanged (304: nothing to evaluate);
// GET /v1/process-uses.log every time, conditionally on its own previous ETag (a use can be
// counted without either file changing: a query beyond the domains cap); over ssh by the
// same script, whole.
// An absent file (HTTP 404, an older agent or consolidate; no readable file over ssh) is
// "none", never an error. One that cannot be had — larger than max_bytes, a Digest mismatch,
// an HTTP status other than 200/404 — costs only that file: the result is still ok, with
// FetchedNames::error saying why (the collector logs and counts it). Timeouts and connection
// failures on them retry the attempt like those of the two files.
//
// A hostile or stalled host costs the cycle no more than its own time: each attempt has one
// deadline, timeout_ms, for its whole exchange (connect, TLS, both requests, headers, bodies;
// for ssh the whole session); response headers are capped at 64 KiB and 100 lines, bodies at
// max_bytes (over ssh, the size the host announces). Hosts are fetched in parallel, so a
// stalled host delays no other host's fetch; results are handed out in inventory order, so a
// later host's result waits for a stalled one, at most until that one's last deadline.
//
// Inventory (TOML):
//   [[host]]
//   name = "web1"                      # unique
//   url = "https://web1.example:8443"  # or: ssh = "monitor@web1.example"
//   token_file = "/etc/egress-collector/web1.token"  # mode 600, >= 16 bytes (read_token_file)
//   ca_file = "/etc/egress-collector/ca.pem"        # optional
//   insecure_http = true               # required for an http:// url
//   ssh_port = 22, ssh_key = "...", remote_dir = "/var/log/egress-monitor"   # optional
//   ssh_known_hosts = "/etc/egress-collector/known_hosts"                    # optional
//   tags = ["prod", "web"]
// token_file, ca_file and insecure_http belong to url hosts, the ssh_* keys and remote_dir
// to ssh hosts; a key of the other transport is an error. Names: [A-Za-z0-9._-], 1..253.
//
// Errors of a fetch start with the host and its transport and say what failed last:
//   "web1 (https://web1:8443): timed out after 3 attempts"
//   "web1 (https://web1:8443): unauthorized (token rejected)"
//   "db2 (ssh monitor@db2): remote error (exit status 1): cat: ...: No such file or directory"
//   "web2 (https://web2:8443): oversized: unique-domains.log response headers larger than
//    65536 bytes"
// Not retried (the same answer would come back): an unreadable token file, 401, other 4xx
// but 408/429, TLS certificate verification, oversized (bodies and headers), tampered, ssh
// authentication or host key failures, a remote command failing or printing something else
// than the framing. Retried: connection failures and timeouts, 5xx, 408/429, ssh exit status
// 255, a file written in place while ssh read it (the script's exit status 75).
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/http_url.h"
#include "common/result.h"

namespace em {

struct HostSpec {
    std::string name;
    std::string url;  // https:// or http://
    std::string ssh;  // [user@]host
    int ssh_port = 22;
    std::string ssh_key;
    std::string remote_dir = "/var/log/egress-monitor";
    std::string ssh_known_hosts;  // UserKnownHostsFile; empty: ssh's default
    std::string token_file;
    std::string ca_file;
    bool insecure_http = false;  // allows an http:// url
    std::vector<std::string> tags;
};

/// A host's URL split for the client (common/http_url.h).
using HostUrl = HttpUrl;
Result<HostUrl> parse_host_url(const std::string& url);

/// Reads and validates the inventory: unknown keys, missing name/transport, duplicate
/// names, both url and ssh, bad URLs are errors naming the file and line.
Result<std::vector<HostSpec>> load_inventory(const std::string& path);
Result<std::vector<HostSpec>> parse_inventory(std::string_view text, const std::string& path);

struct FetchOptions {
    int parallel = 16;
    int timeout_ms = 10000;         // per attempt: its whole exchange, both files together
    int retries = 2;                // after the first attempt; backoff 0.5 s, 1 s, ...
    int backoff_ms = 500;           // before the first retry; doubles for each further one
    size_t max_bytes = 256u << 20;  // per file; larger is an error (oversized)
};

/// An optional file (flow-names.log, process-uses.log) as fetched.
struct FetchedNames {
    bool present = false;       // the host had the file (an empty one is present)
    bool not_modified = false;  // present, and 304 to the previous ETag (no text)
    std::string text;           // its bytes, when present and not not_modified
    std::string error;          // set: the file could not be had; the two files stand
};

/// The entity tags of a host's files as last accepted, for conditional requests.
struct PrevTags {
    std::string domains, ips;
    std::string uses;  // process-uses.log
};

struct FetchResult {
    std::string host;
    bool ok = false;
    std::string error;          // when !ok: what failed, with the host and transport
    bool not_modified = false;  // both files answered 304
    std::string domains, ips;   // the bodies (empty when not_modified)
    std::string domains_etag, ips_etag;
    FetchedNames names;     // flow-names.log; not fetched when not_modified
    FetchedNames uses;      // process-uses.log; fetched (conditionally) whatever the two did
    std::string uses_etag;  // its ETag, when present
    int attempts = 0;
    int64_t fetched_at_ms = 0;
};

/// Fetches every host (in parallel, at most `parallel` at once, on threads of its own that
/// are joined before it returns; a host takes at most (1 + retries) * timeout_ms plus the
/// backoffs). `etags`: host → its previous ETags for conditional requests. Results in inventory
/// order.
std::vector<FetchResult> fetch_all(const std::vector<HostSpec>& hosts, const FetchOptions& opt,
                                   const std::map<std::string, PrevTags>& etags = {});

/// The same fetches, handed out one at a time in inventory order with bounded memory: at
/// most `window` hosts' files (default 2 × parallel) are fetched and not yet taken; the
/// workers wait for take() to catch up. `hosts`, `opt` and `etags` must outlive the stream.
/// take(i) must be called for i = 0, 1, ... from one thread; the destructor stops the
/// workers after their current fetch and joins them.
class FetchStream {
  public:
    FetchStream(const std::vector<HostSpec>& hosts, const FetchOptions& opt,
                const std::map<std::string, PrevTags>& etags, size_t window = 0);
    ~FetchStream();
    FetchStream(const FetchStream&) = delete;
    FetchStream& operator=(const FetchStream&) = delete;
    FetchResult take(size_t i);

  private:
    void work();

    const std::vector<HostSpec>& hosts_;
    const FetchOptions& opt_;
    const std::map<std::string, PrevTags>& etags_;
    size_t window_;
    std::mutex mu_;
    std::condition_variable cv_;
    size_t next_ = 0;                              // next index a worker takes
    size_t taken_ = 0;                             // results handed out
    std::deque<std::optional<FetchResult>> done_;  // index taken_ + k
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

}  // namespace em
