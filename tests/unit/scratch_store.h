#pragma once
// A fresh, empty store for one test, on either backend, so that a suite runs the same cases
// against SQLite and PostgreSQL:
//   - SQLite: a file in the test's own directory;
//   - PostgreSQL: a new database on the tests' server — the cluster ctest's fixture started
//     (EM_TEST_PG_URL, tests/CMakeLists.txt), or, when the binary runs alone, a private
//     cluster this process starts once (pg_cluster.h) — dropped when the ScratchStore goes.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>

#include "store/store.h"

namespace em::test {

class ScratchStore {
  public:
    ScratchStore(store::Backend backend, const std::filesystem::path& dir);
    ~ScratchStore();
    ScratchStore(const ScratchStore&) = delete;
    ScratchStore& operator=(const ScratchStore&) = delete;
    /// What HistoryStore::open() / store::Database::open() take; empty when unavailable.
    const std::string& target() const { return target_; }
    const std::string& why() const { return why_; }
    /// No PostgreSQL server here and not root: a skip. As root the test dependencies are
    /// installed (scripts/deps.sh test), so a missing server is a failure.
    bool skip() const { return skip_; }

  private:
    std::string target_, why_, admin_url_, database_;
    bool skip_ = false;
};

/// "Sqlite" / "Postgres": names for INSTANTIATE_TEST_SUITE_P.
std::string backend_name(const ::testing::TestParamInfo<store::Backend>& info);

/// Both backends, for INSTANTIATE_TEST_SUITE_P.
inline auto both_backends() {
    return ::testing::Values(store::Backend::Sqlite, store::Backend::Postgres);
}

}  // namespace em::test

/// In a fixture's SetUp(): a ScratchStore `var` for the test's backend in `dir`, or skip/fail.
#define EM_SCRATCH_STORE(var, backend, dir)                         \
    var = std::make_unique<::em::test::ScratchStore>(backend, dir); \
    if (var->target().empty()) {                                    \
        if (var->skip()) GTEST_SKIP() << var->why();                \
        FAIL() << var->why();                                       \
    }
