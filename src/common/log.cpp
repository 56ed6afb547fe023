#include "common/log.h"

#include <atomic>

namespace em {

static std::atomic<LogLevel> g_level{LogLevel::warning};  // the one process-wide setting

void set_log_level(LogLevel level) { g_level = level; }
bool log_enabled(LogLevel level) { return level >= g_level.load(std::memory_order_relaxed); }

void log_line(LogLevel level, const std::string& text) {
    static constexpr const char* kNames[] = {"debug", "info", "warning", "error"};
    std::string line =
        fmt::format("egress-monitor: {}: {}\n", kNames[static_cast<int>(level)], text);
    std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace em
