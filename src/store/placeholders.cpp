#include "store/placeholders.h"

namespace em::store {

std::string to_dollar_params(std::string_view sql, int& params) {
    std::string out;
    out.reserve(sql.size() + 8);
    params = 0;
    size_t i = 0;
    // Copies through the closing `quote` ('' or "" inside is the quote itself, which the
    // loop copies as a close followed by an open).
    auto copy_quoted = [&](char quote) {
        out += sql[i++];
        while (i < sql.size()) {
            char c = sql[i++];
            out += c;
            if (c == quote) return;
        }
    };
    while (i < sql.size()) {
        char c = sql[i];
        if (c == '\'' || c == '"') {
            copy_quoted(c);
        } else if (c == '-' && i + 1 < sql.size() && sql[i + 1] == '-') {
            size_t end = sql.find('\n', i);
            end = end == std::string_view::npos ? sql.size() : end;
            out.append(sql.substr(i, end - i));
            i = end;
        } else if (c == '/' && i + 1 < sql.size() && sql[i + 1] == '*') {
            size_t end = sql.find("*/", i + 2);
            end = end == std::string_view::npos ? sql.size() : end + 2;
            out.append(sql.substr(i, end - i));
            i = end;
        } else if (c == '?') {
            ++i;
            int n = 0;
            bool numbered = false;
            while (i < sql.size() && sql[i] >= '0' && sql[i] <= '9' && n < 100000) {
                n = n * 10 + (sql[i++] - '0');
                numbered = true;
            }
            if (!numbered) n = params + 1;
            if (n > params) params = n;
            out += '$';
            out += std::to_string(n);
        } else {
            out += c;
            ++i;
        }
    }
    return out;
}

}  // namespace em::store
