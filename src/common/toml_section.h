#pragma once
// Reading one table of a TOML config file (toml++): typed getters whose errors name the file,
// the line and the key, and a final check that rejects every key nobody asked for. Every
// config loader of the program (agent and consolidate, collector, inventory) reads through
// this, so the messages read alike:
//
//   <path>:<line>: <section>.<key> must be an integer in [1, 65535]
//   <path>:<line>: <section>.<key>: bad duration "5d" (e.g. 5s, 500ms, 2m; at most 24h)
//   <path>:<line>: unknown key <section>.<key>
//
// (<section>. is left out for the top level.) The first error sticks: later getters do
// nothing, and finish() returns it.
#include <toml++/toml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"

namespace em {

/// Parses a whole TOML document; a syntax error reads "<path>:<line>:<column>: <what>".
Result<toml::table> parse_toml(std::string_view text, const std::string& path);

class TomlSection {
  public:
    /// `table` may be null (the section is absent: every getter leaves its default). `name`
    /// prefixes keys in messages ("rules.tunnel"; empty for the top level); `path` names the file.
    TomlSection(const toml::table* table, std::string name, std::string path);

    // Each getter reads `key` when present (leaving `out` alone when absent) and returns false
    // when this section has an error, this one or an earlier one; on an error `out` is left
    // alone. Integers are TOML integers only: toml++ 3.3 converts floats to integers without a
    // range check, so a float is "must be an integer".
    bool boolean(std::string_view key, bool& out);  // "must be true or false"
    bool integer(std::string_view key, int64_t& out, int64_t lo, int64_t hi);
    template <class Int>
    bool integer(std::string_view key, Int& out, int64_t lo, int64_t hi) {
        int64_t v = 0;
        const bool present = find(key) != nullptr;
        if (!integer(key, v, lo, hi)) return false;
        if (present) out = static_cast<Int>(v);
        return true;
    }
    bool number(std::string_view key, double& out, double lo, double hi);  // integer or float
    enum class Empty { allowed, refused };
    bool text(std::string_view key, std::string& out, Empty empty = Empty::allowed);
    bool strings(std::string_view key, std::vector<std::string>& out);  // replaces `out`
    /// A string of common/duration.h ("5s", "500ms") in milliseconds, within [lo_ms, hi_ms].
    bool duration_ms(std::string_view key, int64_t& out, int64_t lo_ms = 1,
                     int64_t hi_ms = 86400000);
    /// A size in bytes: a TOML integer, or a string of common/duration.h's parse_size_bytes
    /// ("64KiB", "4MiB"), within [lo, hi].
    bool size_bytes(std::string_view key, uint64_t& out, uint64_t lo, uint64_t hi);
    /// A table whose values are all strings, merged into `out`.
    bool string_table(std::string_view key, std::map<std::string, std::string>& out);
    /// A sub-table: null when absent or not a table ("must be a table", recorded).
    const toml::table* table(std::string_view key);
    /// The raw node, for values no getter reads; null when absent. Marks the key as known.
    const toml::node* node(std::string_view key);
    /// The node without marking the key as known (for checks across keys).
    const toml::node* find(std::string_view key) const;

    // Each records an error unless one is recorded already, and returns false (so that a
    // check reads `if (bad) return s.fail(...)`).
    /// "<path>:<line of key>: <section>.<key> <what>" (at the section's line when the key is
    /// absent).
    bool fail(std::string_view key, std::string_view what);
    /// "<path>:<line of n>: <text>".
    bool fail_at(const toml::node& n, std::string_view text);
    /// "<where()>: <text>" (the section's own line).
    bool fail_here(std::string_view text);

    /// "<path>:<line>" of the section (just "<path>" for an absent one or the top level).
    std::string where() const;
    std::string where(const toml::node& n) const;
    /// "<section>.<key>", or "<key>" at the top level.
    std::string qualified(std::string_view key) const;
    bool ok() const { return !error_; }
    const std::string& path() const { return path_; }

    /// The first error recorded; else, unless the table is absent, an error for the first
    /// key (in key order) that no getter, table() or node() asked for:
    /// "<path>:<line>: unknown <noun> <section>.<key>".
    Result<void> finish(std::string_view noun = "key") const;
    /// The first error recorded, without the unknown-key check (for a table that holds keys
    /// read elsewhere).
    Result<void> status() const;

  private:
    const toml::node* get(std::string_view key);
    void record(std::string message);
    const toml::table* t_;
    std::string name_;
    std::string path_;
    std::set<std::string, std::less<>> used_;
    std::optional<Error> error_;
};

}  // namespace em
