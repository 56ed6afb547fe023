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
// The offset of a cursor anchored on a whole .gz: read to its end, without inflating it to
// learn its length.
constexpr uint64_t kWholeFile = UINT64_MAX;

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
    // A .gz without gzip's magic yet (gzip caught before its first block) would be read by
    // zlib as plain text: not a generation until it is one.
    unsigned char magic[2] = {};
    if (compressed &&
        (::pread(o.fd.get(), magic, 2, 0) != 2 || magic[0] != 0x1f || magic[1] != 0x8b))
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
    std::string out = "v" + std::to_string(version);
    for (const auto& f : files)
        out += fmt::format(" {}:{}:{}:{}:{:x}{}", f.dev, f.ino, f.offset, f.fp_len, f.fp_hash,
                           f.anchor ? ":a" : "");
    return out;
}

std::optional<LogCursor> LogCursor::decode(std::string_view text) {
    if (text.substr(0, 2) != "v1" && text.substr(0, 2) != "v2") return std::nullopt;
    LogCursor c;
    c.version = text[1] - '0';
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
        if (c.version >= 2 && text.substr(pos, 2) == ":a") {
            f.anchor = true;
            pos += 2;
        }
        c.files.push_back(f);
    }
    return c;
}

Result<LogFile> LogFile::plan(const std::string& path, const std::optional<LogCursor>& saved) {
    LogFile lf;
    errno = 0;
    // Candidates, newest first: PATH, then PATH.1, PATH.1.gz, PATH.2, PATH.2.gz, ...
    // generation[i] is 0 for PATH and k for PATH.k(.gz).
    std::vector<std::optional<Opened>> files;
    std::vector<int> generation;
    files.push_back(open_file(path, false));
    if (!files[0] && errno != ENOENT && errno != 0) return errno_error("cannot open " + path);
    generation.push_back(0);
    for (int k = 1; k <= kMaxGenerations; ++k) {
        files.push_back(open_file(fmt::format("{}.{}", path, k), false));
        generation.push_back(k);
        files.push_back(open_file(fmt::format("{}.{}.gz", path, k), true));
        generation.push_back(k);
    }
    std::vector<bool> used(files.size(), false);
    auto add = [&](Opened& f, uint64_t begin, uint64_t end, bool final) {
        Segment s;
        s.path_ = f.path;
        s.fd_.reset(::dup(f.fd.get()));
        s.begin_ = begin;
        s.end_ = end;
        s.compressed_ = f.compressed;
        s.final_ = final;
        if (!f.compressed) {
            FileCursor fp = cursor_for(f, 0);
            s.fp_len_ = fp.fp_len;
            s.fp_hash_ = fp.fp_hash;
        }
        if (f.compressed || end > begin) lf.segments_.push_back(std::move(s));
    };
    auto same_inode = [](const Opened& f, const FileCursor& c) {
        return !f.compressed && f.st.st_ino == c.ino && f.st.st_dev == c.dev;
    };
    // Whether candidate i holds the file `c` followed: the same first bytes (a fingerprint
    // survives renames, copies and compression; an inode alone does not, inodes are reused)
    // and at least `offset` bytes. A cursor with no fingerprint yet (the file was empty) is
    // known by its inode only.
    auto holds = [&](size_t i, const FileCursor& c) {
        const Opened& f = *files[i];
        if (c.fp_len == 0) return same_inode(f, c);
        if (!f.compressed && static_cast<uint64_t>(f.st.st_size) < c.offset) return false;
        return fingerprint_matches(f, c);
    };

    // Whether candidate i is a copy of the followed file `c` (found in candidate `where`, if
    // anywhere): copytruncate's copy, or a gzip of it, possibly still being written. A file
    // shorter than the fingerprint is compared byte for byte with the start of the original;
    // an empty one could be the start of anything and is not called a copy.
    auto copy_of = [&](size_t i, const FileCursor& c, std::optional<size_t> where) {
        if (c.fp_len == 0) return false;
        std::string h = head(*files[i], c.fp_len);
        if (h.size() == c.fp_len) return fnv1a(h.data(), h.size()) == c.fp_hash;
        if (h.empty() || !where || *where == i) return false;
        return head(*files[*where], h.size()) == h;
    };

    // Whether candidate i is a copy of a newer file still there: copytruncate's copy of PATH
    // caught before the truncate, or a gzip of PATH.k caught before it removed its input.
    auto copy_of_newer = [&](size_t i) {
        std::string h = head(*files[i], kFingerprintMax);
        if (h.empty()) return files[i]->compressed;  // a .gz with not one line in it yet
        for (size_t j = 0; j < files.size(); ++j)
            if (files[j] && !files[j]->compressed && j != i && generation[j] <= generation[i] &&
                head(*files[j], h.size()) == h)
                return true;
        return false;
    };

    // Which candidate holds each followed file. Cursors with a fingerprint claim first: their
    // first bytes prove which file they are. A cursor without one (the file was empty when
    // last seen) is known by its inode alone, and that inode may since have been freed and
    // reused — even by copytruncate's copy of PATH or of another followed file, caught half
    // written: such a file is not the one this cursor followed.
    const size_t ncursors = saved ? saved->files.size() : 0;
    std::vector<std::optional<size_t>> found(ncursors);
    for (bool fingerprinted : {true, false}) {
        for (size_t ci = 0; ci < ncursors; ++ci) {
            const FileCursor& c = saved->files[ci];
            if ((c.fp_len > 0) != fingerprinted) continue;
            // Prefer the file under its own inode (the original over a copytruncate copy).
            for (size_t i = 0; i < files.size() && !found[ci]; ++i)
                if (files[i] && !used[i] && same_inode(*files[i], c) && holds(i, c)) found[ci] = i;
            for (size_t i = 0; i < files.size() && !found[ci]; ++i)
                if (files[i] && !used[i] && holds(i, c)) found[ci] = i;
            if (found[ci] && !fingerprinted) {
                for (size_t other = 0; other < ncursors; ++other)
                    if (other != ci && copy_of(*found[ci], saved->files[other], found[other]))
                        found[ci].reset();
                if (found[ci] && copy_of_newer(*found[ci])) found[ci].reset();
            }
            if (found[ci]) used[*found[ci]] = true;
        }
    }

    std::optional<uint64_t> active_begin;  // where PATH is read from when a cursor found it
    int deepest = 0;                       // the oldest generation a followed file was in
    // A v2 cursor without a fingerprinted file was stored when no rotated generation held a
    // line: whatever rotated generation there is now came after it.
    // Nor does one whose anchor or followed rotated file is gone (found nowhere by its first
    // bytes): logrotate deleted it, and it deletes the oldest first. Not the newest entry,
    // which may have been PATH itself: a log removed by hand must not make the generations
    // already read look new.
    if (saved && saved->version >= 2 &&
        std::none_of(saved->files.begin(), saved->files.end(),
                     [](const FileCursor& c) { return c.fp_len > 0; }))
        deepest = kMaxGenerations + 1;
    for (size_t ci = 0; ci < ncursors; ++ci) {
        const FileCursor& c = saved->files[ci];
        if (!found[ci] && c.fp_len > 0 && (c.anchor || ci + 1 < ncursors))
            deepest = kMaxGenerations + 1;
    }
    for (size_t ci = 0; ci < ncursors; ++ci) {
        const FileCursor& c = saved->files[ci];
        if (!found[ci]) {
            if (!c.anchor && (c.offset > 0 || c.fp_len > 0)) {
                lf.notes_.push_back(fmt::format(
                    "{}: the file followed until offset {} (inode {}) is gone or was "
                    "truncated without a rotated copy; what it held after that offset was "
                    "not read",
                    path, c.offset, c.ino));
                ++lf.lost_;
            }
            continue;
        }
        size_t i = *found[ci];
        Opened& f = *files[i];
        deepest = std::max(deepest, generation[i]);
        if (generation[i] == 0) {
            active_begin = c.offset;  // PATH itself, grown
        } else if (generation[i] == 1 && !f.compressed && same_inode(f, c)) {
            // Renamed to PATH.1: its writer may not have reopened its log yet.
            uint64_t end = std::max(complete_end(f), c.offset);
            add(f, c.offset, end, false);
            lf.after_.files.push_back(cursor_for(f, end));
        } else if (c.offset != kWholeFile) {
            // A finished generation: an older one, a compressed one, or the copy left by
            // copytruncate (then PATH itself starts over).
            if (!same_inode(f, c))
                lf.notes_.push_back(
                    fmt::format("{}: reading the rest of a rotated file from {} at offset {}", path,
                                f.path, c.offset));
            add(f, c.offset, f.compressed ? UINT64_MAX : static_cast<uint64_t>(f.st.st_size), true);
        }
    }
    // Generations rotated in since the last run and never seen: read whole, oldest first.
    // Not new: a copy of a file being followed, or of PATH itself (caught between
    // copytruncate's copy and its truncate: read from PATH now, from the copy's offset once
    // PATH is truncated), nor a .gz of a generation still there uncompressed.
    auto copy_of_followed = [&](size_t i) {
        for (size_t ci = 0; ci < ncursors; ++ci)
            if (copy_of(i, saved->files[ci], found[ci])) return true;
        return false;
    };
    for (size_t i = files.size(); i-- > 1;) {
        if (!files[i] || used[i] || generation[i] >= deepest) continue;
        Opened& f = *files[i];
        if (files[0] && same_inode(f, FileCursor{static_cast<uint64_t>(files[0]->st.st_dev),
                                                 static_cast<uint64_t>(files[0]->st.st_ino)}))
            continue;
        if (copy_of_followed(i) || copy_of_newer(i)) continue;
        used[i] = true;
        if (generation[i] == 1 && !f.compressed) {
            uint64_t end = complete_end(f);
            add(f, 0, end, false);
            lf.after_.files.push_back(cursor_for(f, end));
        } else {
            add(f, 0, f.compressed ? UINT64_MAX : static_cast<uint64_t>(f.st.st_size), true);
        }
    }
    if (files[0]) {
        Opened& f = *files[0];
        uint64_t begin = active_begin.value_or(0);
        uint64_t end = std::max(begin, complete_end(f));
        add(f, begin, end, false);
        lf.after_.files.push_back(cursor_for(f, end));
    }
    // An empty file has no first bytes to be known by, and its inode alone cannot tell
    // whether it was filled and copytruncated before the next run (the copy would look like
    // an older generation). So a cursor always holds one fingerprinted file when there is
    // one: if no followed file has lines, the newest rotated generation that has, read to its
    // end, anchors it; if none has, the cursor says so by having no fingerprint at all.
    auto fingerprinted = [&] {
        return std::any_of(lf.after_.files.begin(), lf.after_.files.end(),
                           [](const FileCursor& c) { return c.fp_len > 0; });
    };
    for (size_t i = 1; i < files.size() && !fingerprinted(); ++i) {
        if (!files[i] || files[i]->st.st_size == 0 || copy_of_newer(i)) continue;
        const Opened& f = *files[i];
        FileCursor a =
            cursor_for(f, f.compressed ? kWholeFile : static_cast<uint64_t>(f.st.st_size));
        a.anchor = true;
        lf.after_.files.insert(lf.after_.files.begin(), a);
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
        std::string h(s.fp_len_, '\0');
        ssize_t got = s.fp_len_ ? ::pread(s.fd_.get(), h.data(), h.size(), 0) : 0;
        if (static_cast<uint64_t>(st.st_size) < s.end() || got != static_cast<ssize_t>(s.fp_len_) ||
            fnv1a(h.data(), h.size()) != s.fp_hash_)
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
