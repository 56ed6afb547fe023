#pragma once
// The aggregate files as the endpoint serves them: each request opens the file (the fd it
// opened is what is streamed, so a rename by the agent mid-request changes nothing) and
// describes it by an entity tag, a SHA-256 Digest and its line count. Free functions, no
// state: the server keeps the descriptions per FileKey.
#include <sys/stat.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "common/unique_fd.h"

namespace em::http {

/// What identifies a file's content (the agent replaces the files by rename, so a new
/// content is a new inode).
struct FileKey {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = 0;
    int64_t mtime_ns = 0, ctime_ns = 0;
    bool operator==(const FileKey&) const = default;
};

FileKey key_of(const struct stat& st);

/// What the server tells about one file's content.
struct FileInfo {
    std::string etag;    // "\"<32 hex digits of the SHA-256>\"", or "\"i-<identity>\""
    std::string digest;  // base64 of the whole SHA-256; empty for a file too large to hash
    std::optional<uint64_t> lines;  // counted with the hash
};

struct OpenFile {
    UniqueFd fd;  // invalid: the file does not exist (yet)
    struct stat st {};
};

/// Opens `path` read-only. A missing file is no error (fd invalid); one that is not a
/// regular file or is larger than 512 MiB is.
Result<OpenFile> open_file(const std::string& path);

/// Hashes and counts the lines of a file of up to 16 MiB, reading with pread (the fd's
/// offset stays at 0 for streaming it): a strong ETag from the content and a Digest. A
/// larger file is described by its identity only (an ETag from `key`, no Digest, no line
/// count): nothing is read before the client learns how big it is. An error when the file
/// changed while being read (it must be replaced by rename) or could not be read.
Result<FileInfo> describe_file(const std::string& path, int fd, const FileKey& key);

/// If-None-Match: "*" or a list of entity tags, weakly compared (RFC 9110 13.1.2).
bool etag_matches(std::string_view header, std::string_view etag);

}  // namespace em::http
