#include "common/duration.h"

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
