#include "route.h"

#include <strings.h>

namespace churnwatch {

namespace {

constexpr std::string_view kWebhookPrefix = "/webhooks/recharge";

// The absolute-form of a request-target ("http://host:port/webhooks/…"), which a server MUST
// accept (RFC 9112 3.2.2), and which a proxy in front may pass on: its path and query, as
// the origin-form gives them. Any other target as it is.
std::string_view origin_form(std::string_view target) {
    for (std::string_view scheme : {std::string_view("http://"), std::string_view("https://")}) {
        if (target.size() < scheme.size() ||
            ::strncasecmp(target.data(), scheme.data(), scheme.size()) != 0)
            continue;
        std::string_view rest = target.substr(scheme.size());
        const auto path = rest.find_first_of("/?");
        return path == std::string_view::npos ? std::string_view("/") : rest.substr(path);
    }
    return target;
}

}  // namespace

Route route(std::string_view target) {
    target = origin_form(target);
    std::string_view path = target.substr(0, target.find('?'));
    // A webhook registered as ".../subscription/cancelled/" must not get 404 forever (Recharge
    // deletes a webhook after 20 failed retries): one trailing slash is ignored.
    if (path.size() > 1 && path.back() == '/') path.remove_suffix(1);
    if (path == "/healthz") return {Route::Health, {}};
    if (path == "/readyz") return {Route::Ready, {}};
    if (path == "/metrics") return {Route::MetricsPage, {}};
    if (path.substr(0, kWebhookPrefix.size()) != kWebhookPrefix) return {};
    std::string_view rest = path.substr(kWebhookPrefix.size());
    if (rest.empty() || rest == "/") return {Route::Webhook, {}};
    if (rest.front() != '/') return {};
    auto topic = parse_topic(rest.substr(1));
    if (!topic) return {};
    return {Route::Webhook, std::move(topic)};
}

}  // namespace churnwatch
