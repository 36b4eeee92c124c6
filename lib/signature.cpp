#include "signature.h"

#include <charconv>
#include <utility>

namespace churnwatch {

namespace {

std::string_view trim(std::string_view s) {
    constexpr std::string_view kSpace = " \t";
    std::size_t b = s.find_first_not_of(kSpace);
    if (b == std::string_view::npos) return {};
    std::size_t e = s.find_last_not_of(kSpace);
    return s.substr(b, e - b + 1);
}

// Epoch seconds: decimal digits only (no sign, no spaces inside), within int64.
std::optional<int64_t> parse_epoch(std::string_view text) {
    if (text.empty()) return std::nullopt;
    int64_t v = 0;
    auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
    if (ec != std::errc() || end != text.data() + text.size() || text[0] == '-') {
        return std::nullopt;
    }
    return v;
}

// |a - b| without signed overflow (unsigned subtraction is exact for the true difference).
uint64_t abs_diff(int64_t a, int64_t b) {
    return a >= b ? static_cast<uint64_t>(a) - static_cast<uint64_t>(b)
                  : static_cast<uint64_t>(b) - static_cast<uint64_t>(a);
}

// A parsed X-Recharge-Webhook-Signature header (with the separate timestamp header folded in).
struct TimestampedHeader {
    std::string_view t_text;  // the timestamp exactly as signed
    int64_t t = 0;
    std::vector<crypto::Digest> v1;
};

// Either the parsed header or the reason it is malformed.
using ParseOutcome = std::pair<std::optional<TimestampedHeader>, std::string>;

ParseOutcome malformed(std::string reason) { return {std::nullopt, std::move(reason)}; }

ParseOutcome parse_timestamped(std::string_view header, std::optional<std::string_view> ts_header) {
    TimestampedHeader out;
    bool have_t = false;
    std::size_t pos = 0;
    while (pos <= header.size()) {
        std::size_t comma = header.find(',', pos);
        if (comma == std::string_view::npos) comma = header.size();
        std::string_view part = trim(header.substr(pos, comma - pos));
        pos = comma + 1;
        if (part.empty()) continue;  // tolerate ",," and a trailing comma
        std::size_t eq = part.find('=');
        if (eq == std::string_view::npos) return malformed("a part has no key=value form");
        std::string_view key = trim(part.substr(0, eq));
        std::string_view value = trim(part.substr(eq + 1));
        if (key == "t") {
            auto t = parse_epoch(value);
            if (!t) return malformed("t is not a decimal epoch");
            // Compared as written: the MAC covers the text, so "t=1,t=01" is as ambiguous as two values.
            if (have_t && value != out.t_text) return malformed("several different t values");
            out.t = *t;
            out.t_text = value;
            have_t = true;
        } else if (key == "v1") {
            auto d = crypto::digest_from_hex(value);
            if (!d) return malformed("a v1 value is not 64 hex digits");
            out.v1.push_back(*d);
        }
        // Other keys (v0, v2, …) are versions or extensions we do not know: ignored.
    }
    if (out.v1.empty()) return malformed("no v1 signature");
    if (ts_header) {
        std::string_view text = trim(*ts_header);
        auto t = parse_epoch(text);
        if (!t) return malformed("timestamp header is not a decimal epoch");
        if (have_t && *t != out.t) return malformed("t and timestamp header differ");
        if (!have_t) out.t_text = text;
        out.t = *t;
        have_t = true;
    }
    if (!have_t) return malformed("no timestamp in t= or the timestamp header");
    return {std::move(out), {}};
}

SignatureResult failure(SignatureScheme scheme, SignatureFailure f, std::string detail) {
    SignatureResult r;
    r.scheme = scheme;
    r.failure = f;
    r.detail = std::move(detail);
    return r;
}

SignatureResult success(SignatureScheme scheme, std::size_t key_index) {
    SignatureResult r;
    r.ok = true;
    r.scheme = scheme;
    r.key_index = key_index;
    r.detail = std::string(to_string(scheme)) + " signature matches key " +
               std::to_string(key_index);
    return r;
}

// An empty secret would make the legacy hash computable by anyone (SHA-256 of the body
// alone), so it never counts as configured and never matches.
bool usable(const std::string& secret) { return !secret.empty(); }

// Every secret is tried against every candidate without stopping at the first match, so the
// time taken does not depend on which secret (or which candidate) matched.
template <typename ExpectedFor>
std::optional<std::size_t> find_match(const std::vector<std::string>& secrets,
                                      const std::vector<crypto::Digest>& candidates,
                                      ExpectedFor expected_for) {
    std::optional<std::size_t> match;
    for (std::size_t i = 0; i < secrets.size(); ++i) {
        if (!usable(secrets[i])) continue;
        crypto::Digest expected = expected_for(i);
        bool hit = false;
        for (const auto& c : candidates) hit |= crypto::equal_ct(expected, c);
        if (hit && !match) match = i;
    }
    return match;
}

SignatureResult verify_legacy(const std::vector<std::string>& secrets, std::string_view header,
                              std::string_view body) {
    auto given = crypto::digest_from_hex(trim(header));
    if (!given) {
        return failure(SignatureScheme::Legacy, SignatureFailure::Malformed,
                       "legacy signature is not 64 hex digits");
    }
    auto match = find_match(secrets, {*given},
                            [&](std::size_t i) { return crypto::sha256(secrets[i], body); });
    if (!match) {
        return failure(SignatureScheme::Legacy, SignatureFailure::Mismatch,
                       "legacy signature matches no configured secret");
    }
    if (body.find('\0') != std::string_view::npos) {
        return failure(SignatureScheme::Legacy, SignatureFailure::Suspect,
                       "legacy signature matches, but the body holds a NUL byte, which no Recharge "
                       "delivery has: an earlier delivery extended (SHA-256 length extension)");
    }
    return success(SignatureScheme::Legacy, *match);
}

}  // namespace

std::string_view to_string(SignatureScheme s) {
    switch (s) {
        case SignatureScheme::None: return "none";
        case SignatureScheme::Legacy: return "legacy";
        case SignatureScheme::Timestamped: return "timestamped";
    }
    return "unknown";
}

std::string_view to_string(SignatureFailure f) {
    switch (f) {
        case SignatureFailure::None: return "ok";
        case SignatureFailure::Missing: return "missing";
        case SignatureFailure::Malformed: return "malformed";
        case SignatureFailure::Mismatch: return "mismatch";
        case SignatureFailure::Stale: return "stale";
        case SignatureFailure::NoSecrets: return "no_secrets";
        case SignatureFailure::Suspect: return "suspect";
    }
    return "unknown";
}

KeyRing::KeyRing(std::vector<std::string> secrets, std::chrono::seconds window)
    : secrets_(std::move(secrets)), window_(window) {
    hmac_keys_.reserve(secrets_.size());  // keyed once here, not per request
    for (const auto& s : secrets_) hmac_keys_.emplace_back(s);
}

SignatureResult KeyRing::verify(const SignatureHeaders& headers, std::string_view body,
                                int64_t now_epoch_s) const {
    bool any_secret = false;
    for (const auto& s : secrets_) any_secret |= usable(s);
    if (!any_secret) {
        return failure(SignatureScheme::None, SignatureFailure::NoSecrets,
                       "no webhook secret is configured");
    }
    if (headers.timestamped) {
        auto [parsed, reason] = parse_timestamped(*headers.timestamped, headers.timestamp);
        SignatureResult timestamped;
        if (parsed) {
            const TimestampedHeader& h = *parsed;
            // MAC first, then age: Stale then means a genuine but old delivery (a replay or a
            // clock problem), while a forged old one is reported as the Mismatch it is.
            auto match = find_match(secrets_, h.v1, [&](std::size_t i) {
                return hmac_keys_[i].mac(h.t_text, ".", body);
            });
            uint64_t age = abs_diff(now_epoch_s, h.t);
            uint64_t window = window_.count() > 0 ? static_cast<uint64_t>(window_.count()) : 0;
            if (!match) {
                timestamped = failure(SignatureScheme::Timestamped, SignatureFailure::Mismatch,
                                      "timestamped signature matches no configured secret");
            } else if (age > window) {
                timestamped = failure(SignatureScheme::Timestamped, SignatureFailure::Stale,
                                      "timestamp " + std::to_string(h.t) + " is " + std::to_string(age) +
                                          " s from now (window " + std::to_string(window) + " s)");
            } else {
                return success(SignatureScheme::Timestamped, *match);
            }
        } else {
            timestamped = failure(SignatureScheme::Timestamped, SignatureFailure::Malformed,
                                  "timestamped signature header malformed: " + reason);
        }
        if (!headers.legacy) return timestamped;
        // The legacy hash is always sent and the timestamped format is not confirmed by
        // Recharge: a timestamped header that does not verify (another message or key than
        // described, a retry's first timestamp) does not refuse a delivery whose legacy hash
        // does. Refusing it would protect nothing (the same request without that header is
        // accepted) and, if Recharge's format differs, would fail every delivery until
        // Recharge deletes the webhook. The caller reports the override.
        SignatureResult legacy = verify_legacy(secrets_, *headers.legacy, body);
        if (legacy.ok) {
            legacy.overridden = timestamped.failure;
            legacy.detail = timestamped.detail + "; accepted on the legacy hash";
            return legacy;
        }
        // Both refused. A malformed timestamped header says nothing of the secret: the legacy
        // failure decides (a wrong secret is a mismatch there). A timestamped MAC that was
        // checked decides otherwise (Mismatch, or Stale: right secret, old timestamp), unless
        // the legacy hash was a suspected forgery.
        if (timestamped.failure == SignatureFailure::Malformed || legacy.failure == SignatureFailure::Suspect) {
            legacy.detail = timestamped.detail + "; legacy: " + legacy.detail;
            return legacy;
        }
        timestamped.detail += "; legacy: " + legacy.detail;
        return timestamped;
    }
    if (headers.legacy) return verify_legacy(secrets_, *headers.legacy, body);
    return failure(SignatureScheme::None, SignatureFailure::Missing, "no signature header");
}

}  // namespace churnwatch
