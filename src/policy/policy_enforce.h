#pragma once
// Internal to the policy renderer: `rules --format enforce`, a name-based policy (policy.h).
#include <string>

#include "common/result.h"
#include "policy/policy.h"

namespace em {

/// The enforce config text; an error when no name qualifies (enforce needs at least one).
Result<std::string> render_enforce(const PolicyInput& in, const PolicyOptions& opt);

}  // namespace em
