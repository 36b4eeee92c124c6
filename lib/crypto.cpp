#include "crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include <stdexcept>

namespace churnwatch::crypto {

namespace {

// OpenSSL reads a null key pointer as "no key given" (and then fails), even with length 0,
// so an empty key must still point somewhere.
const unsigned char* key_bytes(std::string_view key) {
    static const unsigned char kEmpty[1] = {0};
    return key.empty() ? kEmpty : reinterpret_cast<const unsigned char*>(key.data());
}

[[noreturn]] void fail(const char* what) {
    throw std::runtime_error(std::string("OpenSSL failure: ") + what);
}

// Fetched once: an explicit fetch avoids the implicit per-call lookup that EVP_sha256() and
// EVP_MAC_fetch() would do. Never freed; they live as long as the process.
const EVP_MD* sha256_md() {
    static EVP_MD* md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
    if (md == nullptr) fail("EVP_MD_fetch(SHA256)");
    return md;
}

EVP_MAC* hmac_algorithm() {
    static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
    if (mac == nullptr) fail("EVP_MAC_fetch(HMAC)");
    return mac;
}

struct MdCtxFree {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
struct MacCtxFree {
    void operator()(EVP_MAC_CTX* c) const { EVP_MAC_CTX_free(c); }
};
using MdCtxPtr = std::unique_ptr<EVP_MD_CTX, MdCtxFree>;
using MacCtxPtr = std::unique_ptr<EVP_MAC_CTX, MacCtxFree>;

int hex_value(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

constexpr char kBase64Alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int base64_value(char c) {
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

}  // namespace

Digest sha256(std::string_view a, std::string_view b) {
    MdCtxPtr ctx(EVP_MD_CTX_new());
    if (!ctx) fail("EVP_MD_CTX_new");
    Digest out{};
    unsigned int len = 0;
    if (EVP_DigestInit_ex2(ctx.get(), sha256_md(), nullptr) != 1 ||
        EVP_DigestUpdate(ctx.get(), a.data(), a.size()) != 1 ||
        EVP_DigestUpdate(ctx.get(), b.data(), b.size()) != 1 ||
        EVP_DigestFinal_ex(ctx.get(), out.data(), &len) != 1 || len != out.size()) {
        fail("SHA-256 digest");
    }
    return out;
}

Digest hmac_sha256(std::string_view key, std::string_view msg) {
    Digest out{};
    size_t len = 0;
    if (EVP_Q_mac(nullptr, "HMAC", nullptr, "SHA256", nullptr, key_bytes(key), key.size(),
                  reinterpret_cast<const unsigned char*>(msg.data()), msg.size(), out.data(),
                  out.size(), &len) == nullptr ||
        len != out.size()) {
        fail("EVP_Q_mac(HMAC-SHA256)");
    }
    return out;
}

// ---- HmacKey -------------------------------------------------------------------------------

struct HmacKey::Impl {
    MacCtxPtr ctx;  // keyed once; never updated, only duplicated
};

HmacKey::HmacKey(std::string_view key) : impl_(std::make_unique<Impl>()) {
    impl_->ctx.reset(EVP_MAC_CTX_new(hmac_algorithm()));
    if (!impl_->ctx) fail("EVP_MAC_CTX_new");
    char digest_name[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_MAC_init(impl_->ctx.get(), key_bytes(key), key.size(), params) != 1) {
        fail("EVP_MAC_init(HMAC-SHA256)");
    }
}

HmacKey::~HmacKey() = default;
HmacKey::HmacKey(HmacKey&&) noexcept = default;
HmacKey& HmacKey::operator=(HmacKey&&) noexcept = default;

Digest HmacKey::mac(std::string_view p1, std::string_view p2, std::string_view p3) const {
    if (!impl_) throw std::logic_error("HmacKey::mac on a moved-from key");
    // The template context is only read (duplicated), so concurrent callers are safe.
    MacCtxPtr ctx(EVP_MAC_CTX_dup(impl_->ctx.get()));
    if (!ctx) fail("EVP_MAC_CTX_dup");
    Digest out{};
    size_t len = 0;
    for (std::string_view part : {p1, p2, p3}) {
        if (EVP_MAC_update(ctx.get(), reinterpret_cast<const unsigned char*>(part.data()),
                           part.size()) != 1) {
            fail("EVP_MAC_update");
        }
    }
    if (EVP_MAC_final(ctx.get(), out.data(), &len, out.size()) != 1 || len != out.size()) {
        fail("EVP_MAC_final");
    }
    return out;
}

// ---- hex -----------------------------------------------------------------------------------

std::string to_hex(const unsigned char* data, std::size_t n) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out(n * 2, '\0');
    for (std::size_t i = 0; i < n; ++i) {
        out[2 * i] = kDigits[data[i] >> 4];
        out[2 * i + 1] = kDigits[data[i] & 0x0f];
    }
    return out;
}

std::string to_hex(const Digest& d) { return to_hex(d.data(), d.size()); }

std::optional<Digest> digest_from_hex(std::string_view hex) {
    Digest out{};
    if (hex.size() != out.size() * 2) return std::nullopt;
    for (std::size_t i = 0; i < out.size(); ++i) {
        int hi = hex_value(hex[2 * i]);
        int lo = hex_value(hex[2 * i + 1]);
        if (hi < 0 || lo < 0) return std::nullopt;
        out[i] = static_cast<unsigned char>(hi << 4 | lo);
    }
    return out;
}

// ---- constant-time comparison --------------------------------------------------------------

bool equal_ct(const Digest& a, const Digest& b) {
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

bool equal_ct(std::string_view a, std::string_view b) {
    // The length is not secret (it is fixed by the format); only the contents are.
    if (a.size() != b.size()) return false;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

// ---- base64 --------------------------------------------------------------------------------

std::string base64_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() + 2) / 3 * 4);
    std::size_t i = 0;
    auto byte = [&](std::size_t k) { return static_cast<unsigned char>(bytes[k]); };
    for (; i + 3 <= bytes.size(); i += 3) {
        unsigned v = byte(i) << 16 | byte(i + 1) << 8 | byte(i + 2);
        out += kBase64Alphabet[v >> 18 & 63];
        out += kBase64Alphabet[v >> 12 & 63];
        out += kBase64Alphabet[v >> 6 & 63];
        out += kBase64Alphabet[v & 63];
    }
    std::size_t rest = bytes.size() - i;
    if (rest == 1) {
        unsigned v = byte(i) << 16;
        out += kBase64Alphabet[v >> 18 & 63];
        out += kBase64Alphabet[v >> 12 & 63];
        out += "==";
    } else if (rest == 2) {
        unsigned v = byte(i) << 16 | byte(i + 1) << 8;
        out += kBase64Alphabet[v >> 18 & 63];
        out += kBase64Alphabet[v >> 12 & 63];
        out += kBase64Alphabet[v >> 6 & 63];
        out += '=';
    }
    return out;
}

// Strict: length a multiple of 4, standard alphabet only, '=' only as the final one or two
// characters, no whitespace, and the unused low bits before the padding must be zero (so
// every byte string has exactly one accepted encoding).
std::optional<std::string> base64_decode(std::string_view text) {
    if (text.size() % 4 != 0) return std::nullopt;
    std::size_t pad = 0;
    if (!text.empty() && text.back() == '=') pad = text[text.size() - 2] == '=' ? 2 : 1;
    std::string out;
    out.reserve(text.size() / 4 * 3);
    for (std::size_t i = 0; i < text.size(); i += 4) {
        bool last = i + 4 == text.size();
        std::size_t data_chars = last ? 4 - pad : 4;
        unsigned v = 0;
        for (std::size_t k = 0; k < 4; ++k) {
            int c = k < data_chars ? base64_value(text[i + k]) : 0;
            if (c < 0) return std::nullopt;  // includes a '=' anywhere but the end
            v = v << 6 | static_cast<unsigned>(c);
        }
        out += static_cast<char>(v >> 16 & 0xff);
        if (data_chars >= 3) out += static_cast<char>(v >> 8 & 0xff);
        if (data_chars == 4) out += static_cast<char>(v & 0xff);
        if (data_chars == 2 && (v & 0xffff) != 0) return std::nullopt;
        if (data_chars == 3 && (v & 0xff) != 0) return std::nullopt;
    }
    return out;
}

}  // namespace churnwatch::crypto
