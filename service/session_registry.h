// The HTTP server's live connections and its connection limit, without sockets: which
// sessions are idle, which are reading a request and since when, and which to close when a
// new connection arrives at the limit. http_server.cpp's sessions report to it; its unit
// test drives it with fake sessions and a given clock.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

namespace churnwatch {

// What the registry needs of a session, whatever its stream type.
class SessionControl {
public:
    virtual ~SessionControl() = default;
    virtual void on_shutdown() = 0;
    // Chosen to make room for a new connection while idle: close if still idle (no byte of
    // the next request received), otherwise carry on (the session then reports itself busy).
    virtual void on_evict() = 0;
    // Chosen to make room while it had kept the server waiting on its client since `since`
    // (a request still arriving, or an answer the client does not read): close if that wait
    // is still the same one, otherwise carry on (reporting itself busy again).
    virtual void on_evict_stalled(std::int64_t since) = 0;
};

// A connection that has kept the server waiting on its client this long — a request still
// arriving, or an answer the client does not read — is closed for a new connection while
// every connection is in use: a whole delivery and its answer cross the internet in well
// under a second, and Recharge waits 5 s for an answer, so a client that trickles its request
// (slowloris) or never reads (a full receive window) cannot keep deliveries and probes out
// for the whole request or write timeout.
constexpr auto kStalledRequestAge = std::chrono::seconds(2);

// Bytes of request bodies still arriving that all sessions together may hold (or max-body,
// if larger): beyond it a partly received request is answered 503 and closed. Deliveries
// are a few KB and mostly arrive in one read, so only requests that trickle in count.
constexpr std::size_t kRequestBodyBudget = std::size_t{64} << 20;

// The steady clock in nanoseconds: what sessions publish as waiting_since.
std::int64_t steady_now_ns();

// Live sessions and the connection limit. Shared with every session, so a session destroyed
// late (e.g. with the io_context) never touches a destroyed server. Thread-safe.
//
// At the limit, idle keep-alive connections give way to new ones, as nginx reuses them: a
// session reports when it waits for its next request with no byte of it received (idle) and
// when that wait ends (busy). At the limit the server waits for a connection to be pending,
// then closes the session idle the longest (one lingering after a refusal before any
// keep-alive one) and accepts it (make_room). A session told to
// close no longer counts against the limit: it closes at once, or, had its next request begun
// just then, counts again, and another idle session (or the next to become idle) closes
// instead.
//
// With none idle, a session that has kept the server waiting on its client for
// kStalledRequestAge makes room instead (the one waited on longest); until one has, accepting
// pauses, and resumes when a session closes or becomes idle (the resume callback) or when the
// first could have stalled (next_stall_in, then resume_if_paused). A session handling a
// request (the handler or the writer has it) is never closed for a new connection.
class SessionRegistry {
public:
    explicit SessionRegistry(std::size_t max_connections);

    std::size_t max_connections() const { return max_connections_; }
    // resume_accept: accepting paused, and now a connection can be taken (called without the
    // lock, on the thread of the session that made room). last_one_gone: while stopping, the
    // last session left (ends the drain early). detach() clears both.
    void set_callbacks(std::function<void()> resume_accept, std::function<void()> last_one_gone);
    void detach();

    // A new session; `waiting_since` is the session's own record of when it began waiting on
    // its client: its current request began to arrive, or its answer began to be written
    // (steady_now_ns; 0 otherwise: idle, or handling a request), read from any thread.
    // Returns false when accepting should pause: the limit is reached and no session is idle.
    bool add(const void* p, std::weak_ptr<SessionControl> session,
             const std::atomic<std::int64_t>* waiting_since);
    // A session began waiting for its next request, nothing of it received (idle), or that
    // wait ended: bytes came (busy), or the connection is ending (closed, reset, timed out;
    // busy too, but one already told to close stays uncounted: counting it again would
    // close another idle session for nothing). lingering: idle after its last answer, only
    // closing (after a refusal, dropping what its client still sends; over TLS after an
    // answer without keep-alive, waiting for the client's close_notify; no next request will
    // be read): such sessions give way before any keep-alive connection, the one lingering
    // the longest first.
    // A session told to close as stalled whose wait had just ended (its answer written: it
    // will not close, on_evict_stalled) counts again from its next report: busy, or idle
    // or lingering, and then, over the limit, gives way as such.
    enum class Wait { idle, lingering, busy, ending };
    void set_idle(const void* p, Wait now);
    void remove(const void* p);

    // New connections must make room: accept only after make_room().
    bool at_limit();
    // A connection is waiting to be accepted: true when it may be, after telling the session
    // idle the longest (lingering ones first), or else the one stalled longest, to close if
    // the limit requires it;
    // false (accepting pauses) when no session is idle or stalled.
    bool make_room(std::int64_t now_ns = steady_now_ns());
    // While accepting is paused: how long until the session waited on longest will have
    // stalled (at least 10 ms), or nothing when none is waiting on its client (each is
    // handling a request, and will be idle or closed soon, which resumes accepting).
    std::optional<std::chrono::nanoseconds> next_stall_in(std::int64_t now_ns = steady_now_ns());
    // Accepting was paused and nothing resumed it since: resume (true), as a stalled session
    // may make room now.
    bool resume_if_paused();

    std::size_t size();

    // Memory held by request bodies still arriving, across every session: a body's buffer is
    // allocated at its Content-Length when its header is in, so max-connections requests that
    // never finish could hold max-connections × max-body (1 GB at the defaults) without a
    // signature. hold_body_bytes takes `more` unless that would pass `budget`.
    bool hold_body_bytes(std::size_t more, std::size_t budget);
    void release_body_bytes(std::size_t bytes);
    std::size_t body_bytes() const { return body_bytes_.load(std::memory_order_relaxed); }

    // Stops accepting for good; the live sessions, to be told to shut down.
    std::vector<std::shared_ptr<SessionControl>> begin_stop();

private:
    enum class State { busy, idle, evicting };
    struct Entry {
        std::weak_ptr<SessionControl> session;
        const std::atomic<std::int64_t>* waiting_since = nullptr;
        State state = State::busy;
        bool lingering = false;                    // idle in `lingering_` rather than `idle_`
        bool stalled = false;                      // evicting, told so by on_evict_stalled
        std::list<const void*>::iterator idle_at;  // in that list while State::idle
    };
    // Chosen to close, told so once the lock is released.
    struct Victims {
        std::vector<std::shared_ptr<SessionControl>> idle;
        std::vector<std::pair<std::shared_ptr<SessionControl>, std::int64_t>> stalled;
        void notify();
    };

    // Sessions that count against the limit: all but those already told to close.
    std::size_t counted() const { return sessions_.size() - evicting_; }
    // A new connection can be taken: below the limit, or an idle session can make room.
    bool can_admit() const { return counted() < max_connections_ || any_idle(); }
    bool any_idle() const { return !idle_.empty() || !lingering_.empty(); }
    std::list<const void*>& idle_list(const Entry& e) { return e.lingering ? lingering_ : idle_; }
    // The counted session waited on longest, and since when; {nullptr, 0} when none is
    // waiting on its client. A scan, but only at the limit with no idle session.
    std::pair<const void*, std::int64_t> oldest_waiting() const;
    // Over `keep` sessions: those idle the longest are told to close (one, but for a session
    // counting again after its next request began as it was chosen).
    void evict_idle_over(std::size_t keep, Victims& victims);

    const std::size_t max_connections_;
    std::mutex mu_;
    std::map<const void*, Entry> sessions_;
    std::list<const void*> idle_;  // idle sessions, the longest idle first
    std::list<const void*> lingering_;  // idle after a refusal, closed before those in idle_
    std::size_t evicting_ = 0;     // sessions in State::evicting
    bool accept_paused_ = false;
    bool stopping_ = false;
    std::function<void()> resume_accept_;
    std::function<void()> last_one_gone_;
    std::atomic<std::size_t> body_bytes_{0};
};

}  // namespace churnwatch
