#include "sources/log_file/log_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <memory>
#include <vector>

#include <fmt/core.h>

namespace em {

namespace {

constexpr uint32_t kFingerprintMax = 1024;
constexpr size_t kChunk = 4 << 20;  // read buffer per reader
constexpr int kMaxGenerations = 9;  // PATH.1 .. PATH.9 (and .gz)

uint64_t fnv1a(const char* p, size_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; ++i) h = (h ^ static_cast<unsigned char>(p[i])) * 0x100000001b3ULL;
    return h;
}

struct Opened {
    std::string path;
    UniqueFd fd;
    struct stat st {};
    bool compressed = false;
};

std::optional<Opened> open_file(const std::string& path, bool compressed) {
    Opened o;
    o.path = path;
    o.compressed = compressed;
    o.fd.reset(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!o.fd.valid() || ::fstat(o.fd.get(), &o.st) != 0 || !S_ISREG(o.st.st_mode))
        return std::nullopt;
    return o;
}

// Reads up to `n` bytes from the start of a file (decompressing when asked).
std::string head(const Opened& f, size_t n) {
    std::string buf(n, '\0');
    if (!f.compressed) {
        ssize_t got = ::pread(f.fd.get(), buf.data(), n, 0);
        buf.resize(got > 0 ? static_cast<size_t>(got) : 0);
        return buf;
    }
    int dupfd = ::dup(f.fd.get());
    if (dupfd < 0) return {};
    ::lseek(dupfd, 0, SEEK_SET);
    gzFile gz = gzdopen(dupfd, "rb");
    if (!gz) {
        ::close(dupfd);
        return {};
    }
    int got = gzread(gz, buf.data(), static_cast<unsigned>(n));
    gzclose(gz);
    buf.resize(got > 0 ? static_cast<size_t>(got) : 0);
    return buf;
}

bool fingerprint_matches(const Opened& f, const FileCursor& c) {
    if (c.fp_len == 0) return true;
    std::string h = head(f, c.fp_len);
    return h.size() == c.fp_len && fnv1a(h.data(), h.size()) == c.fp_hash;
}

FileCursor cursor_for(const Opened& f, uint64_t offset) {
    FileCursor c;
    c.dev = f.st.st_dev;
    c.ino = f.st.st_ino;
    c.offset = offset;
    std::string h = head(f, static_cast<size_t>(std::min<uint64_t>(f.st.st_size, kFingerprintMax)));
    c.fp_len = static_cast<uint32_t>(h.size());
    c.fp_hash = fnv1a(h.data(), h.size());
    return c;
}

// Offset just past the last '\n' in [0, size).
uint64_t complete_end(const Opened& f) {
    uint64_t pos = static_cast<uint64_t>(f.st.st_size);
    std::string buf(64 << 10, '\0');
    while (pos > 0) {
        uint64_t n = std::min<uint64_t>(pos, buf.size());
        ssize_t got = ::pread(f.fd.get(), buf.data(), n, static_cast<off_t>(pos - n));
        if (got != static_cast<ssize_t>(n)) return 0;
        const void* nl = memrchr(buf.data(), '\n', n);
        if (nl) return pos - n + (static_cast<const char*>(nl) - buf.data()) + 1;
        pos -= n;
    }
    return 0;
}

}  // namespace

std::string LogCursor::encode() const {
    std::string out = "v1";
    for (const auto& f : files)
        out += fmt::format(" {}:{}:{}:{}:{:x}", f.dev, f.ino, f.offset, f.fp_len, f.fp_hash);
    return out;
}

std::optional<LogCursor> LogCursor::decode(std::string_view text) {
    if (text.substr(0, 2) != "v1") return std::nullopt;
    LogCursor c;
    size_t pos = 2;
    while (pos < text.size()) {
        if (text[pos] != ' ') return std::nullopt;
        ++pos;
        FileCursor f;
        uint64_t* fields[] = {&f.dev, &f.ino, &f.offset};
        for (auto* field : fields) {
            auto [p, ec] = std::from_chars(text.data() + pos, text.data() + text.size(), *field);
            if (ec != std::errc() || p == text.data() + text.size() || *p != ':')
                return std::nullopt;
            pos = static_cast<size_t>(p - text.data()) + 1;
        }
        auto [p1, ec1] = std::from_chars(text.data() + pos, text.data() + text.size(), f.fp_len);
        if (ec1 != std::errc() || p1 == text.data() + text.size() || *p1 != ':')
            return std::nullopt;
        pos = static_cast<size_t>(p1 - text.data()) + 1;
        auto [p2, ec2] =
            std::from_chars(text.data() + pos, text.data() + text.size(), f.fp_hash, 16);
        if (ec2 != std::errc()) return std::nullopt;
        pos = static_cast<size_t>(p2 - text.data());
        c.files.push_back(f);
    }
    return c;
}

Result<LogFile> LogFile::plan(const std::string& path, const std::optional<LogCursor>& saved) {
    LogFile lf;
    std::optional<Opened> active = open_file(path, false);
    if (!active && errno != ENOENT && errno != 0) return errno_error("cannot open " + path);
    bool active_handled = false;
    std::optional<uint64_t> active_begin;  // where the current file is read from

    // Older generations, opened lazily: index k-1 holds PATH.k and PATH.k.gz.
    struct Gen {
        std::optional<Opened> plain, gz;
        bool used = false;
    };
    std::vector<Gen> gens(kMaxGenerations);
    bool gens_opened = false;
    auto open_gens = [&] {
        if (gens_opened) return;
        gens_opened = true;
        for (int k = 1; k <= kMaxGenerations; ++k) {
            gens[k - 1].plain = open_file(fmt::format("{}.{}", path, k), false);
            gens[k - 1].gz = open_file(fmt::format("{}.{}.gz", path, k), true);
        }
    };
    auto add = [&](Opened& f, uint64_t begin, uint64_t end, bool final) {
        Segment s;
        s.path_ = f.path;
        s.fd_.reset(::dup(f.fd.get()));
        s.begin_ = begin;
        s.end_ = end;
        s.compressed_ = f.compressed;
        s.final_ = final;
        if (f.compressed || end > begin) lf.segments_.push_back(std::move(s));
    };
    auto add_active = [&](Opened& f, uint64_t begin, uint64_t end) {
        add(f, begin, end, false);
        lf.after_.files.push_back(cursor_for(f, end));
    };
    // A finished copy of `c`'s file (after copytruncate), or the file itself rotated away
    // when its inode was reused by the new file: another inode, same fingerprint.
    int deepest = 0;  // the oldest generation a followed file was found in
    auto find_copy = [&](const FileCursor& c) -> Opened* {
        open_gens();
        for (int k = 1; k <= kMaxGenerations; ++k) {
            Gen& g = gens[k - 1];
            if (g.used) continue;
            for (auto* o : {&g.plain, &g.gz}) {
                if (!*o) continue;
                if (!(*o)->compressed && ((*o)->st.st_ino == c.ino && (*o)->st.st_dev == c.dev))
                    continue;
                if (!(*o)->compressed && static_cast<uint64_t>((*o)->st.st_size) < c.offset)
                    continue;
                if (fingerprint_matches(**o, c)) {
                    g.used = true;
                    deepest = std::max(deepest, k);
                    return &**o;
                }
            }
        }
        return nullptr;
    };

    if (saved) {
        for (const FileCursor& c : saved->files) {
            if (active && !active_handled && active->st.st_ino == c.ino &&
                active->st.st_dev == c.dev) {
                active_handled = true;
                if (static_cast<uint64_t>(active->st.st_size) >= c.offset &&
                    fingerprint_matches(*active, c)) {
                    active_begin = c.offset;
                    continue;
                }
                // Truncated in place: copytruncate (the rest is in a copy) or a plain truncate.
                if (Opened* copy = find_copy(c)) {
                    lf.notes_.push_back(fmt::format(
                        "{} was truncated (copytruncate); reading the rest from {} at offset {}",
                        path, copy->path, c.offset));
                    add(*copy, c.offset, copy->compressed ? UINT64_MAX : copy->st.st_size, true);
                } else {
                    lf.notes_.push_back(fmt::format(
                        "{} was truncated below offset {} and no rotated copy holds the rest; "
                        "reading it from the start",
                        path, c.offset));
                }
                active_begin = 0;
                continue;
            }
            // Rotated away: find the old file by inode (plain) or fingerprint (compressed).
            open_gens();
            bool found = false;
            for (int k = 1; k <= kMaxGenerations && !found; ++k) {
                Gen& g = gens[k - 1];
                if (g.used) continue;
                if (g.plain && g.plain->st.st_ino == c.ino && g.plain->st.st_dev == c.dev) {
                    found = true;
                    deepest = std::max(deepest, k);
                    g.used = true;
                    bool may_grow = k == 1 && fingerprint_matches(*g.plain, c);
                    if (!fingerprint_matches(*g.plain, c) ||
                        static_cast<uint64_t>(g.plain->st.st_size) < c.offset) {
                        lf.notes_.push_back(fmt::format(
                            "{} changed under its old inode; skipping it", g.plain->path));
                        ++lf.lost_;
                        break;
                    }
                    if (may_grow) {
                        // Possibly still written by a process that has not reopened its log.
                        uint64_t end = std::max(complete_end(*g.plain), c.offset);
                        add(*g.plain, c.offset, end, false);
                        lf.after_.files.push_back(cursor_for(*g.plain, end));
                    } else {
                        add(*g.plain, c.offset, g.plain->st.st_size, true);
                    }
                } else if (g.gz && fingerprint_matches(*g.gz, c)) {
                    found = true;
                    deepest = std::max(deepest, k);
                    g.used = true;
                    add(*g.gz, c.offset, UINT64_MAX, true);
                }
            }
            if (!found) {
                lf.notes_.push_back(fmt::format(
                    "a rotated generation of {} (inode {}) was not found; lines written to it "
                    "after offset {} were not read",
                    path, c.ino, c.offset));
                ++lf.lost_;
            }
        }
    }
    // Generations rotated in since the last run and never seen: read whole, oldest first.
    for (int k = deepest - 1; k >= 1; --k) {
        Gen& g = gens[k - 1];
        if (g.used) continue;
        if (g.plain && !(active && g.plain->st.st_ino == active->st.st_ino)) {
            g.used = true;
            if (k == 1) {
                uint64_t end = complete_end(*g.plain);
                add(*g.plain, 0, end, false);
                lf.after_.files.push_back(cursor_for(*g.plain, end));
            } else {
                add(*g.plain, 0, g.plain->st.st_size, true);
            }
        } else if (g.gz) {
            g.used = true;
            add(*g.gz, 0, UINT64_MAX, true);
        }
    }
    if (active) {
        uint64_t begin = active_begin.value_or(0);
        add_active(*active, begin, std::max(begin, complete_end(*active)));
    }
    return lf;
}

uint64_t LogFile::bytes_planned() const {
    uint64_t n = 0;
    for (const auto& s : segments_)
        if (!s.compressed()) n += s.end() - s.begin();
    return n;
}

Result<void> LogFile::verify_unchanged() const {
    for (const auto& s : segments_) {
        if (s.compressed()) continue;
        struct stat st {};
        if (::fstat(s.fd_.get(), &st) != 0) return errno_error("cannot stat " + s.path());
        if (static_cast<uint64_t>(st.st_size) < s.end())
            return Error{
                fmt::format("{} was truncated while being read; nothing committed, "
                            "the next run reads it again",
                            s.path())};
    }
    return {};
}

Result<void> Segment::read(uint64_t from, uint64_t to, const LineSink& sink) const {
    if (compressed_) return read_compressed(sink);
    // Sized to the range (small ranges are common in tests and at the end of a run), grown
    // up to kChunk when a line does not fit.
    std::vector<char> buf(static_cast<size_t>(
        std::clamp<uint64_t>(to > from ? to - from + 4096 : 4096, 4096, kChunk)));
    uint64_t pos = from;
    if (from > begin_) {
        // The line containing byte `from - 1` belongs to the previous range.
        for (;;) {
            size_t want = static_cast<size_t>(std::min<uint64_t>(buf.size(), end_ - (pos - 1)));
            if (want == 0) return {};
            ssize_t got = ::pread(fd_.get(), buf.data(), want, static_cast<off_t>(pos - 1));
            if (got < 0) return errno_error("cannot read " + path_);
            if (got == 0) return {};
            const void* nl = std::memchr(buf.data(), '\n', static_cast<size_t>(got));
            if (nl) {
                pos = pos - 1 + (static_cast<const char*>(nl) - buf.data()) + 1;
                break;
            }
            pos += static_cast<uint64_t>(got);
        }
    }
    size_t have = 0;        // bytes in buf not yet handed out, starting at file offset pos
    bool skipping = false;  // inside a line longer than the buffer
    while (pos < to) {
        uint64_t limit = final_ ? UINT64_MAX : end_;
        size_t want =
            static_cast<size_t>(std::min<uint64_t>(buf.size() - have, limit - (pos + have)));
        ssize_t got = 0;
        if (want > 0) {
            got = ::pread(fd_.get(), buf.data() + have, want, static_cast<off_t>(pos + have));
            if (got < 0) return errno_error("cannot read " + path_);
        }
        size_t n = have + static_cast<size_t>(got);
        if (n == 0) break;
        bool eof = got == 0;
        const char* p = buf.data();
        const char* last_nl = static_cast<const char*>(memrchr(p, '\n', n));
        if (skipping) {
            // Drop the rest of an over-long line.
            const char* nl = static_cast<const char*>(std::memchr(p, '\n', n));
            if (!nl) {
                pos += n;
                have = 0;
                if (eof) break;
                continue;
            }
            size_t skip = static_cast<size_t>(nl - p) + 1;
            pos += skip;
            std::memmove(buf.data(), p + skip, n - skip);
            have = n - skip;
            skipping = false;
            continue;
        }
        if (!last_nl) {
            if (eof) {  // a finished file's last partial line
                if (final_) sink(std::string_view(p, n));
                pos += n;
                break;
            }
            if (n == buf.size() && buf.size() < kChunk) {  // a long line: make room
                buf.resize(std::min(kChunk, buf.size() * 2));
                have = n;
                continue;
            }
            if (n == kChunk) {             // a single line larger than the buffer: skip it
                sink(std::string_view());  // tells the parser one over-long line was dropped
                pos += n;
                have = 0;
                skipping = true;
                continue;
            }
            have = n;
            continue;
        }
        // Hand out the complete lines that start before `to`.
        size_t usable = static_cast<size_t>(last_nl - p) + 1;
        if (pos + usable > to) {
            // Cut after the line that contains byte to-1.
            size_t cut = static_cast<size_t>(to - pos);
            const char* nl =
                static_cast<const char*>(std::memchr(p + cut - 1, '\n', usable - cut + 1));
            usable = static_cast<size_t>(nl - p) + 1;
        }
        sink(std::string_view(p, usable));
        pos += usable;
        have = n - usable;
        if (have) std::memmove(buf.data(), p + usable, have);
        if (eof && have == 0) break;
    }
    return {};
}

Result<void> Segment::read_compressed(const LineSink& sink) const {
    int dupfd = ::dup(fd_.get());
    if (dupfd < 0) return errno_error("cannot dup " + path_);
    ::lseek(dupfd, 0, SEEK_SET);
    std::unique_ptr<gzFile_s, Deleter<gzclose>> gz(gzdopen(dupfd, "rb"));
    if (!gz) {
        ::close(dupfd);
        return Error{"cannot open " + path_ + " as gzip"};
    }
    gzbuffer(gz.get(), 256 << 10);
    std::unique_ptr<char[]> buf(new char[kChunk]);
    uint64_t skip = begin_;
    size_t have = 0;
    for (;;) {
        int got = gzread(gz.get(), buf.get() + have, static_cast<unsigned>(kChunk - have));
        if (got < 0) {
            int err = 0;
            return Error{path_ + ": " + gzerror(gz.get(), &err)};
        }
        size_t n = have + static_cast<size_t>(got);
        const char* p = buf.get();
        if (skip > 0) {
            size_t s = static_cast<size_t>(std::min<uint64_t>(skip, n));
            skip -= s;
            p += s;
            n -= s;
        }
        if (n == 0 && got == 0) break;
        const char* last_nl = static_cast<const char*>(memrchr(p, '\n', n));
        if (got == 0) {  // end of the stream: all of it, partial last line included
            if (n) sink(std::string_view(p, n));
            break;
        }
        if (!last_nl) {
            if (n == kChunk) {  // an over-long line: dropped (a real reader would skip it all)
                sink(std::string_view());
                have = 0;
            } else {
                std::memmove(buf.get(), p, n);
                have = n;
            }
            continue;
        }
        size_t usable = static_cast<size_t>(last_nl - p) + 1;
        sink(std::string_view(p, usable));
        have = n - usable;
        std::memmove(buf.get(), p + usable, have);
    }
    return {};
}

}  // namespace em
