#include "common/html_escape.h"

#include "common/text_escape.h"

namespace em {

void append_html_escaped(std::string_view s, std::string& out) {
    const std::string inert = escape_text(s);
    out.reserve(out.size() + inert.size());
    for (char c : inert) {
        switch (c) {
            case '&':
                out += "&amp;";
                break;
            case '<':
                out += "&lt;";
                break;
            case '>':
                out += "&gt;";
                break;
            case '"':
                out += "&quot;";
                break;
            case '\'':
                out += "&#39;";
                break;
            default:
                out += c;
        }
    }
}

std::string escape_html(std::string_view s) {
    std::string out;
    append_html_escaped(s, out);
    return out;
}

void append_url_component(std::string_view s, std::string& out) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    for (unsigned char c : s) {
        const bool plain = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                           (c >= '0' && c <= '9') || c == '-' || c == '.' || c == '_' || c == '~';
        if (plain) {
            out += static_cast<char>(c);
        } else {
            out += '%';
            out += kHex[c >> 4];
            out += kHex[c & 15];
        }
    }
}

}  // namespace em
