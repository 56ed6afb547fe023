#pragma once
// Diagnostics to stderr, one line each, prefixed with the program name and a level.
// Cron mails what a run prints, so a clean run prints nothing below warning.
#include <fmt/core.h>

#include <cstdio>

namespace em {

enum class LogLevel { debug, info, warning, error };

void set_log_level(LogLevel level);
bool log_enabled(LogLevel level);
void log_line(LogLevel level, const std::string& text);

template <class... Args>
void log_info(fmt::format_string<Args...> f, Args&&... args) {
    if (log_enabled(LogLevel::info))
        log_line(LogLevel::info, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void log_warn(fmt::format_string<Args...> f, Args&&... args) {
    if (log_enabled(LogLevel::warning))
        log_line(LogLevel::warning, fmt::format(f, std::forward<Args>(args)...));
}
template <class... Args>
void log_error(fmt::format_string<Args...> f, Args&&... args) {
    log_line(LogLevel::error, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace em
