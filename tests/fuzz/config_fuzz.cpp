// Fuzzes the TOML config loader: errors come back as Result, never as a crash.
#include <cstdint>
#include <string>

#include "cli/config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    em::ConsolidateConfig cfg;
    auto r = em::parse_config(std::string_view(reinterpret_cast<const char*>(data), size),
                              "fuzz.toml", cfg);
    if (!r && r.error().message.empty()) __builtin_trap();
    return 0;
}
