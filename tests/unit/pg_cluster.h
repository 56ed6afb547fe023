#pragma once
// A private PostgreSQL cluster for a test binary: tests/tools/pg-cluster.sh start/stop in a
// temporary directory of its own, so the same suite runs against a real server.
#include <string>

namespace em::test {

class PgCluster {
  public:
    /// Starts a cluster; url() is empty (and why() says why) when it could not.
    PgCluster();
    ~PgCluster();
    PgCluster(const PgCluster&) = delete;
    PgCluster& operator=(const PgCluster&) = delete;
    const std::string& url() const { return url_; }
    const std::string& why() const { return why_; }
    /// True when the server is not installed (the script's exit 77).
    bool missing() const { return missing_; }

  private:
    std::string dir_, url_, why_;
    bool missing_ = false;
};

}  // namespace em::test
