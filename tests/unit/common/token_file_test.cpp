#include "common/token_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

namespace em {
namespace {

namespace fs = std::filesystem;

class TokenFileTest : public ::testing::Test {
  protected:
    void SetUp() override {
        char tmpl[] = "/tmp/em-token-test-XXXXXX";
        ASSERT_NE(::mkdtemp(tmpl), nullptr);
        dir_ = tmpl;
        path_ = (dir_ / "token").string();
    }
    void TearDown() override { fs::remove_all(dir_); }
    void write(const std::string& text, mode_t mode = 0600) {
        std::ofstream(path_, std::ios::binary | std::ios::trunc) << text;
        ASSERT_EQ(::chmod(path_.c_str(), mode), 0);
    }
    std::string fmt_error(mode_t mode) {
        char m[8];
        std::snprintf(m, sizeof m, "%o", static_cast<unsigned>(mode));
        return "token file " + path_ + " is readable or writable by group or others (mode " + m +
               "): chmod 600 " + path_;
    }
    std::string error() {
        auto t = read_token_file(path_);
        return t ? "" : t.error().message;
    }
    fs::path dir_;
    std::string path_;
};

TEST_F(TokenFileTest, ReadsTheTrimmedFirstLine) {
    write("  s3cret-token-0123456789 \r\nsecond line\n");
    auto t = read_token_file(path_);
    ASSERT_TRUE(t.ok()) << t.error().message;
    EXPECT_EQ(*t, "s3cret-token-0123456789");
    write("sixteen-bytes-xx", 0400);
    EXPECT_EQ(error(), "");
}

TEST_F(TokenFileTest, RefusesAnyAccessForGroupOrOthers) {
    for (mode_t mode : {0644, 0640, 0604, 0620, 0602, 0610, 0660}) {
        write("s3cret-token-0123456789\n", mode);
        EXPECT_EQ(error(), fmt_error(mode)) << std::oct << mode;
    }
}

TEST_F(TokenFileTest, RefusesShortTokens) {
    write("fifteen-bytes-x\n");
    EXPECT_EQ(error(),
              "token in " + path_ + " is 15 bytes; use at least 16, e.g. openssl rand -base64 32");
    write("   short   \n");
    EXPECT_NE(error().find(" is 5 bytes; use at least 16"), std::string::npos) << error();
}

TEST_F(TokenFileTest, OtherErrorsNameTheFile) {
    write(" \n");
    EXPECT_EQ(error(), "token file " + path_ + " is empty (the token is its first line)");
    write("s3cret\x01token-0123456789\n");
    EXPECT_EQ(error(), "token file " + path_ + " has control characters in its first line");
    fs::remove(path_);
    EXPECT_EQ(error().rfind("cannot read token file " + path_, 0), 0u) << error();
    fs::create_directory(path_);
    EXPECT_EQ(error(), "token file " + path_ + " is not a regular file");
    EXPECT_EQ(read_token_file("").error().message, "no token file configured (token_file)");
}

}  // namespace
}  // namespace em
