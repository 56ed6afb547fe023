#pragma once
// Durations and sizes as operators write them in the config file and on the command line.
#include <cstdint>
#include <string>

#include "common/result.h"

namespace em {

/// "5s", "500ms", "2m", "1h" or plain seconds ("1.5" too) → milliseconds, truncated. Errors
/// (naming the text) for anything else, for zero or less, and for more than 24 hours.
Result<int64_t> parse_duration_ms(const std::string& text);

/// A period an operator sets aside, "30m", "12h", "7d", "2w" → seconds. Errors (naming the
/// text) for anything else, for zero, and for more than a year.
Result<int64_t> parse_period_s(const std::string& text);

/// "4096", "64KiB", "4MiB", "1GiB" (K, M, G alone are the same binary units; "B" may follow a
/// number) → bytes. Errors (naming the text) for anything else: decimal fractions, signs,
/// spaces, kB/MB (whose meaning is ambiguous), and values beyond 2^63 - 1.
Result<uint64_t> parse_size_bytes(const std::string& text);

}  // namespace em
