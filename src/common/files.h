#pragma once
// Whole-file writes and the state-directory lock.
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/result.h"
#include "common/unique_fd.h"

namespace em {

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
