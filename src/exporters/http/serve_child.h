#pragma once
// The agent's endpoint in a process of its own. The agent runs as root with the capture's
// capabilities; the code that faces the network must not. So with `[serve] in_agent` the
// agent spawns its own binary (/proc/self/exe) as
//   egress-monitor serve --live-fd 3 --listen … --user …
// with nothing inherited but stdin/out/err and fd 3, one end of a socketpair. The child
// binds, reads the token and key, becomes serve.user, and reports "ok PORT" (or "error
// MESSAGE") on fd 3; then the agent sends it its live counters once a second (one datagram
// of "name value" lines, dropped when the child lags). When the agent closes its end — it
// stops or dies — the child stops.
#include <sys/types.h>

#include <map>
#include <memory>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"
#include "exporters/http/server.h"

namespace em {

class ServeChild {
  public:
    /// Spawns the child and waits (up to 10 s) for its report; its start error is returned
    /// as the error.
    static Result<std::unique_ptr<ServeChild>> spawn(const ServeConfig& cfg);
    ~ServeChild();  // closes the socket, waits up to 2 s for the child, then kills it

    /// Sends the counters without blocking; false once the child is gone.
    bool publish(const std::map<std::string, uint64_t>& counters);
    int port() const { return port_; }
    pid_t pid() const { return pid_; }

  private:
    ServeChild(pid_t pid, UniqueFd sock, int port)
        : pid_(pid), sock_(std::move(sock)), port_(port) {}
    pid_t pid_;
    UniqueFd sock_;
    int port_;
};

/// The child's side of fd --live-fd: the counters last received (thread-safe), the report to
/// the parent, and `on_parent_gone` called (from a thread of its own) when the parent's end
/// closes.
class LiveFeed {
  public:
    LiveFeed(int fd, std::function<void()> on_parent_gone);
    ~LiveFeed();
    LiveCounters counters() const;
    void report_ok(int port);
    void report_error(const std::string& message);

  private:
    struct State;
    std::shared_ptr<State> state_;
};

}  // namespace em
