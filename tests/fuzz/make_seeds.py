#!/usr/bin/env python3
"""Writes the seed corpora in tests/fuzz/corpus/<target>/ (committed; rerun after changing
the example payloads or the fuzz secrets). libFuzzer adds what it finds to a scratch copy,
never to these directories (scripts/fuzz.sh)."""
import hashlib
import hmac
import os
import shutil

ROOT = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(ROOT, "..", "data", "recharge")
SECRET_A = b"shjk_fuzz_secret_a_0123456789abcdef"
SECRET_B = b"shjk_fuzz_secret_b_fedcba9876543210"
NOW = 1767225600


def legacy(body, secret=SECRET_A):
    return hashlib.sha256(secret + body).hexdigest().encode()


def timestamped(body, t=NOW, secret=SECRET_A):
    mac = hmac.new(secret, str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    return b"t=%d,v1=%s" % (t, mac.encode())


def write(target, name, data):
    d = os.path.join(ROOT, "corpus", target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


examples = {}
for name in sorted(os.listdir(DATA)):
    if name.endswith(".json"):
        with open(os.path.join(DATA, name), "rb") as f:
            examples[name[:-5]] = f.read()

for target in ("signature", "payload", "http_request"):
    shutil.rmtree(os.path.join(ROOT, "corpus", target), ignore_errors=True)

# --- payload: the example bodies plus hand-written edge cases ---------------------------------
for name, body in examples.items():
    write("payload", name + ".json", body)
hand = {
    "included_objects": b'{"order":{"id":1},"subscription":{"id":5,"customer_id":9,"status":"active",'
                        b'"updated_at":"2026-01-02T00:00:00"},"charge":{"id":7,"customer_id":9,'
                        b'"status":"error","error_type":"CLOSED_MAX_RETRIES_REACHED",'
                        b'"updated_at":"2026-01-03T00:00:00","line_items":[{"subscription_id":5}]},'
                        b'"customer":{"id":9,"status":"INACTIVE","updated_at":"2026-01-04T00:00:00"}}',
    "string_ids": b'{"subscription":{"id":"501","customer_id":"71","status":"CANCELLED",'
                  b'"cancelled_at":"2026-02-01T00:00:00-05:00","updated_at":"2026-02-01T00:00:00.123456Z",'
                  b'"expire_after_specific_number_of_charges":"3"}}',
    "big_numbers": b'{"charge":{"id":9007199254740993,"customer":{"id":1e300},"status":"success",'
                   b'"updated_at":"9999-12-31T23:59:59+14:00","charge_attempts":-1}}',
    "depth_65": b"[" * 65 + b"]" * 65,
    "surrogate": b'{"customer":{"id":1,"email":"\\udc00","updated_at":"2026-01-01T00:00:00"}}',
    "nul_inside": b'{"customer":{"id":1}}\x00junk',
    "bad_utf8": b'{"subscription":{"product_title":"caf\xe9"}}',
    "empty": b"",
}
for name, body in hand.items():
    write("payload", name, body)

# --- signature: flags byte, legacy \n timestamped \n timestamp \n body --------------------------
body = examples["subscription_cancelled.2021-11"]
sig_seeds = {
    "legacy_correct": bytes([1 | 8]) + b"\n\n\n" + body,
    "legacy_given": bytes([1]) + legacy(body) + b"\n\n\n" + body,
    "timestamped_correct": bytes([2 | 16]) + b"\n\n\n" + body,
    "timestamped_given": bytes([2]) + b"\n" + timestamped(body) + b"\n\n" + body,
    "timestamped_key_b": bytes([2 | 16 | 32 | 64]) + b"\n\n\n" + body,
    "separate_timestamp": bytes([2 | 4]) + b"\n" + b"v1=" + timestamped(body).split(b"v1=")[1] +
                          b"\n%d\n" % NOW + body,
    "stale": bytes([2]) + b"\n" + timestamped(body, NOW - 3 * 86400) + b"\n\n" + body,
    "malformed_falls_back": bytes([1 | 2 | 8]) + b"\nt=abc,v1=zz\n\n" + body,
    "several_v1": bytes([2]) + b"\n" + timestamped(b"{}") + b",v1=" + b"0" * 64 + b", v0=x,,\n\n{}",
    "conflicting_t": bytes([2 | 4]) + b"\n" + timestamped(b"{}") + b",t=5\n6\n{}",
    "huge_t": bytes([2]) + b"\nt=99999999999999999999,v1=" + b"a" * 64 + b"\n\n{}",
    "garbage": bytes([7]) + b"zz\n=\n-1\n",
}
for name, data in sig_seeds.items():
    write("signature", name, data)


# --- http_request: raw requests as a client sends them -----------------------------------------
def post(target, body, headers=(), sign=True, ts=False):
    h = [b"POST " + target + b" HTTP/1.1", b"Host: 127.0.0.1", b"Content-Type: application/json"]
    if sign:
        h.append(b"X-Recharge-Hmac-Sha256: " + legacy(body))
    if ts:
        h.append(b"X-Recharge-Webhook-Signature: " + timestamped(body))
    h += list(headers)
    h.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(h) + b"\r\n\r\n" + body


topics = {
    "subscription_cancelled": b"subscription/cancelled",
    "subscription_expired": b"subscription/updated",
    "subscription_activated": b"subscription/activated",
    "charge_max_retries_reached": b"charge/max_retries_reached",
    "customer_deactivated": b"customer/deactivated",
}
for name, body in examples.items():
    topic = topics[name.split(".")[0]]
    write("http_request", name + ".http", post(b"/webhooks/recharge/" + topic, body))
small = b'{"customer":{"id":5,"updated_at":"2026-01-01T00:00:00"}}'
write("http_request", "generic_route_topic_header.http",
      post(b"/webhooks/recharge", small, [b"X-Recharge-Topic: customer/activated", b"X-Recharge-Webhook-Id: d-1"]))
write("http_request", "inferred_topic_query.http", post(b"/webhooks/recharge/?x=1", small))
write("http_request", "timestamped.http", post(b"/webhooks/recharge/customer/updated", small, sign=False, ts=True))
write("http_request", "duplicate_signature.http",
      post(b"/webhooks/recharge/customer/updated", small, [b"X-Recharge-Hmac-Sha256: " + legacy(small)]))
write("http_request", "unknown_topic.http", post(b"/webhooks/recharge/spaceship/launched", small))
write("http_request", "unsigned.http", post(b"/webhooks/recharge/customer/updated", small, sign=False))
write("http_request", "chunked.http",
      b"POST /webhooks/recharge/customer/updated HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
      b"X-Recharge-Hmac-Sha256: " + legacy(small) + b"\r\n\r\n" +
      b"%x\r\n" % 10 + small[:10] + b"\r\n" + b"%x\r\n" % (len(small) - 10) + small[10:] + b"\r\n0\r\n\r\n")
write("http_request", "pipelined.http",
      post(b"/webhooks/recharge/customer/updated", small) +
      b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n" +
      post(b"/webhooks/recharge/customer/activated", small, [b"Connection: close"]))
# Empty lines before a request line, ignored (RFC 9112 2.2): a CRLF after a body, and more.
write("http_request", "empty_lines.http",
      b"\r\n" + post(b"/webhooks/recharge/customer/updated", small) + b"\r\n" +
      b"\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
write("http_request", "http10_get.http", b"GET /webhooks/recharge HTTP/1.0\r\n\r\n")
write("http_request", "empty_body.http", post(b"/webhooks/recharge/customer/updated", b""))
write("http_request", "truncated.http", post(b"/webhooks/recharge/customer/updated", small)[:-10])
print("seeds written to", os.path.join(ROOT, "corpus"))
