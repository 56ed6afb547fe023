// The dga rule's measured figures: false positives on a benign name list the model was not
// trained on (dnsrecon's subdomain list; bench/dga_eval.sh fetches it) and recall on each
// generated family (dga_gen.h). Every entry of the list is judged as if it were the label of
// a registrable domain ("www" as www.com), which is harsher than the rule, which only ever
// sees registrable domains.
// Then recall with the burst tell (dga::in_burst, the rule's own function): the family's names
// queried by one host, never answered, k at a time within a cycle, for several k.
//   dga_eval BENIGN_LIST [--threshold BITS] [--min-length N] [--per-family N] [--sweep]
//            [--burst-min N] [--burst-minutes M]
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "collector/dga_model.h"
#include "dga_gen.h"

using namespace em;

int main(int argc, char** argv) {
    if (argc < 2) {
        std::fprintf(stderr,
                     "usage: dga_eval BENIGN_LIST [--threshold BITS] [--min-length N] "
                     "[--per-family N] [--sweep] [--burst-min N] [--burst-minutes M]\n");
        return 2;
    }
    dga::Params p;
    size_t per_family = 10000;
    bool sweep = false;
    int64_t burst_min = 10, burst_minutes = 15;
    for (int i = 2; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--sweep") {
            sweep = true;
        } else if (i + 1 < argc && a == "--threshold") {
            p.threshold = std::atof(argv[++i]);
        } else if (i + 1 < argc && a == "--min-length") {
            p.min_length = std::atoll(argv[++i]);
        } else if (i + 1 < argc && a == "--burst-min") {
            burst_min = std::atoll(argv[++i]);
        } else if (i + 1 < argc && a == "--burst-minutes") {
            burst_minutes = std::atoll(argv[++i]);
        } else if (i + 1 < argc && a == "--per-family") {
            per_family = static_cast<size_t>(std::atoll(argv[++i]));
        } else {
            std::fprintf(stderr, "dga_eval: unknown argument %s\n", a.c_str());
            return 2;
        }
    }
    std::ifstream in(argv[1]);
    if (!in) {
        std::fprintf(stderr, "dga_eval: cannot read %s\n", argv[1]);
        return 1;
    }
    std::vector<std::string> benign;
    for (std::string line; std::getline(in, line);) {
        std::transform(line.begin(), line.end(), line.begin(),
                       [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
        if (!line.empty()) benign.push_back(line.substr(0, line.find('.')));
    }
    struct Set {
        std::string name;
        std::vector<std::string> labels;
    };
    std::vector<Set> families;
    for (auto f : dga_gen::kFamilies) {
        Set s{std::string(dga_gen::family_name(f)), {}};
        for (auto& d : dga_gen::generate(f, 20261203, per_family))
            s.labels.push_back(std::string(dga::registrable_label(d)));
        families.push_back(std::move(s));
    }
    auto flagged = [&](const std::vector<std::string>& labels, const dga::Params& q) {
        size_t n = 0;
        for (auto& l : labels) n += dga::judge(l, q).kind != dga::Kind::kNone;
        return n;
    };
    auto report = [&](const dga::Params& q, bool verbose) {
        const size_t fp = flagged(benign, q);
        std::printf(
            "threshold %.1f bits, min_length %lld: false positives %zu of %zu benign (%.3f %%)",
            q.threshold, static_cast<long long>(q.min_length), fp, benign.size(),
            100.0 * static_cast<double>(fp) / static_cast<double>(benign.size()));
        size_t hit = 0, all = 0, hit_random = 0, all_random = 0;
        for (auto& s : families) {
            const size_t h = flagged(s.labels, q);
            hit += h;
            all += s.labels.size();
            if (s.name.rfind("words", 0) != 0) {
                hit_random += h;
                all_random += s.labels.size();
            }
            if (verbose)
                std::printf("\n  recall %-32s %5zu of %5zu (%.1f %%)", s.name.c_str(), h,
                            s.labels.size(),
                            100.0 * static_cast<double>(h) / static_cast<double>(s.labels.size()));
        }
        std::printf("%srecall overall %.1f %%, without words %.1f %%\n", verbose ? "\n  " : "; ",
                    100.0 * static_cast<double>(hit) / static_cast<double>(all),
                    100.0 * static_cast<double>(hit_random) / static_cast<double>(all_random));
    };
    if (sweep) {
        for (int64_t ml : {6, 7, 8, 9, 10})
            for (double t = 4; t <= 30; t += 2) report(dga::Params{ml, t}, false);
        return 0;
    }
    report(p, true);
    // The burst: the host tries `k` names every cycle (5 minutes apart, first seen at the
    // cycle's fetch), none answered; a name is caught by its letters or by being in a burst.
    std::printf(
        "with the burst tell (burst_min %lld, burst_minutes %lld), names tried per "
        "5-minute cycle:\n  %-32s",
        static_cast<long long>(burst_min), static_cast<long long>(burst_minutes), "family");
    const size_t per_cycle[] = {1, 5, 10, 50};
    for (size_t k : per_cycle) std::printf(" %9zu/cycle", k);
    std::printf("\n");
    for (auto& s : families) {
        std::printf("  %-32s", s.name.c_str());
        for (size_t k : per_cycle) {
            std::vector<int64_t> times;
            for (size_t i = 0; i < s.labels.size(); ++i)
                times.push_back(static_cast<int64_t>(i / k) * 300);
            const auto burst = dga::in_burst(times, burst_min, burst_minutes * 60);
            size_t caught = 0;
            for (size_t i = 0; i < s.labels.size(); ++i)
                caught += burst[i] || dga::judge(s.labels[i], p).kind != dga::Kind::kNone;
            std::printf(" %13.1f %%",
                        100.0 * static_cast<double>(caught) / static_cast<double>(s.labels.size()));
        }
        std::printf("\n");
    }
    std::printf("flagged benign names:");
    size_t shown = 0;
    for (auto& l : benign)
        if (dga::judge(l, p).kind != dga::Kind::kNone && shown++ < 40)
            std::printf(" %s", l.c_str());
    std::printf("\n");
    return 0;
}
