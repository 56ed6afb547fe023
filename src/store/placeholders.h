#pragma once
// The parameters of store.h's SQL (?1, ?2, … and bare ?, numbered as SQLite numbers them:
// one past the largest so far) rewritten as PostgreSQL's $1, $2, …. A '?' inside a string
// literal, a quoted identifier or a comment is left alone. Our own SQL only: not a parser
// for untrusted input.
#include <string>
#include <string_view>

namespace em::store {

/// The rewritten SQL; `params` is set to the largest parameter number.
std::string to_dollar_params(std::string_view sql, int& params);

}  // namespace em::store
