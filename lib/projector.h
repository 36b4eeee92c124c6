// The projection: stored deliveries become churn state behind the acknowledgement.
//
// The writer answers a delivery once its raw row is durable (one FULL-synced commit per
// group). The projector then applies the churn rules to the stored accepted deliveries in id
// order, many per transaction, and advances a watermark — service_state('projected_through')
// — in the same transaction as the rows it covers. So the churn tables are always exactly
// "every accepted delivery up to the watermark": a projection lost in a crash is simply
// redone from the raw rows at the next start, and no delivery is applied twice.
//
// Decoded deliveries are kept in memory from ingest to projection (the body is not parsed
// twice); beyond `memory_items`, or after a restart, the projector reads the raw rows back
// and decodes them again.
//
// Runs on the writer's thread and connection; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <string>
#include <utility>

#include "delivery.h"
#include "json.h"
#include "sqlite.h"

namespace churnwatch {

class DeliveryApplier;

struct ProjectorOptions {
    std::size_t memory_items = 4096;  // decoded deliveries held for projection at most
    JsonLimits json;                  // for deliveries read back from the table
};

struct ProjectionResult {
    std::size_t applied = 0;      // deliveries whose rules ran (including ones quarantined)
    std::size_t quarantined = 0;  // of those, the rules failed or the body no longer decodes
    int64_t watermark = 0;        // after the transaction
    std::string error;            // why the transaction failed (WriterObserver, ok = false)
};

class Projector {
public:
    Projector(sql::Database& db, DeliveryApplier& applier, ProjectorOptions options);
    ~Projector();

    // A delivery whose row has just committed as accepted. Keeps its decoded form (without
    // the body) when there is room, otherwise it is read back from the table later.
    void stored(int64_t id, Delivery&& d);
    // True when stored deliveries may still await projection.
    bool pending() const { return from_table_ || !queue_.empty(); }
    // Deliveries known to await projection (a lower bound while reading from the table).
    std::size_t backlog() const { return queue_.size(); }
    int64_t watermark() const { return watermark_; }

    // Applies up to `max` pending deliveries in one transaction (begun and committed here,
    // at the connection's current synchronous level) and advances the watermark with them.
    // `yield` is asked after each delivery: true ends the transaction early (ingest waits).
    // A delivery whose rules fail is quarantined with the reason; the others go on. Throws
    // sql::Error when the transaction itself fails: nothing advanced, retried next time.
    ProjectionResult run(std::size_t max, const std::function<bool()>& yield = {});

private:
    struct Item {
        int64_t id;
        Delivery delivery;
        std::string undecodable;  // read back: why the body no longer decodes (quarantined)
    };
    struct Statements;
    void take_from_table(int64_t after, std::size_t max, std::deque<Item>& out);
    bool apply_one(const Item& item);
    void quarantine(int64_t id, const std::string& reason);

    sql::Database& db_;
    DeliveryApplier& applier_;
    ProjectorOptions options_;
    std::unique_ptr<Statements> st_;
    std::deque<Item> queue_;  // in id order, all ids > watermark_ (unless from_table_)
    bool from_table_ = true;  // some pending deliveries are only in the table
    int64_t watermark_ = 0;
};

}  // namespace churnwatch
