#pragma once
// The dashboard's forms as posted by a browser (application/x-www-form-urlencoded): the one
// decoder of a request body in the project, fuzzed (tests/fuzz/form_fuzz.cpp).
#include <map>
#include <string>
#include <string_view>

#include "common/result.h"

namespace em {

/// Fields of `body` ("a=1&b=x%20y", '+' is a space). Errors: more than `max_fields` fields,
/// a field without '=', a name given twice, a malformed %-escape, a NUL byte in a name or
/// value. Values are the client's: any other bytes.
Result<std::map<std::string, std::string>> parse_form(std::string_view body,
                                                      size_t max_fields = 16);

}  // namespace em
