// Fuzzes the dashboard's decoders: the form decoder (dashboard/form.h), the one parser of a
// request body — any bytes are accepted or refused without a crash; an accepted form has at
// most the fields allowed, no NUL byte in a name or value, and no value longer than the body —
// and the users file (dashboard/users.h), read the same bytes: refused with its file and line,
// or accepted with no more users than lines, a token's owner being a user it verifies for.
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "dashboard/form.h"
#include "dashboard/users.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    std::string_view body(reinterpret_cast<const char*>(data), size);
    if (auto users = em::DashboardUsers::parse(body, "fuzz")) {
        if (users->size() > static_cast<size_t>(std::count(body.begin(), body.end(), '\n')) + 1)
            std::abort();
        // A token's owner is the one user it verifies under.
        if (auto who = users->owner("x"); who && !users->verify(*who, "x")) std::abort();
    } else if (users.error().message.rfind("fuzz:", 0) != 0) {
        std::abort();
    }
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
