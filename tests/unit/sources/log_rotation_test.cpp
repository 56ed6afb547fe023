// Rotation under a reader. logrotate's two ways of rotating — rename-and-create with delayed
// compression, and copytruncate — are taken one filesystem step at a time (a gzip or a copy
// half written, a file renamed but not yet re-created, a writer that has not reopened yet),
// and a reader plans, reads and commits in between, sometimes across several steps (a slow
// run) and sometimes not at all (a run killed before its commit), as cron runs land anywhere
// in a rotation, with or without compression and delaycompress, keeping 1 to 9 generations.
// Every line written must be read exactly once, whatever the interleaving, except lines only
// in a generation logrotate deleted before any run read it.
// EM_TRACE_SEED=N prints the steps, plans and commits of seed N to stderr.
#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <set>

#include "sources/log_file/log_file.h"

namespace em {

namespace {

namespace fs = std::filesystem;

std::string slurp(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_file(const std::string& path, std::string_view data, bool append) {
    int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | (append ? O_APPEND : O_TRUNC), 0644);
    ASSERT_GE(fd, 0) << path;
    ASSERT_EQ(::write(fd, data.data(), data.size()), static_cast<ssize_t>(data.size()));
    ::close(fd);
}

std::string gzip_bytes(const std::string& data) {
    uLongf n = compressBound(data.size()) + 64;
    std::string out(n, '\0');
    z_stream z{};
    deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY);
    z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
    z.avail_in = static_cast<uInt>(data.size());
    z.next_out = reinterpret_cast<Bytef*>(out.data());
    z.avail_out = static_cast<uInt>(out.size());
    deflate(&z, Z_FINISH);
    out.resize(z.total_out);
    deflateEnd(&z);
    return out;
}

class Scenario {
  public:
    // logrotate's settings vary with the seed: delaycompress or not, compress or not, and
    // how many generations are kept (mostly 9, sometimes 1 to 8).
    Scenario(std::string path, uint32_t seed) : path_(std::move(path)), rng_(seed) {
        delaycompress_ = seed % 3 != 0;
        compress_ = seed % 5 != 0;
        keep_ = seed % 4 == 0 ? 1 + static_cast<int>(seed / 4 % 8) : 9;
        reopen();
    }
    // Lines that were only in a generation logrotate deleted before a run committed them:
    // lost by design, not by the reader.
    std::set<uint64_t> excused;
    std::function<bool(uint64_t)> committed;
    std::string config() const {
        return "keep " + std::to_string(keep_) + (compress_ ? " compress" : " nocompress") +
               (delaycompress_ ? " delaycompress" : "");
    }
    ~Scenario() {
        if (writer_ >= 0) ::close(writer_);
    }

    /// One filesystem step; the reader may run before the next.
    struct Step {
        const char* what;
        std::function<void()> run;
    };
    std::vector<Step> steps;
    static constexpr const char* kRotationStarts = "drop PATH.keep, mv PATH.k(.gz) PATH.k+1(.gz)";

    void plan_round() {
        for (int i = pick(1, 4); i > 0; --i) step("write", [this] { write_lines(); });
        if (pick(0, 3) == 0) pick(0, 1) ? rotate_rename() : rotate_copytruncate();
    }
    uint64_t written() const { return next_; }
    int keep() const { return keep_; }

  private:
    int pick(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
    std::string gen(int k) const { return path_ + "." + std::to_string(k); }
    void step(const char* what, std::function<void()> run) {
        steps.push_back({what, std::move(run)});
    }

    void reopen() {
        if (writer_ >= 0) ::close(writer_);
        writer_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
    }
    void write_lines() {
        std::string text;
        for (int n = pick(1, 30); n > 0; --n)
            text +=
                "line " + std::to_string(next_++) + " " + std::string(pick(10, 200), 'x') + "\n";
        ASSERT_EQ(::write(writer_, text.data(), text.size()), static_cast<ssize_t>(text.size()));
    }
    // logrotate deleting a generation past the number kept.
    void drop(const std::string& f, bool gz) {
        if (!fs::exists(f)) return;
        std::string text = slurp(f);
        if (gz) {
            gzFile g = gzopen(f.c_str(), "rb");
            std::string out;
            char buf[65536];
            for (int n; (n = gzread(g, buf, sizeof buf)) > 0;) out.append(buf, n);
            gzclose(g);
            text = out;
        }
        for (size_t pos = 0; (pos = text.find("line ", pos)) != std::string::npos; pos += 5) {
            uint64_t n = std::stoull(text.substr(pos + 5));
            if (!committed(n)) excused.insert(n);
        }
        fs::remove(f);
    }
    // Drops the oldest kept generation; mv PATH.k(.gz) PATH.k+1(.gz) down to PATH.`from`.
    void shift_compressed(int from) {
        step(kRotationStarts, [this, from] {
            drop(gen(keep_) + ".gz", true);
            if (!compress_ || from > keep_) drop(gen(keep_), false);
            for (int k = keep_ - 1; k >= from; --k) {
                if (fs::exists(gen(k) + ".gz")) fs::rename(gen(k) + ".gz", gen(k + 1) + ".gz");
                if (!compress_ && fs::exists(gen(k))) fs::rename(gen(k), gen(k + 1));
            }
        });
    }
    // gzip -c PATH.1 > PATH.`to`.gz; rm PATH.1 — the .gz seen half written.
    void compress_first(int to) {
        if (!compress_) return;
        if (to > keep_) {  // keep 1 with delaycompress: PATH.1 goes
            step("drop PATH.1", [this] { drop(gen(1), false); });
            return;
        }
        auto gz = std::make_shared<std::string>();
        auto cut = std::make_shared<size_t>();
        step("gzip PATH.1 begun", [this, gz, cut, to] {
            if (!fs::exists(gen(1))) return;
            *gz = gzip_bytes(slurp(gen(1)));
            *cut = static_cast<size_t>(pick(0, static_cast<int>(gz->size())));
            write_file(gen(to) + ".gz", std::string_view(*gz).substr(0, *cut), false);
        });
        step("gzip done, rm PATH.1", [this, gz, cut, to] {
            if (gz->empty()) return;
            write_file(gen(to) + ".gz", std::string_view(*gz).substr(*cut), true);
            fs::remove(gen(1));
        });
    }
    // With delaycompress (the default here) PATH.1 stays plain until the next rotation;
    // without it, PATH.1 is compressed to PATH.1.gz as soon as the rotation is done.
    void rotate_rename() {
        shift_compressed(compress_ && delaycompress_ ? 2 : 1);
        if (compress_ && delaycompress_) compress_first(2);
        step("mv PATH PATH.1", [this] {
            if (fs::exists(path_)) fs::rename(path_, gen(1));
        });
        step("create PATH", [this] { write_file(path_, "", true); });
        // The writer may log a little more into the renamed file before it reopens.
        for (int i = pick(0, 2); i > 0; --i) step("late write", [this] { write_lines(); });
        step("writer reopens", [this] { reopen(); });
        if (compress_ && !delaycompress_) compress_first(1);
    }
    void rotate_copytruncate() {
        shift_compressed(compress_ && delaycompress_ ? 2 : 1);
        if (compress_ && delaycompress_) compress_first(2);
        // cp PATH PATH.1 — seen empty, part copied (often less than the 1 KiB fingerprint),
        // then whole — and only then truncate PATH.
        auto data = std::make_shared<std::string>();
        auto cut = std::make_shared<size_t>();
        step("cp begun", [this, data] {
            *data = slurp(path_);
            write_file(gen(1), "", false);
        });
        step("cp part", [this, data, cut] {
            int hi = static_cast<int>(data->size());
            *cut = static_cast<size_t>(pick(0, 1) ? pick(0, std::min(hi, 1500)) : pick(0, hi));
            write_file(gen(1), std::string_view(*data).substr(0, *cut), true);
        });
        step("cp done",
             [this, data, cut] { write_file(gen(1), std::string_view(*data).substr(*cut), true); });
        step("truncate PATH", [this] { fs::resize_file(path_, 0); });
        if (compress_ && !delaycompress_) compress_first(1);
    }

    std::string path_;
    std::mt19937 rng_;
    int writer_ = -1;
    uint64_t next_ = 0;
    bool delaycompress_ = true;
    bool compress_ = true;
    int keep_ = 9;
};

// A reader as cron runs it: plan, read, verify, commit — or die before the commit.
class Reader {
  public:
    explicit Reader(std::string path) : path_(std::move(path)) {}

    bool trace = false;
    // `rotation`: how many rotations were over when this run planned.
    void plan(int rotation) {
        inflight_rotation_ = rotation;
        auto p = LogFile::plan(path_, cursor_);
        ASSERT_TRUE(p.ok()) << p.error().message;
        if (trace) {
            fprintf(stderr, "  plan from %s\n", cursor_ ? cursor_->encode().c_str() : "-");
            for (const Segment& s : p->segments())
                fprintf(stderr, "    %s %lu..%lu\n", s.path().c_str(), s.begin(), s.end());
            for (const auto& n : p->notes()) fprintf(stderr, "    note: %s\n", n.c_str());
            fprintf(stderr, "    after %s\n", p->cursor_after().encode().c_str());
        }
        inflight_.emplace(std::move(*p));
    }
    bool busy() const { return inflight_.has_value(); }
    void kill() {
        if (trace) fprintf(stderr, "  killed\n");
        inflight_.reset();
    }
    void finish() {
        std::string text;
        for (const Segment& s : inflight_->segments()) {
            auto r = s.read_all([&](std::string_view lines) { text.append(lines); });
            if (!r) {  // a .gz still being written: nothing committed, read again next run
                inflight_.reset();
                return;
            }
        }
        if (!inflight_->verify_unchanged()) {
            inflight_.reset();
            return;
        }
        if (trace) {
            size_t last = text.rfind("line ");
            fprintf(stderr, "  committed: %s .. %s\n", text.substr(0, 10).c_str(),
                    last == std::string::npos ? "-" : text.substr(last, 10).c_str());
        }
        for (size_t pos = 0; pos < text.size();) {
            size_t nl = text.find('\n', pos);
            std::string line = text.substr(pos, nl - pos);
            pos = nl == std::string::npos ? text.size() : nl + 1;
            uint64_t n = std::stoull(line.substr(5));
            ++seen_[n];
        }
        cursor_ = inflight_->cursor_after();
        inflight_.reset();
        planned_at_ = inflight_rotation_;
    }
    /// How many rotations were over when the last committed run planned.
    int planned_at() const { return planned_at_; }
    const std::map<uint64_t, int>& seen() const { return seen_; }

  private:
    std::string path_;
    std::optional<LogCursor> cursor_;
    std::optional<LogFile> inflight_;
    std::map<uint64_t, int> seen_;
    int inflight_rotation_ = 0, planned_at_ = 0;
};

}  // namespace

TEST(LogRotation, EveryLineOnceWhereverRunsLand) {
    const fs::path dir =
        fs::temp_directory_path() / ("em-logrotation-" + std::to_string(::getpid()));
    for (uint32_t seed = 1; seed <= 400; ++seed) {
        fs::remove_all(dir);
        fs::create_directories(dir);
        const std::string path = (dir / "app.log").string();
        Scenario world(path, seed);
        Reader reader(path);
        world.committed = [&reader](uint64_t n) { return reader.seen().count(n) > 0; };
        std::mt19937 rng(seed * 7919);
        // Runs at most steps, or rarely: several rotations between two commits (up to the
        // nine generations kept; more would lose lines by design).
        const int run_percent = seed % 2 ? 40 : 15;
        auto chance = [&](int percent) {
            return std::uniform_int_distribution<int>(0, 99)(rng) < percent;
        };
        for (int round = 0; round < 40; ++round) world.plan_round();
        // The first run finds PATH empty: older generations are not read by a first run.
        reader.plan(0);
        reader.finish();
        const char* trace_seed = std::getenv("EM_TRACE_SEED");
        const bool trace = trace_seed && std::to_string(seed) == trace_seed;
        reader.trace = trace;
        // logrotate keeps `keep` generations; runs are more frequent than rotations: a
        // committed run planned at most keep - 1 rotations ago (at least one rotation ago
        // with keep 1). With `keep` rotations between two runs the generation followed last
        // is deleted, and when its inode is reused by the new log the reader cannot tell that
        // from a truncation in place (docs/consolidate.md, Known limits).
        int rotation = 0;  // rotations over so far (one in progress counts when it is over)
        int begun = 0;
        for (auto& step : world.steps) {
            if (std::string_view(step.what) == "write") rotation = begun;
            if (step.what == Scenario::kRotationStarts) {
                rotation = begun++;
                if (rotation + 1 - reader.planned_at() > std::max(world.keep() - 1, 1)) {
                    if (reader.busy()) reader.kill();
                    reader.plan(rotation);
                    reader.finish();  // nothing moves in between: it commits
                }
            }
            step.run();
            if (trace) fprintf(stderr, "step: %s (written: %lu)\n", step.what, world.written());
            if (::testing::Test::HasFatalFailure()) return;
            if (reader.busy()) {
                if (chance(10))
                    reader.kill();
                else if (chance(50))
                    reader.finish();
            } else if (chance(run_percent)) {
                reader.plan(rotation);
                if (chance(50)) reader.finish();
            }
        }
        if (reader.busy()) reader.finish();
        for (int i = 0; i < 2; ++i) {
            reader.plan(rotation);
            reader.finish();
        }
        // The last partial generation's lines all end in '\n', so nothing waits.
        uint64_t missing = 0, twice = 0, first_bad = UINT64_MAX;
        for (uint64_t n = 0; n < world.written(); ++n) {
            auto it = reader.seen().find(n);
            int times = it == reader.seen().end() ? 0 : it->second;
            if (times == 0 && world.excused.count(n)) continue;
            if (times == 0) ++missing;
            if (times > 1) ++twice;
            if (times != 1 && first_bad == UINT64_MAX) first_bad = n;
        }
        EXPECT_EQ(missing + twice, 0u)
            << world.config() << " seed " << seed << ": " << missing << " of " << world.written()
            << " lines never read, " << twice << " read more than once (first: line " << first_bad
            << ")";
    }
    fs::remove_all(dir);
}

}  // namespace em
