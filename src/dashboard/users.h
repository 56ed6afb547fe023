#pragma once
// The dashboard's named logins ([dashboard] users_file): each operator has a token of their
// own, so the audit log's "who" of an alert action is the login that did it, not a name the
// browser claims (with the shared token_file, any user name goes). The file holds what
// verifies a token, never the token:
//   # NAME SHA256-OF-TOKEN (hex)
//   alice 9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
// - names: 1..64 of [A-Za-z0-9._-]; each once;
// - the digest: 64 lower-case hex digits, the SHA-256 of the token's bytes (tokens are
//   random, at least 16 bytes: `dashboard --add-user` makes 24 and prints them once);
// - '#' starts a comment line; blank lines are ignored;
// - mode 600 or stricter, as a token file (it names who may act on alerts), at most 1 MiB.
// Errors name the file and line.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"

namespace em {

class DashboardUsers {
  public:
    /// Parses a users file's text; `path` names it in errors.
    static Result<DashboardUsers> parse(std::string_view text, const std::string& path);
    /// Reads and parses `path`, refusing a file others may read or write.
    static Result<DashboardUsers> load(const std::string& path);

    /// True when `name` is a user and `token` is theirs. Takes the same time whether the name
    /// is known or not, and compares digests in constant time.
    bool verify(std::string_view name, std::string_view token) const;
    /// The user whose token `token` is (a Bearer token names no user).
    std::optional<std::string> owner(std::string_view token) const;
    /// The stored digest of `name`'s token (raw 32 bytes), or nullopt: what the dashboard
    /// keys that user's anti-forgery value with.
    std::optional<std::string> digest(std::string_view name) const;

    size_t size() const { return users_.size(); }

  private:
    std::vector<std::pair<std::string, std::string>> users_;  // name, raw SHA-256
};

/// The hex SHA-256 of a token: the second field of its line.
std::string token_digest_hex(std::string_view token);

/// Adds `name` with a new random token to `path` (created mode 600 when missing; replaced
/// atomically, comments kept) and returns the token, which is nowhere else. An error when
/// the name is not valid or already there.
Result<std::string> add_dashboard_user(const std::string& path, const std::string& name);

}  // namespace em
