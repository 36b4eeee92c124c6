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

std::optional<StandardWebhookSigner> StandardWebhookSigner::from_secret(std::string_view secret) {
    if (secret.starts_with(kSecretPrefix)) secret.remove_prefix(kSecretPrefix.size());
    auto key = crypto::base64_decode(secret);
    if (!key || key->empty()) return std::nullopt;
    return StandardWebhookSigner(crypto::HmacKey(*key));
}

std::string StandardWebhookSigner::sign(std::string_view msg_id, int64_t timestamp,
                                        std::string_view body) const {
    std::string prefix;
    prefix.reserve(msg_id.size() + 22);
    prefix.append(msg_id).append(".").append(std::to_string(timestamp)).append(".");
    crypto::Digest mac = key_.mac(prefix, body);
    std::string_view raw(reinterpret_cast<const char*>(mac.data()), mac.size());
    return std::string(kVersionPrefix) + crypto::base64_encode(raw);
}

bool StandardWebhookSigner::verify(std::string_view msg_id, int64_t timestamp,
                                   std::string_view body, std::string_view signature_header,
                                   int64_t now, int64_t tolerance_s) const {
    // The age check is cheap and rejects replays before any MAC work.
    if (tolerance_s < 0 || abs_diff(now, timestamp) > static_cast<uint64_t>(tolerance_s)) {
        return false;
    }
    const std::string expected = sign(msg_id, timestamp, body);
    // Every entry is compared (no early exit), so timing does not reveal which one matched.
    bool match = false;
    std::size_t pos = 0;
    while (pos < signature_header.size()) {
        std::size_t space = signature_header.find(' ', pos);
        if (space == std::string_view::npos) space = signature_header.size();
        std::string_view entry = signature_header.substr(pos, space - pos);
        pos = space + 1;
        if (entry.empty()) continue;  // repeated spaces
        match |= crypto::equal_ct(entry, expected);
    }
    return match;
}

}  // namespace churnwatch
