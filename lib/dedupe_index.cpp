#include "dedupe_index.h"

#include <algorithm>
#include <cstring>

#include "crypto.h"

namespace churnwatch {

namespace {

constexpr std::size_t kMarkEvery = 1024;  // adds between two (id, time) marks
constexpr std::size_t kMinSlots = 1024;

std::size_t next_pow2(std::size_t n) {
    std::size_t p = kMinSlots;
    while (p < n) p <<= 1;
    return p;
}

}  // namespace

DedupeIndex::DedupeIndex(DedupeOptions options) : options_(options), slots_(kMinSlots) {}

int64_t DedupeIndex::fingerprint(std::string_view dedupe_key) {
    auto digest = crypto::sha256(dedupe_key);
    int64_t fp = 0;
    std::memcpy(&fp, digest.data(), sizeof fp);
    return fp;
}

void DedupeIndex::candidates(int64_t fp, std::vector<int64_t>& out) const {
    std::size_t mask = slots_.size() - 1;
    for (std::size_t i = home(fp);; i = (i + 1) & mask) {
        const Slot& s = slots_[i];
        if (s.id == 0) return;
        if (s.fp == fp && s.id >= first_id_) out.push_back(s.id);
    }
}

void DedupeIndex::insert_slot(int64_t fp, int64_t id) {
    std::size_t mask = slots_.size() - 1;
    std::size_t i = home(fp);
    while (slots_[i].id != 0) i = (i + 1) & mask;
    slots_[i] = Slot{fp, id};
    ++used_;
}

void DedupeIndex::rebuild(std::size_t capacity) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(next_pow2(capacity), Slot{});
    used_ = 0;
    for (const Slot& s : old)
        if (s.id != 0 && s.id >= first_id_) insert_slot(s.fp, s.id);
    live_ = used_;
}

void DedupeIndex::add(int64_t fp, int64_t id, Micros received_at) {
    // At most three quarters full (random fingerprints: probes stay short); then twice the
    // remembered entries' room, which doubles the table (it quadrupled: 4 × (live + 1) just
    // passed a power of two, and a full window took 128 MB). Growing also drops the expired.
    if ((used_ + 1) * 4 > slots_.size() * 3) rebuild((live_ + 1) * 2);
    insert_slot(fp, id);
    ++live_;
    last_id_ = id;
    // Spaced by id, not by the count of entries: that count stays pinned at the cap once it is
    // reached, and no mark was taken after that (expiry by time stopped for good).
    if (marks_.empty() || id - marks_.back().first >= static_cast<int64_t>(kMarkEvery))
        marks_.emplace_back(id, received_at);
    if (last_id_ - first_id_ >= static_cast<int64_t>(options_.max_entries)) {
        first_id_ = last_id_ - static_cast<int64_t>(options_.max_entries) + 1;
        live_ = std::min(live_, options_.max_entries);
    }
}

void DedupeIndex::remove(int64_t fp, int64_t id) {
    std::size_t mask = slots_.size() - 1;
    std::size_t i = home(fp);
    for (;; i = (i + 1) & mask) {
        if (slots_[i].id == 0) return;  // not there
        if (slots_[i].fp == fp && slots_[i].id == id) break;
    }
    // Backward-shift deletion keeps every probe sequence unbroken without tombstones.
    slots_[i] = Slot{};
    --used_;
    if (live_) --live_;
    for (std::size_t j = (i + 1) & mask; slots_[j].id != 0; j = (j + 1) & mask) {
        std::size_t k = home(slots_[j].fp);
        bool stays = (i <= j) ? (i < k && k <= j) : (i < k || k <= j);
        if (stays) continue;
        slots_[i] = slots_[j];
        slots_[j] = Slot{};
        i = j;
    }
}

void DedupeIndex::expire(Micros now) {
    Micros cutoff = now - options_.window;
    // The newest mark older than the cutoff: everything up to its id arrived before it.
    while (marks_.size() >= 2 && marks_[1].second < cutoff) marks_.pop_front();
    if (!marks_.empty() && marks_.front().second < cutoff)
        first_id_ = std::max(first_id_, marks_.front().first + 1);
    int64_t remembered = std::max<int64_t>(0, last_id_ - first_id_ + 1);
    if (static_cast<std::size_t>(remembered) < live_) live_ = static_cast<std::size_t>(remembered);
    // Mostly expired slots: rebuild smaller rather than keep probing through them.
    if (used_ > kMinSlots && live_ * 4 < used_) rebuild(live_ * 4);
}

}  // namespace churnwatch
