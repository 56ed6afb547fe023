#pragma once
// Reading TOML configs (toml++) with messages that name the file and line: one parse
// function for syntax errors and one section reader for typed keys. Used by the collector's
// config and inventory and by the agent/serve config. (The enforce config matches keys as
// egress-eddie does, ignoring case, with eddie's own messages: it uses parse_toml only.)
//
// Messages:
//   syntax           "<path>:<line>:<column>: <description>"
//   wrong type/range "<path>:<line>: <section>.<key> <what>"  ("<key> <what>" at the top level)
//   unknown key      "<path>:<line>: unknown key <section>.<key>"
#include <cstdint>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>

#include "common/result.h"

namespace em {

/// Parses `text`; `path` is only for the messages and the nodes' source.
Result<toml::table> parse_toml(std::string_view text, const std::string& path);

/// "<path>:<line>" of `n`.
std::string toml_where(const std::string& path, const toml::node& n);

/// One table of a config. Getters read a key when it is there (an absent key leaves `out` as
/// it was) and remember the first error: once one is recorded, later getters do nothing, so
/// the error returned is the first in the order the getters were called. finish() returns it,
/// or else names the first key (in the table's order) that no getter asked for.
///
/// Holds pointers to the table and the path: both must outlive the section. A null table is
/// a section that is absent: every getter leaves its default.
class TomlSection {
  public:
    /// `name` is the section as written in messages ("rules.tunnel"); empty at the top level.
    TomlSection(const toml::table* table, std::string name, const std::string& path);

    /// true or false.
    TomlSection& boolean(const char* key, bool& out);
    /// An integer in [lo, hi] (a float is refused: toml++ 3.3 converts floats to integers
    /// without a range check).
    template <class Int>
    TomlSection& integer(const char* key, Int& out, int64_t lo, int64_t hi) {
        int64_t v = 0;
        if (integer_value(key, v, lo, hi)) out = static_cast<Int>(v);
        return *this;
    }
    /// An integer or a float in [lo, hi].
    TomlSection& number(const char* key, double& out, double lo, double hi);
    /// A string; with `non_empty`, "" is the error "must not be empty".
    TomlSection& text(const char* key, std::string& out, bool non_empty = false);
    /// An array of strings (replaces `out`).
    TomlSection& strings(const char* key, std::vector<std::string>& out);
    /// A sub-table: nullptr when absent or when it is not a table (the error "must be a
    /// table"); a section of its own reads it.
    const toml::table* table(const char* key);

    /// The node of `key` (nullptr when absent), marked as read; for checks of the caller's own.
    const toml::node* node(const char* key);
    /// Marks `key` as read without looking at it.
    void ignore(const char* key) { used_.insert(key); }

    /// "<path>:<line>" of `n`.
    std::string where(const toml::node& n) const { return toml_where(path_, n); }
    /// The error "<path>:<line>: <section>.<key> <what>".
    Error bad(const toml::node& n, std::string_view key, std::string_view what) const;
    /// Records `e` unless an error is recorded already.
    void fail(Error e);
    bool ok() const { return !failed_; }
    /// The first recorded error, else success (unknown keys are not looked for).
    Result<void> status() const;

    /// The first recorded error, else the first key nobody read, else success.
    Result<void> finish() const;

  private:
    bool integer_value(const char* key, int64_t& out, int64_t lo, int64_t hi);
    std::string qualified(std::string_view key) const;

    const toml::table* table_;
    std::string name_;
    const std::string& path_;
    std::set<std::string, std::less<>> used_;
    bool failed_ = false;
    Error error_;
};

}  // namespace em
