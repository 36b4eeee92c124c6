#include "session_registry.h"

#include <algorithm>

namespace churnwatch {

namespace {

constexpr std::int64_t kStalledAgeNs =
    std::chrono::duration_cast<std::chrono::nanoseconds>(kStalledRequestAge).count();

}  // namespace

std::int64_t steady_now_ns() {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(
               std::chrono::steady_clock::now().time_since_epoch())
        .count();
}

void SessionRegistry::Victims::notify() {
    for (auto& v : idle) v->on_evict();
    for (auto& [v, since] : stalled) v->on_evict_stalled(since);
}

SessionRegistry::SessionRegistry(std::size_t max_connections)
    : max_connections_(std::max<std::size_t>(1, max_connections)) {}

void SessionRegistry::set_callbacks(std::function<void()> resume_accept, std::function<void()> last_one_gone) {
    std::lock_guard lock(mu_);
    resume_accept_ = std::move(resume_accept);
    last_one_gone_ = std::move(last_one_gone);
}

void SessionRegistry::detach() { set_callbacks(nullptr, nullptr); }

bool SessionRegistry::add(const void* p, std::weak_ptr<SessionControl> session,
                          const std::atomic<std::int64_t>* waiting_since) {
    Victims victims;
    bool more;
    {
        std::lock_guard lock(mu_);
        Entry& e = sessions_[p];
        e.session = std::move(session);
        e.waiting_since = waiting_since;
        evict_idle_over(max_connections_, victims);
        more = can_admit();
        if (!more) accept_paused_ = true;
    }
    victims.notify();
    return more;
}

void SessionRegistry::set_idle(const void* p, Wait now) {
    Victims victims;
    std::function<void()> action;
    {
        std::lock_guard lock(mu_);
        auto it = sessions_.find(p);
        if (it == sessions_.end()) return;
        Entry& e = it->second;
        if (now == Wait::idle || now == Wait::lingering) {
            if (e.state == State::evicting && e.stalled) {
                // Chosen as stalled just as its answer went out, it now waits for its next
                // request or lingers: it counts again, as such (it will not close for
                // on_evict_stalled, its wait being over), and gives way first if over the
                // limit. Counted busy, it was out of reach for a new connection while it
                // lingered (2 s) or until its next request, one over the limit.
                --evicting_;
                e.state = State::busy;
                e.stalled = false;
            }
            if (e.state != State::busy) return;
            e.state = State::idle;
            e.lingering = now == Wait::lingering;
            auto& list = idle_list(e);
            e.idle_at = list.insert(list.end(), p);
        } else if (e.state == State::idle) {
            idle_list(e).erase(e.idle_at);
            e.state = State::busy;
        } else if (e.state == State::evicting && now == Wait::busy) {
            // Its next request began (or its stalled request completed) before it could be
            // closed: it counts again.
            --evicting_;
            e.state = State::busy;
            e.stalled = false;
        }
        evict_idle_over(max_connections_, victims);
        if (accept_paused_ && !stopping_ && can_admit()) {
            accept_paused_ = false;
            action = resume_accept_;
        }
    }
    victims.notify();
    if (action) action();
}

void SessionRegistry::remove(const void* p) {
    std::function<void()> action;
    {
        std::lock_guard lock(mu_);
        auto it = sessions_.find(p);
        if (it != sessions_.end()) {
            if (it->second.state == State::idle) idle_list(it->second).erase(it->second.idle_at);
            if (it->second.state == State::evicting) --evicting_;
            sessions_.erase(it);
        }
        if (stopping_ && sessions_.empty()) {
            action = last_one_gone_;
        } else if (accept_paused_ && !stopping_ && can_admit()) {
            accept_paused_ = false;
            action = resume_accept_;
        }
    }
    if (action) action();
}

bool SessionRegistry::at_limit() {
    std::lock_guard lock(mu_);
    return counted() >= max_connections_;
}

bool SessionRegistry::make_room(std::int64_t now_ns) {
    Victims victims;
    {
        std::lock_guard lock(mu_);
        if (counted() >= max_connections_ && !any_idle()) {
            auto [oldest, since] = oldest_waiting();
            if (!oldest || now_ns - since < kStalledAgeNs) {
                accept_paused_ = true;
                return false;
            }
            Entry& e = sessions_.at(oldest);
            e.state = State::evicting;
            e.stalled = true;
            ++evicting_;
            // Not lockable: it is being destroyed, and its remove() follows.
            if (auto s = e.session.lock()) victims.stalled.emplace_back(std::move(s), since);
        } else {
            evict_idle_over(max_connections_ - 1, victims);
        }
    }
    victims.notify();
    return true;
}

std::optional<std::chrono::nanoseconds> SessionRegistry::next_stall_in(std::int64_t now_ns) {
    std::lock_guard lock(mu_);
    auto [oldest, since] = oldest_waiting();
    if (!oldest) return std::nullopt;
    auto left = std::chrono::nanoseconds(since + kStalledAgeNs - now_ns);
    return std::max<std::chrono::nanoseconds>(left, std::chrono::milliseconds(10));
}

bool SessionRegistry::resume_if_paused() {
    std::lock_guard lock(mu_);
    if (!accept_paused_ || stopping_) return false;
    accept_paused_ = false;
    return true;
}

std::size_t SessionRegistry::size() {
    std::lock_guard lock(mu_);
    return sessions_.size();
}

bool SessionRegistry::hold_body_bytes(std::size_t more, std::size_t budget) {
    std::size_t held = body_bytes_.load(std::memory_order_relaxed);
    do {
        if (held + more > budget) return false;
    } while (!body_bytes_.compare_exchange_weak(held, held + more, std::memory_order_relaxed));
    return true;
}

void SessionRegistry::release_body_bytes(std::size_t bytes) {
    body_bytes_.fetch_sub(bytes, std::memory_order_relaxed);
}

std::vector<std::shared_ptr<SessionControl>> SessionRegistry::begin_stop() {
    std::lock_guard lock(mu_);
    stopping_ = true;
    std::vector<std::shared_ptr<SessionControl>> live;
    for (auto& [p, e] : sessions_)
        if (auto s = e.session.lock()) live.push_back(std::move(s));
    return live;
}

std::pair<const void*, std::int64_t> SessionRegistry::oldest_waiting() const {
    std::pair<const void*, std::int64_t> oldest{nullptr, 0};
    for (const auto& [p, e] : sessions_) {
        if (e.state != State::busy || !e.waiting_since) continue;
        const std::int64_t since = e.waiting_since->load(std::memory_order_relaxed);
        if (since != 0 && (!oldest.first || since < oldest.second)) oldest = {p, since};
    }
    return oldest;
}

void SessionRegistry::evict_idle_over(std::size_t keep, Victims& victims) {
    while (counted() > keep && any_idle()) {
        // A lingering session has nothing more to serve: it goes before a keep-alive one.
        auto& list = lingering_.empty() ? idle_ : lingering_;
        Entry& e = sessions_.at(list.front());
        list.pop_front();
        e.state = State::evicting;
        ++evicting_;
        // Not lockable: it is being destroyed, and its remove() follows.
        if (auto s = e.session.lock()) victims.idle.push_back(std::move(s));
    }
}

}  // namespace churnwatch
