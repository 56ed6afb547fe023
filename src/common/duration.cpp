#include "common/duration.h"

#include <string_view>

namespace em {

Result<int64_t> parse_duration_ms(const std::string& text) {
    size_t pos = 0;
    double v = 0;
    try {
        v = std::stod(text, &pos);
    } catch (...) {
        return Error{"bad duration \"" + text + "\" (e.g. 5s, 500ms, 2m)"};
    }
    std::string unit = text.substr(pos);
    double scale = unit == "ms"                  ? 1
                   : unit == "s" || unit.empty() ? 1000
                   : unit == "m"                 ? 60000
                   : unit == "h"                 ? 3600000
                                                 : -1;
    if (scale < 0 || !(v > 0) || v * scale > 86400000.0)
        return Error{"bad duration \"" + text + "\" (e.g. 5s, 500ms, 2m; at most 24h)"};
    return static_cast<int64_t>(v * scale);
}

}  // namespace em

namespace em {

Result<int64_t> parse_period_s(const std::string& text) {
    int64_t n = 0;
    size_t i = 0;
    while (i < text.size() && text[i] >= '0' && text[i] <= '9' && n < 1000000)
        n = n * 10 + (text[i++] - '0');
    std::string_view unit = std::string_view(text).substr(i);
    const int64_t scale = unit == "m"   ? 60
                          : unit == "h" ? 3600
                          : unit == "d" ? 86400
                          : unit == "w" ? 7 * 86400
                                        : 0;
    if (i == 0 || !scale || n <= 0 || n * scale > 366 * 86400)
        return Error{"bad period \"" + text + "\" (e.g. 30m, 12h, 7d, 2w; at most a year)"};
    return n * scale;
}

}  // namespace em
