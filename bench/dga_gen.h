#pragma once
// Generators of domain names in the style of published DGA families, deterministic for a
// seed, for the dga rule's tests and its evaluation (dga_eval). They reproduce each family's
// shape (alphabet, length, structure), not its exact seeds or dates:
//   random_long   Cryptolocker-like: 12-17 random lower-case letters
//   random_short  Conficker-like: 4-11 random lower-case letters
//   hex           Bamital/Dyre-like: 16-32 hex digits of a hash
//   words         Suppobox/Matsnu-like: two or three words of a fixed list (not the word list
//                 the model is trained on, though most of its words are English too)
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace em::dga_gen {

enum class Family { kRandomLong, kRandomShort, kHex, kWords };
inline constexpr Family kFamilies[] = {Family::kRandomLong, Family::kRandomShort, Family::kHex,
                                       Family::kWords};
std::string_view family_name(Family f);

/// `n` registrable domains (label + one of a few common top-level domains) of family `f`.
std::vector<std::string> generate(Family f, uint64_t seed, size_t n);

}  // namespace em::dga_gen
