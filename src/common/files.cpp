#include "common/files.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <thread>

#include <fmt/core.h>

namespace em {

namespace {

// Reads up to `limit` bytes from fd; errno is left set on failure.
bool read_up_to(int fd, size_t limit, std::string& out) {
    out.clear();
    char buf[8192];
    while (out.size() < limit) {
        size_t want = std::min(sizeof buf, limit - out.size());
        ssize_t n = ::read(fd, buf, want);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) return false;
        if (n == 0) break;
        out.append(buf, static_cast<size_t>(n));
    }
    return true;
}

Result<std::optional<std::string>> read_limited(const std::string& path, size_t limit,
                                                const ReadErrors& errors, bool missing_ok) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) {
        if (missing_ok && errno == ENOENT) return std::optional<std::string>();
        return errno_error(errors.cannot_read);
    }
    std::string text;
    // One byte over the limit tells a file of exactly `limit` bytes from a larger one.
    const size_t want = limit == SIZE_MAX ? limit : limit + 1;
    if (!read_up_to(fd.get(), want, text)) return errno_error(errors.cannot_read);
    if (text.size() > limit) return Error{errors.too_large};
    return std::optional<std::string>(std::move(text));
}

// Writes and syncs dir/.name.tmp; removes it again on failure.
Result<std::string> write_temp(const std::string& dir, const std::string& name,
                               std::string_view content, unsigned mode) {
    std::string tmp = dir + "/." + name + ".tmp";
    // Whatever has that name (a leftover of a crash, or a symlink planted to make a root writer
    // overwrite and chmod another file) is removed, never followed: unlink(2) removes a link
    // itself, and O_CREAT | O_EXCL creates a new file or fails (a link planted again in
    // between is EEXIST, never opened).
    if (::unlink(tmp.c_str()) != 0 && errno != ENOENT)
        return errno_error("cannot remove the stale temporary file " + tmp);
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (!fd.valid()) return errno_error("cannot create " + tmp);
    auto fail = [&](const std::string& what) {
        Error e = errno_error(what + " " + tmp);
        fd.reset();
        ::unlink(tmp.c_str());
        return e;
    };
    if (::fchmod(fd.get(), mode) != 0) return fail("cannot chmod");
    size_t done = 0;
    while (done < content.size()) {
        ssize_t n = ::write(fd.get(), content.data() + done, content.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return fail("cannot write");
        done += static_cast<size_t>(n);
    }
    if (::fsync(fd.get()) != 0) return fail("cannot fsync");
    if (::close(fd.release()) != 0) {
        Error e = errno_error("cannot close " + tmp);
        ::unlink(tmp.c_str());
        return e;
    }
    return tmp;
}

}  // namespace

Result<void> write_files_atomically(
    const std::string& dir, const std::vector<std::pair<std::string, std::string_view>>& files,
    unsigned mode) {
    std::vector<std::string> temps;
    for (const auto& [name, content] : files) {
        auto tmp = write_temp(dir, name, content, mode);
        if (!tmp) {
            for (const auto& t : temps) ::unlink(t.c_str());
            return tmp.error();
        }
        temps.push_back(std::move(tmp.value()));
    }
    for (size_t i = 0; i < files.size(); ++i) {
        std::string target = dir + "/" + files[i].first;
        if (::rename(temps[i].c_str(), target.c_str()) != 0) {
            Error e = errno_error("cannot rename " + temps[i] + " to " + target);
            for (size_t j = i; j < temps.size(); ++j) ::unlink(temps[j].c_str());
            return e;
        }
    }
    UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!dfd.valid() || ::fsync(dfd.get()) != 0)
        return errno_error("cannot fsync directory " + dir);
    return {};
}

Result<void> write_file_atomically(const std::string& dir, const std::string& name,
                                   std::string_view content, unsigned mode) {
    return write_files_atomically(dir, {{name, content}}, mode);
}

Result<void> make_directories(const std::string& dir, unsigned mode) {
    if (dir.empty()) return Error{"empty directory path"};
    for (size_t pos = 1; pos <= dir.size(); ++pos) {
        if (pos != dir.size() && dir[pos] != '/') continue;
        std::string part = dir.substr(0, pos);
        if (::mkdir(part.c_str(), mode) != 0 && errno != EEXIST)
            return errno_error("cannot create directory " + part);
    }
    struct stat st {};
    if (::stat(dir.c_str(), &st) != 0) return errno_error("cannot stat " + dir);
    if (!S_ISDIR(st.st_mode)) return Error{dir + " is not a directory"};
    return {};
}

Result<UniqueFd> lock_file(const std::string& path, int timeout_ms) {
    // O_NOFOLLOW: the holder truncates and writes its pid into the file; a symlink planted
    // under that name must not redirect that to another file.
    UniqueFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (!fd.valid()) return errno_error("cannot open lock file " + path);
    auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms);
    while (::flock(fd.get(), LOCK_EX | LOCK_NB) != 0) {
        if (errno != EWOULDBLOCK && errno != EINTR) return errno_error("cannot lock " + path);
        if (std::chrono::steady_clock::now() >= deadline) {
            char holder[32] = {};
            ssize_t n = ::pread(fd.get(), holder, sizeof holder - 1, 0);
            std::string who = n > 0 ? std::string(holder, static_cast<size_t>(n)) : "unknown";
            while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
            return Error{fmt::format("another run (pid {}) holds {}; gave up after {} ms", who,
                                     path, timeout_ms)};
        }
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    std::string pid = std::to_string(::getpid()) + "\n";
    if (::ftruncate(fd.get(), 0) == 0) {
        [[maybe_unused]] ssize_t n = ::pwrite(fd.get(), pid.data(), pid.size(), 0);
    }
    return fd;
}

Result<std::string> read_file_limited(const std::string& path, size_t limit,
                                      const ReadErrors& errors) {
    auto r = read_limited(path, limit, errors, false);
    if (!r) return r.error();
    return std::move(**r);
}

Result<std::optional<std::string>> read_file_if_present(const std::string& path, size_t limit,
                                                        const ReadErrors& errors) {
    return read_limited(path, limit, errors, true);
}

Result<std::string> read_file_head(const std::string& path, size_t limit,
                                   const std::string& cannot_read) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOCTTY));
    if (!fd.valid()) return errno_error(cannot_read);
    return read_fd_head(fd.get(), limit, cannot_read);
}

Result<std::string> read_fd_head(int fd, size_t limit, const std::string& cannot_read) {
    std::string text;
    if (!read_up_to(fd, limit, text)) return errno_error(cannot_read);
    return text;
}

}  // namespace em
