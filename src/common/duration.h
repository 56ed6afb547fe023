#pragma once
// Durations as operators write them in the config file and on the command line.
#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace em {

/// "5s", "500ms", "2m", "1h" or plain seconds ("1.5" too) → milliseconds, truncated. Errors
/// (naming the text) for anything else, for zero or less, and for more than 24 hours.
Result<int64_t> parse_duration_ms(const std::string& text);

/// A period an operator sets aside, "30m", "12h", "7d", "2w" → seconds. Errors (naming the
/// text) for anything else, for zero, and for more than a year.
Result<int64_t> parse_period_s(const std::string& text);

/// Go's time.ParseDuration, as egress-eddie reads its durations: an optional sign, then one
/// or more decimal numbers (a fraction allowed: "1.5h", ".5s") each with a unit of "ns",
/// "us" ("µs", "μs"), "ms", "s", "m" or "h" ("1h30m", "300ms", "-1s"); "0" alone needs no
/// unit. → nanoseconds, negative ones too. Errors carry Go's text (`time: invalid duration
/// "soon"`, `time: missing unit in duration "5"`, `time: unknown unit "d" in duration "5d"`),
/// also when the value does not fit in int64 nanoseconds (about 292 years).
Result<int64_t> parse_go_duration(std::string_view text);

}  // namespace em
