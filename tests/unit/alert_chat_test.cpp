// chat_text / chat_message_json: what a chat channel shows for each alert event, built from
// the payload the outbox stores (the same bytes every retry).
#include "alert_chat.h"

#include <gtest/gtest.h>

#include <string>

namespace churnwatch {
namespace {

const std::string kChurned =
    R"({"type":"customer.churned","timestamp":"2026-03-05T10:00:01.500000Z",)"
    R"("data":{"episode_id":7,"customer_id":1,"email":"a@example.com","reason":"cancelled",)"
    R"("category":"voluntary","churned_at":"2026-03-05T10:00:00Z","reactivated_at":null,)"
    R"("subscription_id":12,"charge_id":null,"delivery_id":42}})";

TEST(AlertChat, EachEventIsOneReadableLine) {
    EXPECT_EQ(chat_text(kChurned),
              "churnwatch: a@example.com (customer 1) churned at 2026-03-05 10:00 UTC: cancelled "
              "(voluntary), subscription 12");
    EXPECT_EQ(chat_text(R"({"type":"customer.reactivated","data":{"customer_id":2,"email":null,)"
                        R"("reason":"max_retries","category":"involuntary",)"
                        R"("churned_at":"2026-03-05T10:00:00.250000Z","reactivated_at":"2026-04-01T08:30:00Z",)"
                        R"("subscription_id":null,"charge_id":99}})"),
              "churnwatch: customer 2 is back: reactivated at 2026-04-01 08:30 UTC after churning at "
              "2026-03-05 10:00 UTC (max_retries)");
    EXPECT_EQ(chat_text(R"({"type":"customer.churn_retracted","data":{"customer_id":3,"email":"c@example.com",)"
                        R"("reason":"expired","category":"natural","churned_at":"2026-03-05T10:00:00Z",)"
                        R"("subscription_id":5,"charge_id":6}})"),
              "churnwatch: withdrawn: c@example.com (customer 3) did not churn at 2026-03-05 10:00 UTC "
              "(expired); a later delivery showed otherwise");
    EXPECT_EQ(chat_text(R"({"type":"customer.churned","data":{"customer_id":4,"reason":"max_retries",)"
                        R"("category":"involuntary","churned_at":"2026-03-05T10:00:00Z","charge_id":8}})"),
              "churnwatch: customer 4 churned at 2026-03-05 10:00 UTC: max_retries (involuntary), charge 8");
    EXPECT_EQ(chat_text(R"({"type":"customer.churn_updated","data":{"customer_id":5,"email":"e@example.com",)"
                        R"("reason":"max_retries","category":"involuntary","churned_at":"2026-03-05T10:00:00Z",)"
                        R"("subscription_id":12,"charge_id":null}})"),
              "churnwatch: correction: e@example.com (customer 5) churned at 2026-03-05 10:00 UTC: "
              "max_retries (involuntary), subscription 12, not back; a later delivery changed what was announced");
    // The return announced before, undone or moved: the line says where the customer stands.
    EXPECT_EQ(chat_text(R"({"type":"customer.churn_updated","data":{"customer_id":5,"reason":"cancelled",)"
                        R"("category":"voluntary","churned_at":"2026-03-05T10:00:00Z",)"
                        R"("reactivated_at":"2026-04-01T08:30:00Z"}})"),
              "churnwatch: correction: customer 5 churned at 2026-03-05 10:00 UTC: cancelled (voluntary), "
              "back since 2026-04-01 08:30 UTC; a later delivery changed what was announced");
}

TEST(AlertChat, TheMessageIsJsonTextWithSlackMarkupEscaped) {
    std::string payload = kChurned;
    payload.replace(payload.find("a@example.com"), 13, R"(<b>&\"x\"@example.com)");
    EXPECT_EQ(chat_message_json(payload),
              R"({"text":"churnwatch: &lt;b&gt;&amp;\"x\"@example.com (customer 1) churned at )"
              R"(2026-03-05 10:00 UTC: cancelled (voluntary), subscription 12"})");
}

TEST(AlertChat, AnEmailWithLineBreaksStaysOnTheLine) {
    // JSON escapes in the stored email: newline, carriage return, tab, U+0001, DEL, U+2028, U+2029.
    std::string payload = kChurned;
    payload.replace(payload.find("a@example.com"), 13,
                    R"(a\nchurnwatch: ceo@example.com\r\t\u0001\u007f\u2028x\u2029@example.com)");
    EXPECT_EQ(chat_text(payload),
              "churnwatch: a churnwatch: ceo@example.com" + std::string(5, ' ') +
                  "x @example.com (customer 1) churned at 2026-03-05 10:00 UTC: cancelled "
                  "(voluntary), subscription 12");
    // Other non-ASCII text is kept as it is.
    payload = kChurned;
    payload.replace(payload.find("a@example.com"), 13, "zo\xC3\xAB@\xE2\x80\xA6.example");
    EXPECT_EQ(chat_text(payload), "churnwatch: zo\xC3\xAB@\xE2\x80\xA6.example (customer 1) churned at "
                                  "2026-03-05 10:00 UTC: cancelled (voluntary), subscription 12");
}

TEST(AlertChat, WhatIsNotAnAlertEventGivesNothing) {
    EXPECT_FALSE(chat_text("not json"));
    EXPECT_FALSE(chat_text(R"({"type":"customer.churned"})"));
    EXPECT_FALSE(chat_text(R"({"type":"customer.unknown","data":{"customer_id":1}})"));
    EXPECT_FALSE(chat_message_json(R"({"data":{"customer_id":1}})"));
}

}  // namespace
}  // namespace churnwatch
