#pragma once
// The `show` subcommand: who talks to what, from the agent's per-process counts.
#include <CLI/CLI.hpp>

#include <memory>

namespace em {

struct ShowFlags;
std::shared_ptr<ShowFlags> add_show_command(CLI::App& app);
/// Runs `show` if it was parsed; -1 otherwise.
int run_show_command(CLI::App& app, const ShowFlags& flags);

}  // namespace em
