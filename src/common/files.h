#pragma once
// Whole-file reads and writes, and the state-directory lock.
#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace em {

/// The whole of `path`, refused when it holds more than `max_bytes`: a regular file's size is
/// checked before anything is read; anything else (a pipe, a /proc file) is read to at most
/// one byte past the limit. Symlinks are followed; a directory is an error. `what` names the
/// file in messages ("config", "inventory"; may be empty):
///   "cannot read <what> <path>: <errno text>"
///   "<path>: <what> larger than <limit>"  (the limit as "1 MiB", "64 KiB" or "1000 bytes")
Result<std::string> read_file_limited(const std::string& path, size_t max_bytes,
                                      std::string_view what = {});

/// The same, except that a missing file (ENOENT) is std::nullopt rather than an error, unless
/// `required`.
Result<std::optional<std::string>> read_file_if_present(const std::string& path, size_t max_bytes,
                                                        std::string_view what = {},
                                                        bool required = false);

/// At most the first `max_bytes` of `path`; the rest is never read (for /proc files, whose
/// size shows only when read). Errors: "cannot read <path>: <errno text>".
Result<std::string> read_file_head(const std::string& path, size_t max_bytes);

/// `bytes` for a person: "4 MiB", "64 KiB" when a whole number of those, else "1000 bytes".
std::string byte_size_text(size_t bytes);

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
