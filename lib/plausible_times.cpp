#include "plausible_times.h"

#include <string_view>

namespace churnwatch {
namespace {

class Checker {
public:
    explicit Checker(Micros received_at) : received_at_(received_at) {}

    void check(std::string_view object, std::string_view field, const std::optional<Micros>& t,
               std::string_view raw = {}) {
        if (reason_ || !t) return;
        const bool too_early = *t < kEarliestBusinessTime;
        const bool too_late = received_at_ > 0 && *t > received_at_ + kBusinessTimeLead;
        if (!too_early && !too_late) return;
        std::string r(object);
        r += '.';
        r += field;
        r += ' ';
        r += raw.empty() ? format_time(*t) : std::string(raw);
        if (too_early) {
            r += " is before 2000-01-01";
        } else {
            r += " is more than a day after the delivery was received (" +
                 format_time(received_at_) + ")";
        }
        reason_ = std::move(r);
    }

    std::optional<std::string> take() { return std::move(reason_); }

private:
    Micros received_at_;
    std::optional<std::string> reason_;
};

}  // namespace

std::optional<std::string> implausible_time_of(const DecodedPayload& p, std::string_view resource,
                                               Micros received_at) {
    Checker c(received_at);
    if (const auto& s = p.subscription; s && resource == "subscription") {
        c.check("subscription", "updated_at", s->updated_at, s->updated_at_raw);
        c.check("subscription", "created_at", s->created_at);
        c.check("subscription", "cancelled_at", s->cancelled_at);
    }
    if (const auto& ch = p.charge; ch && resource == "charge") {
        c.check("charge", "updated_at", ch->updated_at, ch->updated_at_raw);
        c.check("charge", "created_at", ch->created_at);
        c.check("charge", "processed_at", ch->processed_at);
    }
    if (const auto& cu = p.customer; cu && resource == "customer") {
        c.check("customer", "updated_at", cu->updated_at, cu->updated_at_raw);
        c.check("customer", "created_at", cu->created_at);
    }
    return c.take();
}

std::optional<std::string> implausible_time(const DecodedPayload& p, Micros received_at) {
    for (std::string_view resource : {"subscription", "charge", "customer"}) {
        if (auto why = implausible_time_of(p, resource, received_at)) return why;
    }
    return std::nullopt;
}

}  // namespace churnwatch
