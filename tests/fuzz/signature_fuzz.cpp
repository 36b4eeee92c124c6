// Fuzz target (a): Recharge signature header parsing and verification, KeyRing::verify with
// fuzzed header values and body.
//
// Input: byte 0 = flags, then up to three '\n'-terminated header values (legacy
// X-Recharge-Hmac-Sha256, timestamped X-Recharge-Webhook-Signature, X-Recharge-Webhook-Timestamp),
// then the body (the rest, newlines included). Flag bits:
//   1, 2, 4  the legacy / timestamped / timestamp header is present
//   8        the legacy value is replaced by the correct signature of the body
//   16       the timestamped value is replaced by a correct "t=<now>,v1=…" (timestamp header dropped)
//   32       …signed with the second secret instead of the first
//   64       the key ring also holds an empty secret (must never match anything)
// The correctly signed variants let the fuzzer reach the success paths, and are checked:
// a correct signature must verify, whatever the body, except a legacy one over a body with a
// NUL byte (refused as a length extension).
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_check.h"
#include "signature.h"

using namespace churnwatch;

namespace {

const std::string kSecretA = "shjk_fuzz_secret_a_0123456789abcdef";
const std::string kSecretB = "shjk_fuzz_secret_b_fedcba9876543210";
constexpr int64_t kNow = 1767225600;  // 2026-01-01T00:00:00Z

std::string hex(const unsigned char* p, unsigned n) {
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < n; ++i) {
        out += digits[p[i] >> 4];
        out += digits[p[i] & 15];
    }
    return out;
}

// Independent of churnwatch's crypto code: OpenSSL directly.
std::string legacy_sig(const std::string& secret, std::string_view body) {
    std::string data = secret + std::string(body);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
    return hex(md, n);
}

std::string timestamped_sig(const std::string& secret, int64_t t, std::string_view body) {
    std::string msg = std::to_string(t) + "." + std::string(body);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
         reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), md, &n);
    return "t=" + std::to_string(t) + ",v1=" + hex(md, n);
}

bool same(const SignatureResult& a, const SignatureResult& b) {
    return a.ok == b.ok && a.scheme == b.scheme && a.failure == b.failure && a.detail == b.detail &&
           a.key_index == b.key_index;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    if (size == 0) return 0;
    const unsigned flags = data[0];
    std::string_view rest(reinterpret_cast<const char*>(data + 1), size - 1);
    std::string fields[3];
    for (auto& f : fields) {
        std::size_t nl = rest.find('\n');
        if (nl == std::string_view::npos) break;
        f = std::string(rest.substr(0, nl));
        rest.remove_prefix(nl + 1);
    }
    const std::string_view body = rest;

    std::vector<std::string> secrets{kSecretA, kSecretB};
    if (flags & 64) secrets.insert(secrets.begin() + 1, "");
    static const KeyRing ring_plain({kSecretA, kSecretB}, std::chrono::hours(48));
    static const KeyRing ring_empty({kSecretA, "", kSecretB}, std::chrono::hours(48));
    const KeyRing& ring = (flags & 64) ? ring_empty : ring_plain;

    if (flags & 8) fields[0] = legacy_sig(kSecretA, body);
    if (flags & 16) {
        fields[1] = timestamped_sig((flags & 32) ? kSecretB : kSecretA, kNow, body);
        fields[2].clear();
    }
    SignatureHeaders h;
    if (flags & 1) h.legacy = fields[0];
    if (flags & 2) h.timestamped = fields[1];
    if ((flags & 4) && !(flags & 16)) h.timestamp = fields[2];

    SignatureResult r = ring.verify(h, body, kNow);

    // Deterministic, consistent, and never leaks a secret.
    FUZZ_CHECK(same(r, ring.verify(h, body, kNow)));
    FUZZ_CHECK(r.ok == (r.failure == SignatureFailure::None));
    FUZZ_CHECK(r.detail.find(kSecretA) == std::string::npos);
    FUZZ_CHECK(r.detail.find(kSecretB) == std::string::npos);
    if (r.ok) {
        FUZZ_CHECK(r.key_index < secrets.size());
        FUZZ_CHECK(!secrets[r.key_index].empty());
        FUZZ_CHECK(r.scheme != SignatureScheme::None);
    }
    if (!h.legacy && !h.timestamped) FUZZ_CHECK(r.failure == SignatureFailure::Missing);
    // A correct signature always verifies (the timestamped one decides when present).
    if ((flags & 16) && (flags & 2)) {
        FUZZ_CHECK(r.ok && r.scheme == SignatureScheme::Timestamped);
        FUZZ_CHECK(secrets[r.key_index] == ((flags & 32) ? kSecretB : kSecretA));
    } else if ((flags & 8) && (flags & 1) && !(flags & 2)) {
        // Unless the body holds a NUL byte: refused as a length extension of the legacy hash.
        if (body.find('\0') != std::string_view::npos) {
            FUZZ_CHECK(!r.ok && r.failure == SignatureFailure::Suspect && r.scheme == SignatureScheme::Legacy);
        } else {
            FUZZ_CHECK(r.ok && r.scheme == SignatureScheme::Legacy);
            FUZZ_CHECK(secrets[r.key_index] == kSecretA);
        }
    }
    // Without the right secret nothing verifies.
    static const KeyRing strangers({"some_other_secret_entirely_00000"}, std::chrono::hours(48));
    if (!(flags & (8 | 16))) FUZZ_CHECK(!strangers.verify(h, body, kNow).ok);
    return 0;
}
