#pragma once
// Leaving root for good: the network-facing endpoint (`serve`, and the agent's endpoint
// child) runs as a dedicated unprivileged user once it has bound its socket and read its
// token and TLS key.
#include <string>

#include "common/result.h"

namespace em {

/// Switches the whole process (every thread: glibc's setxid broadcast) to the user `name`:
/// its primary group and supplementary groups (initgroups), real, effective and saved ids;
/// sets no_new_privs; then checks that root cannot be regained and that no capability is
/// left. Errors name the user and the step. Not root with the user's ids already: a no-op.
Result<void> become_user(const std::string& name);

}  // namespace em
