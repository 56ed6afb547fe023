#pragma once
// One cause, one alert. A host's findings of one evaluation, by rule, are correlated before
// they are reconciled, so that an operator sees the incident once, under the rule that names
// its cause:
//   - an address of a public resolver is `public_resolver`, not also `direct_ip`;
//   - a registrable domain the `tunnel` or `dga` rule reports (as its key or among a
//     finding's `covers`), or a DNS-over-HTTPS/TLS name `public_resolver` reports, is not also
//     `new_domain`: the new-domain fact ("also new on this host: 400 names first seen ...")
//     is appended to that alert's message.
// A finding dropped here resolves an open alert of its own rule with the reason "reported as
// <rule>" instead of "no longer seen".
#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "collector/alerts.h"

namespace em {

struct RuleFindings {
    std::string rule;
    std::vector<Finding> findings;
    std::map<std::string, std::string> why;  // key -> why an open alert of that key resolves
};

/// `base`: the registrable domain of a name (HistoryStore::base).
void correlate(std::vector<RuleFindings>& rules,
               const std::function<std::string_view(std::string_view)>& base);

/// A bound on what one host can raise: a rule with more than `max` findings on the host (a
/// flood of registrable domains, of addresses) reports one finding, key "*", with the count,
/// the largest few and the rest in `covers`, weight the count. 0: no bound.
void cap_findings(std::vector<RuleFindings>& rules, size_t max);

}  // namespace em
