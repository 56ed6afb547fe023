#pragma once
// The dga rule's model of what a real name looks like: letter trigrams (with start and end
// markers) of an English word list, trained at build time by tools/dga_train.cpp into a
// table compiled in (dga_table.cpp in the build tree). Nothing is read at run time.
//
// A label is judged by how much more likely its letters are under random letters than under
// the word model (a log-likelihood ratio, in bits: evidence grows with length, so short
// labels need no separate threshold), and separately as a hex string (a hash). Digits and
// hyphens split a label into letter runs and carry no evidence themselves: "web2", "my-app"
// and "s3" are words and digits, not noise.
#include <cstdint>
#include <string_view>
#include <vector>

namespace em::dga {

/// log2 P(c | a b) for symbols 0 = boundary, 1..26 = 'a'..'z': index (a * 27 + b) * 27 + c.
extern const float kTrigramLog2[27 * 27 * 27];

/// Bits of evidence that `label`'s letters are random rather than word-like: the sum over its
/// letter runs of log2 P_uniform - log2 P_model (P_uniform: each letter and the end 1/27).
/// Positive: looks random. Characters other than [a-z] (digits, '-') separate runs; upper
/// case is not expected (names are lower case) and counts as a separator.
double randomness_bits(std::string_view label);

/// At least 12 characters, all hex digits, with at least one digit and one letter among them
/// (a hash such as an MD5 prefix; "deadbeefcafe" alone is words, "1234567890123" a number).
bool hex_like(std::string_view label);

enum class Kind { kNone, kRandom, kHex };

struct Params {
    int64_t min_length = 8;   // shorter labels are not judged
    double threshold = 26.0;  // randomness_bits above this: kRandom
};

struct Verdict {
    Kind kind = Kind::kNone;
    double bits = 0;  // randomness_bits, for the message
};

/// Judges the label of a registrable domain (the part left of its public suffix, one label).
/// Punycode ("xn--") labels are not judged: their ASCII form is an encoding, not a name.
Verdict judge(std::string_view label, const Params& p);

/// The other tell of a generated name, whatever its letters: malware tries its list until one
/// name answers, so its host queries many registrable domains nobody answers within minutes
/// (real names are answered; a host's typos and stale names do not come ten to the minute).
/// `first_seen` holds, ascending, when each never-answered registrable domain was first seen;
/// the result marks every one inside some window of `window_seconds` holding at least
/// `min_domains` of them. `min_domains` 0: marks none.
std::vector<bool> in_burst(const std::vector<int64_t>& first_seen, int64_t min_domains,
                           int64_t window_seconds);

/// The label left of the public suffix: the first label of a registrable domain.
inline std::string_view registrable_label(std::string_view base) {
    return base.substr(0, base.find('.'));
}

}  // namespace em::dga
