#include "exporters/http/serve_child.h"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstring>
#include <mutex>
#include <thread>
#include <vector>

#include "common/log.h"

extern char** environ;

namespace em {

namespace {

constexpr int kChildFd = 3;
constexpr size_t kMaxMessage = 64 * 1024;
constexpr int kReportTimeoutMs = 10000;

bool wait_exit(pid_t pid, int ms) {
    for (int waited = 0; waited <= ms; waited += 10) {
        int status = 0;
        pid_t r = ::waitpid(pid, &status, WNOHANG);
        if (r == pid || (r < 0 && errno == ECHILD)) return true;
        ::usleep(10000);
    }
    return false;
}

}  // namespace

Result<std::unique_ptr<ServeChild>> ServeChild::spawn(const ServeConfig& cfg) {
    int sv[2];
    if (::socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) != 0)
        return errno_error("serve child: socketpair");
    UniqueFd mine(sv[0]), theirs(sv[1]);
    std::vector<std::string> args = {"egress-monitor",         "serve",        "--live-fd",
                                     std::to_string(kChildFd), "--listen",     cfg.listen,
                                     "--token-file",           cfg.token_file, "--output-dir",
                                     cfg.output_dir,           "--state-dir",  cfg.state_dir};
    if (cfg.plain_http) {
        args.push_back("--plain-http");
    } else {
        args.insert(args.end(), {"--tls-cert", cfg.tls_cert, "--tls-key", cfg.tls_key});
    }
    if (!cfg.user.empty()) args.insert(args.end(), {"--user", cfg.user});
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);

    // Nothing of the agent's but stdio and the socket: no netlink, BPF or ledger descriptor
    // reaches the child, whatever its close-on-exec flag.
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, theirs.get(), kChildFd);
    posix_spawn_file_actions_addclosefrom_np(&actions, kChildFd + 1);
    posix_spawnattr_t attr;
    posix_spawnattr_init(&attr);
    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);  // the agent blocks its signals for signalfd
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    pid_t pid = -1;
    int rc = ::posix_spawn(&pid, "/proc/self/exe", &actions, &attr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return errno_error("serve child: cannot start /proc/self/exe serve", rc);
    theirs.reset();

    char buf[1024];
    pollfd p{mine.get(), POLLIN, 0};
    int ready = ::poll(&p, 1, kReportTimeoutMs);
    ssize_t n = ready == 1 ? ::recv(mine.get(), buf, sizeof buf - 1, 0) : -1;
    auto give_up = [&](const std::string& why) {
        ::kill(pid, SIGKILL);
        wait_exit(pid, 2000);
        return Error{why};
    };
    if (n <= 0) return give_up("serve child: no report within 10 s (it exited or hung)");
    std::string_view msg(buf, static_cast<size_t>(n));
    if (msg.substr(0, 6) == "error ") {
        wait_exit(pid, 2000);
        return Error{std::string(msg.substr(6))};
    }
    int port = 0;
    if (msg.substr(0, 3) != "ok " ||
        std::from_chars(msg.data() + 3, msg.data() + msg.size(), port).ec != std::errc())
        return give_up("serve child: unexpected report '" + std::string(msg) + "'");
    return std::unique_ptr<ServeChild>(new ServeChild(pid, std::move(mine), port));
}

ServeChild::~ServeChild() {
    sock_.reset();  // the child sees the end of its feed and stops
    if (!wait_exit(pid_, 2000)) {
        ::kill(pid_, SIGKILL);
        wait_exit(pid_, 2000);
    }
}

bool ServeChild::publish(const std::map<std::string, uint64_t>& counters) {
    std::string msg;
    for (const auto& [name, value] : counters) {
        if (msg.size() + name.size() + 24 > kMaxMessage) break;
        msg += name;
        msg += ' ';
        msg += std::to_string(value);
        msg += '\n';
    }
    if (::send(sock_.get(), msg.data(), msg.size(), MSG_DONTWAIT | MSG_NOSIGNAL) >= 0) return true;
    return errno == EAGAIN || errno == EWOULDBLOCK;  // lagging: this second's values are skipped
}

struct LiveFeed::State {
    UniqueFd fd;
    std::mutex mu;
    std::map<std::string, uint64_t> counters;
    std::thread reader;
};

LiveFeed::LiveFeed(int fd, std::function<void()> on_parent_gone)
    : state_(std::make_shared<State>()) {
    state_->fd.reset(fd);
    ::fcntl(fd, F_SETFD, FD_CLOEXEC);
    state_->reader = std::thread([s = state_, on_parent_gone] {
        std::vector<char> buf(kMaxMessage);
        while (true) {
            ssize_t n = ::recv(s->fd.get(), buf.data(), buf.size(), 0);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            std::map<std::string, uint64_t> fresh;
            std::string_view text(buf.data(), static_cast<size_t>(n));
            while (!text.empty()) {
                size_t nl = text.find('\n');
                std::string_view line = text.substr(0, nl);
                text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
                size_t sp = line.rfind(' ');
                uint64_t v = 0;
                if (sp == std::string_view::npos ||
                    std::from_chars(line.data() + sp + 1, line.data() + line.size(), v).ec !=
                        std::errc())
                    continue;
                fresh[std::string(line.substr(0, sp))] = v;
            }
            std::lock_guard lock(s->mu);
            s->counters = std::move(fresh);
        }
        if (on_parent_gone) on_parent_gone();
    });
    state_->reader.detach();
}

LiveFeed::~LiveFeed() = default;

LiveCounters LiveFeed::counters() const {
    return [s = state_] {
        std::lock_guard lock(s->mu);
        return s->counters;
    };
}

void LiveFeed::report_ok(int port) {
    std::string msg = "ok " + std::to_string(port);
    ::send(state_->fd.get(), msg.data(), msg.size(), MSG_NOSIGNAL);
}

void LiveFeed::report_error(const std::string& message) {
    std::string msg = "error " + message.substr(0, 900);
    ::send(state_->fd.get(), msg.data(), msg.size(), MSG_NOSIGNAL);
}

}  // namespace em
