// Fuzzes the dashboard's form decoder (dashboard/form.h), the one parser of a request body:
// any bytes are accepted or refused without a crash; an accepted form has at most the
// fields allowed, no NUL byte in a name or value, and no value longer than the body.
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dashboard/form.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view body(reinterpret_cast<const char*>(data), size);
    auto form = em::parse_form(body, 4);
    if (!form) return 0;
    if (form->size() > 4) std::abort();
    for (const auto& [name, value] : *form) {
        if (name.find('\0') != std::string::npos || value.find('\0') != std::string::npos)
            std::abort();
        if (name.size() + value.size() > size) std::abort();
    }
    return 0;
}
