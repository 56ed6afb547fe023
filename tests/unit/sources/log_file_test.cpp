#include "sources/log_file/log_file.h"

#include <gtest/gtest.h>
#include <zlib.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace em {

namespace fs = std::filesystem;

class LogFileTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() /
               ("em-logfile-" + std::to_string(::getpid()) + "-" +
                ::testing::UnitTest::GetInstance()->current_test_info()->name());
        fs::remove_all(dir_);
        fs::create_directories(dir_);
        path_ = (dir_ / "app.log").string();
    }
    void TearDown() override { fs::remove_all(dir_); }

    void append(const std::string& p, const std::string& text) {
        std::ofstream(p, std::ios::app | std::ios::binary) << text;
    }
    void gzip(const std::string& from, const std::string& to) {
        std::ifstream in(from, std::ios::binary);
        std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        gzFile gz = gzopen(to.c_str(), "wb");
        gzwrite(gz, data.data(), static_cast<unsigned>(data.size()));
        gzclose(gz);
        fs::remove(from);
    }
    // Reads everything planned; returns the text and advances the stored cursor.
    std::string consume() {
        auto plan = LogFile::plan(path_, cursor_);
        EXPECT_TRUE(plan.ok()) << (plan.ok() ? "" : plan.error().message);
        std::string out;
        for (const auto& s : plan->segments()) {
            auto r = s.read_all([&](std::string_view lines) { out.append(lines); });
            EXPECT_TRUE(r.ok());
        }
        EXPECT_TRUE(plan->verify_unchanged().ok());
        cursor_ = plan->cursor_after();
        // The cursor survives its text form.
        EXPECT_EQ(LogCursor::decode(cursor_->encode())->files, cursor_->files);
        return out;
    }

    fs::path dir_;
    std::string path_;
    std::optional<LogCursor> cursor_;
};

TEST_F(LogFileTest, MissingFileReadsNothing) {
    EXPECT_EQ(consume(), "");
    EXPECT_TRUE(cursor_->files.empty());
    append(path_, "a\n");
    EXPECT_EQ(consume(), "a\n");
}

TEST_F(LogFileTest, LogCreatedAndRotatedBetweenTheFirstTwoRuns) {
    EXPECT_EQ(consume(), "");  // no log yet: the cursor says nothing was there
    append(path_, "a\n");
    fs::rename(path_, path_ + ".1");
    append(path_, "b\n");
    EXPECT_EQ(consume(), "a\nb\n");
    // A first run ever (no cursor) leaves the history before it alone.
    cursor_.reset();
    append(path_, "c\n");
    EXPECT_EQ(consume(), "b\nc\n");  // PATH from its start, PATH.1 not read
}

TEST_F(LogFileTest, GrowsAndLeavesPartialLine) {
    append(path_, "one\ntwo\nthr");
    EXPECT_EQ(consume(), "one\ntwo\n");
    EXPECT_EQ(consume(), "");
    append(path_, "ee\nfour\n");
    EXPECT_EQ(consume(), "three\nfour\n");
}

TEST_F(LogFileTest, RenameAndCreateFinishesOldFileFirst) {
    append(path_, "1\n2\n");
    EXPECT_EQ(consume(), "1\n2\n");
    append(path_, "3\n");
    fs::rename(path_, path_ + ".1");
    append(path_ + ".1", "4\n");  // the writer has not reopened yet
    append(path_, "5\n");
    EXPECT_EQ(consume(), "3\n4\n5\n");
    // Still followed while it is PATH.1.
    append(path_ + ".1", "late\n");
    append(path_, "6\n");
    EXPECT_EQ(consume(), "late\n6\n");
    EXPECT_EQ(consume(), "");
}

TEST_F(LogFileTest, RotatedTwiceAndCompressed) {
    append(path_, "a\n");
    EXPECT_EQ(consume(), "a\n");
    append(path_, "b\n");
    fs::rename(path_, path_ + ".1");
    append(path_, "c\n");
    fs::rename(path_ + ".1", path_ + ".2");
    gzip(path_ + ".2", path_ + ".2.gz");
    fs::rename(path_, path_ + ".1");
    append(path_, "d\n");
    // The first generation's rest comes from the .gz by fingerprint, then the generation
    // rotated in between (never seen before) whole, then the new file.
    EXPECT_EQ(consume(), "b\nc\nd\n");
    EXPECT_EQ(consume(), "");
}

TEST_F(LogFileTest, CompressedPreviousGenerationWithPartialLine) {
    append(path_, "x1\n");
    EXPECT_EQ(consume(), "x1\n");
    append(path_, "x2\nx3 no newline");
    fs::rename(path_, path_ + ".1");
    gzip(path_ + ".1", path_ + ".1.gz");
    append(path_, "y\n");
    EXPECT_EQ(consume(), "x2\nx3 no newliney\n");
}

TEST_F(LogFileTest, CopyTruncateReadsRestFromCopy) {
    append(path_, "first line of the log\nsecond\n");
    EXPECT_EQ(consume(), "first line of the log\nsecond\n");
    append(path_, "third\n");
    fs::copy_file(path_, path_ + ".1");
    fs::resize_file(path_, 0);
    append(path_, "fourth, a new start\n");
    EXPECT_EQ(consume(), "third\nfourth, a new start\n");
    EXPECT_EQ(consume(), "");
}

TEST_F(LogFileTest, CopyTruncateCaughtBetweenCopyAndTruncate) {
    // Found by the crash test: a run between copytruncate's copy and its truncate must not
    // take the copy for a generation it has never seen.
    append(path_, "a1 first generation\n");
    EXPECT_EQ(consume(), "a1 first generation\n");
    fs::rename(path_, path_ + ".1");
    append(path_, "b1 second generation\n");
    EXPECT_EQ(consume(), "b1 second generation\n");  // follows PATH.1 and PATH
    gzip(path_ + ".1", path_ + ".2.gz");
    fs::copy_file(path_, path_ + ".1");
    EXPECT_EQ(consume(), "");  // copied, not yet truncated
    fs::resize_file(path_, 0);
    append(path_, "c1 after the truncate\n");
    EXPECT_EQ(consume(), "c1 after the truncate\n");
    EXPECT_EQ(consume(), "");
}

TEST_F(LogFileTest, PlainTruncationStartsOver) {
    append(path_, "old content here\n");
    EXPECT_EQ(consume(), "old content here\n");
    fs::resize_file(path_, 0);
    append(path_, "new\n");
    EXPECT_EQ(consume(), "new\n");
}

TEST_F(LogFileTest, ParallelRangesSplitOnLineBoundaries) {
    std::string all;
    for (int i = 0; i < 20000; ++i) all += "line number " + std::to_string(i) + "\n";
    append(path_, all);
    auto plan = LogFile::plan(path_, std::nullopt);
    ASSERT_TRUE(plan.ok());
    const Segment& s = plan->segments().at(0);
    for (uint64_t step : {1ULL, 7ULL, 13ULL, 4096ULL, 50000ULL}) {
        std::string got;
        for (uint64_t b = s.begin(); b < s.end(); b += step) {
            uint64_t e = std::min(s.end(), b + step);
            ASSERT_TRUE(s.read(b, e, [&](std::string_view l) { got.append(l); }).ok());
        }
        EXPECT_EQ(got, all) << "step " << step;
    }
}

TEST_F(LogFileTest, OverlongLineIsSkipped) {
    append(path_, "before\n" + std::string(9 << 20, 'x') + "\nafter\n");
    auto plan = LogFile::plan(path_, std::nullopt);
    ASSERT_TRUE(plan.ok());
    std::string got;
    int skipped = 0;
    for (const auto& s : plan->segments())
        ASSERT_TRUE(s.read_all([&](std::string_view l) {
                         if (l.empty()) ++skipped;
                         got.append(l);
                     }).ok());
    EXPECT_EQ(got, "before\nafter\n");
    EXPECT_GE(skipped, 1);
}

// From a review: an anchored cursor (the log was empty at the last run) whose anchor
// logrotate then deleted (rotate 1) still reads the generation rotated in after it.
TEST_F(LogFileTest, AnchorDeletedByRetentionCompressed) {
    append(path_, "h\n");
    EXPECT_EQ(consume(), "h\n");
    fs::rename(path_, path_ + ".1");
    append(path_, "");
    gzip(path_ + ".1", path_ + ".1.gz");
    EXPECT_EQ(consume(), "");  // PATH empty: anchored on PATH.1.gz
    ASSERT_TRUE(cursor_->files.front().anchor);
    append(path_, "a\n");
    fs::remove(path_ + ".1.gz");  // rotate 1, no delaycompress
    fs::rename(path_, path_ + ".1");
    append(path_, "");
    gzip(path_ + ".1", path_ + ".1.gz");
    auto plan = LogFile::plan(path_, cursor_);
    ASSERT_TRUE(plan.ok());
    EXPECT_EQ(plan->lost_generations(), 0u);  // an anchor gone is not a loss
    EXPECT_EQ(consume(), "a\n");
}

TEST_F(LogFileTest, AnchorDeletedByRetentionCopytruncate) {
    append(path_, "h\n");
    EXPECT_EQ(consume(), "h\n");
    fs::copy_file(path_, path_ + ".1");
    fs::resize_file(path_, 0);
    EXPECT_EQ(consume(), "");  // anchored on the copy
    append(path_, "a\n");
    fs::remove(path_ + ".1");  // rotate 1
    fs::copy_file(path_, path_ + ".1");
    fs::resize_file(path_, 0);
    EXPECT_EQ(consume(), "a\n");
}

TEST_F(LogFileTest, AnchorOnTheOldestKeptGeneration) {
    append(path_, "h\n");
    EXPECT_EQ(consume(), "h\n");
    auto rotate = [&] {  // rename + create + compress, rotate 2, ifempty
        fs::remove(path_ + ".2.gz");
        if (fs::exists(path_ + ".1.gz")) fs::rename(path_ + ".1.gz", path_ + ".2.gz");
        fs::rename(path_, path_ + ".1");
        append(path_, "");
        gzip(path_ + ".1", path_ + ".1.gz");
    };
    rotate();
    EXPECT_EQ(consume(), "");
    rotate();  // the empty log rotated too: the generation with lines is now the oldest
    EXPECT_EQ(consume(), "");
    append(path_, "a\n");
    rotate();
    EXPECT_EQ(consume(), "a\n");
}

// The log removed by hand (no rotation): the generations already read stay read.
TEST_F(LogFileTest, LogRemovedByHandDoesNotMakeOldGenerationsNew) {
    append(path_, "old\n");
    EXPECT_EQ(consume(), "old\n");
    fs::rename(path_, path_ + ".1");
    gzip(path_ + ".1", path_ + ".1.gz");
    append(path_, "current\n");
    EXPECT_EQ(consume(), "current\n");
    fs::remove(path_);
    append(path_, "new\n");
    EXPECT_EQ(consume(), "new\n");
}

// A .gz caught before gzip wrote its magic would be read by zlib as plain text.
TEST_F(LogFileTest, GzipWithoutItsMagicYetIsNotAGeneration) {
    EXPECT_EQ(consume(), "");
    append(path_, "line 1\nline 2\n");
    fs::copy_file(path_, path_ + ".1");  // copytruncate, then compress (no delaycompress)
    fs::resize_file(path_, 0);
    fs::copy_file(path_ + ".1", path_ + ".tmp");
    gzip(path_ + ".tmp", path_ + ".tmp.gz");
    std::ifstream in(path_ + ".tmp.gz", std::ios::binary);
    const std::string gz{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    fs::remove(path_ + ".tmp.gz");
    // Not gzip's magic: zlib would read these bytes as plain text.
    std::ofstream(path_ + ".1.gz", std::ios::binary) << "other text\n";
    auto plan = LogFile::plan(path_, cursor_);
    ASSERT_TRUE(plan.ok());
    std::ofstream(path_ + ".1.gz", std::ios::binary) << gz;  // done before the run reads
    fs::remove(path_ + ".1");
    std::string out;
    for (const auto& seg : plan->segments())
        ASSERT_TRUE(seg.read_all([&](std::string_view l) { out.append(l); }).ok());
    EXPECT_EQ(out, "line 1\nline 2\n");
}

TEST(LogCursor, RejectsDamagedText) {
    EXPECT_FALSE(LogCursor::decode("v3 1:2:3:4:5"));
    EXPECT_FALSE(LogCursor::decode("v21 1:2:3:4:5"));
    EXPECT_EQ(LogCursor::decode("v1 1:2:3:4:5")->version, 1);  // stored by an older release
    EXPECT_EQ(LogCursor::decode("v2 1:2:3:4:5")->version, 2);
    EXPECT_TRUE(LogCursor::decode("v2 1:2:3:4:5:a")->files.at(0).anchor);
    EXPECT_FALSE(LogCursor::decode("v1 1:2:3:4:5:a"));  // anchors are v2
    EXPECT_FALSE(LogCursor::decode("v2 1:2:3:4:5:b"));
    EXPECT_FALSE(LogCursor::decode("v1 1:2:3"));
    EXPECT_FALSE(LogCursor::decode("v1 a:2:3:4:5"));
    EXPECT_TRUE(LogCursor::decode("v1")->files.empty());
}

}  // namespace em
