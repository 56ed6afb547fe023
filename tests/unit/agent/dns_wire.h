#pragma once
// DNS wire format for the agent's tests: a 16-bit field and an uncompressed name.
#include <cstdint>
#include <string>

namespace em::test {

inline void put16(std::string& s, uint16_t v) {
    s += static_cast<char>(v >> 8);
    s += static_cast<char>(v & 0xff);
}

inline void put_name(std::string& s, const std::string& name) {
    size_t start = 0;
    while (start < name.size()) {
        size_t dot = name.find('.', start);
        if (dot == std::string::npos) dot = name.size();
        s += static_cast<char>(dot - start);
        s += name.substr(start, dot - start);
        start = dot + 1;
    }
    s += '\0';
}

}  // namespace em::test
