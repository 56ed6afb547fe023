#include "exporters/http/served_file.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <fmt/core.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "common/tls_policy.h"
#include "exporters/http/daemon.h"

namespace em::http {

namespace {

constexpr size_t kMaxFileBytes = size_t{512} << 20;
constexpr size_t kMaxHashedBytes = size_t{16} << 20;
constexpr size_t kReadChunk = size_t{1} << 20;

using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, Deleter<EVP_MD_CTX_free>>;

std::string hex(const unsigned char* p, size_t n) {
    static constexpr char kHex[] = "0123456789abcdef";
    std::string out;
    out.reserve(2 * n);
    for (size_t i = 0; i < n; ++i) {
        out += kHex[p[i] >> 4];
        out += kHex[p[i] & 15];
    }
    return out;
}

}  // namespace

FileKey key_of(const struct stat& st) {
    return {st.st_dev, st.st_ino, st.st_size,
            int64_t{st.st_mtim.tv_sec} * 1000000000 + st.st_mtim.tv_nsec,
            int64_t{st.st_ctim.tv_sec} * 1000000000 + st.st_ctim.tv_nsec};
}

Result<OpenFile> open_file(const std::string& path) {
    OpenFile f;
    f.fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!f.fd.valid()) {
        if (errno == ENOENT) return f;
        return errno_error("cannot open " + path);
    }
    if (::fstat(f.fd.get(), &f.st) != 0) return errno_error("cannot stat " + path);
    if (!S_ISREG(f.st.st_mode)) return Error{path + " is not a regular file"};
    if (static_cast<uint64_t>(f.st.st_size) > kMaxFileBytes)
        return Error{path + " is too large to serve: " + std::to_string(f.st.st_size) +
                     " bytes, limit " + std::to_string(kMaxFileBytes)};
    return f;
}

Result<FileInfo> describe_file(const std::string& path, int fd, const FileKey& key) {
    FileInfo info;
    if (static_cast<uint64_t>(key.size) > kMaxHashedBytes) {
        info.etag = fmt::format("\"i-{:x}-{:x}-{:x}-{:x}-{:x}\"", key.dev, key.ino, key.size,
                                key.mtime_ns, key.ctime_ns);
        return info;
    }
    MdCtxPtr md(EVP_MD_CTX_new());
    if (!md || EVP_DigestInit_ex(md.get(), EVP_sha256(), nullptr) != 1)
        return Error{"SHA-256 unavailable: " + openssl_error()};
    std::string buf(kReadChunk, '\0');
    uint64_t lines = 0;
    off_t at = 0;
    while (true) {
        ssize_t n = ::pread(fd, buf.data(), buf.size(), at);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return errno_error("cannot read " + path);
        if (n == 0) break;
        at += n;
        if (at > key.size)
            return Error{path + " changed while being read (it must be replaced by rename)"};
        EVP_DigestUpdate(md.get(), buf.data(), static_cast<size_t>(n));
        lines += static_cast<uint64_t>(std::count(buf.data(), buf.data() + n, '\n'));
    }
    if (at != key.size)
        return Error{path + " changed while being read (it must be replaced by rename)"};
    unsigned char sha[EVP_MAX_MD_SIZE];
    unsigned int len = 0;
    if (EVP_DigestFinal_ex(md.get(), sha, &len) != 1 || len != 32)
        return Error{"SHA-256 failed: " + openssl_error()};
    info.etag = "\"" + hex(sha, 16) + "\"";
    unsigned char b64[64];
    int b64_len = EVP_EncodeBlock(b64, sha, 32);
    info.digest.assign(reinterpret_cast<const char*>(b64), static_cast<size_t>(b64_len));
    info.lines = lines;
    return info;
}

bool etag_matches(std::string_view header, std::string_view etag) {
    while (!header.empty()) {
        size_t comma = header.find(',');
        std::string_view item = trim_ows(header.substr(0, comma));
        if (item == "*") return true;
        if (item.substr(0, 2) == "W/") item.remove_prefix(2);
        if (item == etag) return true;
        if (comma == std::string_view::npos) break;
        header.remove_prefix(comma + 1);
    }
    return false;
}

}  // namespace em::http
