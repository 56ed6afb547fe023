#pragma once
// DomainFolder: keeps the number of names per registrable domain bounded. A flood of random
// subdomains (DNS tunnelling, a misbehaving client) would otherwise add a line to
// unique-domains.log per name, without limit. Once a registrable domain (per the public
// suffix list, libpsl) has `limit` names, further new names under it are counted under
// "*.<registrable domain>" instead; the folding is counted and reported by the caller.
//
// Capacity folding (Ledger::set_caps) is the second, coarser level: once the ledger holds its
// bound of lines, a new name is counted under "*.*.<ICANN registrable domain>", then
// "*.*.<top-level domain>", then the catch-all "*.*" — spelt apart from the flood folding so
// a reader of the files (the collector) can tell that the agent is at capacity.
#include <cstddef>
#include <memory>
#include <string>
#include <string_view>
#include <unordered_map>

#include <libpsl.h>

#include "common/result.h"
#include "common/unique_fd.h"

namespace em {

class DomainFolder {
  public:
    /// Loads the newest public suffix list available (the publicsuffix package's, else the
    /// one built into libpsl). `limit` 0 disables folding.
    static Result<DomainFolder> create(size_t limit);

    /// The registrable domain of `name` ("example.co.uk" for "a.b.example.co.uk"), or the
    /// name itself when it has none (a public suffix, "localhost").
    std::string_view base(std::string_view name) const;
    /// "*.<base>" for a name folded under `base`.
    static std::string folded_name(std::string_view base) { return "*." + std::string(base); }
    static bool is_folded(std::string_view name) { return name.substr(0, 2) == "*."; }
    size_t limit() const { return limit_; }

    /// The registrable domain under the ICANN section of the list only: "github.io" for
    /// "x1.github.io" (whose base() is itself, "github.io" being a private entry); the name
    /// itself when it has none. A lookup per label: meant for the rare capacity folding.
    std::string_view icann_base(std::string_view name) const;
    /// The last label ("com" for "a.example.com"; the name itself without a dot).
    static std::string_view top_level(std::string_view name);
    /// "*.*.<suffix>": a line of names counted together because the ledger was full.
    static std::string capacity_name(std::string_view suffix) {
        return "*.*." + std::string(suffix);
    }
    static constexpr std::string_view kCapacityCatchAll = "*.*";
    /// The line of queries whose name the source could not print (dnsmasq logs
    /// "<name unprintable>" for a label with raw binary bytes, as iodine's Base128 codec
    /// sends): ".invalid" never exists (RFC 6761), so no real name shares it.
    static constexpr std::string_view kUnprintable = "unprintable.invalid";
    static bool is_capacity_folded(std::string_view name) {
        return name == kCapacityCatchAll || name.substr(0, 4) == "*.*.";
    }
    /// The name without its fold marks: "a.example.com" for "*.a.example.com" and for
    /// "*.*.a.example.com"; "*" for the catch-all.
    static std::string_view unfolded(std::string_view name) {
        if (name == kCapacityCatchAll) return "*";
        while (is_folded(name)) name.remove_prefix(2);
        return name;
    }

  private:
    DomainFolder(psl_ctx_t* psl, size_t limit) : psl_(psl), limit_(limit) {}
    std::unique_ptr<psl_ctx_t, Deleter<psl_free>> psl_;
    size_t limit_;
    mutable std::string buf_;  // NUL-terminated copy for libpsl
    // parent domain → length of its children's registrable domain (see base()); bounded.
    static constexpr size_t kMaxParents = 65536;
    struct Hash {
        using is_transparent = void;
        size_t operator()(std::string_view s) const { return std::hash<std::string_view>()(s); }
    };
    mutable std::unordered_map<std::string, size_t, Hash, std::equal_to<>> parent_base_;
};

}  // namespace em
