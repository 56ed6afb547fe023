#pragma once
// Whole-file writes, bounded whole-file reads and the state-directory lock.
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace em {

/// What a bounded read says when it fails, in the caller's words: a failed open or read is
/// "<cannot_read>: <errno text>", a file over the limit is `too_large` as it is.
struct ReadErrors {
    std::string cannot_read;
    std::string too_large;
};

/// The whole of `path` when it has at most `limit` bytes. Reads at most limit + 1 bytes
/// whatever the file's size (memory stays bounded for a huge or endless file).
Result<std::string> read_file_limited(const std::string& path, size_t limit,
                                      const ReadErrors& errors);

/// As read_file_limited, but a file that does not exist (ENOENT) is std::nullopt, not an error.
Result<std::optional<std::string>> read_file_if_present(const std::string& path, size_t limit,
                                                        const ReadErrors& errors);

/// The first `limit` bytes of `path` (all of it when shorter); a longer file is no error.
/// A failed open or read is "<cannot_read>: <errno text>".
Result<std::string> read_file_head(const std::string& path, size_t limit,
                                   const std::string& cannot_read);

/// As read_file_head, from an open descriptor (read from its current offset; not closed).
Result<std::string> read_fd_head(int fd, size_t limit, const std::string& cannot_read);

/// Replaces dir/name with `content` atomically: a temporary file in the same directory
/// (dir/.name.tmp, created new with O_EXCL | O_NOFOLLOW after removing whatever had that name,
/// so a planted symlink is never followed), fsync, rename over the target, fsync of the
/// directory. On any failure the previous file is untouched, the temporary is removed, and the
/// error names the path and errno text.
Result<void> write_file_atomically(const std::string& dir, const std::string& name,
                                   std::string_view content, unsigned mode);

/// Replaces several files of one directory together: every new content is written and
/// synced to a temporary file first, and only when all of them are written are they renamed
/// over their targets. A failure before that (a full disk) leaves every target as it was.
Result<void> write_files_atomically(
    const std::string& dir, const std::vector<std::pair<std::string, std::string_view>>& files,
    unsigned mode);

/// Creates `dir` (and parents) with `mode` when missing.
Result<void> make_directories(const std::string& dir, unsigned mode);

/// An exclusive flock on `path` (never through a symlink: that is an error), held while the
/// returned descriptor lives. Waits up to
/// `timeout_ms` for another holder, then fails with a message saying who holds it.
Result<UniqueFd> lock_file(const std::string& path, int timeout_ms);

}  // namespace em
