// Country names and codes → ISO 3166-1 alpha-2, for analysts' region figures: Recharge's
// 2021-01 customers carry a country name ("United States"), 2021-11 billing addresses a code
// ("US"), so the text as sent splits one country in two.
#pragma once

#include <optional>
#include <string_view>

namespace churnwatch {

// "US", "usa", "United States", "United States of America", "St. Lucia", "Bosnia &
// Herzegovina", "South Korea", "Korea, Republic of" → the alpha-2 code, upper case. Case,
// "&"/"and", "St."/"Saint", punctuation and spacing do not matter. nullopt when not a
// country churnwatch knows (the text stays in billing_country as sent).
std::optional<std::string_view> country_code(std::string_view name_or_code);

}  // namespace churnwatch
