#pragma once
// Internal to the parser (parser.cpp): the strict reading of each field of a line, one
// accepted spelling per value, the one writer.h writes. Not part of the format's interface.
// Each check returns nullptr when the field is good, else the problem as a static string.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "common/ip_address.h"

namespace em::format_detail {

/// A count: decimal, no sign, no leading zero, 1..2^62.
const char* parse_count(std::string_view s, int64_t& out);

/// Exactly "YYYY-MM-DDTHH:MM:SSZ", a real UTC time from 1970 to 9999, as Unix seconds.
std::optional<int64_t> parse_time(std::string_view s);

/// An address exactly as the writer spells it (IpAddress::to_string()).
std::optional<IpAddress> parse_ip(std::string_view s);

/// A domain: 1..253 bytes of printable ASCII without spaces, lower case, no trailing dot.
const char* check_domain(std::string_view s);

/// A first-packet name of flow-names.log: 1..253 bytes of lower-case letters, digits, '-',
/// '_', '.' and ':', no trailing dot, no empty label.
const char* check_flow_name(std::string_view s);

/// A first-packet protocol: "http", "quic" or "tls".
bool is_flow_protocol(std::string_view s);

/// A process-uses.log destination: kind 'd' a domain (check_domain), 'i' an address as
/// parse_ip reads it.
const char* check_use_dest(char kind, std::string_view dest);

/// A process-uses.log value (exe, user, container) the writer can spell: at most
/// kMaxFieldBytes bytes.
inline constexpr size_t kMaxFieldBytes = 4096;
const char* check_field(std::string_view value);

/// Appends `value` percent-encoded (aggregate.h): bytes outside '!'..'~' and '%' as "%XX",
/// "" as "-", "-" as "%2D".
void append_field(std::string& out, std::string_view value);

/// Decodes a field append_field wrote, accepting only its one spelling of each value.
const char* parse_field(std::string_view s, std::string& out);

/// Splits `line` at single spaces into exactly `n` non-empty fields.
const char* split_fields(std::string_view line, std::string_view* fields, size_t n);

}  // namespace em::format_detail
