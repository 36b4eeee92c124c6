#include "projector.h"

#include <algorithm>
#include <exception>
#include <string>

#include "delivery_decode.h"
#include "time_util.h"
#include "writer.h"

namespace churnwatch {

namespace {
constexpr std::size_t kTableChunk = 64;  // decoding one chunk delays a waiting delivery
}  // namespace

struct Projector::Statements {
    explicit Statements(sql::Database& db)
        : watermark(db, "SELECT value FROM service_state WHERE key = 'projected_through'"),
          advance(db,
                  "INSERT INTO service_state (key, value) VALUES ('projected_through', ?)"
                  " ON CONFLICT (key) DO UPDATE SET value = excluded.value"),
          backlog(db,
                  "SELECT id, topic, dedupe_key, body, received_at FROM deliveries"
                  " WHERE id > ? AND status = 'accepted' ORDER BY id LIMIT ?"),
          quarantine(db, quarantine_delivery_sql()),
          apply_rules(db, "apply_rules") {}
    sql::Statement watermark;
    sql::Statement advance;
    sql::Statement backlog;
    sql::Statement quarantine;
    sql::PreparedSavepoint apply_rules;  // one per delivery
};

Projector::Projector(sql::Database& db, DeliveryApplier& applier, ProjectorOptions options)
    : db_(db), applier_(applier), options_(options), st_(std::make_unique<Statements>(db)) {
    st_->watermark.reset();
    if (st_->watermark.step()) watermark_ = std::stoll(st_->watermark.column_text(0));
    st_->watermark.reset();
}

Projector::~Projector() = default;

void Projector::stored(int64_t id, Delivery&& d) {
    if (from_table_) return;  // read back in order once the table's backlog is reached
    if (queue_.size() >= options_.memory_items) {
        // Too far behind to hold them all: drop the copies and read from the table.
        queue_.clear();
        from_table_ = true;
        return;
    }
    d.body = std::string();  // stored already; only the decoded form is needed
    queue_.push_back(Item{id, std::move(d)});
}

void Projector::take_from_table(int64_t after, std::size_t max, std::deque<Item>& out) {
    auto& q = st_->backlog;
    q.reset();
    q.bind(1, after).bind(2, static_cast<int64_t>(max));
    std::size_t rows = 0;
    while (q.step()) {
        ++rows;
        Item item{q.column_int(0), Delivery{}};
        Delivery& d = item.delivery;
        if (auto t = q.column_opt_text(1)) d.topic = parse_topic(*t);
        d.dedupe_key = q.column_text(2);
        d.body = q.column_blob(3);
        d.received_at = parse_time(q.column_view(4)).value_or(0);
        std::string why;
        if (!decode_stored_delivery(d, options_.json, why)) {
            // Accepted once, undecodable now (a newer binary's stricter rules): quarantined
            // in its turn (run), as at ingest. A lower depth limit alone does not do it
            // (decode_stored_delivery).
            item.undecodable = "could not decode: " + why;
        }
        d.body = std::string();
        out.push_back(std::move(item));
    }
    q.reset();
    if (rows < max) from_table_ = false;  // the table holds nothing further: back to memory
}

bool Projector::apply_one(const Item& item) {
    // Behind a savepoint: a rule failure quarantines this delivery with the reason and
    // rolls back only its own derived writes. A failure of the machine (disk full, no file
    // descriptor for a temporary file, a lock) is not the delivery's: it fails the whole
    // transaction, which is retried (projection_failed) — SQLite may already have rolled the
    // transaction back, savepoint and all, so only the original error says what happened.
    sql::Savepoint sp(st_->apply_rules);
    try {
        applier_.apply(db_, item.id, item.delivery);
        sp.release();
        return true;
    } catch (const std::exception& e) {
        if (sql::is_environmental(e)) throw;
        sp.rollback();
        quarantine(item.id, std::string("rules failed: ") + e.what());
        return false;
    }
}

void Projector::quarantine(int64_t id, const std::string& reason) {
    auto& q = st_->quarantine;
    q.reset();
    q.bind(1, reason).bind(2, id).run();
}

ProjectionResult Projector::run(std::size_t max, const std::function<bool()>& yield) {
    ProjectionResult result;
    try {
        sql::Transaction txn(db_);
        // Read inside the transaction: `churnwatch rebuild` (another process) may have
        // projected everything meanwhile.
        int64_t mark = watermark_;
        st_->watermark.reset();
        if (st_->watermark.step()) mark = std::stoll(st_->watermark.column_text(0));
        st_->watermark.reset();
        result.watermark = mark;

        if (from_table_) {
            std::deque<Item> work;
            // Read back in modest chunks: a yield leaves the rest decoded for nothing.
            take_from_table(mark, std::min<std::size_t>(max, kTableChunk), work);
            for (const Item& item : work) {
                ++result.applied;
                // In id order, like the others: the watermark then covers it, and a yield
                // before it leaves it for the next transaction.
                if (!item.undecodable.empty()) {
                    ++result.quarantined;
                    quarantine(item.id, item.undecodable);
                } else if (!apply_one(item)) {
                    ++result.quarantined;
                }
                result.watermark = item.id;
                if (yield && yield()) {
                    from_table_ = true;  // the rest of what was read is still in the table
                    break;
                }
            }
        } else {
            while (result.applied < max && !queue_.empty()) {
                Item item = std::move(queue_.front());
                queue_.pop_front();
                if (item.id <= mark) continue;  // projected by someone else (rebuild)
                ++result.applied;
                if (!apply_one(item)) ++result.quarantined;
                result.watermark = item.id;
                if (yield && yield()) break;
            }
        }
        if (result.watermark != mark) {
            st_->advance.reset();
            st_->advance.bind(1, std::to_string(result.watermark)).run();
        }
        txn.commit();
    } catch (...) {
        // Whatever was taken from memory is still in the table: read it back from there.
        queue_.clear();
        from_table_ = true;
        applier_.finished(false);
        throw;
    }
    applier_.finished(true);
    watermark_ = result.watermark;
    return result;
}

}  // namespace churnwatch
