// Collector benchmark: N hosts with D domains and I addresses each, as aggregate-file text
// generated in memory (domains from a shared pool, addresses from the documentation ranges
// 192.0.2.0/24, 198.51.100.0/24, 203.0.113.0/24 and 2001:db8::/32 — nothing is contacted),
// run through Collector::run_cycle twice:
//   cycle 1: every host new (baseline snapshots)
//   cycle 2: 10 % of each host's counts grown, 3 new domains and 2 new addresses per host —
//            on every host, or with --changed P on P % of them while the rest answer 304
//            (a steady cycle)
// Prints per cycle: wall time, CPU time, peak RSS, hosts/s, and the time spent generating
// the text (on the collector's worker thread, overlapped with ingest). Then the dashboard's
// pages rendered from that history, server-side (what a request costs before the network):
// the overview, a host's page (the first host's agent also sends process-uses.log: each of
// its domains and addresses used by one of 8 programs, so its page lists them all), a domain's
// page, an address's page and searches for part of a name and part of an address, best of three.
// --pages-only times the pages of the history a previous run left at --db (same --hosts and --pool)
// without running the cycles again.
//
//   collector_bench [--hosts 1000] [--domains 10000] [--ips 20000] [--pool 50000]
//                   [--db /tmp/collector-bench.sqlite] [--resolvers packaging/public-resolvers.txt]
//                   [--changed 100] [--pages-only]
// --db postgresql://… puts the history in PostgreSQL: an empty database (the benchmark
// refuses one that holds a history); bench/collector_stores.sh runs both side by side.
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <random>
#include <string>
#include <tuple>
#include <vector>

#include "collector/collector.h"
#include "collector/report_html.h"
#include "common/ip_address.h"
#include "common/time.h"
#include "dashboard/pages.h"
#include "format/parser.h"
#include "format/writer.h"
#include "store/store.h"

namespace {

using Clock = std::chrono::steady_clock;
constexpr int64_t kT0 = 1795347335;  // 2026-11-22T11:35:35Z

struct Options {
    size_t hosts = 1000, domains = 10000, ips = 20000, pool = 50000;
    size_t changed = 100;  // % of hosts whose files change in cycle 2 (the rest: 304)
    std::string db = "/tmp/collector-bench.sqlite";
    std::string resolvers;
};

struct Pool {
    std::vector<std::string> names;     // sorted
    std::vector<std::string> v6a, v6b;  // per name: two unique addresses, ascending
    std::vector<uint16_t> v4;           // per name: index into v4_text
    std::vector<std::string> v4_text;   // the 768 documentation addresses, ascending
    std::vector<std::string> times;     // RFC 3339 stamps
};

Pool make_pool(size_t n) {
    static const char* kLabels[] = {"www",    "api",  "cdn",   "static", "mail", "login", "img",
                                    "assets", "auth", "media", "m",      "edge", "s3",    "update"};
    static const char* kTlds[] = {"com", "net", "org", "io", "de", "co.uk", "fr", "nl"};
    std::mt19937_64 rng(42);
    std::vector<std::string> names;
    names.reserve(n);
    const size_t bases = std::max<size_t>(1, n / 6);
    for (size_t i = 0; names.size() < n; ++i) {
        std::string base = "site" + std::to_string(i % bases) + "." + kTlds[(i / bases) % 8];
        size_t form = rng() % 4;
        if (form == 0)
            names.push_back(base);
        else if (form == 1)
            names.push_back(std::string(kLabels[rng() % 14]) + "." + base);
        else
            names.push_back(std::string(kLabels[rng() % 14]) + std::to_string(rng() % 100) + "." +
                            (form == 3 ? "eu-west." : "") + base);
    }
    std::sort(names.begin(), names.end());
    names.erase(std::unique(names.begin(), names.end()), names.end());
    Pool p;
    p.names = std::move(names);
    for (uint32_t net : {0xC0000200u, 0xC6336400u, 0xCB007100u})  // 192.0.2/198.51.100/203.0.113
        for (uint32_t h = 0; h < 256; ++h)
            p.v4_text.push_back(em::IpAddress::v4(net | h).to_string());
    for (size_t i = 0; i < p.names.size(); ++i) {
        uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8};
        b[6] = static_cast<uint8_t>(i >> 8);
        b[7] = static_cast<uint8_t>(i);
        b[8] = static_cast<uint8_t>(i >> 16);
        b[15] = 1;
        p.v6a.push_back(em::IpAddress::v6(b).to_string());
        b[15] = 2;
        p.v6b.push_back(em::IpAddress::v6(b).to_string());
        p.v4.push_back(static_cast<uint16_t>((i * 7) % 768));
    }
    for (int k = 0; k < 1024; ++k) p.times.push_back(em::format_rfc3339(kT0 - 60 * k));
    return p;
}

// Everything about one host, regenerated identically from its seed in both cycles.
std::pair<std::string, std::string> host_files(const Pool& p, const Options& o, size_t host,
                                               int cycle) {
    std::mt19937_64 rng(host * 7919 + 1);
    // Selection sampling: exactly `want` pool indices, ascending.
    const size_t want = std::min(o.domains, p.names.size());
    std::vector<uint32_t> pick;
    pick.reserve(want);
    for (size_t i = 0, left = p.names.size(); i < p.names.size() && pick.size() < want; ++i, --left)
        if (rng() % left < want - pick.size()) pick.push_back(static_cast<uint32_t>(i));
    std::vector<int64_t> dcount(pick.size());
    for (auto& c : dcount) c = 1 + static_cast<int64_t>(rng() % 1000);
    std::mt19937_64 grow(host * 104729 + 7);
    auto tick = [&]() -> const std::string& { return p.times[rng() % p.times.size()]; };

    // New names of cycle 2 sort after the pool ("zz-"), so appending keeps the order.
    std::string d;
    d.reserve(pick.size() * 80);
    std::vector<bool> v4_used(768);
    std::vector<uint32_t> v6_names;  // indices whose addresses go to unique-ips
    for (size_t k = 0; k < pick.size(); ++k) {
        uint32_t i = pick[k];
        int64_t c = dcount[k];
        if (cycle == 2 && grow() % 10 == 0) c += 1 + static_cast<int64_t>(grow() % 50);
        d += p.names[i];
        d += ' ';
        d += std::to_string(c);
        d += ' ';
        d += tick();
        d += ' ';
        d += p.v4_text[p.v4[i]];
        d += ',';
        d += p.v6a[i];
        d += ',';
        d += p.v6b[i];
        d += '\n';
        v4_used[p.v4[i]] = true;
        v6_names.push_back(i);
    }
    std::vector<std::string> fresh_ips;
    if (cycle == 2)
        for (int k = 0; k < 3; ++k) {
            char buf[96];
            uint8_t b[16] = {0x20, 0x01, 0x0d, 0xb8, 0xfe, 0};
            b[8] = static_cast<uint8_t>(host >> 8);
            b[9] = static_cast<uint8_t>(host);
            b[15] = static_cast<uint8_t>(k + 1);
            std::string a = em::IpAddress::v6(b).to_string();
            std::snprintf(buf, sizeof buf, "zz-new%d.host%zu.example.net 2 %s %s\n", k, host,
                          p.times[0].c_str(), a.c_str());
            d += buf;
            if (k < 2) fresh_ips.push_back(a);
        }

    std::string ips;
    ips.reserve(o.ips * 48);
    size_t n = 0;
    auto add = [&](const std::string& a) {
        int64_t c = 1 + static_cast<int64_t>(rng() % 500);
        if (cycle == 2 && grow() % 10 == 0) c += 1 + static_cast<int64_t>(grow() % 50);
        ips += a;
        ips += ' ';
        ips += std::to_string(c);
        ips += ' ';
        ips += tick();
        ips += '\n';
        ++n;
    };
    for (size_t k = 0; k < 768 && n < o.ips; ++k)
        if (v4_used[k]) add(p.v4_text[k]);
    for (uint32_t i : v6_names) {
        if (n < o.ips) add(p.v6a[i]);
        if (n < o.ips) add(p.v6b[i]);
    }
    // One host in 50 talks to an address no domain explains (direct_ip).
    if (host % 50 == 0) add("2001:db8:fd::" + std::to_string(host % 10000 + 1));
    for (const auto& a : fresh_ips) add(a);
    return {std::move(d), std::move(ips)};
}

double cpu_seconds() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

long peak_rss_mib() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss / 1024;
}

int usage() {
    std::fprintf(stderr,
                 "usage: collector_bench [--hosts N] [--domains N] [--ips N] [--pool N] "
                 "[--db PATH] [--resolvers PATH] [--changed PERCENT] [--pages-only]\n");
    return 2;
}

// Milliseconds of the best of three runs of `render`, which returns the page's size.
template <class F>
double best_ms(F render, size_t& bytes) {
    double best = 1e18;
    for (int i = 0; i < 3; ++i) {
        const auto t0 = Clock::now();
        bytes = render();
        best = std::min(best, std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    }
    return best;
}

// process-uses.log for a host's files: every domain and address used by one of 8 programs
// (two in containers), first and last seen at the key's last seen.
std::string host_uses(const std::string& domains, const std::string& ips) {
    auto d = em::parse_domains_file(domains, "bench");
    auto i = em::parse_ips_file(ips, "bench");
    std::vector<em::ProcessUseEntry> uses;
    if (!d || !i) return "";
    static const char* const kExe[] = {
        "/usr/bin/curl", "/usr/sbin/nginx", "/usr/bin/python3", "/opt/app/bin/server",
        "/usr/bin/apt",  "/usr/bin/git",    "/usr/bin/node",    "/usr/lib/jvm/bin/java"};
    size_t k = 0;
    auto use = [&](char kind, std::string dest, int64_t count, int64_t t) {
        const size_t p = k++ % 8;
        uses.push_back(em::ProcessUseEntry{kind, std::move(dest), kExe[p], p < 4 ? "root" : "app",
                                           p >= 6 ? "3f2a9c0e5d71" + std::to_string(p) : "", count,
                                           t, t});
    };
    for (const auto& e : *d) use('d', e.name, e.count, e.last_seen);
    for (const auto& e : *i) use('i', e.ip.to_string(), e.count, e.last_seen);
    std::sort(uses.begin(), uses.end(),
              [](const em::ProcessUseEntry& a, const em::ProcessUseEntry& b) {
                  return std::tie(a.kind, a.dest, a.exe, a.user, a.container) <
                         std::tie(b.kind, b.dest, b.exe, b.user, b.container);
              });
    return em::render_process_uses_file(uses);
}

int time_pages(const Options& o, const Pool& pool, const std::vector<em::HostSpec>& hosts) {
    auto store = em::HistoryStore::open(o.db);
    if (!store)
        return std::fprintf(stderr, "collector_bench: %s\n", store.error().message.c_str()), 1;
    if (auto r = (*store)->map_for_reading(); !r)  // as the dashboard does
        return std::fprintf(stderr, "collector_bench: %s\n", r.error().message.c_str()), 1;
    auto book = em::AlertBook::create((*store)->db());
    if (!book)
        return std::fprintf(stderr, "collector_bench: %s\n", book.error().message.c_str()), 1;
    const int64_t now = kT0 + 3600;
    auto page = [](em::Page p) {
        if (p.status != 200)
            std::fprintf(stderr, "collector_bench: page %d %s\n", p.status, p.error.c_str());
        return p.html.size();
    };
    struct Row {
        const char* name;
        std::function<size_t()> render;
    };
    const std::string domain = pool.names[pool.names.size() / 2];
    const std::vector<Row> rows{
        {"overview /",
         [&] {
             auto d = em::read_report_data(**store, *book, now);
             std::string out;
             if (d) em::html_overview(*d, em::HtmlOptions{true, "", "status"}, out);
             return out.size();
         }},
        {"/host", [&] { return page(em::host_page(**store, *book, hosts[0].name, "", now)); }},
        {"/host&q=",
         [&] { return page(em::host_page(**store, *book, hosts[0].name, "site1", now)); }},
        {"/domain", [&] { return page(em::domain_page(**store, *book, domain)); }},
        {"/ip", [&] { return page(em::ip_page(**store, "192.0.2.77")); }},
        {"/search", [&] { return page(em::search_page(**store, "site12.")); }},
        {"/search ip", [&] { return page(em::search_page(**store, "192.0.2.7")); }},
    };
    std::printf("%-10s %10s %10s   (dashboard pages, server-side, best of 3)\n", "page", "ms",
                "KiB");
    for (const auto& r : rows) {
        size_t bytes = 0;
        const double ms = best_ms(r.render, bytes);
        std::printf("%-10s %10.1f %10.0f\n", r.name, ms, static_cast<double>(bytes) / 1024);
    }
    std::fflush(stdout);
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    Options o;
    bool pages_only = false;
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--pages-only") {
            pages_only = true;
            continue;
        }
        if (i + 1 >= argc) return usage();
        const char* v = argv[++i];
        if (a == "--hosts")
            o.hosts = std::strtoull(v, nullptr, 10);
        else if (a == "--domains")
            o.domains = std::strtoull(v, nullptr, 10);
        else if (a == "--ips")
            o.ips = std::strtoull(v, nullptr, 10);
        else if (a == "--pool")
            o.pool = std::strtoull(v, nullptr, 10);
        else if (a == "--db")
            o.db = v;
        else if (a == "--resolvers")
            o.resolvers = v;
        else if (a == "--changed")
            o.changed = std::min<size_t>(100, std::strtoull(v, nullptr, 10));
        else
            return usage();
    }
    if (pages_only) {
        std::vector<em::HostSpec> hosts(1);
        char name[32];
        std::snprintf(name, sizeof name, "host%05d", 0);
        hosts[0].name = name;
        return time_pages(o, make_pool(o.pool), hosts);
    }
    const bool pg = em::store::is_postgres_url(o.db);
    em::CollectorConfig cfg;
    if (pg) {
        auto db = em::store::Database::open(o.db);
        auto v = db ? db->schema_version() : em::Result<int64_t>(db.error());
        if (!v || *v != 0) {
            std::fprintf(stderr, "collector_bench: %s: %s\n", em::store::redact_url(o.db).c_str(),
                         v ? "holds a history: give an empty database" : v.error().message.c_str());
            return 1;
        }
        cfg.history.url = o.db;
        cfg.alerts.jsonl = "/tmp/collector-bench-pg.alerts.jsonl";
        std::filesystem::remove(cfg.alerts.jsonl);
    } else {
        for (const char* suffix : {"", "-wal", "-shm", ".alerts.jsonl"})
            std::filesystem::remove(o.db + suffix);
        cfg.history.path = o.db;
        cfg.alerts.jsonl = o.db + ".alerts.jsonl";
    }
    cfg.alerts.to_stdout = false;
    cfg.rules.new_domain.learning_days = 0;  // so that cycle 2's new names are alerted on
    cfg.rules.public_resolver.list = o.resolvers;
    cfg.rules.public_resolver.enabled = !o.resolvers.empty();
    auto collector = em::Collector::create(cfg);
    if (!collector) {
        std::fprintf(stderr, "collector_bench: %s\n", collector.error().message.c_str());
        return 1;
    }

    auto t = Clock::now();
    const Pool pool = make_pool(o.pool);
    std::printf(
        "pool: %zu names, built in %.2f s; hosts %zu x %zu domains x %zu addresses; "
        "db %s\n",
        pool.names.size(), std::chrono::duration<double>(Clock::now() - t).count(), o.hosts,
        o.domains, o.ips, em::store::redact_url(o.db).c_str());

    std::vector<em::HostSpec> hosts(o.hosts);
    for (size_t h = 0; h < o.hosts; ++h) {
        char name[32];
        std::snprintf(name, sizeof name, "host%05zu", h);
        hosts[h].name = name;
        hosts[h].url = std::string("https://") + name + ".example:8443";
        hosts[h].tags = {"bench"};
    }
    std::printf("%-7s %9s %9s %10s %9s %10s %8s %8s %8s\n", "cycle", "wall s", "cpu s", "peak MiB",
                "hosts/s", "gen s", "fetched", "opened", "open");
    for (int cycle = 1; cycle <= 2; ++cycle) {
        std::atomic<int64_t> gen_ns{0};
        size_t bytes = 0;
        em::FetchSource source = [&](size_t h) {
            auto g0 = Clock::now();
            em::FetchResult r;
            r.host = hosts[h].name;
            r.ok = true;
            if (cycle == 2 && h % 100 >= o.changed) {  // unchanged: 304 Not Modified
                r.not_modified = true;
                gen_ns +=
                    std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - g0).count();
                return r;
            }
            std::tie(r.domains, r.ips) = host_files(pool, o, h, cycle);
            if (h == 0) {
                r.uses.present = true;
                r.uses.text = host_uses(r.domains, r.ips);
            }
            r.domains_etag = "\"d" + std::to_string(cycle) + "\"";
            r.ips_etag = "\"i" + std::to_string(cycle) + "\"";
            bytes += r.domains.size() + r.ips.size();
            gen_ns +=
                std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now() - g0).count();
            return r;
        };
        const double cpu0 = cpu_seconds();
        const auto w0 = Clock::now();
        auto sum = (*collector)->run_cycle(hosts, source, kT0 + (cycle - 1) * 3600);
        const double wall = std::chrono::duration<double>(Clock::now() - w0).count();
        const double cpu = cpu_seconds() - cpu0;
        if (!sum) {
            std::fprintf(stderr, "collector_bench: cycle %d: %s\n", cycle,
                         sum.error().message.c_str());
            return 1;
        }
        std::printf(
            "%-7d %9.2f %9.2f %10ld %9.1f %10.2f %8zu %8zu %8zu   (%.0f MB of text; "
            "%zu not modified)\n",
            cycle, wall, cpu, peak_rss_mib(), static_cast<double>(o.hosts) / wall,
            static_cast<double>(gen_ns.load()) / 1e9, sum->fetched, sum->alerts_opened,
            sum->alerts_open, static_cast<double>(bytes) / 1e6, sum->not_modified);
        std::fflush(stdout);
    }
    if (int rc = time_pages(o, pool, hosts); rc != 0) return rc;
    if (pg) {
        auto db = em::store::Database::open(o.db);
        auto st = db ? db->prepare("SELECT pg_database_size(current_database())")
                     : em::Result<em::store::Statement>(db.error());
        if (st && st->step() == em::store::Step::Row)
            std::printf("database: %.0f MB\n", static_cast<double>(st->int64(0)) / 1e6);
        return 0;
    }
    std::error_code ec;
    std::printf("database: %.0f MB (+ WAL %.0f MB)\n",
                static_cast<double>(std::filesystem::file_size(o.db, ec)) / 1e6,
                static_cast<double>(std::filesystem::file_size(o.db + "-wal", ec)) / 1e6);
    return 0;
}
