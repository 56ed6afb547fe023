#pragma once
// Durations as operators write them in the config file and on the command line.
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

}  // namespace em
