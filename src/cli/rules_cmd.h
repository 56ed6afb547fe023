#pragma once
// The `rules` subcommand: firewall rules that accept exactly the egress observed.
#include <CLI/CLI.hpp>

#include <memory>

namespace em {

struct RulesFlags;
std::shared_ptr<RulesFlags> add_rules_command(CLI::App& app);
/// Runs `rules` if it was parsed; -1 otherwise.
int run_rules_command(CLI::App& app, const RulesFlags& flags);

}  // namespace em
