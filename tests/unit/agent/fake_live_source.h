#pragma once
// A scripted LiveSource (agent/live_source.h): the agent's real loop (run_agent) without a
// kernel, as falcosecurity's test engine replays synthetic events.
//
// The script is a list of steps; each drain() runs the next one against the agent's
// Pipeline. Its fd (an eventfd) is readable while steps are left, so the loop keeps
// draining until the script is done, then waits on its timers and signals. A step runs on
// the agent's thread: `raise(SIGTERM)` or `raise(SIGHUP)` in a step reaches the agent's
// signalfd (raise is thread-directed). A step returning an error makes drain() fail.
//
// The test keeps a shared_ptr to the FakeScript and reads, after run_agent returns (or
// under the script's mutex while it runs), what the loop did with the source.
#include <sys/eventfd.h>
#include <unistd.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "agent/agent.h"
#include "agent/live_source.h"
#include "agent/pipeline.h"
#include "common/result.h"
#include "common/unique_fd.h"

namespace em::fake {

struct FakeScript {
    using Step = std::function<Result<void>(Pipeline&)>;

    std::deque<Step> steps;                    // run one per drain()
    std::map<std::string, uint64_t> counters;  // reported as the source's counters

    // What the loop did, for the test to read.
    mutable std::mutex mu;
    int created = 0;  // make_source calls
    int drains = 0;   // drain() calls, the empty ones after the script included
    int ticks = 0;
    int shutdowns = 0;       // explicit shutdown() calls
    bool destroyed = false;  // the agent released the source

    void add_fallible(Step s) { steps.push_back(std::move(s)); }
    /// A step that cannot fail.
    void add(std::function<void(Pipeline&)> s) {
        steps.push_back([s = std::move(s)](Pipeline& p) -> Result<void> {
            s(p);
            return {};
        });
    }
    template <class F>
    auto locked(F&& f) const {
        std::lock_guard<std::mutex> g(mu);
        return f();
    }
};

class FakeLiveSource final : public LiveSource {
  public:
    explicit FakeLiveSource(std::shared_ptr<FakeScript> script)
        : script_(std::move(script)), fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
        rearm();
    }
    ~FakeLiveSource() override {
        std::lock_guard<std::mutex> g(script_->mu);
        script_->destroyed = true;
    }

    std::string name() const override { return "fake"; }
    std::vector<int> fds() const override { return {fd_.get()}; }
    Result<void> drain(Pipeline& pipeline) override {
        uint64_t n;
        (void)!read(fd_.get(), &n, sizeof n);
        FakeScript::Step step;
        {
            std::lock_guard<std::mutex> g(script_->mu);
            ++script_->drains;
            if (script_->steps.empty()) return {};
            step = std::move(script_->steps.front());
            script_->steps.pop_front();
        }
        auto r = step(pipeline);
        rearm();
        return r;
    }
    std::map<std::string, uint64_t> counters() const override {
        std::lock_guard<std::mutex> g(script_->mu);
        return script_->counters;
    }
    void tick() override {
        std::lock_guard<std::mutex> g(script_->mu);
        ++script_->ticks;
    }
    Result<void> shutdown() override {
        std::lock_guard<std::mutex> g(script_->mu);
        ++script_->shutdowns;
        return {};
    }

    /// The factory run_agent takes: every source it builds plays `script`.
    static LiveSourceFactory factory(std::shared_ptr<FakeScript> script) {
        return [script](const LiveSourceOptions&) -> Result<std::unique_ptr<LiveSource>> {
            {
                std::lock_guard<std::mutex> g(script->mu);
                ++script->created;
            }
            return std::unique_ptr<LiveSource>(new FakeLiveSource(script));
        };
    }

  private:
    void rearm() {
        bool more;
        {
            std::lock_guard<std::mutex> g(script_->mu);
            more = !script_->steps.empty();
        }
        const uint64_t one = 1;
        if (more) (void)!write(fd_.get(), &one, sizeof one);
    }

    std::shared_ptr<FakeScript> script_;
    UniqueFd fd_;
};

}  // namespace em::fake
