#pragma once
// Internal to the policy renderer: which destinations the filtered processes used, and the
// "by exe@user ..." labels of the rule comments (see policy.h).
#include <map>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "policy/policy.h"

namespace em {

bool has_process_filters(const PolicyOptions& opt);
/// Whether `use` passes the filters of `opt` (every use when there are none).
bool use_matches(const PolicyUse& use, const PolicyOptions& opt);

class UseIndex {
  public:
    /// Indexes the uses of `in` that pass the filters of `opt`; both must outlive it.
    UseIndex(const PolicyInput& in, const PolicyOptions& opt);

    bool filtering() const { return filtering_; }
    /// With filters: whether a matching process opened a flow to `ip` or queried a domain
    /// that named it. Without: true.
    bool selected(const IpAddress& ip) const;
    /// `base` followed by " by " and who used the destination, as many as fit in a comment:
    /// for a domain (`domain` non-null) the processes that queried it, else (or when none
    /// did) those that opened flows to `ips`. `base` alone when nobody is known.
    std::string label(const std::string& base, const std::string* domain,
                      const std::vector<IpAddress>& ips) const;

  private:
    using Who = std::tuple<std::string, std::string, std::string>;  // exe, user, container
    using Counts = std::map<Who, int64_t>;
    bool filtering_;
    std::map<std::string, Counts> by_domain_;
    std::map<IpAddress, Counts> by_ip_;
    std::set<IpAddress> selected_;
};

}  // namespace em
