#pragma once
// Running a helper program (nft, iptables) and waiting for it: no shell, argv as given,
// `input` written to its stdin. The error names the command and carries what it printed on
// stderr, so "nft: Error: syntax error ..." reaches the operator as is.
#include <cstddef>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace em {

/// Runs argv[0] (looked up in PATH, then /usr/sbin and /sbin) and returns its stdout.
Result<std::string> run_command(const std::vector<std::string>& argv, std::string_view input = {});
struct CommandLimits {
    /// Wall clock for the whole run; beyond it the child's process group is killed (SIGKILL)
    /// and reaped. <= 0: no limit.
    int timeout_ms = 0;
    /// Bytes of stdout kept; one more and the child is killed the same way.
    size_t max_stdout = std::numeric_limits<size_t>::max();
    /// Bytes of stderr kept; the rest is read and dropped (the child is not killed).
    size_t max_stderr = size_t{64} * 1024;
};

struct CommandOutcome {
    std::string out, err;    // what it printed (bounded as above)
    int exit_status = -1;    // when it exited by itself
    int term_signal = 0;     // when a signal ended it (SIGKILL when killed for a limit)
    bool timed_out = false;  // killed: timeout_ms passed
    bool oversized = false;  // killed: stdout went beyond max_stdout
    bool success() const { return exit_status == 0 && !timed_out && !oversized; }
};

/// Like run_command, bounded in time and output, for programs that may hang or flood (ssh to
/// a remote host). The child runs in its own process group, so whatever it started is killed
/// with it. Returns the outcome whatever the exit status; an Error only when the program
/// cannot be started. Thread-safe (pipes are close-on-exec).
Result<CommandOutcome> run_command_bounded(const std::vector<std::string>& argv,
                                           const CommandLimits& limits,
                                           std::string_view input = {});

/// The full path of `program` in PATH, /usr/sbin or /sbin; empty when absent.
std::string find_program(const std::string& program);

}  // namespace em
