#pragma once
// Incremental reading of a growing, rotating log file (dnsmasq's log, kern.log).
//
// A cursor records, for each file generation still being followed, its device and inode,
// the offset up to which complete lines were consumed, and a fingerprint (hash of the first
// up to 1 KiB). plan() turns the stored cursor and what is on disk now into the stretches
// (segments) still to read, in log order:
//   - the same file grown: from the offset to the last complete line;
//   - rename-and-create rotation: the rest of the old file, found by inode as PATH.N or by
//     fingerprint as PATH.N.gz, then the new PATH from the start; while the old file is
//     PATH.1 and uncompressed it stays followed (a writer may not have reopened yet);
//   - copytruncate or plain truncation (same inode, fingerprint changed or smaller than the
//     offset): the rest from the copy (PATH.N or PATH.N.gz with the old fingerprint) when one
//     exists, then PATH from the start;
//   - a log that does not exist yet: nothing to read, nothing stored;
//   - a run inside a rotation: a file that starts like a followed or newer one still there
//     (a copy or .gz half written) is not a new generation, and a cursor whose files are
//     all empty is anchored on the newest rotated generation with lines.
// Only complete lines are consumed from a file that may still grow; the last partial line of
// a finished generation (a copy, a compressed or older generation) is consumed as a line.
// Date-suffixed rotations (dateext) are not followed.
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace em {

struct FileCursor {
    uint64_t dev = 0;
    uint64_t ino = 0;
    uint64_t offset = 0;
    uint32_t fp_len = 0;
    uint64_t fp_hash = 0;
    // A finished generation remembered only to anchor the cursor (v2, encoded ":a"): when
    // it is gone, logrotate deleted it, and whatever generation is left came after it.
    bool anchor = false;
    bool operator==(const FileCursor&) const = default;
};

struct LogCursor {
    std::vector<FileCursor> files;  // oldest first; at most three
    // 2: when no file above has a fingerprint, no rotated generation held a line when it was
    // stored (a v1 cursor says nothing about them).
    int version = 2;
    std::string encode() const;
    static std::optional<LogCursor> decode(std::string_view text);
};

/// Receives a run of lines: each ends in '\n' except possibly the last of a finished file.
/// An empty view means one line longer than the 4 MiB read buffer was skipped.
using LineSink = std::function<void(std::string_view lines)>;

/// One stretch of one file to read: lines starting in [begin, end).
class Segment {
  public:
    const std::string& path() const { return path_; }
    uint64_t begin() const { return begin_; }
    uint64_t end() const { return end_; }  // UINT64_MAX for compressed files: to the end
    bool compressed() const { return compressed_; }

    /// Reads the lines that start in [from, to) (from >= begin, to <= end), in order.
    /// Plain files may be read in several disjoint ranges from several threads at once.
    Result<void> read(uint64_t from, uint64_t to, const LineSink& sink) const;
    Result<void> read_all(const LineSink& sink) const { return read(begin_, end_, sink); }

  private:
    friend class LogFile;
    Result<void> read_compressed(const LineSink& sink) const;

    std::string path_;
    UniqueFd fd_;
    uint64_t begin_ = 0;
    uint64_t end_ = 0;
    bool compressed_ = false;
    bool final_ = false;   // consume a trailing partial line
    uint32_t fp_len_ = 0;  // fingerprint at plan time, checked again after reading
    uint64_t fp_hash_ = 0;
};

class LogFile {
  public:
    /// Plans the reads of `path` from `saved` (nullopt on a first run: PATH from the start).
    static Result<LogFile> plan(const std::string& path, const std::optional<LogCursor>& saved);

    const std::vector<Segment>& segments() const { return segments_; }
    /// The cursor to store once every segment has been read.
    const LogCursor& cursor_after() const { return after_; }
    /// Checks, after reading, that no file was truncated or replaced in place under the
    /// reader (its size and first bytes are what they were when planned).
    Result<void> verify_unchanged() const;
    /// What plan() found worth telling: rotations followed, truncations, lost generations.
    const std::vector<std::string>& notes() const { return notes_; }
    uint64_t lost_generations() const { return lost_; }
    uint64_t bytes_planned() const;

  private:
    std::vector<Segment> segments_;
    LogCursor after_;
    std::vector<std::string> notes_;
    uint64_t lost_ = 0;
};

}  // namespace em
