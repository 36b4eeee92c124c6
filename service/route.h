// Where a request goes, from its target alone (the method is the handler's to check): the
// probes, the metrics page, and the webhook routes /webhooks/recharge[/<resource>/<action>].
// Socket-free; the fuzz target of the request path routes with it too.
#pragma once

#include <optional>
#include <string_view>

#include "topic.h"

namespace churnwatch {

struct Route {
    enum Kind { NotFound, Health, Ready, MetricsPage, Webhook } kind = NotFound;
    std::optional<Topic> topic;  // for Webhook routes that name one
};

// Accepts the origin-form ("/webhooks/…?…") and the absolute-form ("http://host/webhooks/…",
// RFC 9112 3.2.2: a proxy in front may pass it on); the query is ignored, and so is one
// trailing slash.
Route route(std::string_view target);

}  // namespace churnwatch
