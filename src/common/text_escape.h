#pragma once
// Escaping for text a person reads: terminals, log lines, chat messages. What a monitored host
// reports (names, messages, errors) reaches these readers, so nothing in it may act as a
// control: no terminal escape sequence, no second line, no reordering of the text.
#include <cstddef>
#include <string>
#include <string_view>

namespace em {

/// Length of the well-formed UTF-8 sequence starting at s[i] (2 to 4), or 0 when s[i] does
/// not start one (ASCII, a stray continuation byte, overlong forms, surrogates, above
/// U+10FFFF, a truncated sequence).
size_t utf8_sequence_length(std::string_view s, size_t i);

/// Appends `s` so that it stays one line of inert text:
/// - C0 controls (0x00-0x1f, so every newline and CR), DEL (0x7f), and every byte that is not
///   part of well-formed UTF-8 (which covers single C1 bytes 0x80-0x9f) as \xNN;
/// - the backslash as \\ (so an escape in the output always came from this function);
/// - U+0080-U+009F (C1 controls), U+2028/U+2029 (line and paragraph separators) and the
///   bidirectional controls (U+200E, U+200F, U+202A-U+202E, U+2066-U+2069) as \uNNNN;
/// - all other printable ASCII and well-formed UTF-8 unchanged.
void append_text_escaped(std::string_view s, std::string& out);
std::string escape_text(std::string_view s);

/// `s` as text every store holds (PostgreSQL's text: well-formed UTF-8 without NUL): NUL and
/// each byte that is not part of well-formed UTF-8 as \xNN, the rest unchanged. For what a
/// host sent on its way into a store, so that hostile bytes cannot fail the write that
/// records them; distinct inputs stay distinct unless one already spells \xNN.
std::string storable_text(std::string_view s);

/// Slack's message markup: & < > as &amp; &lt; &gt;, so that text shows as written and never
/// becomes a link, a mention (<!channel>) or a formatted span.
std::string escape_slack(std::string_view s);

}  // namespace em
