#include "common/domain_name.h"

namespace em {

bool go_is_domain_name(std::string_view s) {
    if (s == ".") return true;
    const size_t l = s.size();
    if (l == 0 || l > 254 || (l == 254 && s[l - 1] != '.')) return false;
    char last = '.';
    bool non_numeric = false;
    size_t partlen = 0;
    for (char c : s) {
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
            non_numeric = true;
            ++partlen;
        } else if (c >= '0' && c <= '9') {
            ++partlen;
        } else if (c == '-') {
            if (last == '.') return false;
            ++partlen;
            non_numeric = true;
        } else if (c == '.') {
            if (last == '.' || last == '-') return false;
            if (partlen > 63 || partlen == 0) return false;
            partlen = 0;
        } else {
            return false;
        }
        last = c;
    }
    return last != '-' && partlen <= 63 && non_numeric;
}

}  // namespace em
