// Which deliveries are stored already: fingerprints of recent deliveries in memory.
//
// A fingerprint is the first 8 bytes of SHA-256(dedupe_key). The index maps it to the ids of
// the stored deliveries that have it; a match is only a candidate — the writer confirms it
// against the stored row's dedupe_key, so a fingerprint collision can never turn a new
// delivery into a "duplicate". What it forgets (older than the window, or beyond the entry
// cap) is stored again if it ever comes back: Recharge retries within 48 hours, and the
// churn state is keyed by object and update time, so a late repeat changes nothing there.
//
// An open-addressing table of 16-byte slots; ids increase with time, so expiry is a moving
// lower bound on ids and expired slots are dropped when the table is rebuilt. Not
// thread-safe (the writer thread owns it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string_view>
#include <utility>
#include <vector>

#include "time_util.h"

namespace churnwatch {

struct DedupeOptions {
    Micros window = 7LL * 24 * 3600 * kMicrosPerSecond;  // how long a delivery is remembered
    std::size_t max_entries = 2'000'000;  // and how many at most (16-byte slots, 37–75% full)
};

class DedupeIndex {
public:
    explicit DedupeIndex(DedupeOptions options = {});

    static int64_t fingerprint(std::string_view dedupe_key);

    // Appends the ids of remembered deliveries with this fingerprint to out.
    void candidates(int64_t fp, std::vector<int64_t>& out) const;
    // Remembers a stored delivery; ids must increase from call to call.
    void add(int64_t fp, int64_t id, Micros received_at);
    // Forgets one entry (its transaction rolled back).
    void remove(int64_t fp, int64_t id);
    // Forgets what is older than the window at `now`, or beyond the entry cap.
    void expire(Micros now);

    std::size_t size() const { return live_; }
    // Slots in the table (16 bytes each): its memory.
    std::size_t capacity() const { return slots_.size(); }
    // The lowest id still remembered (everything below is forgotten).
    int64_t first_id() const { return first_id_; }

private:
    struct Slot {
        int64_t fp = 0;
        int64_t id = 0;  // 0: empty
    };
    std::size_t home(int64_t fp) const { return static_cast<std::size_t>(fp) & (slots_.size() - 1); }
    void insert_slot(int64_t fp, int64_t id);
    void rebuild(std::size_t capacity);

    DedupeOptions options_;
    std::vector<Slot> slots_;
    std::size_t used_ = 0;  // occupied slots, expired ones included
    std::size_t live_ = 0;  // entries with id >= first_id_ (approximately: ids are dense)
    int64_t first_id_ = 0;
    int64_t last_id_ = 0;
    std::deque<std::pair<int64_t, Micros>> marks_;  // (id, received_at) every kMarkEvery adds
};

}  // namespace churnwatch
