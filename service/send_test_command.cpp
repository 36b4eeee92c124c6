// `churnwatch send-test`: sends one correctly signed webhook delivery to a churnwatch (or any
// Recharge webhook receiver), like Stripe's `trigger`: a built-in example payload for the
// topic, or --file. Prints the response status and body; exit 0 on 2xx, 1 otherwise, 2 on
// bad usage.
//
// URL rules: a URL whose path ends with /webhooks/recharge gets /<topic> appended; a URL
// without a path gets /webhooks/recharge/<topic>; any other URL (one that already names a
// topic path, or a proxy's own path) is used as given. X-Recharge-Topic is always sent.
// Without --url, the address comes from --listen (the same config file as `serve`).
//
// The request goes out through the shared client (http_client.h): http:// or https://, the
// peer verified against the system trust store, a 10 s deadline.
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "commands.h"
#include "crypto.h"
#include "example_payloads.h"
#include "http_client.h"
#include "settings.h"
#include "topic.h"

namespace churnwatch {

namespace {

constexpr std::string_view kWebhookPath = "/webhooks/recharge";

// The topic a path names after /webhooks/recharge/, if any.
std::optional<std::string> topic_in_path(const std::string& path) {
    std::string p = path.substr(0, path.find('?'));
    auto at = p.rfind(std::string(kWebhookPath) + "/");
    if (at == std::string::npos) return std::nullopt;
    std::string rest = p.substr(at + kWebhookPath.size() + 1);
    while (!rest.empty() && rest.back() == '/') rest.pop_back();
    if (!parse_topic(rest)) return std::nullopt;
    return rest;
}

// Applies the URL rules (see the top of the file).
std::string target_path(const std::string& path, const std::string& topic) {
    if (path.empty() || path == "/") return std::string(kWebhookPath) + "/" + topic;
    auto q = path.find('?');
    std::string p = path.substr(0, q), query = q == std::string::npos ? "" : path.substr(q);
    while (p.size() > 1 && p.back() == '/') p.pop_back();
    if (p.size() >= kWebhookPath.size() &&
        p.compare(p.size() - kWebhookPath.size(), kWebhookPath.size(), kWebhookPath) == 0) {
        return p + "/" + topic + query;
    }
    return path;
}

void list_examples(std::FILE* out) {
    std::fprintf(out, "built-in example payloads (--topic NAME):\n");
    for (const auto& p : example_payloads())
        std::fprintf(out, "  %-28.*s %.*s\n", static_cast<int>(p.name.size()), p.name.data(),
                     static_cast<int>(p.description.size()), p.description.data());
}

std::string default_url(const Config& config) {
    std::string listen = config.get_or("listen");
    auto colon = listen.rfind(':');
    std::string host = colon == std::string::npos ? listen : listen.substr(0, colon);
    std::string port = colon == std::string::npos ? "" : listen.substr(colon);
    if (host.empty() || host == "0.0.0.0") host = "127.0.0.1";
    if (host == "::" || host == "[::]") host = "[::1]";
    std::string scheme = config.get_or("tls-cert").empty() ? "http" : "https";
    return scheme + "://" + host + port + std::string(kWebhookPath);
}

}  // namespace

int send_test_command(const Config& config) {
    auto usage = [](const std::string& msg) {
        std::fprintf(stderr, "churnwatch send-test: %s\n", msg.c_str());
        std::fprintf(stderr,
                     "usage: churnwatch send-test [--url URL] --secret SECRET --topic TOPIC "
                     "[--file PAYLOAD.json] [--scheme legacy|timestamped]\n");
        return 2;
    };
    std::string error;
    std::string url_text = config.get("url").value_or(default_url(config));
    auto url = parse_http_url(url_text, error);
    if (!url) return usage(error);

    std::string name = config.get_or("topic");
    if (name.empty()) {
        if (auto t = topic_in_path(url->target)) name = *t;
    }
    if (name.empty()) {
        usage("--topic is required (or a URL that names one)");
        list_examples(stderr);
        return 2;
    }
    auto parsed_topic = parse_topic(name);
    if (!parsed_topic) return usage("--topic must look like resource/action (got '" + name + "')");
    std::string topic = parsed_topic->full();

    std::string body;
    if (auto file = config.get("file")) {
        std::FILE* f = std::fopen(file->c_str(), "rb");
        if (!f) return usage("cannot read " + *file + ": " + std::strerror(errno));
        char buf[65536];
        for (std::size_t n; (n = std::fread(buf, 1, sizeof buf, f)) > 0;) body.append(buf, n);
        std::fclose(f);
    } else if (const ExamplePayload* ex = find_example_payload(topic)) {
        body = std::string(ex->body);
        topic = std::string(ex->topic);
    } else {
        usage("no built-in example for " + topic + "; pass --file PAYLOAD.json");
        list_examples(stderr);
        return 2;
    }

    std::vector<std::string> secrets = config.get_all("secret");
    if (secrets.empty() || secrets.front().empty())
        return usage("a secret is required (--secret, CHURNWATCH_SECRETS or the config file)");
    const std::string& secret = secrets.front();
    std::string scheme;
    if (!read_send_test_scheme(config, scheme, error)) return usage(error);
    HttpHeaderList headers{{"Content-Type", "application/json"}, {"X-Recharge-Topic", topic}};
    // The legacy hash is always sent (as Recharge does); the timestamped scheme adds its own.
    headers.emplace_back("X-Recharge-Hmac-Sha256", crypto::to_hex(crypto::sha256(secret, body)));
    if (scheme == "timestamped") {
        std::string t = std::to_string(static_cast<long long>(std::time(nullptr)));
        std::string v1 = crypto::to_hex(crypto::hmac_sha256(secret, t + "." + body));
        headers.emplace_back("X-Recharge-Webhook-Timestamp", t);
        headers.emplace_back("X-Recharge-Webhook-Signature", "t=" + t + ",v1=" + v1);
    }

    url->target = target_path(url->target, topic);
    std::string target_url = url->scheme + "://" + url->host_header() + url->target;
    std::fprintf(stderr, "send-test: POST %s (topic %s, %s signature, %zu bytes)\n",
                 redact_url(target_url).c_str(), topic.c_str(), scheme.c_str(), body.size());
    HttpClientResponse response = http_post(target_url, headers, body, std::chrono::seconds(10));
    if (!response.ok) {
        std::fprintf(stderr, "churnwatch send-test: %s\n", response.error.c_str());
        return 1;
    }
    std::printf("HTTP %d\n%s", response.status, response.body.c_str());
    if (response.body.empty() || response.body.back() != '\n') std::printf("\n");
    return response.status >= 200 && response.status < 300 ? 0 : 1;
}

}  // namespace churnwatch
