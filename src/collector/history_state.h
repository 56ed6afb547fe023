#pragma once
// What the collector remembers of one host's two files between cycles: every key the host
// has ever shown (the current lines plus "ghosts", keys known before that are no longer in
// the files), each with its last counter value and a running summary of its deltas. Kept
// per host as two compact blobs (varints, shared name prefixes), so a cycle reads, diffs
// and rewrites a host in memory instead of touching a row per key.
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/ip_address.h"
#include "common/result.h"

namespace em {

/// Per-key history of one host.
struct KeyStats {
    int64_t count = 0;       // the counter as last read (0 after a reset, until read again)
    int64_t last_seen = 0;   // Unix seconds, from the file
    int64_t first_seen = 0;  // Unix seconds: when the collector first saw the key here
    int64_t deltas = 0;      // how many growths were recorded (not counting the first snapshot)
    int64_t delta_sum = 0;   // their sum, saturating at INT64_MAX
    bool present = true;     // false: a ghost (known before, not in the current files)
};

struct DomainState {
    std::string name;
    KeyStats stats;
    std::vector<IpAddress> ips;  // as in the file's last line for the name
    // Length of the name's registrable domain (its last base_len bytes), from the public
    // suffix list when the key was first seen; 0 = not known.
    uint16_t base_len = 0;
};

struct IpState {
    IpAddress ip;
    KeyStats stats;
};

/// All keys of one host, sorted like the files (names by bytes, addresses numerically).
struct HostState {
    std::vector<DomainState> domains;
    std::vector<IpState> ips;
};

/// The blobs. Decoding checks every length and the sort order: a damaged blob is an error,
/// never a crash.
std::string encode_domains(const std::vector<DomainState>& domains);
std::string encode_ips(const std::vector<IpState>& ips);
Result<std::vector<DomainState>> decode_domains(std::string_view blob);
Result<std::vector<IpState>> decode_ips(std::string_view blob);

/// Random access to a stored blob without reading all of it (store::BlobReader over the
/// store; StringBlob over bytes in memory).
class BlobSource {
  public:
    virtual ~BlobSource() = default;
    virtual size_t size() const = 0;
    /// Sets `out` to the `n` bytes at `offset` (within size()).
    virtual Result<void> read(size_t offset, size_t n, std::string& out) = 0;
};

class StringBlob : public BlobSource {
  public:
    explicit StringBlob(std::string_view s) : s_(s) {}
    size_t size() const override { return s_.size(); }
    Result<void> read(size_t offset, size_t n, std::string& out) override {
        if (offset > s_.size() || n > s_.size() - offset) return Error{"read past a blob's end"};
        out.assign(s_.substr(offset, n));
        return {};
    }

  private:
    std::string_view s_;
};

/// `name`'s entry in a domains blob; nullopt when the host never showed it. Reads the header,
/// the restart table, the restart points a binary search visits and one run of entries
/// (a few KiB of a blob of hundreds), so one name can be looked up on every host of a
/// fleet at once. A blob from an older release (no restart points) is decoded whole.
Result<std::optional<DomainState>> lookup_domain(BlobSource& blob, std::string_view name);

/// The same for `ip` in an addresses blob.
Result<std::optional<IpState>> lookup_ip(BlobSource& blob, const IpAddress& ip);

/// Binary searches in a sorted state; nullptr when absent.
const DomainState* find_domain(const HostState& s, std::string_view name);
const IpState* find_ip(const HostState& s, const IpAddress& ip);

}  // namespace em
