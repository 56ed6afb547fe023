// Bounded whole-file reads (common/files.h): read_file_limited, read_file_if_present,
// read_file_head.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <thread>

#include "common/files.h"
#include "common/unique_fd.h"

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
    std::string write(const std::string& name, const std::string& content) {
        const std::string p = (dir_ / name).string();
        std::ofstream(p, std::ios::binary) << content;
        return p;
    }
    fs::path dir_;
};

TEST_F(ReadFileTest, ReadsTheWholeFileUpToTheLimitItself) {
    const std::string content = std::string("a\0b\nc", 5) + std::string(1019, 'x');  // 1024
    const std::string p = write("f", content);
    auto r = read_file_limited(p, 1024, "config");
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, content);
    auto empty = read_file_limited(write("e", ""), 0);
    ASSERT_TRUE(empty) << empty.error().message;
    EXPECT_EQ(*empty, "");
}

TEST_F(ReadFileTest, OneByteOverTheLimitIsAnErrorNamingPathAndLimit) {
    const std::string p = write("f", std::string(1025, 'x'));
    auto r = read_file_limited(p, 1024, "config");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, p + ": config larger than 1 KiB");
    r = read_file_limited(p, 1000);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, p + ": larger than 1000 bytes");
}

// A file whose size shows only when read (/proc) or that has none (a pipe) is read to one
// byte past the limit, never further.
TEST_F(ReadFileTest, FilesWithoutASizeAreCutAtTheLimitToo) {
    auto big = read_file_limited("/proc/self/status", 64, "status");
    ASSERT_FALSE(big);
    EXPECT_EQ(big.error().message, "/proc/self/status: status larger than 64 bytes");
    auto ok = read_file_limited("/proc/self/status", 1 << 20);
    ASSERT_TRUE(ok) << ok.error().message;
    EXPECT_NE(ok->find("Name:"), std::string::npos);

    const std::string fifo = (dir_ / "fifo").string();
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    std::thread writer([&] {
        UniqueFd fd(::open(fifo.c_str(), O_WRONLY | O_CLOEXEC));
        std::string chunk(4096, 'p');
        // Stops with EPIPE once the reader has closed its end (SIGPIPE is ignored below).
        for (int i = 0; i < 64; ++i)
            if (::write(fd.get(), chunk.data(), chunk.size()) < 0) break;
    });
    struct sigaction old {
    }, ign{};
    ign.sa_handler = SIG_IGN;
    ::sigaction(SIGPIPE, &ign, &old);
    auto piped = read_file_limited(fifo, 10000, "pipe");
    writer.join();
    ::sigaction(SIGPIPE, &old, nullptr);
    ASSERT_FALSE(piped);
    EXPECT_EQ(piped.error().message, fifo + ": pipe larger than 10000 bytes");
}

TEST_F(ReadFileTest, MissingFilesAndDirectories) {
    const std::string missing = (dir_ / "missing.toml").string();
    auto r = read_file_limited(missing, 100, "inventory");
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message, "cannot read inventory " + missing + ": " + std::strerror(ENOENT));

    auto opt = read_file_if_present(missing, 100, "config");
    ASSERT_TRUE(opt) << opt.error().message;
    EXPECT_FALSE(opt->has_value());
    auto req = read_file_if_present(missing, 100, "config", true);
    ASSERT_FALSE(req);
    EXPECT_EQ(req.error().message, "cannot read config " + missing + ": " + std::strerror(ENOENT));
    auto there = read_file_if_present(write("c.toml", "x = 1\n"), 100, "config");
    ASSERT_TRUE(there) << there.error().message;
    ASSERT_TRUE(there->has_value());
    EXPECT_EQ(**there, "x = 1\n");

    // A directory is an error, not an empty file (what std::ifstream made of it).
    auto dir = read_file_limited(dir_.string(), 100, "config");
    ASSERT_FALSE(dir);
    EXPECT_EQ(dir.error().message,
              "cannot read config " + dir_.string() + ": " + std::strerror(EISDIR));
}

TEST_F(ReadFileTest, HeadReadsAtMostTheFirstBytes) {
    const std::string p = write("f", "0123456789");
    auto r = read_file_head(p, 4);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(*r, "0123");
    r = read_file_head(p, 100);
    ASSERT_TRUE(r);
    EXPECT_EQ(*r, "0123456789");
    r = read_file_head("/proc/self/stat", 4096);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->rfind(std::to_string(::getpid()) + " (", 0), 0u) << *r;
    r = read_file_head((dir_ / "missing").string(), 4);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().message,
              "cannot read " + (dir_ / "missing").string() + ": " + std::strerror(ENOENT));
}

TEST(ByteSizeText, WholeUnitsOrBytes) {
    EXPECT_EQ(byte_size_text(size_t{1} << 20), "1 MiB");
    EXPECT_EQ(byte_size_text(size_t{4} << 20), "4 MiB");
    EXPECT_EQ(byte_size_text(64 * 1024), "64 KiB");
    EXPECT_EQ(byte_size_text(size_t{3} << 30), "3 GiB");
    EXPECT_EQ(byte_size_text(1000), "1000 bytes");
    EXPECT_EQ(byte_size_text((size_t{1} << 20) + 1), "1048577 bytes");
    EXPECT_EQ(byte_size_text(0), "0 bytes");
}

}  // namespace
}  // namespace em
