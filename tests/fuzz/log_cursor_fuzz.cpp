// Fuzzes the stored file-cursor decoder: decode(encode(c)) must give c back.
#include <cstdint>
#include <string>

#include "sources/log_file/log_file.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    auto c = em::LogCursor::decode(std::string_view(reinterpret_cast<const char*>(data), size));
    if (c) {
        auto again = em::LogCursor::decode(c->encode());
        if (!again || again->files != c->files || again->version != c->version) __builtin_trap();
    }
    return 0;
}
