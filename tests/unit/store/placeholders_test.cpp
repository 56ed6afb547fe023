#include "store/placeholders.h"

#include <gtest/gtest.h>

#include "store/store.h"

namespace em::store {
namespace {

std::string rewrite(std::string_view sql, int& n) { return to_dollar_params(sql, n); }

TEST(Placeholders, NumberedAndBare) {
    int n = 0;
    EXPECT_EQ(rewrite("SELECT a FROM t WHERE b = ?1 AND c = ?2 OR d = ?1", n),
              "SELECT a FROM t WHERE b = $1 AND c = $2 OR d = $1");
    EXPECT_EQ(n, 2);
    // A bare ? is one past the largest number so far, as SQLite numbers it.
    EXPECT_EQ(rewrite("VALUES (?, ?3, ?)", n), "VALUES ($1, $3, $4)");
    EXPECT_EQ(n, 4);
    EXPECT_EQ(rewrite("SELECT 1", n), "SELECT 1");
    EXPECT_EQ(n, 0);
}

TEST(Placeholders, QuotedTextAndCommentsAreLeftAlone) {
    int n = 0;
    EXPECT_EQ(rewrite("SELECT '?1', 'it''s ?', \"odd?col\" FROM t WHERE x = ?2", n),
              "SELECT '?1', 'it''s ?', \"odd?col\" FROM t WHERE x = $2");
    EXPECT_EQ(n, 2);
    EXPECT_EQ(rewrite("SELECT 1 -- why?\n, ?1 /* and ?2 */", n),
              "SELECT 1 -- why?\n, $1 /* and ?2 */");
    EXPECT_EQ(n, 1);
    // Unterminated literal or comment: copied to the end, nothing lost.
    EXPECT_EQ(rewrite("SELECT 'open ?", n), "SELECT 'open ?");
    EXPECT_EQ(rewrite("SELECT 1 /* open ?", n), "SELECT 1 /* open ?");
    EXPECT_EQ(n, 0);
}

TEST(RedactUrl, DropsPasswords) {
    EXPECT_EQ(redact_url("postgresql://em:s3cret@db.example:5432/fleet"),
              "postgresql://em@db.example:5432/fleet");
    EXPECT_EQ(redact_url("postgresql://db.example/fleet?user=em&password=s3cret&sslmode=require"),
              "postgresql://db.example/fleet?user=em&password=*&sslmode=require");
    EXPECT_EQ(redact_url("postgresql:///em?host=/tmp/x&user=em"),
              "postgresql:///em?host=/tmp/x&user=em");
    EXPECT_EQ(redact_url("postgres://u:p@h/d?password=q"), "postgres://u@h/d?password=*");
    EXPECT_TRUE(is_postgres_url("postgresql://h/d"));
    EXPECT_TRUE(is_postgres_url("postgres://h/d"));
    EXPECT_FALSE(is_postgres_url("/var/lib/egress-monitor/history.db"));
}

}  // namespace
}  // namespace em::store
