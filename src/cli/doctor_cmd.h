#pragma once
// The `doctor` subcommand: checks this host's monitoring set-up and says what to fix
// (src/doctor).
#include <CLI/CLI.hpp>

#include <memory>

namespace em {

struct DoctorFlags;
std::shared_ptr<DoctorFlags> add_doctor_command(CLI::App& app);
/// Runs `doctor` if it was parsed (exit status 0: nothing to fix, 1: something to fix); -1
/// otherwise.
int run_doctor_command(CLI::App& app, const DoctorFlags& flags);

}  // namespace em
