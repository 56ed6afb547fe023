#pragma once
// ASCII helpers for protocol text (HTTP header fields and the like), independent of locale.
#include <algorithm>
#include <string_view>

namespace em {

/// `s` without leading and trailing spaces, tabs, CRs and LFs.
inline std::string_view trim_space(std::string_view s) {
    auto space = [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; };
    while (!s.empty() && space(s.front())) s.remove_prefix(1);
    while (!s.empty() && space(s.back())) s.remove_suffix(1);
    return s;
}

/// Equal, ignoring the case of ASCII letters.
inline bool iequals_ascii(std::string_view a, std::string_view b) {
    auto lower = [](char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; };
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                              [&](char x, char y) { return lower(x) == lower(y); });
}

}  // namespace em
