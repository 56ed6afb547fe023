#include "common/files.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

namespace em {
namespace {

namespace fs = std::filesystem;

std::string slurp(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

unsigned mode_of(const fs::path& p) {
    struct stat st {};
    EXPECT_EQ(::lstat(p.c_str(), &st), 0) << p;
    return st.st_mode & 07777;
}

class FilesTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/em-files-test-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        // A file the writer must never touch, outside the output directory.
        victim_ = dir_ / "victim";
        std::ofstream(victim_) << "precious\n";
        fs::permissions(victim_, fs::perms::owner_read | fs::perms::owner_write);
        out_ = dir_ / "out";
        fs::create_directory(out_);
    }
    void TearDown() override { fs::remove_all(dir_); }
    void expect_victim_untouched() {
        EXPECT_EQ(slurp(victim_), "precious\n");
        EXPECT_EQ(mode_of(victim_), 0600u);
    }
    fs::path dir_, victim_, out_;
};

TEST_F(FilesTest, WritesAtomicallyWithTheMode) {
    ASSERT_TRUE(write_file_atomically(out_, "a.log", "one\n", 0640).ok());
    ASSERT_TRUE(write_file_atomically(out_, "a.log", "two\n", 0640).ok());
    EXPECT_EQ(slurp(out_ / "a.log"), "two\n");
    EXPECT_EQ(mode_of(out_ / "a.log"), 0640u);
    EXPECT_FALSE(fs::exists(out_ / ".a.log.tmp"));
}

// A symlink planted under the temporary file's name is removed, not followed: the file it
// points to keeps its content and mode, and the target becomes a regular file.
TEST_F(FilesTest, PlantedSymlinkAsTheTemporaryIsNotFollowed) {
    fs::create_symlink(victim_, out_ / ".unique-domains.log.tmp");
    fs::create_symlink(victim_, out_ / ".unique-ips.log.tmp");
    auto r = write_files_atomically(
        out_, {{"unique-domains.log", "a.test 1 - -\n"}, {"unique-ips.log", "192.0.2.1 1 -\n"}},
        0640);
    ASSERT_TRUE(r.ok()) << r.error().message;
    expect_victim_untouched();
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(out_ / "unique-domains.log")));
    EXPECT_EQ(slurp(out_ / "unique-domains.log"), "a.test 1 - -\n");
    EXPECT_EQ(mode_of(out_ / "unique-ips.log"), 0640u);
    EXPECT_FALSE(fs::exists(fs::symlink_status(out_ / ".unique-domains.log.tmp")));
}

// A stale temporary file of a crashed writer (a regular file) is replaced as before.
TEST_F(FilesTest, StaleTemporaryIsReplaced) {
    std::ofstream(out_ / ".a.log.tmp") << "half a wri";
    ASSERT_TRUE(write_file_atomically(out_, "a.log", "whole\n", 0640).ok());
    EXPECT_EQ(slurp(out_ / "a.log"), "whole\n");
}

// A symlink as the target itself is replaced by the new file (rename), never written through.
TEST_F(FilesTest, SymlinkAsTheTargetIsReplaced) {
    fs::create_symlink(victim_, out_ / "a.log");
    ASSERT_TRUE(write_file_atomically(out_, "a.log", "new\n", 0640).ok());
    expect_victim_untouched();
    EXPECT_TRUE(fs::is_regular_file(fs::symlink_status(out_ / "a.log")));
}

TEST_F(FilesTest, LockFileRefusesASymlink) {
    fs::create_symlink(victim_, out_ / "consolidate.lock");
    auto lock = lock_file(out_ / "consolidate.lock", 100);
    ASSERT_FALSE(lock.ok());
    EXPECT_NE(lock.error().message.find("consolidate.lock"), std::string::npos);
    expect_victim_untouched();
    auto ok = lock_file(out_ / "other.lock", 100);
    ASSERT_TRUE(ok.ok()) << ok.error().message;
    EXPECT_EQ(slurp(out_ / "other.lock"), std::to_string(::getpid()) + "\n");
}

}  // namespace
}  // namespace em
