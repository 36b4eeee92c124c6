// The data behind country_code(): ISO 3166-1 alpha-2 codes and the names each goes by
// (lib/country_code_table.cpp, generated; see there).
#pragma once

#include <cstddef>

namespace churnwatch {

struct CountryNames {
    const char* code;       // alpha-2, upper case
    const char* names[10];  // alpha-3, names and aliases; unused slots null
};

extern const CountryNames kCountryNames[];
extern const std::size_t kCountryNamesCount;

}  // namespace churnwatch
