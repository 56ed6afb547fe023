#pragma once
// Escaping for HTML: text a monitored host reported (names, messages, fetch errors) placed
// in a page the collector renders (`report --format html`, the dashboard). Such text must
// stay text: no element, no attribute, no entity of its own, and — as for a terminal —
// no control character or bidirectional override that would make it read differently.
#include <string>
#include <string_view>

namespace em {

/// Appends `s` as element content or a double- or single-quoted attribute value: first
/// made inert as text_escape.h's append_text_escaped does (controls, invalid UTF-8 and
/// bidi controls as visible escapes), then & < > " ' as character references.
void append_html_escaped(std::string_view s, std::string& out);
std::string escape_html(std::string_view s);

/// Appends `s` percent-encoded as one component of a URL's query (RFC 3986: every byte but
/// A-Z a-z 0-9 - . _ ~ as %XX), so a name in a link is a value, never more of the URL. The
/// result is also safe inside an HTML attribute.
void append_url_component(std::string_view s, std::string& out);

}  // namespace em
