// DedupeIndex: fingerprints of recent deliveries, with expiry by time and by count.
#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <set>

#include "dedupe_index.h"

using namespace churnwatch;

namespace {

std::vector<int64_t> candidates(const DedupeIndex& index, int64_t fp) {
    std::vector<int64_t> out;
    index.candidates(fp, out);
    std::sort(out.begin(), out.end());
    return out;
}

TEST(DedupeIndex, FingerprintIsStableAndDiffersByKey) {
    EXPECT_EQ(DedupeIndex::fingerprint("sha256:abc"), DedupeIndex::fingerprint("sha256:abc"));
    EXPECT_NE(DedupeIndex::fingerprint("sha256:abc"), DedupeIndex::fingerprint("sha256:abd"));
}

TEST(DedupeIndex, FindsEveryIdWithTheFingerprint) {
    DedupeIndex index;
    index.add(42, 1, 0);
    index.add(7, 2, 0);
    index.add(42, 3, 0);  // a collision: both are candidates, the writer confirms by key
    EXPECT_EQ(candidates(index, 42), (std::vector<int64_t>{1, 3}));
    EXPECT_EQ(candidates(index, 7), (std::vector<int64_t>{2}));
    EXPECT_TRUE(candidates(index, 8).empty());
}

// Random adds and removes against a reference map, with fingerprints chosen to collide in
// the table's low bits so probe chains are long and backward-shift deletion is exercised:
// half of them at the table's start, half at its end (low bits all ones, whatever its size
// up to 2^20 slots), so chains also wrap around from the last slot to the first.
TEST(DedupeIndex, AgreesWithAReferenceUnderRandomAddsAndRemoves) {
    DedupeIndex index;
    std::multimap<int64_t, int64_t> reference;
    std::mt19937_64 rng(7);
    int64_t next_id = 1;
    for (int step = 0; step < 60000; ++step) {
        if (reference.empty() || rng() % 3 != 0) {
            const uint64_t low = rng() % 2 ? rng() % 16 : 0xFFFFF - rng() % 16;
            int64_t fp = static_cast<int64_t>((rng() % 64) << 20 | low);
            index.add(fp, next_id, 0);
            reference.emplace(fp, next_id);
            ++next_id;
        } else {
            auto it = reference.begin();
            std::advance(it, static_cast<long>(rng() % std::min<std::size_t>(reference.size(), 50)));
            index.remove(it->first, it->second);
            reference.erase(it);
        }
        if (step % 6000 == 0 || step == 59999) {
            std::set<int64_t> fps;
            for (auto& [fp, id] : reference) fps.insert(fp);
            for (int64_t fp : fps) {
                std::vector<int64_t> want;
                auto [b, e] = reference.equal_range(fp);
                for (auto i = b; i != e; ++i) want.push_back(i->second);
                std::sort(want.begin(), want.end());
                ASSERT_EQ(candidates(index, fp), want) << "fingerprint " << fp << " at step " << step;
            }
            ASSERT_EQ(index.size(), reference.size());
        }
    }
}

// Backward-shift deletion where the probe chain wraps from the table's last slot to its
// first: an entry in slot 0 that is at home there must stay when the entry in the last slot
// goes, and one that wrapped there from the last slot must not be moved before its home.
TEST(DedupeIndex, RemovingAcrossTheTablesEndKeepsTheOthersFindable) {
    DedupeIndex at_home;  // 1024 slots: fingerprint 1024 belongs in slot 0
    at_home.add(1023, 1, 0);
    at_home.add(1024, 2, 0);
    at_home.remove(1023, 1);
    EXPECT_EQ(candidates(at_home, 1024), std::vector<int64_t>{2});
    DedupeIndex wrapped;
    wrapped.add(1022, 1, 0);
    wrapped.add(1023, 2, 0);
    wrapped.add(1023 + 1024, 3, 0);  // home 1023, taken: wraps to slot 0
    wrapped.remove(1022, 1);
    EXPECT_EQ(candidates(wrapped, 1023), std::vector<int64_t>{2});
    EXPECT_EQ(candidates(wrapped, 1023 + 1024), std::vector<int64_t>{3});
}

// The table doubles as it fills, staying 37–75% full: 21–43 bytes per remembered delivery.
// (It grew fourfold at 131,072 and 524,288 entries, to 64 MB for half a million: a soak
// found the steps in RSS.)
TEST(DedupeIndex, GrowsByDoublingAndStaysDenseEnough) {
    DedupeIndex index;
    std::size_t last_capacity = index.capacity();
    for (int64_t id = 1; id <= 600000; ++id) {
        index.add(DedupeIndex::fingerprint(std::to_string(id)), id, id);
        const std::size_t cap = index.capacity();
        if (cap != last_capacity) {
            EXPECT_EQ(cap, last_capacity * 2) << "at " << id << " entries";
            last_capacity = cap;
        }
        if (id % 50000 == 0) {
            EXPECT_LE(static_cast<std::size_t>(id) * 4, cap * 3) << id;
            EXPECT_LE(cap * 16 / static_cast<std::size_t>(id), 43u) << id;
        }
    }
    std::vector<int64_t> found;
    index.candidates(DedupeIndex::fingerprint("123456"), found);
    EXPECT_NE(std::find(found.begin(), found.end(), 123456), found.end());
}

TEST(DedupeIndex, ForgetsWhatIsOlderThanTheWindow) {
    DedupeOptions options;
    options.window = 100;
    DedupeIndex index(options);
    for (int64_t id = 1; id <= 5000; ++id) index.add(id * 11, id, /*received_at=*/id);
    index.expire(/*now=*/5000 + 100 - 2000);  // cutoff 3000: roughly ids below 3000 go
    EXPECT_TRUE(candidates(index, 1 * 11).empty());
    EXPECT_TRUE(candidates(index, 2000 * 11).empty());
    EXPECT_EQ(candidates(index, 4000 * 11), std::vector<int64_t>{4000});
    EXPECT_EQ(candidates(index, 5000 * 11), std::vector<int64_t>{5000});
    // Never forgets what is inside the window; may keep up to one mark interval more.
    EXPECT_GE(index.first_id(), 2000);
    EXPECT_LE(index.first_id(), 3000);
}

// Expiry goes to the newest (id, time) mark older than the cutoff; marks are 1024 ids apart.
// A mark exactly at the cutoff is not older: stepping past the mark before it onto that one
// would leave none older than the cutoff, and what came before (id 1, far outside the
// window) would be kept until the next mark, 1024 deliveries later. The delivery at the
// cutoff itself is inside the window.
TEST(DedupeIndex, AMarkExactlyAtTheCutoffDoesNotHoldBackWhatCameBefore) {
    DedupeOptions options;
    options.window = 100;
    DedupeIndex index(options);
    for (int64_t id = 1; id <= 1025; ++id) index.add(id * 11, id, /*received_at=*/id);
    index.expire(/*now=*/1125);  // cutoff 1025: marks at ids 1 (time 1) and 1025 (time 1025)
    EXPECT_EQ(index.first_id(), 2);
    EXPECT_TRUE(candidates(index, 1 * 11).empty());
    EXPECT_EQ(candidates(index, 2 * 11), std::vector<int64_t>{2});
    EXPECT_EQ(candidates(index, 1025 * 11), std::vector<int64_t>{1025});
}

TEST(DedupeIndex, KeepsAtMostMaxEntries) {
    DedupeOptions options;
    options.max_entries = 1000;
    DedupeIndex index(options);
    for (int64_t id = 1; id <= 10000; ++id) index.add(id, id, 0);
    EXPECT_TRUE(candidates(index, 9000).empty());
    EXPECT_EQ(candidates(index, 9001), std::vector<int64_t>{9001});
    EXPECT_EQ(index.first_id(), 9001);
    EXPECT_LE(index.size(), 1000u);
}

// Once the entry cap had been reached (a burst, a backfill), the (id, time) marks expiry by
// time goes by were no longer taken: they were spaced by the count of entries, which stayed
// pinned at the cap. The index, and delivery_fingerprints (pruned below its first id), then
// stayed at the cap until a restart, however slow the traffic and short the window.
TEST(DedupeIndex, StillForgetsByTimeAfterReachingTheCap) {
    DedupeOptions options;
    options.window = 1000;
    options.max_entries = 2000;  // like the default 2,000,000, not a multiple of the mark spacing
    DedupeIndex index(options);
    int64_t id = 1;
    for (; id <= 10000; ++id) {  // ten per time unit: the window alone would keep 10,000
        index.add(id * 11, id, id / 10);
        index.expire(id / 10);
    }
    ASSERT_EQ(index.first_id(), 8001);  // the cap
    // Then one every ten units: the window holds the last 100.
    Micros now = 1000;
    for (int i = 0; i < 5000; ++i, ++id) {
        now += 10;
        index.add(id * 11, id, now);
        index.expire(now);
    }
    const int64_t last = id - 1;
    for (int64_t kept = last - 99; kept <= last; ++kept)
        EXPECT_EQ(candidates(index, kept * 11), std::vector<int64_t>{kept});
    // What is older goes, give or take one mark interval (1024 deliveries).
    EXPECT_GE(index.first_id(), last - 100 - 1024);
    EXPECT_LT(index.size(), 100u + 1024u);
}

}  // namespace
