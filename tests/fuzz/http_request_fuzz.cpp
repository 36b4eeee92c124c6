// Fuzz target (c): the socket-free request path on raw HTTP bytes. Beast's request_parser
// reads the bytes from a buffer (no socket) under the server's limits, the message becomes an
// HttpRequest exactly as the session builds it, the server's route() picks the path topic, and
// prepare_delivery (service/ingest.h) verifies and decodes it.
//
// Input: raw bytes as a client would send them; up to four pipelined requests. Each parsed
// request is handled twice: as sent, and re-signed (its signature headers replaced by one
// correct legacy signature of its body) so the fuzzer also reaches topic and payload handling.
// Checked: a re-signed request is never rejected; a rejection is a 401 with a signature_*
// reason; an accepted delivery has a topic and a payload; a quarantined one has a reason.
//
// Before Beast, the session's own checks of the request line (request_checks.h) run as the
// session runs them: the empty lines before it dropped (a few at most), the version of a
// whole line (HTTP/1.2-1.9 rewritten to 1.1, other majors refused), and, for a line still
// arriving, whether its bytes can begin one. Checked against Beast: a line Beast reads is
// never refused at any point of its arrival, the empty lines before it included (a request
// sent in pieces would be refused that whole is accepted), and every refusal is a 4xx or 5xx
// with a reason and a detail.
#include <boost/asio/buffer.hpp>
#include <boost/beast/core.hpp>
#include <boost/beast/http.hpp>
#include <openssl/evp.h>

#include <cctype>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz_check.h"
#include "ingest.h"
#include "request_checks.h"
#include "route.h"

using namespace churnwatch;
namespace beast = boost::beast;
namespace http = beast::http;

namespace {

const std::string kSecret = "shjk_fuzz_secret_a_0123456789abcdef";
constexpr Micros kNow = 1767225600LL * kMicrosPerSecond;

// The server's defaults (ServerOptions): 1 MiB body, 16 KiB header block.
constexpr std::size_t kBodyLimit = 1024 * 1024;
constexpr std::uint32_t kHeaderLimit = 16 * 1024;

std::string legacy_sig(std::string_view body) {
    std::string data = kSecret + std::string(body);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned n = 0;
    EVP_Digest(data.data(), data.size(), md, &n, EVP_sha256(), nullptr);
    static const char* digits = "0123456789abcdef";
    std::string out;
    for (unsigned i = 0; i < n; ++i) {
        out += digits[md[i] >> 4];
        out += digits[md[i] & 15];
    }
    return out;
}

void check(const std::variant<Delivery, Rejection>& v, bool must_pass) {
    if (auto* r = std::get_if<Rejection>(&v)) {
        FUZZ_CHECK(!must_pass);
        FUZZ_CHECK(r->status == 401);
        FUZZ_CHECK(r->reason.rfind("signature_", 0) == 0);
        FUZZ_CHECK(!r->detail.empty());
        FUZZ_CHECK(!r->dedupe_key.empty());
        FUZZ_CHECK(r->detail.find(kSecret) == std::string::npos);
        return;
    }
    const Delivery& d = std::get<Delivery>(v);
    FUZZ_CHECK(!d.dedupe_key.empty());
    FUZZ_CHECK(d.received_at == kNow);
    FUZZ_CHECK(d.scheme != SignatureScheme::None);
    // The override's note, kept on its own for later rewrites of the reason (0026), is the
    // reason's end exactly, and there only with an override.
    if (d.signature_overridden == SignatureFailure::None) {
        FUZZ_CHECK(d.signature_note.empty());
    } else {
        FUZZ_CHECK(!d.signature_note.empty());
        FUZZ_CHECK(d.reason.size() >= d.signature_note.size());
        FUZZ_CHECK(d.reason.compare(d.reason.size() - d.signature_note.size(), std::string::npos,
                                    d.signature_note) == 0);
    }
    if (d.status == DeliveryStatus::Accepted) {
        FUZZ_CHECK(d.topic.has_value() && is_known_topic(*d.topic));
        FUZZ_CHECK(d.payload.has_value());
        // An accepted delivery's reason is only a note: the topic its signed body named over
        // the request's, what was left out of the payload, then why a failed timestamped
        // signature was overridden by a verifying legacy hash.
        std::string_view reason = d.reason;
        const std::string topic_note =
            "topic " + d.topic->full() + " from the signed body's \"type\", where the ";
        if (reason.starts_with(topic_note)) {
            FUZZ_CHECK(d.topic_source == TopicSource::Inferred);
            const std::size_t end = reason.find("; ");
            reason.remove_prefix(end == std::string_view::npos ? reason.size() : end + 2);
        }
        const std::string& left_out = d.payload->ignored;
        if (d.signature_overridden == SignatureFailure::None) {
            FUZZ_CHECK(reason == left_out);
        } else {
            FUZZ_CHECK(reason.size() > left_out.size());
            FUZZ_CHECK(reason.compare(0, left_out.size(), left_out) == 0);
            FUZZ_CHECK(d.reason.find(kSecret) == std::string::npos);
        }
    } else {
        FUZZ_CHECK(!d.reason.empty());
        FUZZ_CHECK(!d.payload.has_value());
    }
}

bool is_signature_header(std::string_view name) {
    auto iequals = [](std::string_view a, std::string_view b) {
        if (a.size() != b.size()) return false;
        for (std::size_t i = 0; i < a.size(); ++i)
            if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
                return false;
        return true;
    };
    return iequals(name, kLegacyHeader) || iequals(name, kSignatureHeader) ||
           iequals(name, kTimestampHeader);
}

void check_refusal(const Refusal& r) {
    FUZZ_CHECK(r.status >= 400 && r.status < 600);
    FUZZ_CHECK(!r.reason.empty());
    FUZZ_CHECK(!r.detail.empty());
}

// The session's checks of the request line at the start of `in` (request_checks.h), in the
// order it makes them. False when the session would refuse the request before Beast reads it,
// or read none: `in` held only empty lines, perhaps then a lone CR (it waits for more, and
// closes quietly at the end of input). `line_ok` says whether the line was whole and not
// refused: then Beast decides. The empty lines before the line are dropped from `in`,
// `empty_lines` says how many.
bool line_checks_pass(std::string& in, bool& line_ok, std::size_t& empty_lines) {
    line_ok = false;
    LineScan scan;
    const EmptyLines lead = skip_empty_lines(in, scan);
    empty_lines = scan.empty_lines;
    FUZZ_CHECK(lead.drop == 2 * empty_lines && empty_lines <= kMaxEmptyLines);
    if (lead.refusal) {
        check_refusal(*lead.refusal);
        FUZZ_CHECK(lead.refusal->status == 400);
        return false;
    }
    in.erase(0, lead.drop);
    if (in.empty() || lead.partial) return false;  // no request begun
    const std::size_t lf = in.find('\n');
    if (lf == std::string::npos || lf + 1 > kHeaderLimit) {
        const std::string_view start = std::string_view(in).substr(0, kHeaderLimit);
        if (auto r = check_line_start(start, scan)) {
            check_refusal(*r);
            return false;
        }
        if (in.size() >= kHeaderLimit) {
            check_refusal(line_too_long(start, kHeaderLimit));
            return false;
        }
        return true;  // a line not yet whole: the session waits for more
    }
    if (auto r = check_version(std::span<char>(in.data(), lf + 1))) {
        check_refusal(*r);
        FUZZ_CHECK(r->status == 505);
        return false;
    }
    line_ok = true;
    return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static const KeyRing keys({kSecret, "shjk_fuzz_secret_b_fedcba9876543210"});
    static const IngestOptions options;
    std::string bytes(reinterpret_cast<const char*>(data), size);  // the version check may rewrite
    std::string_view in(bytes);

    for (int n = 0; n < 4 && !in.empty(); ++n) {
        // The session's checks at the start of each request (in the buffer, as it holds it).
        std::string rest(in);
        bool line_whole = false;
        std::size_t empty_lines = 0;
        if (!line_checks_pass(rest, line_whole, empty_lines)) return 0;  // refused and closed, or no request
        // The request line as it came, up to its LF.
        const std::optional<std::string> line =
            line_whole ? std::optional<std::string>(rest.substr(0, rest.find('\n'))) : std::nullopt;
        bytes = std::move(rest);
        in = bytes;
        http::request_parser<http::string_body> parser;
        parser.eager(true);
        parser.body_limit(kBodyLimit);
        parser.header_limit(kHeaderLimit);
        beast::error_code ec;
        while (!in.empty() && !parser.is_done()) {
            std::size_t used = parser.put(boost::asio::buffer(in.data(), in.size()), ec);
            in.remove_prefix(used);
            // need_more: what is left is not enough, and no more will come. Offering the same
            // bytes again breaks Beast's contract (it asserts that a chunk header it asked more
            // for has grown: parse_chunk_header, n >= 5); the server's read loop only calls
            // put() again after reading more.
            if (ec == http::error::need_more) {
                ec = {};
                break;
            }
            if (ec) return 0;  // the server answers 400/413/431 and closes
        }
        if (!parser.is_done()) {
            parser.put_eof(ec);
            if (ec || !parser.is_done()) return 0;  // truncated: the server closes
        }
        // Beast read this request line: had it arrived a byte at a time, the empty lines
        // before it first, no prefix of it (without its LF) would have been refused on the way,
        // the session dropping the empty lines as they come (a lone CR waits).
        if (line) {
            std::string arrival;
            for (std::size_t k = 0; k < empty_lines; ++k) arrival += "\r\n";
            arrival += *line;
            LineScan scan;
            std::string buffered;
            for (const char c : arrival) {
                buffered += c;
                const EmptyLines lead = skip_empty_lines(buffered, scan);
                FUZZ_CHECK(!lead.refusal.has_value());
                if (lead.refusal) break;
                buffered.erase(0, lead.drop);
                if (lead.partial || buffered.empty()) continue;
                auto r = check_line_start(buffered, scan);
                FUZZ_CHECK(!r.has_value());
                if (r) break;
            }
        }

        // As Session::on_read builds it.
        auto& msg = parser.get();
        HttpRequest req;
        req.method = std::string(msg.method_string());
        req.target = std::string(msg.target());
        for (const auto& f : msg) req.headers.emplace_back(f.name_string(), f.value());
        req.body = std::move(msg.body());
        FUZZ_CHECK(req.body.size() <= kBodyLimit);

        Route r = route(req.target);
        if (req.method != "POST" || r.kind != Route::Webhook) {
            if (!msg.keep_alive()) return 0;
            continue;
        }
        const std::optional<Topic> path_topic = std::move(r.topic);
        HttpRequest resigned = req;
        check(prepare_delivery(std::move(req), path_topic, keys, options, kNow), false);

        std::erase_if(resigned.headers, [](const auto& h) { return is_signature_header(h.first); });
        resigned.headers.emplace_back(kLegacyHeader, legacy_sig(resigned.body));
        std::string body = resigned.body;
        auto again = prepare_delivery(std::move(resigned), path_topic, keys, options, kNow);
        // A correctly signed body passes, unless it holds a NUL byte: with the legacy scheme
        // that is refused as a length extension (signature_suspect).
        if (body.find('\0') != std::string::npos) {
            check(again, false);
            FUZZ_CHECK(std::get<Rejection>(again).reason == "signature_suspect");
        } else {
            check(again, true);
            FUZZ_CHECK(std::get<Delivery>(again).body == body);
        }
        if (!msg.keep_alive()) return 0;
    }
    return 0;
}
