#include "common/token_file.h"

#include <fcntl.h>
#include <fmt/core.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string_view>

#include "common/files.h"
#include "common/unique_fd.h"

namespace em {

namespace {

constexpr size_t kMaxTokenFileBytes = 4096;

bool is_blank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

}  // namespace

Result<std::string> read_token_file(const std::string& path) {
    if (path.empty()) return Error{"no token file configured (token_file)"};
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return errno_error("cannot read token file " + path);
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return errno_error("cannot stat token file " + path);
    if (!S_ISREG(st.st_mode)) return Error{"token file " + path + " is not a regular file"};
    if (st.st_mode & 077)
        return Error{
            fmt::format("token file {} is readable or writable by group or others "
                        "(mode {:o}): chmod 600 {}",
                        path, st.st_mode & 0777, path)};
    auto buf = read_fd_head(fd.get(), kMaxTokenFileBytes, "cannot read token file " + path);
    if (!buf) return buf.error();
    std::string_view first(*buf);
    first = first.substr(0, first.find('\n'));
    while (!first.empty() && is_blank(first.front())) first.remove_prefix(1);
    while (!first.empty() && is_blank(first.back())) first.remove_suffix(1);
    if (first.empty())
        return Error{"token file " + path + " is empty (the token is its first line)"};
    for (char c : first)
        if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f)
            return Error{"token file " + path + " has control characters in its first line"};
    if (first.size() < kMinTokenBytes)
        return Error{
            fmt::format("token in {} is {} bytes; use at least {}, e.g. openssl rand "
                        "-base64 32",
                        path, first.size(), kMinTokenBytes)};
    return std::string(first);
}

}  // namespace em
