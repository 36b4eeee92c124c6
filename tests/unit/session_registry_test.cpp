// SessionRegistry: which connection gives way to a new one at --max-connections, driven with
// fake sessions and a given clock (the integration tests in bad_input_test and tls_test show
// the same with the real server, in real time).
#include "session_registry.h"

#include <gtest/gtest.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

namespace churnwatch {
namespace {

constexpr std::int64_t kSecond = 1'000'000'000;
// Steady-clock readings of the tests' story: t(0) is its start (0 itself means "not reading").
constexpr std::int64_t t(std::int64_t since_start) { return 100 * kSecond + since_start; }

// A session that records what it was told. `since` is what a real session publishes: since
// when it has waited on its client (a request arriving, an answer being written), or 0.
struct FakeSession : SessionControl {
    std::atomic<std::int64_t> since{0};
    int evicted_idle = 0;
    std::vector<std::int64_t> evicted_stalled;
    int shutdowns = 0;
    void on_shutdown() override { ++shutdowns; }
    void on_evict() override { ++evicted_idle; }
    void on_evict_stalled(std::int64_t s) override { evicted_stalled.push_back(s); }
};

struct Fixture {
    explicit Fixture(std::size_t limit) : registry(limit) {
        registry.set_callbacks([this] { ++resumed; }, [this] { ++last_gone; });
    }
    // A new connection whose first request begins at `at` (its accept).
    std::shared_ptr<FakeSession> connect(std::int64_t at, bool* more = nullptr) {
        auto s = std::make_shared<FakeSession>();
        s->since = at;
        bool m = registry.add(s.get(), s, &s->since);
        if (more) *more = m;
        sessions.push_back(s);
        return s;
    }
    // Answered and now waiting, idle, for its next request.
    void idle(FakeSession& s) {
        s.since = 0;
        registry.set_idle(&s, SessionRegistry::Wait::idle);
    }
    // The first bytes of its next request came at `at`.
    void begin(FakeSession& s, std::int64_t at) {
        s.since = at;
        registry.set_idle(&s, SessionRegistry::Wait::busy);
    }
    // Its request is complete: being handled (not waiting on the client).
    void handling(FakeSession& s) { s.since = 0; }

    SessionRegistry registry;
    std::vector<std::shared_ptr<FakeSession>> sessions;
    int resumed = 0, last_gone = 0;
};

TEST(SessionRegistry, BelowTheLimitNothingIsClosed) {
    Fixture f(3);
    bool more = false;
    f.connect(t(0), &more);
    EXPECT_TRUE(more);
    f.connect(t(0), &more);
    EXPECT_TRUE(more);
    EXPECT_FALSE(f.registry.at_limit());
    EXPECT_TRUE(f.registry.make_room(t(10 * kSecond)));
    for (auto& s : f.sessions) {
        EXPECT_EQ(s->evicted_idle, 0);
        EXPECT_TRUE(s->evicted_stalled.empty());
    }
}

TEST(SessionRegistry, TheConnectionIdleTheLongestGivesWayFirst) {
    Fixture f(3);
    auto a = f.connect(t(0)), b = f.connect(t(0)), c = f.connect(t(0));
    f.idle(*b);
    f.idle(*a);
    ASSERT_TRUE(f.registry.at_limit());
    EXPECT_TRUE(f.registry.make_room(t(kSecond / 10)));
    EXPECT_EQ(b->evicted_idle, 1);  // idle first
    EXPECT_EQ(a->evicted_idle, 0);
    f.connect(t(kSecond / 10));  // the new one, accepted
    // Even with a stalled request about: an idle connection loses nothing by closing.
    EXPECT_TRUE(f.registry.make_room(t(10 * kSecond)));
    EXPECT_EQ(a->evicted_idle, 1);
    EXPECT_TRUE(c->evicted_stalled.empty());
}

// A connection lingering after a refusal (reading and dropping what its client still sends)
// gives way before a keep-alive connection, however long that one has been idle: it has
// nothing more to serve, and the keep-alive one's client would have to reconnect. Among
// lingering ones, the one lingering the longest goes first.
TEST(SessionRegistry, ALingeringConnectionGivesWayBeforeAKeepAliveOne) {
    Fixture f(3);
    auto keep = f.connect(t(0)), first = f.connect(t(0)), second = f.connect(t(0));
    f.idle(*keep);
    first->since = 0;
    f.registry.set_idle(first.get(), SessionRegistry::Wait::lingering);
    second->since = 0;
    f.registry.set_idle(second.get(), SessionRegistry::Wait::lingering);
    ASSERT_TRUE(f.registry.at_limit());
    EXPECT_TRUE(f.registry.make_room(t(kSecond / 10)));
    EXPECT_EQ(first->evicted_idle, 1);
    EXPECT_EQ(second->evicted_idle, 0);
    EXPECT_EQ(keep->evicted_idle, 0);
    f.registry.remove(first.get());
    f.connect(t(kSecond / 10));
    EXPECT_TRUE(f.registry.make_room(t(kSecond / 5)));
    EXPECT_EQ(second->evicted_idle, 1);
    EXPECT_EQ(keep->evicted_idle, 0);
    // Its end (the client closed, or the linger's time ran out) takes it off the list.
    f.registry.remove(second.get());
    f.connect(t(kSecond / 5));
    EXPECT_TRUE(f.registry.make_room(t(kSecond / 2)));
    EXPECT_EQ(keep->evicted_idle, 1);
}

TEST(SessionRegistry, WithNoneIdleTheRequestThatStalledFirstGivesWayAfterTwoSeconds) {
    Fixture f(3);
    bool more = true;
    auto a = f.connect(t(0)), b = f.connect(t(kSecond / 2)), c = f.connect(t(kSecond), &more);
    EXPECT_FALSE(more) << "at the limit with none idle, accepting pauses";
    f.handling(*a);  // a's request is in: never cut, however old
    // 1.9 s after b's request began: young still; look again when it will have stalled.
    EXPECT_FALSE(f.registry.make_room(t(kSecond / 2 + 19 * kSecond / 10)));
    auto in = f.registry.next_stall_in(t(kSecond / 2 + 19 * kSecond / 10));
    ASSERT_TRUE(in);
    EXPECT_EQ(in->count(), kSecond / 10);
    EXPECT_TRUE(f.registry.resume_if_paused());
    EXPECT_FALSE(f.registry.resume_if_paused()) << "resumed once";
    // 2 s after it began: b gives way, told which request it was chosen for.
    EXPECT_TRUE(f.registry.make_room(t(kSecond / 2 + 2 * kSecond)));
    ASSERT_EQ(b->evicted_stalled.size(), 1u);
    EXPECT_EQ(b->evicted_stalled[0], t(kSecond / 2));
    EXPECT_TRUE(a->evicted_stalled.empty());
    EXPECT_TRUE(c->evicted_stalled.empty());
    // b no longer counts: the new connection fits.
    EXPECT_FALSE(f.registry.at_limit());
}

TEST(SessionRegistry, NothingToWaitForWhenEveryRequestIsBeingHandled) {
    Fixture f(2);
    auto a = f.connect(t(0)), b = f.connect(t(0));
    f.handling(*a);
    f.handling(*b);
    EXPECT_FALSE(f.registry.make_room(t(60 * kSecond)));
    EXPECT_FALSE(f.registry.next_stall_in(t(60 * kSecond))) << "only an answer or a close frees a slot";
    // An answered one goes idle: accepting resumes through the callback.
    f.idle(*a);
    EXPECT_EQ(f.resumed, 1);
    EXPECT_FALSE(f.registry.resume_if_paused()) << "already resumed by the callback";
}

TEST(SessionRegistry, AStalledRequestThatCompletedMeanwhileCountsAgain) {
    Fixture f(2);
    auto a = f.connect(t(0)), b = f.connect(t(kSecond));
    EXPECT_TRUE(f.registry.make_room(t(5 * kSecond)));
    ASSERT_EQ(a->evicted_stalled.size(), 1u);
    EXPECT_FALSE(f.registry.at_limit());
    // a's request had just completed: the session reports itself busy and stays.
    f.handling(*a);
    f.registry.set_idle(a.get(), SessionRegistry::Wait::busy);
    auto c = f.connect(t(5 * kSecond));
    EXPECT_TRUE(f.registry.at_limit()) << "a counts again: three sessions for two slots";
    // The next one to give way is b (stalled), never a (being handled).
    EXPECT_TRUE(f.registry.make_room(t(6 * kSecond)));
    EXPECT_EQ(b->evicted_stalled.size(), 1u);
    EXPECT_EQ(a->evicted_stalled.size(), 1u);
}

// A session chosen as stalled (its answer not read for 2 s) whose answer went out just then,
// before it could be closed: it does not close (its wait is over) and counts again, as what it
// does next. A refusal's answer: it lingers, and as a lingering session it gives way at once
// to the connection accepted in its place. It reported lingering as its answer went out,
// which the registry ignored (it was being closed), then busy from on_evict_stalled: counted
// as busy, it stayed one over the limit, out of reach of new connections, for its linger.
TEST(SessionRegistry, AStalledConnectionThatWentOnToLingerGivesWayAsALingeringOne) {
    using Wait = SessionRegistry::Wait;
    // The new connection accepted before the answer went out, or after.
    for (bool accepted_first : {true, false}) {
        Fixture f(2);
        auto a = f.connect(t(0)), b = f.connect(t(kSecond));
        f.handling(*b);
        EXPECT_TRUE(f.registry.make_room(t(5 * kSecond)));
        ASSERT_EQ(a->evicted_stalled.size(), 1u);
        std::shared_ptr<FakeSession> c;
        if (accepted_first) c = f.connect(t(5 * kSecond));
        // a's answer, a refusal, is written: it lingers, and says so.
        a->since = 0;
        f.registry.set_idle(a.get(), Wait::lingering);
        if (!accepted_first) {
            EXPECT_EQ(a->evicted_idle, 0) << "within the limit until the new connection is in";
            c = f.connect(t(5 * kSecond));
        }
        EXPECT_EQ(a->evicted_idle, 1) << (accepted_first ? "accepted first" : "accepted after");
        // on_evict_stalled then finds its wait over and says what it does: nothing changes.
        f.registry.set_idle(a.get(), Wait::lingering);
        EXPECT_EQ(a->evicted_idle, 1);
        // a no longer counts: b and c fill the limit, and b's end frees a slot.
        EXPECT_TRUE(f.registry.at_limit());
        f.registry.remove(b.get());
        EXPECT_FALSE(f.registry.at_limit()) << "a counted again: one over the limit";
        f.registry.remove(a.get());
        EXPECT_FALSE(f.registry.at_limit());
    }
}

// The same for a keep-alive answer: the session waits, idle, for its next request, counts as
// idle, and the connection idle the longest gives way (here an older idle one), not a busy one.
TEST(SessionRegistry, AStalledConnectionThatWentOnToWaitIdleCountsAsIdle) {
    using Wait = SessionRegistry::Wait;
    Fixture f(3);
    auto a = f.connect(t(0)), b = f.connect(t(kSecond)), d = f.connect(t(kSecond));
    f.handling(*b);
    f.handling(*d);
    EXPECT_TRUE(f.registry.make_room(t(5 * kSecond)));
    ASSERT_EQ(a->evicted_stalled.size(), 1u);
    auto c = f.connect(t(5 * kSecond));
    f.idle(*b);  // b answered, idle since before a
    EXPECT_EQ(b->evicted_idle, 0) << "within the limit: a does not count";
    a->since = 0;
    f.registry.set_idle(a.get(), Wait::idle);
    EXPECT_EQ(b->evicted_idle, 1) << "a counts again: the connection idle the longest gives way";
    EXPECT_EQ(a->evicted_idle, 0);
    f.registry.set_idle(a.get(), Wait::idle);  // on_evict_stalled: nothing changes
    EXPECT_EQ(a->evicted_idle, 0);
    EXPECT_EQ(b->evicted_idle, 1);
    // a is idle: the next new connection closes it, not a busy one.
    f.registry.remove(b.get());
    EXPECT_TRUE(f.registry.make_room(t(6 * kSecond)));
    EXPECT_EQ(a->evicted_idle, 1);
    EXPECT_TRUE(d->evicted_stalled.empty());
}

// Picks are exact, however late the chosen session acts on them (with several I/O threads its
// close runs later, on its own strand): a session chosen as stalled is never chosen again
// while that close is on its way, each pick makes room for one new connection, and with no
// other session stalled accepting pauses rather than closing another. A session whose wait
// ended as it was chosen counts again once, however often it says so.
TEST(SessionRegistry, AStalledSessionIsChosenOnceAndMakesRoomForOne) {
    using Wait = SessionRegistry::Wait;
    Fixture f(2);
    auto a = f.connect(t(0)), b = f.connect(t(kSecond));
    EXPECT_TRUE(f.registry.make_room(t(5 * kSecond)));
    ASSERT_EQ(a->evicted_stalled.size(), 1u);
    EXPECT_TRUE(b->evicted_stalled.empty());
    auto c = f.connect(t(5 * kSecond));  // in a's place; a has not closed yet
    EXPECT_TRUE(f.registry.at_limit());
    EXPECT_TRUE(f.registry.make_room(t(5 * kSecond)));
    EXPECT_EQ(a->evicted_stalled.size(), 1u) << "chosen twice";
    ASSERT_EQ(b->evicted_stalled.size(), 1u);
    auto d = f.connect(t(5 * kSecond));  // in b's place
    EXPECT_FALSE(f.registry.make_room(t(6 * kSecond))) << "c and d are young: nothing to close";
    EXPECT_EQ(a->evicted_stalled.size(), 1u);
    EXPECT_EQ(b->evicted_stalled.size(), 1u);
    EXPECT_TRUE(c->evicted_stalled.empty());
    EXPECT_TRUE(d->evicted_stalled.empty());
    // a's request had completed as it was chosen: it counts again, once.
    a->since = 0;
    f.registry.set_idle(a.get(), Wait::busy);
    f.registry.set_idle(a.get(), Wait::busy);
    f.registry.remove(b.get());
    EXPECT_TRUE(f.registry.at_limit()) << "a, c and d count: three for two slots";
    f.registry.remove(a.get());
    EXPECT_TRUE(f.registry.at_limit()) << "c and d";
    f.registry.remove(c.get());
    EXPECT_FALSE(f.registry.at_limit()) << "a counted twice";
    EXPECT_EQ(f.resumed, 1) << "accepting resumed when a slot came free";
}

TEST(SessionRegistry, ANextRequestCountsFromItsFirstBytes) {
    Fixture f(2);
    auto a = f.connect(t(0)), b = f.connect(t(0));
    f.idle(*a);
    f.idle(*b);
    f.begin(*a, t(10 * kSecond));
    f.begin(*b, t(11 * kSecond));
    EXPECT_FALSE(f.registry.make_room(t(11 * kSecond + kSecond / 2)));
    EXPECT_TRUE(f.registry.make_room(t(12 * kSecond)));
    EXPECT_EQ(a->evicted_stalled.size(), 1u);
    EXPECT_TRUE(b->evicted_stalled.empty());
}

TEST(SessionRegistry, ClosingSessionsResumeAcceptingAndEndTheDrain) {
    Fixture f(1);
    bool more = true;
    auto a = f.connect(t(0), &more);
    EXPECT_FALSE(more);
    f.registry.remove(a.get());
    EXPECT_EQ(f.resumed, 1);
    auto b = f.connect(t(0));
    auto live = f.registry.begin_stop();
    ASSERT_EQ(live.size(), 1u);
    EXPECT_EQ(live[0].get(), b.get());
    EXPECT_FALSE(f.registry.resume_if_paused()) << "stopping: never resumes";
    f.registry.remove(b.get());
    EXPECT_EQ(f.last_gone, 1);
}

}  // namespace
}  // namespace churnwatch
