#include "collector/dga_model.h"

#include <algorithm>
#include <cmath>

namespace em::dga {

namespace {

constexpr int kSyms = 27;

bool letter(char c) { return c >= 'a' && c <= 'z'; }

}  // namespace

double randomness_bits(std::string_view label) {
    const double uniform = -std::log2(static_cast<double>(kSyms));
    double bits = 0;
    size_t i = 0;
    while (i < label.size()) {
        if (!letter(label[i])) {
            ++i;
            continue;
        }
        int a = 0, b = 0;
        for (;; ++i) {
            const bool more = i < label.size() && letter(label[i]);
            const int c = more ? label[i] - 'a' + 1 : 0;
            bits += uniform - kTrigramLog2[(a * kSyms + b) * kSyms + c];
            if (!more) break;
            a = b;
            b = c;
        }
    }
    return bits;
}

bool hex_like(std::string_view label) {
    if (label.size() < 12) return false;
    bool digit = false, alpha = false;
    for (char c : label) {
        if (c >= '0' && c <= '9')
            digit = true;
        else if (c >= 'a' && c <= 'f')
            alpha = true;
        else
            return false;
    }
    return digit && alpha;
}

Verdict judge(std::string_view label, const Params& p) {
    Verdict v;
    if (static_cast<int64_t>(label.size()) < p.min_length || label.starts_with("xn--")) return v;
    v.bits = randomness_bits(label);
    if (hex_like(label))
        v.kind = Kind::kHex;
    else if (v.bits > p.threshold)
        v.kind = Kind::kRandom;
    return v;
}

std::vector<bool> in_burst(const std::vector<int64_t>& first_seen, int64_t min_domains,
                           int64_t window_seconds) {
    std::vector<bool> marked(first_seen.size(), false);
    if (min_domains <= 0) return marked;
    const auto need = static_cast<size_t>(min_domains);
    size_t lo = 0, next_unmarked = 0;
    for (size_t hi = 0; hi < first_seen.size(); ++hi) {
        while (first_seen[hi] - first_seen[lo] > window_seconds) ++lo;
        if (hi - lo + 1 < need) continue;
        // Every window is marked once: from the first member not already marked.
        for (size_t i = std::max(lo, next_unmarked); i <= hi; ++i) marked[i] = true;
        next_unmarked = hi + 1;
    }
    return marked;
}

}  // namespace em::dga
