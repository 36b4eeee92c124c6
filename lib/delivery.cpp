#include "delivery.h"

namespace churnwatch {

std::string_view to_string(DeliveryStatus s) {
    return s == DeliveryStatus::Accepted ? "accepted" : "quarantined";
}

std::string_view to_string(ApiVersion v) {
    switch (v) {
        case ApiVersion::V2021_01: return "2021-01";
        case ApiVersion::V2021_11: return "2021-11";
        case ApiVersion::Unknown: break;
    }
    return "";
}

}  // namespace churnwatch
