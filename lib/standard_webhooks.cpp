#include "standard_webhooks.h"

#include <utility>

namespace churnwatch {

namespace {

constexpr std::string_view kSecretPrefix = "whsec_";
constexpr std::string_view kVersionPrefix = "v1,";

// |a - b| without signed overflow (unsigned subtraction is exact for the true difference).
uint64_t abs_diff(int64_t a, int64_t b) {
    return a >= b ? static_cast<uint64_t>(a) - static_cast<uint64_t>(b)
                  : static_cast<uint64_t>(b) - static_cast<uint64_t>(a);
}

}  // namespace

std::vector<std::string_view> split_webhook_secrets(std::string_view secrets) {
    std::vector<std::string_view> out;
    std::size_t i = 0;
    auto separator = [](char c) { return c == ',' || c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
    while (i < secrets.size()) {
        while (i < secrets.size() && separator(secrets[i])) ++i;
        std::size_t end = i;
        while (end < secrets.size() && !separator(secrets[end])) ++end;
        if (end > i) out.push_back(secrets.substr(i, end - i));
        i = end;
    }
    return out;
}

std::optional<StandardWebhookSigner> StandardWebhookSigner::from_secret(std::string_view secrets) {
    const auto list = split_webhook_secrets(secrets);
    if (list.empty() || list.size() > kMaxSecrets) return std::nullopt;
    std::vector<crypto::HmacKey> keys;
    for (std::string_view secret : list) {
        if (secret.starts_with(kSecretPrefix)) secret.remove_prefix(kSecretPrefix.size());
        auto key = crypto::base64_decode(secret);
        if (!key || key->empty()) return std::nullopt;
        keys.emplace_back(*key);
    }
    return StandardWebhookSigner(std::move(keys));
}

std::string StandardWebhookSigner::sign_with(const crypto::HmacKey& key, std::string_view prefix,
                                             std::string_view body) const {
    crypto::Digest mac = key.mac(prefix, body);
    std::string_view raw(reinterpret_cast<const char*>(mac.data()), mac.size());
    return std::string(kVersionPrefix) + crypto::base64_encode(raw);
}

namespace {
std::string signed_prefix(std::string_view msg_id, int64_t timestamp) {
    std::string prefix;
    prefix.reserve(msg_id.size() + 22);
    prefix.append(msg_id).append(".").append(std::to_string(timestamp)).append(".");
    return prefix;
}
}  // namespace

std::string StandardWebhookSigner::sign(std::string_view msg_id, int64_t timestamp,
                                        std::string_view body) const {
    const std::string prefix = signed_prefix(msg_id, timestamp);
    std::string out;
    for (const auto& key : keys_) {
        if (!out.empty()) out += ' ';
        out += sign_with(key, prefix, body);
    }
    return out;
}

bool StandardWebhookSigner::verify(std::string_view msg_id, int64_t timestamp,
                                   std::string_view body, std::string_view signature_header,
                                   int64_t now, int64_t tolerance_s) const {
    // The age check is cheap and rejects replays before any MAC work.
    if (tolerance_s < 0 || abs_diff(now, timestamp) > static_cast<uint64_t>(tolerance_s)) {
        return false;
    }
    const std::string prefix = signed_prefix(msg_id, timestamp);
    std::vector<std::string> expected;
    for (const auto& key : keys_) expected.push_back(sign_with(key, prefix, body));
    // Every entry is compared with every expected signature (no early exit), so timing does
    // not reveal which one matched.
    bool match = false;
    std::size_t pos = 0;
    while (pos < signature_header.size()) {
        std::size_t space = signature_header.find(' ', pos);
        if (space == std::string_view::npos) space = signature_header.size();
        std::string_view entry = signature_header.substr(pos, space - pos);
        pos = space + 1;
        if (entry.empty()) continue;  // repeated spaces
        for (const auto& e : expected) match |= crypto::equal_ct(entry, e);
    }
    return match;
}

}  // namespace churnwatch
