#pragma once
// Shared by the fetch transports (fetch_http.cpp, fetch_ssh.cpp) and the per-host loop
// (fetch.cpp); not part of the collector's interface.
#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>

#include "collector/fetch.h"
#include "format/aggregate.h"  // kDomainsFile, kIpsFile, kFlowNamesFile

namespace em::fetch_detail {

using Clock = std::chrono::steady_clock;

// How an attempt (or one file of it) ended.
enum class Verdict { ok, retry, fail };

struct Outcome {
    Verdict verdict = Verdict::ok;
    std::string error;
};

inline Outcome retry(std::string why) { return {Verdict::retry, std::move(why)}; }
inline Outcome fail(std::string why) { return {Verdict::fail, std::move(why)}; }

/// Milliseconds from now to `deadline` (negative when it passed).
int64_t ms_left(Clock::time_point deadline);

/// One line of program or server output for an error message: control characters blanked,
/// line breaks as "; ", cut at `max` bytes with "...".
std::string one_line(std::string_view text, size_t max);

/// One attempt over HTTP(S): both files, conditionally on the previous ETags, within
/// `deadline` for the whole exchange (connect, TLS, request, headers, body). Response
/// headers are bounded (kMaxHeaderBytes, kMaxHeaderLines), bodies by opt.max_bytes.
class HttpFetcher {
  public:
    static constexpr size_t kMaxHeaderBytes = 64 * 1024;
    static constexpr size_t kMaxHeaderLines = 100;

    HttpFetcher(const HostSpec& host, HostUrl url, const FetchOptions& opt, std::string token);
    Outcome attempt(const PrevTags& prev, Clock::time_point deadline, FetchResult& out);

  private:
    const HostSpec& host_;
    HostUrl url_;
    const FetchOptions& opt_;
    std::string token_;
};

/// Prepares the process for the HTTP client (libcurl's global state); idempotent and
/// thread-safe, called before any fetch thread starts.
void http_global_init();

/// One attempt over ssh: both files through one ssh session within `deadline`.
Outcome ssh_attempt(const HostSpec& h, const FetchOptions& opt, Clock::time_point deadline,
                    FetchResult& out);

/// The command ssh hands to the remote user's shell: a POSIX sh script (cat, wc) printing
/// both files of `dir` in the framing parse_framing reads; a file's content only when its
/// size is at most `max_bytes`.
std::string ssh_remote_command(const std::string& dir, size_t max_bytes);

/// Splits what the ssh transport's remote script printed (framing in fetch_ssh.cpp) into
/// the two files and, into `names` and `uses` when given, flow-names.log and
/// process-uses.log. An announced size over `max_bytes` is "oversized" (for an optional
/// file: FetchedNames::error, the outcome ok);
/// anything but the framing with exactly the announced sizes is "unexpected output from the
/// remote command". Neither is worth a retry.
Outcome parse_framing(std::string_view out, size_t max_bytes, std::string& domains,
                      std::string& ips, FetchedNames* names = nullptr,
                      FetchedNames* uses = nullptr);

}  // namespace em::fetch_detail
