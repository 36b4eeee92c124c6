// Hashes, MACs, encodings and constant-time comparison (OpenSSL underneath).
#pragma once

#include <array>
#include <cstddef>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace churnwatch::crypto {

using Digest = std::array<unsigned char, 32>;

// SHA-256 of the concatenation a ‖ b (no separator).
Digest sha256(std::string_view a, std::string_view b = {});

// HMAC-SHA256(key, msg) in one shot.
Digest hmac_sha256(std::string_view key, std::string_view msg);

// A keyed HMAC-SHA256 context made once and duplicated per use, which is cheaper than a
// one-shot MAC. mac() is const and safe to call from several threads at once.
class HmacKey {
public:
    explicit HmacKey(std::string_view key);
    ~HmacKey();
    HmacKey(HmacKey&&) noexcept;
    HmacKey& operator=(HmacKey&&) noexcept;
    HmacKey(const HmacKey&) = delete;
    HmacKey& operator=(const HmacKey&) = delete;

    // HMAC over the concatenation p1 ‖ p2 ‖ p3.
    Digest mac(std::string_view p1, std::string_view p2 = {}, std::string_view p3 = {}) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

std::string to_hex(const unsigned char* data, std::size_t n);  // lowercase
std::string to_hex(const Digest& d);
// Exactly 64 hex digits (either case) → the digest; anything else → nullopt.
std::optional<Digest> digest_from_hex(std::string_view hex);

// Constant-time equality (CRYPTO_memcmp).
bool equal_ct(const Digest& a, const Digest& b);
bool equal_ct(std::string_view a, std::string_view b);  // false at once if lengths differ

std::string base64_encode(std::string_view bytes);            // standard alphabet, padded
std::optional<std::string> base64_decode(std::string_view text);  // strict; nullopt if invalid

}  // namespace churnwatch::crypto
