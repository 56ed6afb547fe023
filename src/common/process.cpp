#include "common/process.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <optional>
#include <sstream>
#include <thread>

#include "common/unique_fd.h"

extern char** environ;

namespace em {

std::string find_program(const std::string& program) {
    if (program.find('/') != std::string::npos) return program;
    std::string path = std::getenv("PATH") ? std::getenv("PATH") : "";
    path += ":/usr/sbin:/sbin:/usr/bin:/bin";
    std::stringstream ss(path);
    for (std::string dir; std::getline(ss, dir, ':');) {
        if (dir.empty()) continue;
        std::string full = dir + "/" + program;
        if (::access(full.c_str(), X_OK) == 0) return full;
    }
    return {};
}

Result<std::string> run_command(const std::vector<std::string>& argv, std::string_view input) {
    std::string what = argv.empty() ? std::string("(nothing)") : argv[0];
    for (size_t i = 1; i < argv.size() && i < 4; ++i) what += " " + argv[i];
    CommandLimits unbounded;
    unbounded.max_stderr = std::numeric_limits<size_t>::max();
    auto r = run_command_bounded(argv, unbounded, input);
    if (!r) return r.error();  // it names the program
    if (r->exit_status == 0) return std::move(r->out);
    std::string& err_text = r->err;
    while (!err_text.empty() && (err_text.back() == '\n' || err_text.back() == ' '))
        err_text.pop_back();
    for (char& c : err_text)
        if (c == '\n') c = ' ';
    std::string how = r->term_signal ? "killed by signal " + std::to_string(r->term_signal)
                                     : "exit status " + std::to_string(r->exit_status);
    return Error{what + " failed (" + how + ")" + (err_text.empty() ? "" : ": " + err_text)};
}

}  // namespace em

namespace em {

namespace {

using SteadyClock = std::chrono::steady_clock;

// Reaps `pid`, waiting no longer than `deadline` (when set); false on expiry.
bool reap_until(pid_t pid, int& status, std::optional<SteadyClock::time_point> deadline) {
    for (;;) {
        pid_t r = ::waitpid(pid, &status, deadline ? WNOHANG : 0);
        if (r == pid) return true;
        if (r < 0 && errno != EINTR) return true;  // not our child any more: nothing to wait for
        if (r == 0) {
            if (SteadyClock::now() >= *deadline) return false;
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        }
    }
}

}  // namespace

Result<CommandOutcome> run_command_bounded(const std::vector<std::string>& argv,
                                           const CommandLimits& limits, std::string_view input) {
    std::string what = argv.empty() ? std::string("(nothing)") : argv[0];
    std::string exe = argv.empty() ? "" : find_program(argv[0]);
    if (exe.empty()) return Error{what + ": program not found"};
    int in[2], out[2], err[2];
    if (::pipe2(in, O_CLOEXEC) != 0) return errno_error(what + ": pipe");
    UniqueFd in_r(in[0]), in_w(in[1]);
    if (::pipe2(out, O_CLOEXEC) != 0) return errno_error(what + ": pipe");
    UniqueFd out_r(out[0]), out_w(out[1]);
    if (::pipe2(err, O_CLOEXEC) != 0) return errno_error(what + ": pipe");
    UniqueFd err_r(err[0]), err_w(err[1]);

    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, in_r.get(), 0);
    posix_spawn_file_actions_adddup2(&fa, out_w.get(), 1);
    posix_spawn_file_actions_adddup2(&fa, err_w.get(), 2);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
    posix_spawnattr_setpgroup(&attr, 0);
    std::vector<char*> args;
    args.reserve(argv.size() + 1);
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    pid_t pid = 0;
    int rc = ::posix_spawn(&pid, exe.c_str(), &fa, &attr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return errno_error(what + ": spawn", rc);
    in_r.reset();
    out_w.reset();
    err_w.reset();

    std::optional<SteadyClock::time_point> deadline;
    if (limits.timeout_ms > 0)
        deadline = SteadyClock::now() + std::chrono::milliseconds(limits.timeout_ms);
    CommandOutcome res;
    size_t written = 0;
    if (input.empty())
        in_w.reset();
    else
        ::signal(SIGPIPE, SIG_IGN);
    bool kill_it = false;
    while (!kill_it && (out_r.valid() || err_r.valid())) {
        int wait_ms = -1;
        if (deadline) {
            auto left =
                std::chrono::ceil<std::chrono::milliseconds>(*deadline - SteadyClock::now());
            if (left.count() <= 0) {
                res.timed_out = kill_it = true;
                break;
            }
            wait_ms = static_cast<int>(std::min<int64_t>(left.count(), 60000));
        }
        pollfd p[3] = {
            {out_r.get(), POLLIN, 0}, {err_r.get(), POLLIN, 0}, {in_w.get(), POLLOUT, 0}};
        if (::poll(p, 3, wait_ms) < 0) {
            if (errno == EINTR) continue;
            kill_it = true;  // cannot watch it any more: do not leave it running unbounded
            break;
        }
        char buf[16384];
        for (int i = 0; i < 2 && !kill_it; ++i) {
            if (!(p[i].revents & (POLLIN | POLLHUP | POLLERR))) continue;
            ssize_t n = ::read(p[i].fd, buf, sizeof buf);
            if (n > 0) {
                auto len = static_cast<size_t>(n);
                if (i == 0) {
                    if (len > limits.max_stdout - res.out.size()) {
                        res.out.append(buf, limits.max_stdout - res.out.size());
                        res.oversized = kill_it = true;
                    } else {
                        res.out.append(buf, len);
                    }
                } else if (res.err.size() < limits.max_stderr) {
                    res.err.append(buf, std::min(len, limits.max_stderr - res.err.size()));
                }
            } else if (n == 0 || errno != EINTR) {
                (i == 0 ? out_r : err_r).reset();
            }
        }
        if (!kill_it && in_w.valid() && (p[2].revents & (POLLOUT | POLLERR | POLLHUP))) {
            ssize_t n = ::write(in_w.get(), input.data() + written, input.size() - written);
            if (n > 0) written += static_cast<size_t>(n);
            if (n < 0 && errno != EINTR && errno != EAGAIN) in_w.reset();
            if (written == input.size()) in_w.reset();
        }
    }
    int status = 0;
    // Its output is closed; it may still linger (until the deadline).
    if (!kill_it && !reap_until(pid, status, deadline)) res.timed_out = kill_it = true;
    if (kill_it) {
        // The group id is the child's pid; the unreaped child keeps it from being reused.
        ::kill(-pid, SIGKILL);
        ::kill(pid, SIGKILL);
        reap_until(pid, status, std::nullopt);
    }
    if (WIFEXITED(status)) res.exit_status = WEXITSTATUS(status);
    if (WIFSIGNALED(status)) res.term_signal = WTERMSIG(status);
    return res;
}

}  // namespace em
