#include "dga_gen.h"

namespace em::dga_gen {

namespace {

// splitmix64: small, fast, and the same sequence on every platform.
struct Rng {
    uint64_t s;
    uint64_t next() {
        uint64_t z = (s += 0x9e3779b97f4a7c15ULL);
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        return z ^ (z >> 31);
    }
    size_t below(size_t n) { return static_cast<size_t>(next() % n); }
};

constexpr std::string_view kTlds[] = {"com", "net", "org", "info", "biz", "ru"};

// Suppobox's lists are English words of 4-10 letters; these are a fixed list of that kind.
constexpr std::string_view kWords[] = {
    "again",   "table",   "which",   "river",   "dream",    "mount",   "heavy",  "ocean",
    "thick",   "stone",   "wonder",  "before",  "single",   "pretty",  "forest", "glass",
    "market",  "silver",  "travel",  "winter",  "yellow",   "answer",  "bright", "castle",
    "doctor",  "father",  "garden",  "hunter",  "island",   "jacket",  "kitten", "ladder",
    "morning", "nothing", "orange",  "picture", "quarter",  "rather",  "summer", "thunder",
    "usual",   "village", "weather", "young",   "zebra",    "chicken", "famous", "gentle",
    "honest",  "joyful",  "kindly",  "lively",  "modern",   "narrow",  "pocket", "quiet",
    "rocket",  "shadow",  "timber",  "unless",  "velvet",   "whisper", "sudden", "family",
    "strong",  "school",  "people",  "little",  "follow",   "ground",  "figure", "friend",
    "letter",  "mother",  "number",  "matter",  "possible", "record",  "simple", "spring",
};

std::string random_letters(Rng& r, size_t len) {
    std::string s;
    for (size_t i = 0; i < len; ++i) s += static_cast<char>('a' + r.below(26));
    return s;
}

std::string label(Family f, Rng& r) {
    switch (f) {
        case Family::kRandomLong:
            return random_letters(r, 12 + r.below(6));
        case Family::kRandomShort:
            return random_letters(r, 4 + r.below(8));
        case Family::kHex: {
            std::string s;
            const size_t len = 16 + r.below(17);
            for (size_t i = 0; i < len; ++i) s += "0123456789abcdef"[r.below(16)];
            return s;
        }
        case Family::kWords: {
            std::string s;
            const size_t words = 2 + r.below(2);
            for (size_t i = 0; i < words; ++i) s += kWords[r.below(std::size(kWords))];
            return s;
        }
    }
    return {};
}

}  // namespace

std::string_view family_name(Family f) {
    switch (f) {
        case Family::kRandomLong:
            return "random_long (Cryptolocker-like)";
        case Family::kRandomShort:
            return "random_short (Conficker-like)";
        case Family::kHex:
            return "hex (Bamital-like)";
        case Family::kWords:
            return "words (Suppobox-like)";
    }
    return "?";
}

std::vector<std::string> generate(Family f, uint64_t seed, size_t n) {
    Rng r{seed * 0x100000001b3ULL + static_cast<uint64_t>(f)};
    std::vector<std::string> out;
    out.reserve(n);
    while (out.size() < n) out.push_back(label(f, r) + "." + std::string(kTlds[r.below(6)]));
    return out;
}

}  // namespace em::dga_gen
