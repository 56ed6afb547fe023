// gen_logs: writes realistic dnsmasq 2.90 (log-queries=extra) and kernel LOG (syslog file)
// logs of N lines each, deterministic for a seed, for the benchmark and the crash test.
//
//   gen_logs --dnsmasq N --kernel N --out DIR [--seed S] [--domains K] [--ips K]
//            [--start EPOCH] [--lines-per-second R] [--append]
//
// Times are written in UTC syslog form ("Nov 22 11:35:35"): run consumers with TZ=UTC.
// The mix: per query a query[A]/query[AAAA] line, forwarded or cached, one or two answers
// (a CNAME chain for one domain in eight), NXDOMAIN and NODATA-IPv6 for some, an occasional
// "reply error is REFUSED"; kernel lines mostly TCP to IPv4, some UDP and IPv6 (printed
// fully expanded as the kernel does), a few loopback ones and a few of another prefix.
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>
#include <random>
#include <string>
#include <vector>

namespace {

struct Options {
    uint64_t dnsmasq = 0, kernel = 0;
    std::string out = ".";
    uint64_t seed = 1, domains = 10000, ips = 20000;
    int64_t start = 1795305600;  // 2026-11-22T00:00:00Z
    uint64_t per_second = 2000;
    bool append = false;
};

void usage() {
    std::fprintf(stderr,
                 "usage: gen_logs --dnsmasq N --kernel N --out DIR [--seed S] [--domains K] "
                 "[--ips K] [--start EPOCH] [--lines-per-second R] [--append]\n");
    std::exit(2);
}

class Writer {
  public:
    Writer(const std::string& path, bool append)
        : f_(std::fopen(path.c_str(), append ? "ab" : "wb")) {
        if (!f_) {
            std::perror(path.c_str());
            std::exit(1);
        }
        std::setvbuf(f_, nullptr, _IOFBF, 1 << 20);
    }
    ~Writer() { std::fclose(f_); }
    FILE* get() { return f_; }

  private:
    FILE* f_;
};

// "Nov 22 11:35:35" for a UTC time.
const char* stamp(int64_t t) {
    static char buf[32];
    static int64_t last = -1;
    if (t != last) {
        std::time_t tt = static_cast<std::time_t>(t);
        std::tm tm{};
        gmtime_r(&tt, &tm);
        std::strftime(buf, sizeof buf, "%b %e %H:%M:%S", &tm);
        last = t;
    }
    return buf;
}

std::string ipv4(uint64_t k) {
    // Public-looking addresses derived from the key: 1.0.0.0 .. 223.x, never loopback.
    uint32_t v = static_cast<uint32_t>((k * 2654435761u) % 3355443200u) + 16777216u;
    if ((v >> 24) == 127) v += 1u << 24;
    char b[20];
    std::snprintf(b, sizeof b, "%u.%u.%u.%u", v >> 24, (v >> 16) & 255, (v >> 8) & 255, v & 255);
    return b;
}

std::string ipv6_short(uint64_t k) {
    char b[48];
    std::snprintf(b, sizeof b, "2001:db8:%x::%x", static_cast<unsigned>(k % 4096),
                  static_cast<unsigned>(k % 65521 + 1));
    return b;
}

std::string ipv6_expanded(uint64_t k) {
    char b[48];
    std::snprintf(b, sizeof b, "2001:0db8:%04x:0000:0000:0000:0000:%04x",
                  static_cast<unsigned>(k % 4096), static_cast<unsigned>(k % 65521 + 1));
    return b;
}

std::string domain(uint64_t k) {
    static const char* kTlds[] = {"com", "net", "org", "io", "test"};
    static const char* kWords[] = {"api",  "cdn",     "static",  "login",
                                   "mail", "updates", "metrics", "www"};
    char b[96];
    std::snprintf(b, sizeof b, "%s.service%llu.example%llu.%s", kWords[k % 8],
                  static_cast<unsigned long long>(k), static_cast<unsigned long long>(k % 97),
                  kTlds[k % 5]);
    return b;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        auto next = [&]() -> const char* {
            if (i + 1 >= argc) usage();
            return argv[++i];
        };
        if (a == "--dnsmasq")
            o.dnsmasq = std::strtoull(next(), nullptr, 10);
        else if (a == "--kernel")
            o.kernel = std::strtoull(next(), nullptr, 10);
        else if (a == "--out")
            o.out = next();
        else if (a == "--seed")
            o.seed = std::strtoull(next(), nullptr, 10);
        else if (a == "--domains")
            o.domains = std::strtoull(next(), nullptr, 10);
        else if (a == "--ips")
            o.ips = std::strtoull(next(), nullptr, 10);
        else if (a == "--start")
            o.start = std::strtoll(next(), nullptr, 10);
        else if (a == "--lines-per-second")
            o.per_second = std::strtoull(next(), nullptr, 10);
        else if (a == "--append")
            o.append = true;
        else
            usage();
    }
    if (o.domains == 0 || o.ips == 0 || o.per_second == 0) usage();
    std::mt19937_64 rng(o.seed);
    const unsigned pid = 4522 + static_cast<unsigned>(o.seed % 1000);

    {
        Writer w(o.out + "/dnsmasq.log", o.append);
        FILE* f = w.get();
        uint64_t lines = 0, serial = 1 + o.seed * 1000000;
        while (lines < o.dnsmasq) {
            int64_t t = o.start + static_cast<int64_t>(lines / o.per_second);
            const char* ts = stamp(t);
            uint64_t k = rng() % o.domains;
            std::string name = domain(k);
            bool aaaa = rng() % 4 == 0;
            unsigned port = 30000 + static_cast<unsigned>(rng() % 30000);
            std::fprintf(f, "%s dnsmasq[%u]: %llu 127.0.0.1/%u query[%s] %s from 127.0.0.1\n", ts,
                         pid, static_cast<unsigned long long>(serial), port, aaaa ? "AAAA" : "A",
                         name.c_str());
            ++lines;
            uint64_t roll = rng() % 100;
            auto line = [&](const char* kind, const std::string& n, const std::string& ans) {
                std::fprintf(f, "%s dnsmasq[%u]: %llu 127.0.0.1/%u %s %s is %s\n", ts, pid,
                             static_cast<unsigned long long>(serial), port, kind, n.c_str(),
                             ans.c_str());
                ++lines;
            };
            if (roll < 3) {
                line("reply", name, "NXDOMAIN");
            } else if (roll < 4) {
                std::fprintf(f, "%s dnsmasq[%u]: %llu 127.0.0.1/%u reply error is REFUSED\n", ts,
                             pid, static_cast<unsigned long long>(serial), port);
                ++lines;
            } else {
                bool cached = roll < 40;
                if (!cached) {
                    std::fprintf(f, "%s dnsmasq[%u]: %llu 127.0.0.1/%u forwarded %s to 10.0.0.1\n",
                                 ts, pid, static_cast<unsigned long long>(serial), port,
                                 name.c_str());
                    ++lines;
                }
                const char* kind = cached ? "cached" : "reply";
                std::string target = name;
                if (k % 8 == 0) {  // a CNAME chain: answers credited to the queried name
                    line(kind, name, "<CNAME>");
                    target = "edge" + std::to_string(k % 50) + ".cdn.example.net";
                }
                if (aaaa && k % 3 == 0) {
                    line(kind, target, "NODATA-IPv6");
                } else {
                    unsigned n = 1 + static_cast<unsigned>(k % 2);
                    for (unsigned a = 0; a < n; ++a) {
                        uint64_t ipk = (k * 7 + a) % o.ips;
                        line(kind, target, aaaa ? ipv6_short(ipk) : ipv4(ipk));
                    }
                }
            }
            ++serial;
        }
    }
    {
        Writer w(o.out + "/kern.log", o.append);
        FILE* f = w.get();
        for (uint64_t i = 0; i < o.kernel; ++i) {
            int64_t t = o.start + static_cast<int64_t>(i / o.per_second);
            const char* ts = stamp(t);
            uint64_t k = rng() % o.ips;
            uint64_t roll = rng() % 1000;
            unsigned sport = 32768 + static_cast<unsigned>(rng() % 28000);
            double up = 12345.0 + static_cast<double>(i) / 1000.0;
            if (roll < 5) {
                std::fprintf(f,
                             "%s web1 kernel: [%.6f] DROPPED: IN=eth0 OUT= MAC=00:16:3e:00:00:01 "
                             "SRC=%s DST=10.0.0.5 LEN=60 TOS=0x00 PREC=0x00 TTL=52 ID=0 DF "
                             "PROTO=TCP SPT=443 DPT=%u WINDOW=0 RES=0x00 RST URGP=0 \n",
                             ts, up, ipv4(k).c_str(), sport);
            } else if (roll < 10) {
                std::fprintf(f,
                             "%s web1 kernel: [%.6f] EGRESS: IN= OUT=lo SRC=127.0.0.1 "
                             "DST=127.0.0.1 LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=1 DF PROTO=TCP "
                             "SPT=%u DPT=8080 WINDOW=65495 RES=0x00 SYN URGP=0 \n",
                             ts, up, sport);
            } else if (roll < 110) {
                std::fprintf(f,
                             "%s web1 kernel: [%.6f] EGRESS: IN= OUT=eth0 "
                             "SRC=2001:0db8:0000:0000:0000:0000:0000:0005 DST=%s LEN=80 TC=0 "
                             "HOPLIMIT=64 FLOWLBL=%u PROTO=TCP SPT=%u DPT=443 WINDOW=64800 "
                             "RES=0x00 SYN URGP=0 \n",
                             ts, up, ipv6_expanded(k * 7 % o.ips).c_str(),
                             static_cast<unsigned>(rng() % 1048576), sport);
            } else if (roll < 250) {
                std::fprintf(f,
                             "%s web1 kernel: [%.6f] EGRESS: IN= OUT=eth0 SRC=10.0.0.5 DST=%s "
                             "LEN=72 TOS=0x00 PREC=0x00 TTL=64 ID=%u DF PROTO=UDP SPT=%u "
                             "DPT=%u LEN=52 \n",
                             ts, up, ipv4(k).c_str(), static_cast<unsigned>(rng() % 65536), sport,
                             roll % 2 ? 53u : 123u);
            } else {
                std::fprintf(f,
                             "%s web1 kernel: [%.6f] EGRESS: IN= OUT=eth0 SRC=10.0.0.5 DST=%s "
                             "LEN=60 TOS=0x00 PREC=0x00 TTL=64 ID=%u DF PROTO=TCP SPT=%u DPT=443 "
                             "WINDOW=64240 RES=0x00 SYN URGP=0 \n",
                             ts, up, ipv4(k).c_str(), static_cast<unsigned>(rng() % 65536), sport);
            }
        }
    }
    return 0;
}
