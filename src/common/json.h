#pragma once
// JSON string literals for the event lines and the Loki push body.
#include <string>
#include <string_view>

namespace em {

/// Appends `s` as a JSON string literal: quotes; escapes for ", \ and control bytes (C0, DEL,
/// and the C1 code points U+0080-U+009F, plus U+2028/U+2029); bytes >= 0x80 that do not form
/// well-formed UTF-8 written as \u00XX of the byte, so the line stays valid JSON whatever the
/// input (a receiver such as Loki never rejects a batch) and no control reaches its reader.
void append_json_string(std::string_view s, std::string& out);

}  // namespace em
