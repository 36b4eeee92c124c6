#include "json.h"

#include <cstdint>
#include <cstring>

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

namespace churnwatch {
namespace {

// The encoding is checked beforehand over the whole body (first_invalid_utf8): RapidJSON's
// own check, character by character inside every string, was the most expensive part of
// parsing a delivery. Deliberately absent: kParseStopWhenDoneFlag (trailing data is an
// error), NaN/Inf, comments.
//
// The recursive parser is the faster one, and safe while the depth limit bounds its
// recursion: the handler refuses to open a container past max_depth before the parser
// descends into it. Past kRecursiveDepthLimit (an operator's --json-depth), the iterative
// parser keeps the nesting on the heap instead of the call stack.
//
// Parsed in situ, from a copy of the body in the document's own memory: strings are
// unescaped where they stand instead of copied into the document one by one, and the copy
// lives exactly as long as the document that points into it (decoding a body: 2.3 -> 1.7 us).
// RapidJSON's SSE2 scanning is left off: it reads whole aligned 16-byte blocks, past the end
// of any string not padded for it, which ASan rightly reports in every other caller.
//
// Not kParseFullPrecisionFlag: its path passes zero to __builtin_clzll for a zero with a
// large exponent ("0e300": undefined behaviour, found by fuzzing; the regression input is
// tests/fuzz/regressions/payload/). Without it RapidJSON may round a number of 16 or more
// digits to a neighbouring double, which payload.cpp's bound on float ids keeps to ids no
// one sends as floats.
constexpr unsigned kParseFlags = rapidjson::kParseInsituFlag;
constexpr unsigned kIterativeParseFlags = rapidjson::kParseInsituFlag | rapidjson::kParseIterativeFlag;
constexpr std::size_t kRecursiveDepthLimit = 256;

// Offset of the first byte that is not part of well-formed UTF-8 (RFC 3629: no overlong
// forms, no surrogates, nothing above U+10FFFF), or npos. ASCII runs 32 bytes at a time.
std::size_t first_invalid_utf8(std::string_view s) {
    const auto* p = reinterpret_cast<const unsigned char*>(s.data());
    const std::size_t n = s.size();
    std::size_t i = 0;
    while (i < n) {
        if (i + 32 <= n) {
            uint64_t w[4];
            std::memcpy(w, p + i, sizeof w);
            if (((w[0] | w[1] | w[2] | w[3]) & 0x8080808080808080ULL) == 0) {
                i += 32;
                continue;
            }
        }
        if (i + 8 <= n) {
            uint64_t word;
            std::memcpy(&word, p + i, sizeof word);
            if ((word & 0x8080808080808080ULL) == 0) {
                i += 8;
                continue;
            }
        }
        unsigned char c = p[i];
        if (c < 0x80) {
            ++i;
            continue;
        }
        std::size_t len;
        unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
        if (c >= 0xC2 && c <= 0xDF) {
            len = 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3;
            if (c == 0xE0) lo = 0xA0;       // overlong
            else if (c == 0xED) hi = 0x9F;  // UTF-16 surrogates
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4;
            if (c == 0xF0) lo = 0x90;       // overlong
            else if (c == 0xF4) hi = 0x8F;  // above U+10FFFF
        } else {
            return i;
        }
        if (i + len > n) return i;
        if (p[i + 1] < lo || p[i + 1] > hi) return i;
        for (std::size_t k = 2; k < len; ++k)
            if ((p[i + k] & 0xC0) != 0x80) return i;
        i += len;
    }
    return std::string_view::npos;
}

enum class Abort { None, TooDeep, LoneSurrogate };

// A \u escape can smuggle a lone UTF-16 surrogate past encoding validation (RapidJSON 1.1
// encodes \uDC00 as the 3-byte sequence ED B0 80, which is not UTF-8). Surrogates encode as
// ED A0..BF; everything else the reader produces is already valid UTF-8.
bool has_encoded_surrogate(const char* s, rapidjson::SizeType len) {
    const char* end = s + len;
    for (const char* p = s; p < end;) {
        const void* hit = std::memchr(p, 0xED, static_cast<std::size_t>(end - p));
        if (hit == nullptr) return false;
        p = static_cast<const char*>(hit) + 1;
        if (p < end && static_cast<unsigned char>(*p) >= 0xA0) return true;
    }
    return false;
}

// Whether the raw body has a \u escape of a surrogate (\uD800-\uDFFF): the only way a
// string can decode to one. Usually false, and then no string needs checking.
bool may_escape_surrogate(std::string_view body) {
    for (std::size_t at = body.find("\\u"); at != std::string_view::npos; at = body.find("\\u", at + 2)) {
        if (at + 2 < body.size() && (body[at + 2] == 'd' || body[at + 2] == 'D')) return true;
    }
    return false;
}

// Forwards SAX events to the Document, but refuses to open a container past max_depth, so
// the limit is enforced while parsing: a deep body is cut off at max_depth + 1 levels
// instead of being built and measured afterwards.
class DepthLimitedHandler {
public:
    DepthLimitedHandler(rapidjson::Document& doc, std::size_t max_depth, bool check_surrogates)
        : doc_(doc), max_depth_(max_depth), check_surrogates_(check_surrogates) {}

    Abort abort() const { return abort_; }

    bool Null() { return doc_.Null(); }
    bool Bool(bool b) { return doc_.Bool(b); }
    bool Int(int i) { return doc_.Int(i); }
    bool Uint(unsigned u) { return doc_.Uint(u); }
    bool Int64(int64_t i) { return doc_.Int64(i); }
    bool Uint64(uint64_t u) { return doc_.Uint64(u); }
    bool Double(double d) { return doc_.Double(d); }
    bool RawNumber(const char* s, rapidjson::SizeType len, bool copy) {
        return doc_.RawNumber(s, len, copy);
    }
    bool String(const char* s, rapidjson::SizeType len, bool copy) {
        return check_text(s, len) && doc_.String(s, len, copy);
    }
    bool Key(const char* s, rapidjson::SizeType len, bool copy) {
        return check_text(s, len) && doc_.Key(s, len, copy);
    }
    bool StartObject() { return enter() && doc_.StartObject(); }
    bool EndObject(rapidjson::SizeType members) {
        --depth_;
        return doc_.EndObject(members);
    }
    bool StartArray() { return enter() && doc_.StartArray(); }
    bool EndArray(rapidjson::SizeType elements) {
        --depth_;
        return doc_.EndArray(elements);
    }

private:
    bool enter() {
        if (depth_ >= max_depth_) {
            abort_ = Abort::TooDeep;
            return false;
        }
        ++depth_;
        return true;
    }

    bool check_text(const char* s, rapidjson::SizeType len) {
        if (check_surrogates_ && has_encoded_surrogate(s, len)) {
            abort_ = Abort::LoneSurrogate;
            return false;
        }
        return true;
    }

    rapidjson::Document& doc_;
    std::size_t max_depth_;
    bool check_surrogates_;
    std::size_t depth_ = 0;
    Abort abort_ = Abort::None;
};

bool is_json_whitespace_only(std::string_view body) {
    return body.find_first_not_of(" \t\r\n") == std::string_view::npos;
}

std::string at_offset(std::size_t offset, std::string_view what) {
    return "invalid JSON at offset " + std::to_string(offset) + ": " + std::string(what);
}

std::string describe(const rapidjson::ParseResult& result, Abort abort, std::string_view body,
                     const JsonLimits& limits) {
    const std::size_t offset = result.Offset();
    if (abort == Abort::TooDeep) {
        return "JSON nesting deeper than " + std::to_string(limits.max_depth);
    }
    if (abort == Abort::LoneSurrogate) {
        return at_offset(offset, "lone UTF-16 surrogate in a \\u escape");
    }
    // The reader sees a NUL byte as end of input; name it rather than report a confusing
    // "missing quotation mark" or "document empty".
    if (offset < body.size() && body[offset] == '\0') {
        return at_offset(offset, "unexpected NUL byte");
    }
    return at_offset(offset, rapidjson::GetParseError_En(result.Code()));
}

}  // namespace

bool parse_json(std::string_view body, const JsonLimits& limits, rapidjson::Document& doc,
                std::string& error) {
    doc.SetNull();
    if (is_json_whitespace_only(body)) {
        error = "empty body";
        return false;
    }

    if (auto bad = first_invalid_utf8(body); bad != std::string_view::npos) {
        error = "invalid UTF-8 at offset " + std::to_string(bad);
        return false;
    }

    auto* copy = static_cast<char*>(doc.GetAllocator().Malloc(body.size() + 1));
    std::memcpy(copy, body.data(), body.size());
    copy[body.size()] = '\0';
    rapidjson::InsituStringStream stream(copy);
    rapidjson::Reader reader;
    rapidjson::ParseResult result;
    Abort abort = Abort::None;
    bool stopped_at_nul = false;
    const bool check_surrogates = may_escape_surrogate(body);

    auto generator = [&](rapidjson::Document& target) {
        DepthLimitedHandler handler(target, limits.max_depth, check_surrogates);
        result = limits.max_depth <= kRecursiveDepthLimit
                     ? reader.Parse<kParseFlags>(stream, handler)
                     : reader.Parse<kIterativeParseFlags>(stream, handler);
        abort = handler.abort();
        if (result.IsError()) return false;
        // The reader stops at a NUL byte as if the input ended there: "{}\0junk" would
        // otherwise be accepted. Anything before the real end is an error.
        if (stream.Tell() != body.size()) {
            stopped_at_nul = true;
            return false;
        }
        return true;
    };
    doc.Populate(generator);

    if (stopped_at_nul) {
        error = at_offset(stream.Tell(), "unexpected NUL byte");
        doc.SetNull();
        return false;
    }
    if (result.IsError()) {
        error = describe(result, abort, body, limits);
        doc.SetNull();
        return false;
    }
    return true;
}

}  // namespace churnwatch
