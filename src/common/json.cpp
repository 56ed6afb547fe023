#include "common/json.h"

#include "common/text_escape.h"

namespace em {

namespace {

constexpr char kHex[] = "0123456789abcdef";

void append_escaped_byte(unsigned char c, std::string& out) {
    const char esc[6] = {'\\', 'u', '0', '0', kHex[c >> 4], kHex[c & 0xf]};
    out.append(esc, sizeof esc);
}

}  // namespace

void append_json_string(std::string_view s, std::string& out) {
    out.reserve(out.size() + s.size() + 2);
    out += '"';
    size_t i = 0;
    while (i < s.size()) {
        // Copy the longest run that needs no escaping in one go.
        size_t run = i;
        while (run < s.size()) {
            auto c = static_cast<unsigned char>(s[run]);
            if (c < 0x20 || c == '"' || c == '\\' || c >= 0x7f) break;
            ++run;
        }
        out.append(s.data() + i, run - i);
        i = run;
        if (i == s.size()) break;

        auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            if (size_t n = utf8_sequence_length(s, i)) {
                // U+0080-U+009F (C1 controls) and U+2028/U+2029 (line terminators to
                // JavaScript) are legal in JSON but escaped, so no reader acts on them.
                auto c1 = static_cast<unsigned char>(s[i + 1]);
                if (c == 0xc2 && c1 <= 0x9f) {
                    append_escaped_byte(c1, out);
                } else if (c == 0xe2 && c1 == 0x80 && (s[i + 2] == '\xa8' || s[i + 2] == '\xa9')) {
                    out += s[i + 2] == '\xa8' ? "\\u2028" : "\\u2029";
                } else {
                    out.append(s.data() + i, n);
                }
                i += n;
            } else {
                append_escaped_byte(c, out);
                ++i;
            }
            continue;
        }
        switch (c) {
            case '"':
                out += "\\\"";
                break;
            case '\\':
                out += "\\\\";
                break;
            case '\n':
                out += "\\n";
                break;
            case '\r':
                out += "\\r";
                break;
            case '\t':
                out += "\\t";
                break;
            case '\b':
                out += "\\b";
                break;
            case '\f':
                out += "\\f";
                break;
            default:
                append_escaped_byte(c, out);
        }
        ++i;
    }
    out += '"';
}

}  // namespace em
