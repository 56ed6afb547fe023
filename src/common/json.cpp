#include "common/json.h"

namespace em {

namespace {

constexpr char kHex[] = "0123456789abcdef";

size_t utf8_sequence_length(std::string_view s, size_t i) {
    auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
    unsigned char c = byte(i);
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;  // allowed range of the second byte
    if (c >= 0xc2 && c <= 0xdf) {
        n = 2;
    } else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;  // overlong
        if (c == 0xed) hi = 0x9f;  // surrogates
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;  // overlong
        if (c == 0xf4) hi = 0x8f;  // above U+10FFFF
    } else {
        return 0;
    }
    if (s.size() - i < n) return 0;
    if (byte(i + 1) < lo || byte(i + 1) > hi) return 0;
    for (size_t k = 2; k < n; ++k)
        if ((byte(i + k) & 0xc0) != 0x80) return 0;
    return n;
}

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
            if (c < 0x20 || c == '"' || c == '\\' || c >= 0x80) break;
            ++run;
        }
        out.append(s.data() + i, run - i);
        i = run;
        if (i == s.size()) break;

        auto c = static_cast<unsigned char>(s[i]);
        if (c >= 0x80) {
            if (size_t n = utf8_sequence_length(s, i)) {
                out.append(s.data() + i, n);
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
