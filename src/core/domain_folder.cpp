#include "core/domain_folder.h"

namespace em {

Result<DomainFolder> DomainFolder::create(size_t limit) {
    psl_ctx_t* psl = psl_latest(nullptr);
    if (!psl) return Error{"cannot load the public suffix list (libpsl)"};
    return DomainFolder(psl, limit);
}

std::string_view DomainFolder::base(std::string_view name) const {
    // psl_registrable_domain looks up every suffix of the name; names under one parent share
    // their registrable domain when it lies within the parent, unless the name is itself a
    // listed public suffix (a longer rule than the parent's can only be "*.<parent>", which
    // would have made the first child a suffix and kept the parent out of the cache, or an
    // explicit "<label>.<parent>"): one lookup checks that instead of several.
    const size_t dot = name.find('.');
    const std::string_view parent = dot == std::string_view::npos ? "" : name.substr(dot + 1);
    buf_.assign(name);
    if (!parent.empty()) {
        auto it = parent_base_.find(parent);
        if (it != parent_base_.end() &&
            !psl_is_public_suffix2(psl_.get(), buf_.c_str(), PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE))
            return name.substr(name.size() - it->second);
    }
    const char* r = psl_registrable_domain(psl_.get(), buf_.c_str());
    std::string_view base = r ? name.substr(static_cast<size_t>(r - buf_.c_str())) : name;
    if (!parent.empty() && base.size() <= parent.size()) {
        if (parent_base_.size() >= kMaxParents) parent_base_.clear();
        parent_base_.emplace(std::string(parent), base.size());
    }
    return base;
}

std::string_view DomainFolder::icann_base(std::string_view name) const {
    // The longest ICANN public suffix is the leftmost suffix the list names (the implicit
    // "*" rule makes an unknown top-level domain one); the registrable domain is one label
    // more. The name itself when it is a suffix or has a single label.
    buf_.assign(name);
    size_t label = 0;  // start of the label before the suffix being tried
    for (size_t dot = name.find('.'); dot != std::string_view::npos;
         dot = name.find('.', dot + 1)) {
        if (psl_is_public_suffix2(psl_.get(), buf_.c_str() + dot + 1, PSL_TYPE_ICANN))
            return name.substr(label);
        label = dot + 1;
    }
    return name;
}

std::string_view DomainFolder::top_level(std::string_view name) {
    const size_t dot = name.rfind('.');
    return dot == std::string_view::npos ? name : name.substr(dot + 1);
}

}  // namespace em
