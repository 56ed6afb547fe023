#include "collector/dga_model.h"

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

}  // namespace em::dga
