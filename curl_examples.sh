#!/usr/bin/env bash
# Walks every route of the API with curl and checks each status code.
#   BASE_URL        default http://localhost:8000
#   WEBHOOK_SECRET  must match the server's (default: dev-secret)
# Exits non-zero at the end if any response had an unexpected status.
set -euo pipefail

BASE_URL="${BASE_URL:-http://localhost:8000}"
WEBHOOK_SECRET="${WEBHOOK_SECRET:-dev-secret}"
RUN="$(date +%s)-$$"
failures=0
BODY_FILE="$(mktemp)"
trap 'rm -f "$BODY_FILE"' EXIT

# call EXPECTED METHOD PATH [curl args...]: prints the body, records a failure on a mismatch.
call() {
    local expected="$1" method="$2" path="$3"
    shift 3
    local status
    status=$(curl -sS -o "$BODY_FILE" -w '%{http_code}' -X "$method" "$BASE_URL$path" "$@")
    if [ "$status" = "$expected" ]; then
        printf 'ok    %s %-32s -> %s\n' "$method" "$path" "$status"
    else
        printf 'FAIL  %s %-32s -> %s (expected %s): %s\n' "$method" "$path" "$status" "$expected" "$(cat "$BODY_FILE")"
        failures=$((failures + 1))
    fi
}
json() { call "$@" -H 'Content-Type: application/json'; }
field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$BODY_FILE"; }

echo "== products"
json 201 POST /products/ -d "{\"sku\":\"CURL-$RUN\",\"name\":\"Curl widget\",\"price\":49.99,\"stock\":50}"
PRODUCT_ID=$(field id)
json 409 POST /products -d "{\"sku\":\"CURL-$RUN\",\"name\":\"Again\",\"price\":1.00,\"stock\":1}"
json 422 POST /products -d '{"sku":"","price":1.234,"stok":5}'
call 200 GET "/products/?skip=0&limit=10"
call 200 GET "/products/$PRODUCT_ID"
call 404 GET /products/99999999
json 200 PUT "/products/$PRODUCT_ID" -d '{"price":44.99}'

echo "== orders"
json 201 POST /orders/ -d "{\"product_id\":$PRODUCT_ID,\"quantity\":3}"
ORDER_ID=$(field id)
json 409 POST /orders -d "{\"product_id\":$PRODUCT_ID,\"quantity\":1000}"
json 404 POST /orders -d '{"product_id":99999999,"quantity":1}'
call 200 GET "/orders/?status=PENDING&product_id=$PRODUCT_ID"
call 200 GET "/orders/$ORDER_ID"

echo "== payment webhook"
PAY="{\"event\":\"payment.succeeded\",\"order_id\":$ORDER_ID,\"amount\":134.97,\"currency\":\"USD\"}"
SIG=$(printf '%s' "$PAY" | openssl dgst -sha256 -hmac "$WEBHOOK_SECRET" | sed 's/^.* //')
json 401 POST /webhooks/payment -H "X-Event-Id: evt-$RUN" -d "$PAY"
json 401 POST /webhooks/payment -H "X-Webhook-Signature: sha256=$(printf '0%.0s' $(seq 64))" -H "X-Event-Id: evt-$RUN" -d "$PAY"
json 200 POST /webhooks/payment -H "X-Webhook-Signature: sha256=$SIG" -H "X-Event-Id: evt-$RUN" -d "$PAY"
json 400 POST /webhooks/payment -H "X-Webhook-Signature: sha256=$SIG" -H "X-Event-Id: evt-$RUN" -d "$PAY"

echo "== status transitions"
json 200 PUT "/orders/$ORDER_ID" -d '{"status":"SHIPPED"}'
json 400 PUT "/orders/$ORDER_ID" -d '{"status":"PAID"}'
call 400 DELETE "/orders/$ORDER_ID"
json 201 POST /orders -d "{\"product_id\":$PRODUCT_ID,\"quantity\":2}"
SECOND_ID=$(field id)
call 204 DELETE "/orders/$SECOND_ID"
call 409 DELETE "/products/$PRODUCT_ID"
json 201 POST /products -d "{\"sku\":\"CURL-TMP-$RUN\",\"name\":\"Temporary\",\"price\":1.50,\"stock\":0}"
call 204 DELETE "/products/$(field id)"

echo "== carts"
json 201 POST /products -d "{\"sku\":\"CURL-A-$RUN\",\"name\":\"Cart A\",\"price\":10.00,\"stock\":5}"
A_ID=$(field id)
json 201 POST /products -d "{\"sku\":\"CURL-B-$RUN\",\"name\":\"Cart B\",\"price\":2.50,\"stock\":5}"
B_ID=$(field id)
json 201 POST /products -d "{\"sku\":\"CURL-C-$RUN\",\"name\":\"Cart C\",\"price\":0.99,\"stock\":5}"
C_ID=$(field id)
# Three lines, all or nothing; each line keeps its price and the total is their sum.
json 201 POST /orders -d "{\"lines\":[{\"product_id\":$A_ID,\"quantity\":2},{\"product_id\":$B_ID,\"quantity\":1},{\"product_id\":$C_ID,\"quantity\":3}]}"
CART_ID=$(field id)
# Two short lines: a 409 listing both, and nothing taken.
json 409 POST /orders -d "{\"lines\":[{\"product_id\":$A_ID,\"quantity\":9},{\"product_id\":$B_ID,\"quantity\":1},{\"product_id\":$C_ID,\"quantity\":9}]}"
json 422 POST /orders -d "{\"lines\":[{\"product_id\":$A_ID,\"quantity\":0}]}"
call 200 GET "/orders?product_id=$B_ID"
call 204 DELETE "/orders/$CART_ID"

echo "== locations"
# Location 1, `default`, always exists: it holds every product's seed `stock`.
json 201 POST /locations -d "{\"code\":\"CURL-EAST-$RUN\",\"name\":\"East warehouse\",\"priority\":1}"
EAST_ID=$(field id)
json 409 POST /locations -d "{\"code\":\"CURL-EAST-$RUN\",\"name\":\"Again\"}"
call 200 GET /locations
call 200 GET "/locations/$EAST_ID"
call 404 GET /locations/99999999
# Three units of A move east (a transfer_out and a transfer_in ledger row); B gets a delivery there.
json 200 POST /transfers -d "{\"product_id\":$A_ID,\"from_location_id\":1,\"to_location_id\":$EAST_ID,\"quantity\":3}"
json 409 POST /transfers -d "{\"product_id\":$A_ID,\"from_location_id\":1,\"to_location_id\":$EAST_ID,\"quantity\":99}"
json 200 POST "/products/$B_ID/adjustments" -d "{\"delta\":4,\"reason\":\"delivery\",\"location_id\":$EAST_ID}"
# A three-line cart across two locations: A's line is taken east (named), B's and C's are
# allocated by the engine (one location when one can serve the whole line, else split).
json 201 POST /orders -d "{\"lines\":[{\"product_id\":$A_ID,\"quantity\":2,\"location_id\":$EAST_ID},{\"product_id\":$B_ID,\"quantity\":6},{\"product_id\":$C_ID,\"quantity\":1}]}"
call 200 GET "/products/$A_ID/levels"
call 200 GET "/products/$B_ID/levels"
call 404 GET /products/99999999/levels

echo "== operations"
call 200 GET /health
call 200 GET /metrics
call 200 GET /openapi.json
call 200 GET /docs
call 200 GET /redoc
call 404 GET /nowhere
call 405 PATCH /products

if [ "$failures" -ne 0 ]; then
    echo "$failures request(s) answered an unexpected status" >&2
    exit 1
fi
echo "all requests answered as expected"
