// The bounded reads of common/files.h: limits, the caller's error texts, missing files.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

#include "common/files.h"

namespace em {
namespace {

namespace fs = std::filesystem;

class ReadFileTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/em-read-file-test-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
    }
    void TearDown() override { fs::remove_all(dir_); }
    std::string put(const std::string& name, const std::string& content) {
        std::string p = (dir_ / name).string();
        std::ofstream(p, std::ios::binary) << content;
        return p;
    }
    const ReadErrors errors_{"cannot read thing", "thing too large"};
    fs::path dir_;
};

TEST_F(ReadFileTest, ReadsAFileUpToAndIncludingTheLimit) {
    auto r = read_file_limited(put("a", "12345"), 5, errors_);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, "12345");
    auto empty = read_file_limited(put("e", ""), 5, errors_);
    ASSERT_TRUE(empty);
    EXPECT_EQ(*empty, "");
}

TEST_F(ReadFileTest, OneByteOverTheLimitIsTheCallersTooLargeText) {
    auto r = read_file_limited(put("a", "123456"), 5, errors_);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "thing too large");
}

TEST_F(ReadFileTest, ReadsBeyondTheBufferSizeWhole) {
    std::string big(100000, 'x');
    big[99999] = 'y';
    auto r = read_file_limited(put("big", big), 100000, errors_);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, big);
}

TEST_F(ReadFileTest, AnEndlessFileStopsAtTheLimit) {
    auto r = read_file_limited("/dev/zero", 1000, errors_);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "thing too large");
}

TEST_F(ReadFileTest, MissingFileIsTheCallersTextWithErrno) {
    auto r = read_file_limited((dir_ / "none").string(), 5, errors_);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "cannot read thing: No such file or directory");
    auto dir = read_file_limited(dir_.string(), 5, errors_);
    ASSERT_FALSE(dir);
    EXPECT_EQ(dir.error().message, "cannot read thing: Is a directory");
}

TEST_F(ReadFileTest, IfPresentTellsMissingFromEmptyAndKeepsOtherErrors) {
    auto none = read_file_if_present((dir_ / "none").string(), 5, errors_);
    ASSERT_TRUE(none);
    EXPECT_FALSE(none->has_value());
    auto empty = read_file_if_present(put("e", ""), 5, errors_);
    ASSERT_TRUE(empty);
    ASSERT_TRUE(empty->has_value());
    EXPECT_EQ(**empty, "");
    auto big = read_file_if_present(put("b", "123456"), 5, errors_);
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().message, "thing too large");
    auto dir = read_file_if_present(dir_.string(), 5, errors_);
    ASSERT_FALSE(dir);
    EXPECT_EQ(dir.error().message, "cannot read thing: Is a directory");
}

TEST_F(ReadFileTest, HeadIsThePrefixAndNeverAnErrorForSize) {
    auto r = read_file_head(put("a", "123456"), 4, "cannot read a");
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "1234");
    auto shorter = read_file_head(put("b", "12"), 4, "cannot read b");
    ASSERT_TRUE(shorter);
    EXPECT_EQ(*shorter, "12");
    auto none = read_file_head((dir_ / "none").string(), 4, "cannot read c");
    ASSERT_FALSE(none);
    EXPECT_EQ(none.error().message, "cannot read c: No such file or directory");
}

TEST_F(ReadFileTest, FdHeadReadsFromTheCurrentOffset) {
    int fd = ::open(put("a", "abcdef").c_str(), O_RDONLY | O_CLOEXEC);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(::lseek(fd, 2, SEEK_SET), 2);
    auto r = read_fd_head(fd, 3, "x");
    ::close(fd);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "cde");
    auto bad = read_fd_head(-1, 3, "cannot read fd");
    ASSERT_FALSE(bad);
    EXPECT_EQ(bad.error().message, "cannot read fd: Bad file descriptor");
}

}  // namespace
}  // namespace em
