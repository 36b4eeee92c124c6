// Alerts for chat: the one line of text a chat incoming webhook (Slack, Mattermost, Google
// Chat, Microsoft Teams, Discord's Slack-compatible endpoint) shows for an alert event.
// Pure: built from the stored event payload (alert_outbox.h's alert_payload_json), so every
// retry sends the same bytes.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace churnwatch {

// The sentence for one event payload, e.g. "churnwatch: a@example.com (customer 1) churned
// at 2026-03-05 10:00 UTC: cancelled (voluntary), subscription 12". Nothing when the payload
// is not an alert event (it always is: the outbox wrote it).
std::optional<std::string> chat_text(std::string_view payload);

// {"text":"…"} for that sentence, with the characters Slack reserves (& < >) escaped as its
// documentation asks; the body a chat target is sent.
std::optional<std::string> chat_message_json(std::string_view payload);

}  // namespace churnwatch
