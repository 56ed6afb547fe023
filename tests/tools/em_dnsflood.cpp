// em-dnsflood: a flood of DNS queries for random subdomains (what DNS tunnelling or a
// misbehaving client looks like), at a fixed rate, over UDP to one resolver. Answers are read
// and dropped. Prints "sent=<n> answers=<n>" — the test's own count to check against.
//   em-dnsflood --count N --rate R --domain flood.example.com SERVER [PORT]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <string>

namespace {

double now_s() {
    timespec ts{};
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

std::string query(uint16_t id, const std::string& name) {
    std::string s;
    s += static_cast<char>(id >> 8);
    s += static_cast<char>(id & 0xff);
    s += std::string("\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00", 10);
    size_t start = 0;
    while (start < name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string::npos) dot = name.size();
        s += static_cast<char>(dot - start);
        s += name.substr(start, dot - start);
        start = dot + 1;
    }
    s += std::string("\x00\x00\x01\x00\x01", 5);
    return s;
}

}  // namespace

int main(int argc, char** argv) {
    long count = 1000, rate = 10000;
    std::string domain = "flood.example.com";
    int i = 1;
    for (; i + 1 < argc && argv[i][0] == '-'; i += 2) {
        std::string a = argv[i];
        if (a == "--count")
            count = std::atol(argv[i + 1]);
        else if (a == "--rate")
            rate = std::atol(argv[i + 1]);
        else if (a == "--domain")
            domain = argv[i + 1];
        else
            break;
    }
    if (i >= argc) {
        std::fprintf(stderr, "usage: em-dnsflood --count N --rate R --domain D SERVER [PORT]\n");
        return 2;
    }
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_port = htons(static_cast<uint16_t>(i + 1 < argc ? std::atoi(argv[i + 1]) : 53));
    if (inet_pton(AF_INET, argv[i], &sa.sin_addr) != 1) return 2;
    int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (s < 0 || connect(s, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
        std::perror("em-dnsflood");
        return 1;
    }
    std::mt19937_64 rng(std::random_device{}());
    const char* alphabet = "abcdefghijklmnopqrstuvwxyz0123456789";
    long sent = 0, answers = 0;
    char buf[4096];
    const double start = now_s();
    while (sent < count) {
        // Pace: never ahead of rate * elapsed.
        while (sent >= static_cast<long>((now_s() - start) * rate) + 64) {
            while (recv(s, buf, sizeof buf, 0) > 0) ++answers;
            usleep(200);
        }
        std::string label(20, 'a');
        for (char& c : label) c = alphabet[rng() % 36];
        std::string q = query(static_cast<uint16_t>(sent), label + "." + domain);
        if (send(s, q.data(), q.size(), 0) == static_cast<ssize_t>(q.size())) {
            ++sent;
        } else {
            usleep(100);  // socket buffer full: retry the same slot
        }
        while (recv(s, buf, sizeof buf, 0) > 0) ++answers;
    }
    const double end = now_s() + 1.0;  // collect late answers
    while (now_s() < end) {
        while (recv(s, buf, sizeof buf, 0) > 0) ++answers;
        usleep(1000);
    }
    std::printf("sent=%ld answers=%ld seconds=%.1f\n", sent, answers, now_s() - start);
    return 0;
}
