#include "country_code.h"

#include <string>
#include <unordered_map>

#include "country_code_table.h"

namespace churnwatch {

namespace {

// Lower case; "&" → "and"; punctuation (and the typographic apostrophe ’) → space; "st" →
// "saint"; a leading "the" dropped; words joined by one space. Other bytes beyond ASCII
// (accented letters) are kept as they are.
std::string fold(std::string_view text) {
    std::string words, word;
    constexpr std::string_view kRightQuote = "\xE2\x80\x99";
    auto flush = [&] {
        if (word.empty()) return;
        if (word == "st") word = "saint";
        if (!(words.empty() && word == "the")) {
            if (!words.empty()) words += ' ';
            words += word;
        }
        word.clear();
    };
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char ch = text[i];
        const unsigned char c = static_cast<unsigned char>(ch);
        if (text.substr(i, kRightQuote.size()) == kRightQuote) {
            flush();
            i += kRightQuote.size() - 1;
        } else if (c >= 'A' && c <= 'Z') {
            word += static_cast<char>(c - 'A' + 'a');
        } else if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c >= 0x80) {
            word += ch;
        } else if (c == '&') {
            flush();
            word = "and";
            flush();
        } else {
            flush();
        }
    }
    flush();
    return words;
}

// Two or three ASCII letters (surrounding spaces aside), upper-cased, with a '#' before them
// so that they never meet a folded name ("ST", São Tomé, is not "St."); else empty.
std::string code_key(std::string_view text) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    while (!text.empty() && text.back() == ' ') text.remove_suffix(1);
    if (text.size() < 2 || text.size() > 3) return {};
    std::string key = "#";
    for (char ch : text) {
        if (ch >= 'a' && ch <= 'z') ch = static_cast<char>(ch - 'a' + 'A');
        if (ch < 'A' || ch > 'Z') return {};
        key += ch;
    }
    return key;
}

// Codes under code_key, names (and aliases written as codes: "UK", "USA") folded.
const std::unordered_map<std::string, std::string_view>& lookup_table() {
    static const auto* map = [] {
        auto* m = new std::unordered_map<std::string, std::string_view>;
        for (std::size_t i = 0; i < kCountryNamesCount; ++i) {
            const CountryNames& c = kCountryNames[i];
            m->emplace(code_key(c.code), c.code);
            for (const char* name : c.names) {
                if (name == nullptr) continue;
                const std::string key = code_key(name);
                m->emplace(key.empty() ? fold(name) : key, c.code);
            }
        }
        return m;
    }();
    return *map;
}

}  // namespace

std::optional<std::string_view> country_code(std::string_view name_or_code) {
    if (name_or_code.size() > 100) return std::nullopt;
    const auto& table = lookup_table();
    std::string key = code_key(name_or_code);
    if (key.empty()) key = fold(name_or_code);
    const auto it = table.find(key);
    if (it == table.end()) return std::nullopt;
    return it->second;
}

}  // namespace churnwatch
