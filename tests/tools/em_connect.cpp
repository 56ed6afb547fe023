// em-connect: the tests' and the benchmark's own connector. Opens new outbound flows and
// counts exactly how many it opened, so a capture can be checked against it.
//
//   em-connect [--udp] [--count N] [--seconds S] [--timeout-ms T] ADDR PORT
//       TCP: connect() N times (or for S seconds, as fast as it can); refused counts as an
//       attempt made (the SYN left). UDP: a datagram from a fresh socket (a new flow) each.
//       Prints "attempts=<n> connected=<n> refused=<n> timeouts=<n> errors=<n>".
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

int usage() {
    std::fprintf(stderr,
                 "usage: em-connect [--udp] [--count N] [--seconds S] [--timeout-ms T] ADDR PORT\n"
                 "       em-connect --listen ADDR PORT\n");
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    bool udp = false, listen_mode = false;
    long count = 1;
    double seconds = 0;
    int timeout_ms = 1000;
    int i = 1;
    for (; i < argc && argv[i][0] == '-' && argv[i][1] == '-'; ++i) {
        std::string a = argv[i];
        if (a == "--udp")
            udp = true;
        else if (a == "--listen")
            listen_mode = true;
        else if (a == "--count" && i + 1 < argc)
            count = std::atol(argv[++i]);
        else if (a == "--seconds" && i + 1 < argc)
            seconds = std::atof(argv[++i]);
        else if (a == "--timeout-ms" && i + 1 < argc)
            timeout_ms = std::atoi(argv[++i]);
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

    long attempts = 0, connected = 0, refused = 0, timeouts = 0, errors = 0;
    const double end = now_s() + seconds;
    for (long n = 0; seconds > 0 ? (n % 64 != 0 || now_s() < end) : n < count; ++n) {
        int s = socket(family, (udp ? SOCK_DGRAM : SOCK_STREAM) | SOCK_CLOEXEC, 0);
        if (s < 0) {
            ++errors;
            continue;
        }
        if (udp) {
            if (sendto(s, "em", 2, 0, reinterpret_cast<sockaddr*>(&ss), len) == 2) {
                ++attempts;
            } else {
                ++errors;
            }
            close(s);
            continue;
        }
        // Linger 0: close with RST, so the client side leaves no TIME_WAIT behind.
        linger lg{1, 0};
        setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
        fcntl(s, F_SETFL, O_NONBLOCK);
        int rc = connect(s, reinterpret_cast<sockaddr*>(&ss), len);
        if (rc != 0 && errno == EINPROGRESS) {
            pollfd p{s, POLLOUT, 0};
            if (poll(&p, 1, timeout_ms) == 1) {
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
        ++attempts;
        if (rc == 0)
            ++connected;
        else if (errno == ECONNREFUSED)
            ++refused;
        else if (errno == ETIMEDOUT)
            ++timeouts;
        else {
            --attempts;
            ++errors;
        }
        close(s);
    }
    std::printf("attempts=%ld connected=%ld refused=%ld timeouts=%ld errors=%ld\n", attempts,
                connected, refused, timeouts, errors);
    return errors ? 1 : 0;
}
