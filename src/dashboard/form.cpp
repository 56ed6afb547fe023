#include "dashboard/form.h"

#include <fmt/core.h>

#include <charconv>

namespace em {

namespace {

// %XX and '+' decoded. libmicrohttpd's MHD_http_unescape would do it in place but takes a
// NUL-terminated string and lets a malformed escape through unchanged; a form is small, so
// this refuses what is malformed instead.
Result<std::string> unescape(std::string_view s, std::string_view what) {
    std::string out;
    out.reserve(s.size());
    for (size_t i = 0; i < s.size(); ++i) {
        char c = s[i];
        if (c == '+') {
            out += ' ';
        } else if (c == '%') {
            unsigned v = 0;
            if (s.size() - i < 3)
                return Error{fmt::format("form: {}: '%' without two hex digits", what)};
            auto [p, ec] = std::from_chars(s.data() + i + 1, s.data() + i + 3, v, 16);
            if (ec != std::errc() || p != s.data() + i + 3)
                return Error{fmt::format("form: {}: '%' without two hex digits", what)};
            out += static_cast<char>(v);
            i += 2;
        } else {
            out += c;
        }
    }
    if (out.find('\0') != std::string::npos)
        return Error{fmt::format("form: {}: a NUL byte", what)};
    return out;
}

}  // namespace

Result<std::map<std::string, std::string>> parse_form(std::string_view body, size_t max_fields) {
    std::map<std::string, std::string> fields;
    if (body.empty()) return fields;
    size_t n = 0;
    while (true) {
        const size_t amp = body.find('&');
        std::string_view field = body.substr(0, amp);
        if (++n > max_fields) return Error{fmt::format("form: more than {} fields", max_fields)};
        const size_t eq = field.find('=');
        if (eq == std::string_view::npos) return Error{fmt::format("form: field {} has no '='", n)};
        auto name = unescape(field.substr(0, eq), fmt::format("field {}'s name", n));
        if (!name) return name.error();
        auto value = unescape(field.substr(eq + 1), fmt::format("field {}'s value", n));
        if (!value) return value.error();
        if (!fields.emplace(std::move(*name), std::move(*value)).second)
            return Error{fmt::format("form: field {}'s name is given twice", n)};
        if (amp == std::string_view::npos) break;
        body.remove_prefix(amp + 1);
    }
    return fields;
}

}  // namespace em
