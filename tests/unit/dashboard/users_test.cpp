// The dashboard's named logins (dashboard/users.h): the users file's strict reading, token
// checks, and --add-user.
#include "dashboard/users.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

namespace em {

namespace {

namespace fs = std::filesystem;

const std::string kAliceToken = "alice-token-0123456789abcdef";

std::string error_of(const std::string& text) {
    auto u = DashboardUsers::parse(text, "users");
    return u.ok() ? "" : u.error().message;
}

}  // namespace

TEST(DashboardUsers, VerifiesEachLoginsOwnToken) {
    auto u = DashboardUsers::parse("# who may act on alerts\n\nalice " +
                                       token_digest_hex(kAliceToken) + "\nbob " +
                                       token_digest_hex("bob-token-0123456789abcdef") + "\r\n",
                                   "users");
    ASSERT_TRUE(u.ok()) << u.error().message;
    EXPECT_EQ(u->size(), 2u);
    EXPECT_TRUE(u->verify("alice", kAliceToken));
    EXPECT_FALSE(u->verify("bob", kAliceToken));  // another's token
    EXPECT_FALSE(u->verify("alice", kAliceToken + "x"));
    EXPECT_FALSE(u->verify("carol", kAliceToken));
    EXPECT_FALSE(u->verify("", ""));
    EXPECT_EQ(u->owner(kAliceToken), "alice");
    EXPECT_EQ(u->owner("bob-token-0123456789abcdef"), "bob");
    EXPECT_FALSE(u->owner("nobody's"));
    EXPECT_EQ(u->digest("alice")->size(), 32u);
}

TEST(DashboardUsers, RefusesWhatIsNotAUserLineNamingTheLine) {
    const std::string d = token_digest_hex("t");
    EXPECT_EQ(error_of("alice " + d + "\n"), "");
    EXPECT_EQ(error_of("alice\n"), "users:1: one field (want NAME SHA256-HEX)");
    EXPECT_NE(error_of("# c\nal ice " + d + "\n").find("users:2: "), std::string::npos);
    EXPECT_NE(error_of("al<b> " + d + "\n").find("a name is"), std::string::npos);
    EXPECT_NE(error_of(std::string(65, 'a') + " " + d + "\n").find("a name is"), std::string::npos);
    EXPECT_NE(error_of("alice " + d.substr(1) + "\n").find("64 hex"), std::string::npos);
    std::string upper = d;
    upper[0] = 'A';
    upper[1] = 'B';
    EXPECT_NE(error_of("alice " + upper + "\n").find("lower-case hex"), std::string::npos);
    EXPECT_NE(
        error_of("alice " + d + "\nalice " + d + "\n").find("users:2: user alice listed twice"),
        std::string::npos);
    EXPECT_NE(error_of("alice " + d + " admin\n").find("64 hex"), std::string::npos);
}

TEST(DashboardUsers, AddUserWritesADigestNeverTheTokenAndRefusesAReadableFile) {
    const fs::path dir =
        fs::temp_directory_path() / ("em-dashboard-users-" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string path = (dir / "users").string();
    auto token = add_dashboard_user(path, "alice");
    ASSERT_TRUE(token.ok()) << token.error().message;
    EXPECT_EQ(token->size(), 48u);  // 24 random bytes in hex
    struct stat st {};
    ASSERT_EQ(::stat(path.c_str(), &st), 0);
    EXPECT_EQ(st.st_mode & 0777, 0600u);
    std::ifstream in(path);
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    EXPECT_EQ(text.find(*token), std::string::npos);
    auto again = add_dashboard_user(path, "alice");
    ASSERT_FALSE(again.ok());
    EXPECT_NE(again.error().message.find("already"), std::string::npos);
    EXPECT_FALSE(add_dashboard_user(path, "a b").ok());
    auto bob = add_dashboard_user(path, "bob");
    ASSERT_TRUE(bob.ok()) << bob.error().message;
    auto u = DashboardUsers::load(path);
    ASSERT_TRUE(u.ok()) << u.error().message;
    EXPECT_TRUE(u->verify("alice", *token));
    EXPECT_TRUE(u->verify("bob", *bob));
    EXPECT_NE(*token, *bob);

    ::chmod(path.c_str(), 0640);
    auto readable = DashboardUsers::load(path);
    ASSERT_FALSE(readable.ok());
    EXPECT_NE(readable.error().message.find("chmod 600 " + path), std::string::npos)
        << readable.error().message;
    EXPECT_FALSE(add_dashboard_user(path, "carol").ok());
    fs::remove_all(dir);
}

}  // namespace em
