// em-connect: the tests' and the benchmark's own connector. Opens new outbound flows and
// counts exactly how many it opened, so a capture can be checked against it.
//
//   em-connect [--udp] [--http] [--count N] [--seconds S] [--timeout-ms T] ADDR PORT
//       TCP: connect() N times (or for S seconds, as fast as it can); refused counts as an
//       attempt made (the SYN left); --http: a connection made sends an HTTP request (a
//       first data segment naming bench.example.test) before it closes. UDP: a datagram
//       from a fresh socket (a new flow) each.
//       Prints "attempts=<n> connected=<n> refused=<n> timeouts=<n> errors=<n>".
//   em-connect --alternate ON_FD OFF_FD [--block N] [--pairs P] ADDR PORT
//       The benchmark's paired runs: blocks of N flows alternately in two cgroups, whose
//       cgroup.procs files are open on ON_FD and OFF_FD (see alternate() below).
//   em-connect --listen ADDR PORT          accept and close TCP connections until killed
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

double now_s() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

bool make_addr(const char* host, int port, sockaddr_storage& ss, socklen_t& len) {
    std::memset(&ss, 0, sizeof ss);
    auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    if (inet_pton(AF_INET, host, &s4->sin_addr) == 1) {
        s4->sin_family = AF_INET;
        s4->sin_port = htons(static_cast<uint16_t>(port));
        len = sizeof *s4;
        return true;
    }
    if (inet_pton(AF_INET6, host, &s6->sin6_addr) == 1) {
        s6->sin6_family = AF_INET6;
        s6->sin6_port = htons(static_cast<uint16_t>(port));
        len = sizeof *s6;
        return true;
    }
    return false;
}

struct Target {
    int family;
    bool udp;
    bool http;
    int timeout_ms;
    sockaddr_storage ss;
    socklen_t len;
};

struct Counts {
    long attempts = 0, connected = 0, refused = 0, timeouts = 0, errors = 0;
    void print() const {
        std::printf("attempts=%ld connected=%ld refused=%ld timeouts=%ld errors=%ld\n", attempts,
                    connected, refused, timeouts, errors);
    }
};

// One new flow: a UDP datagram from a fresh socket, or a TCP connect() and close.
void attempt(const Target& t, Counts& c) {
    int s = socket(t.family, (t.udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
    if (s < 0) {
        ++c.errors;
        return;
    }
    const auto* to = reinterpret_cast<const sockaddr*>(&t.ss);
    if (t.udp) {
        if (sendto(s, "em", 2, 0, to, t.len) == 2)
            ++c.attempts;
        else
            ++c.errors;
        close(s);
        return;
    }
    // Linger 0: close with RST, so the client side leaves no TIME_WAIT behind.
    linger lg{1, 0};
    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    fcntl(s, F_SETFL, O_NONBLOCK);
    int rc = connect(s, to, t.len);
    if (rc != 0 && errno == EINPROGRESS) {
        pollfd p{s, POLLOUT, 0};
        if (poll(&p, 1, t.timeout_ms) == 1) {
            int err = 0;
            socklen_t el = sizeof err;
            getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &el);
            rc = err ? -1 : 0;
            errno = err;
        } else {
            rc = -1;
            errno = ETIMEDOUT;
        }
    }
    ++c.attempts;
    static constexpr char kRequest[] = "GET / HTTP/1.1\r\nHost: bench.example.test\r\n\r\n";
    if (rc == 0 && t.http && write(s, kRequest, sizeof kRequest - 1) != sizeof kRequest - 1) {
        --c.attempts;
        ++c.errors;
    } else if (rc == 0)
        ++c.connected;
    else if (errno == ECONNREFUSED)
        ++c.refused;
    else if (errno == ETIMEDOUT)
        ++c.timeouts;
    else {
        --c.attempts;
        ++c.errors;
    }
    close(s);
}

// Moves this process into the cgroup whose cgroup.procs `fd` is open ("0": the writer).
bool enter_cgroup(int fd) { return pwrite(fd, "0\n", 2, 0) == 2; }

// --alternate: `pairs` pairs of `block` flows, one block in each cgroup, in ABBA order (the
// on block first in odd pairs), each timed: "pair <off ns per flow> <on ns per flow>" a
// line. Blocks of tens of milliseconds follow this machine's drift, which a run of seconds
// does not. The flows a block makes are counted in `c` (printed last); "on_attempts=" says
// how many were made in the first cgroup.
int alternate(const Target& t, int on_fd, int off_fd, long block, long pairs, Counts& c) {
    long on_attempts = 0;
    auto timed = [&](int fd, bool on) {
        if (!enter_cgroup(fd)) {
            std::perror("em-connect: cgroup.procs");
            std::exit(1);
        }
        const long before = c.attempts;
        const double t0 = now_s();
        for (long n = 0; n < block; ++n) attempt(t, c);
        const double dt = now_s() - t0;
        if (on) on_attempts += c.attempts - before;
        return dt * 1e9 / double(c.attempts - before > 0 ? c.attempts - before : 1);
    };
    for (long k = 1; k <= pairs; ++k) {
        double off_ns, on_ns;
        if (k % 2) {
            on_ns = timed(on_fd, true);
            off_ns = timed(off_fd, false);
        } else {
            off_ns = timed(off_fd, false);
            on_ns = timed(on_fd, true);
        }
        std::printf("pair %.1f %.1f\n", off_ns, on_ns);
    }
    std::printf("on_attempts=%ld ", on_attempts);
    c.print();
    return c.errors ? 1 : 0;
}

int usage() {
    std::fprintf(stderr,
                 "usage: em-connect [--udp] [--http] [--count N] [--seconds S] [--timeout-ms T] "
                 "ADDR PORT\n"
                 "       em-connect --alternate ON_FD OFF_FD [--block N] [--pairs P] ADDR PORT\n"
                 "       em-connect --listen ADDR PORT\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    bool udp = false, http = false, listen_mode = false;
    long count = 1;
    double seconds = 0;
    int timeout_ms = 1000;
    int alt_on = -1, alt_off = -1;
    long block = 500, pairs = 100;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; ++i) {
        std::string a = argv[i];
        if (a == "--udp")
            udp = true;
        else if (a == "--http")
            http = true;
        else if (a == "--listen")
            listen_mode = true;
        else if (a == "--count" && i + 1 < argc)
            count = std::atol(argv[++i]);
        else if (a == "--seconds" && i + 1 < argc)
            seconds = std::atof(argv[++i]);
        else if (a == "--timeout-ms" && i + 1 < argc)
            timeout_ms = std::atoi(argv[++i]);
        else if (a == "--alternate" && i + 2 < argc) {
            alt_on = std::atoi(argv[++i]);
            alt_off = std::atoi(argv[++i]);
        } else if (a == "--block" && i + 1 < argc)
            block = std::atol(argv[++i]);
        else if (a == "--pairs" && i + 1 < argc)
            pairs = std::atol(argv[++i]);
        else
            return usage();
    }
    if (argc - i != 2) return usage();
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (!make_addr(argv[i], std::atoi(argv[i + 1]), ss, len)) return usage();
    const int family = ss.ss_family;

    if (listen_mode) {
        int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (s < 0 || bind(s, reinterpret_cast<sockaddr*>(&ss), len) != 0 || listen(s, 4096) != 0) {
            std::perror("em-connect: listen");
            return 1;
        }
        std::printf("listening\n");
        std::fflush(stdout);
        for (;;) {
            int c = accept4(s, nullptr, nullptr, SOCK_CLOEXEC);
            if (c >= 0) close(c);
        }
    }

    Counts c;
    const Target to{family, udp, http, timeout_ms, ss, len};
    if (alt_on >= 0 && alt_off >= 0) return alternate(to, alt_on, alt_off, block, pairs, c);
    const double end = now_s() + seconds;
    for (long n = 0; seconds > 0 ? (n % 64 != 0 || now_s() < end) : n < count; ++n) attempt(to, c);
    c.print();
    return c.errors ? 1 : 0;
}
