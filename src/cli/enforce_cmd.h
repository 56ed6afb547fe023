#pragma once
// The `enforce` subcommand: the hostname allowlist over NFQUEUE.
#include <CLI/CLI.hpp>

#include <memory>

namespace em {

struct EnforceFlags;
std::shared_ptr<EnforceFlags> add_enforce_command(CLI::App& app);
/// Runs `enforce` if it was parsed; -1 otherwise.
int run_enforce_command(CLI::App& app, const EnforceFlags& flags);

}  // namespace em
