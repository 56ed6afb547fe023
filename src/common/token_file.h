#pragma once
// Bearer-token files, read the same way by the endpoint (its own token) and the collector
// (one per host). A token that others on the machine can read, or that is short enough to
// guess, is no secret: both are refused with an error that says how to fix it.
#include <cstddef>
#include <string>

#include "common/result.h"

namespace em {

/// Shortest token accepted, in bytes.
inline constexpr size_t kMinTokenBytes = 16;

/// The token: the first line of `path` (at most 4 KiB read), spaces, tabs and a CR around it
/// trimmed. Errors, each naming the file:
/// - not readable, not a regular file;
/// - any permission for group or others (mode & 077): "... (mode 644): chmod 600 FILE";
/// - empty first line; control bytes in it;
/// - shorter than kMinTokenBytes: "... use at least 16, e.g. openssl rand -base64 32".
Result<std::string> read_token_file(const std::string& path);

}  // namespace em
