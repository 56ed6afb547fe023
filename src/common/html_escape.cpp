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

}  // namespace em
