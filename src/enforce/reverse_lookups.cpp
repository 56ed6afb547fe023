#include "enforce/reverse_lookups.h"

#include <arpa/inet.h>
#include <netdb.h>

#include <cstring>
#include <future>

#include "common/log.h"
#include "enforce/harden.h"

namespace em {

bool is_private_address(const IpAddress& ip) {
    const uint8_t* b = ip.bytes();
    if (ip.is_v4())
        return b[0] == 10 || (b[0] == 172 && (b[1] & 0xf0) == 16) || (b[0] == 192 && b[1] == 168);
    return ip.is_v6() && (b[0] & 0xfe) == 0xfc;
}

std::string reverse_name(const IpAddress& ip) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (ip.is_v4()) {
        auto* s = reinterpret_cast<sockaddr_in*>(&ss);
        s->sin_family = AF_INET;
        std::memcpy(&s->sin_addr, ip.bytes(), 4);
        len = sizeof *s;
    } else {
        auto* s = reinterpret_cast<sockaddr_in6*>(&ss);
        s->sin6_family = AF_INET6;
        std::memcpy(&s->sin6_addr, ip.bytes(), 16);
        len = sizeof *s;
    }
    char host[NI_MAXHOST];
    if (getnameinfo(reinterpret_cast<sockaddr*>(&ss), len, host, sizeof host, nullptr, 0,
                    NI_NAMEREQD) != 0)
        return {};
    std::string out(host);
    if (!out.empty() && out.back() == '.') out.pop_back();
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

ReverseLookups::~ReverseLookups() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

bool ReverseLookups::start(bool harden) {
    std::promise<bool> dropped;
    auto done = dropped.get_future();
    thread_ = std::thread([this, harden, &dropped] {
        if (harden) {
            if (auto r = drop_capabilities(); !r) {
                log_error("enforce: lookupUnknownIPs off: {}", r.error().message);
                dropped.set_value(false);
                return;
            }
        }
        dropped.set_value(true);
        loop();
    });
    const bool ok = done.get();
    std::lock_guard lock(mu_);
    running_ = ok;
    return ok;
}

bool ReverseLookups::request(const IpAddress& ip) {
    {
        std::lock_guard lock(mu_);
        if (!running_) return false;
        if (pending_.count(ip)) return true;
        if (pending_.size() >= max_pending_) return false;
        pending_.insert(ip);
        queue_.push_back(ip);
    }
    cv_.notify_one();
    return true;
}

void ReverseLookups::take(std::vector<std::pair<IpAddress, std::string>>& out) {
    std::lock_guard lock(mu_);
    for (auto& d : done_) out.push_back(std::move(d));
    done_.clear();
}

void ReverseLookups::loop() {
    std::unique_lock lock(mu_);
    for (;;) {
        cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
        if (stop_) return;
        const IpAddress ip = queue_.front();
        queue_.pop_front();
        lock.unlock();
        std::string name = reverse_name(ip);
        lock.lock();
        pending_.erase(ip);
        done_.emplace_back(ip, std::move(name));
    }
}

}  // namespace em
