#include "alert_chat.h"

#include <rapidjson/stringbuffer.h>
#include <rapidjson/writer.h>

#include "json.h"

namespace churnwatch {

namespace {

std::optional<std::string> member_text(const rapidjson::Value& obj, const char* key) {
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || !it->value.IsString()) return std::nullopt;
    return std::string(it->value.GetString(), it->value.GetStringLength());
}

std::optional<long long> member_int(const rapidjson::Value& obj, const char* key) {
    auto it = obj.FindMember(key);
    if (it == obj.MemberEnd() || !it->value.IsInt64()) return std::nullopt;
    return it->value.GetInt64();
}

// "2026-03-05T10:00:00.250000Z" → "2026-03-05 10:00 UTC": minutes are what a person reads.
std::string readable_time(const std::optional<std::string>& rfc3339) {
    if (!rfc3339) return "an unknown time";
    const std::string& t = *rfc3339;
    if (t.size() < 16 || t[10] != 'T') return t;
    return t.substr(0, 10) + " " + t.substr(11, 5) + " UTC";
}

// Slack reads & < > as markup: its documentation asks for these three to be escaped.
std::string escape_markup(const std::string& s) {
    std::string out;
    for (char c : s) {
        switch (c) {
            case '&': out += "&amp;"; break;
            case '<': out += "&lt;"; break;
            case '>': out += "&gt;"; break;
            default: out += c;
        }
    }
    return out;
}

// The email is Recharge's text (a "\n" escape in it arrives as a newline): control characters
// and U+2028/U+2029 become spaces, so each event stays one line and an email cannot start a
// line of its own that reads like another alert.
std::string one_line(std::string s) {
    for (std::size_t i = 0; i < s.size(); ++i) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7F) {
            s[i] = ' ';
        } else if (c == 0xE2 && i + 2 < s.size() && static_cast<unsigned char>(s[i + 1]) == 0x80 &&
                   (static_cast<unsigned char>(s[i + 2]) == 0xA8 ||
                    static_cast<unsigned char>(s[i + 2]) == 0xA9)) {
            s.replace(i, 3, " ");
        }
    }
    return s;
}

}  // namespace

std::optional<std::string> chat_text(std::string_view payload) {
    rapidjson::Document doc;
    std::string error;
    if (!parse_json(payload, JsonLimits{}, doc, error) || !doc.IsObject()) return std::nullopt;
    auto type = member_text(doc, "type");
    auto data = doc.FindMember("data");
    if (!type || data == doc.MemberEnd() || !data->value.IsObject()) return std::nullopt;
    const rapidjson::Value& d = data->value;
    auto customer_id = member_int(d, "customer_id");
    if (!customer_id) return std::nullopt;
    auto email = member_text(d, "email");
    if (email) email = one_line(*email);
    const std::string who = (email ? *email + " (customer " : "customer ") + std::to_string(*customer_id) +
                            (email ? ")" : "");
    const std::string reason = member_text(d, "reason").value_or("unknown reason");
    const std::string category = member_text(d, "category").value_or("");
    const std::string why = reason + (category.empty() ? "" : " (" + category + ")");
    const std::string churned_at = readable_time(member_text(d, "churned_at"));
    auto details = [&d] {
        std::string s;
        if (auto sub = member_int(d, "subscription_id")) s += ", subscription " + std::to_string(*sub);
        if (auto charge = member_int(d, "charge_id")) s += ", charge " + std::to_string(*charge);
        return s;
    };
    if (*type == "customer.churned") {
        return "churnwatch: " + who + " churned at " + churned_at + ": " + why + details();
    }
    if (*type == "customer.churn_updated") {
        // Where the customer stands now: a correction can also undo a return announced before.
        const auto back = member_text(d, "reactivated_at");
        const std::string now = back ? "back since " + readable_time(back) : "not back";
        return "churnwatch: correction: " + who + " churned at " + churned_at + ": " + why + details() +
               ", " + now + "; a later delivery changed what was announced";
    }
    if (*type == "customer.reactivated") {
        return "churnwatch: " + who + " is back: reactivated at " +
               readable_time(member_text(d, "reactivated_at")) + " after churning at " + churned_at +
               " (" + reason + ")";
    }
    if (*type == "customer.churn_retracted") {
        return "churnwatch: withdrawn: " + who + " did not churn at " + churned_at + " (" + reason +
               "); a later delivery showed otherwise";
    }
    return std::nullopt;
}

std::optional<std::string> chat_message_json(std::string_view payload) {
    auto text = chat_text(payload);
    if (!text) return std::nullopt;
    const std::string escaped = escape_markup(*text);
    rapidjson::StringBuffer buf;
    rapidjson::Writer<rapidjson::StringBuffer> w(buf);
    w.StartObject();
    w.Key("text");
    w.String(escaped.data(), static_cast<rapidjson::SizeType>(escaped.size()));
    w.EndObject();
    return std::string(buf.GetString(), buf.GetSize());
}

}  // namespace churnwatch
