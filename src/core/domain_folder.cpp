#include "core/domain_folder.h"

namespace em {

Result<DomainFolder> DomainFolder::create(size_t limit) {
    psl_ctx_t* psl = psl_latest(nullptr);
    if (!psl) return Error{"cannot load the public suffix list (libpsl)"};
    return DomainFolder(psl, limit);
}

std::string_view DomainFolder::base(std::string_view name) const {
    buf_.assign(name);
    const char* r = psl_registrable_domain(psl_.get(), buf_.c_str());
    if (!r) return name;
    return name.substr(static_cast<size_t>(r - buf_.c_str()));
}

}  // namespace em
