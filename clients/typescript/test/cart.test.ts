import assert from "node:assert/strict";
import { test } from "node:test";
import { CartsyncError, formatMoney } from "../src/index.js";
import { device, guest, guestToken, recording } from "./support.js";

const ADDRESS = {
  first_name: "Jane", last_name: "Doe", address_1: "1 Main St", city: "New York",
  state: "NY", postcode: "10001", country: "US",
};

test("a read sends the cached cart's ETag and a 304 answers the cached cart", async () => {
  const token = await guestToken();
  const http = recording();
  const shopper = device(token, { fetch: http.fetch });
  const first = await shopper.getCart();
  assert.equal(first.notModified, false);
  assert.deepEqual(first.cart.items, []);
  assert.match(first.cart.version, /^[0-9a-f]+\.\d+$/);

  const second = await shopper.getCart();
  assert.equal(second.notModified, true);
  assert.equal(second.cart, first.cart);
  const reads = http.log.filter((e) => e.url.pathname === "/v1/cart");
  assert.deepEqual(reads.map((e) => e.status), [200, 304]);
  assert.equal(reads[0]?.headers.get("If-None-Match"), null);
  assert.equal(reads[1]?.headers.get("If-None-Match"), reads[0]?.responseHeaders?.get("ETag"));
  assert.equal(reads[1]?.headers.get("Authorization")?.startsWith("Bearer "), true);

  // Another device changes the cart: the next read is a 200 with the new version, not a 304.
  const written = await device(token).addItem(10, 1);
  const third = await shopper.getCart();
  assert.equal(third.notModified, false);
  assert.equal(third.cart.version, written.data.version);
  assert.equal(third.cart.items[0]?.product_id, 10);
});

test("add, update and remove send an Idempotency-Key; the same key again is replayed", async () => {
  const http = recording();
  const shopper = await guest({ fetch: http.fetch });
  const added = await shopper.addItem(10, 2);
  assert.equal(added.status, 200);
  assert.equal(added.replayed, false);
  const line = added.data.items[0];
  assert.ok(line);
  assert.equal(line.quantity, 2);
  assert.equal(http.log.at(-1)?.headers.get("Idempotency-Key"), added.idempotencyKey);

  const again = await shopper.addItem(10, 2, [], { idempotencyKey: added.idempotencyKey });
  assert.equal(again.replayed, true);
  assert.equal(http.log.at(-1)?.responseHeaders?.get("Idempotent-Replayed"), "true");
  assert.equal(again.data.version, added.data.version);
  assert.equal(again.data.items[0]?.quantity, 2, "a replay applies nothing");

  await assert.rejects(shopper.addItem(11, 1, [], { idempotencyKey: added.idempotencyKey }), (error) => {
    assert.ok(error instanceof CartsyncError);
    assert.equal(error.status, 422);
    assert.equal(error.code, "idempotency_key_reused");
    return true;
  });

  const updated = await shopper.setQuantity(line.key, 5);
  assert.equal(updated.data.items[0]?.quantity, 5);
  assert.notEqual(updated.idempotencyKey, added.idempotencyKey);
  const removed = await shopper.removeItem(line.key);
  assert.deepEqual(removed.data.items, []);
  const keys = http.log.filter((e) => e.method !== "GET" && e.url.pathname.startsWith("/v1/cart")).map((e) => e.headers.get("Idempotency-Key"));
  assert.equal(keys.length, 5);
  assert.ok(keys.every((key) => key && key.length >= 32));
  // The answer to the last write is the cached cart: a read is a 304.
  assert.equal((await shopper.getCart()).notModified, true);
});

test("a write whose answer is lost is sent again with the same key and applies once", async () => {
  let cut = true;
  const http = recording(async (request) => {
    const response = await fetch(request);
    if (cut && new URL(request.url).pathname === "/v1/cart/items") {
      cut = false;
      await response.arrayBuffer(); // the store applied it; the answer never arrives
      throw new TypeError("fetch failed: connection reset");
    }
    return response;
  });
  const shopper = await guest({ fetch: http.fetch });
  const added = await shopper.addItem(15, 3);
  assert.equal(added.replayed, true);
  assert.equal(added.data.items.length, 1);
  assert.equal(added.data.items[0]?.quantity, 3);
  const posts = http.log.filter((e) => e.method === "POST" && e.url.pathname === "/v1/cart/items");
  assert.equal(posts.length, 2);
  assert.equal(posts[0]?.headers.get("Idempotency-Key"), posts[1]?.headers.get("Idempotency-Key"));
});

test("a refusal is a CartsyncError with the code, the field and the cart", async () => {
  const shopper = await guest();
  await shopper.addItem(10, 1);
  await assert.rejects(shopper.removeItem("nosuchline"), (error) => {
    assert.ok(error instanceof CartsyncError);
    assert.equal(error.status, 409);
    assert.equal(error.code, "item_not_found");
    assert.equal(error.cart?.items[0]?.product_id, 10);
    return true;
  });
  await assert.rejects(shopper.addItem(14, 1), { name: "CartsyncError", status: 409, code: "out_of_stock" });
  await assert.rejects(shopper.applyCoupon("nosuchcoupon"), { status: 404, code: "coupon_not_found" });
});

test("the seed flow: lines, customer, a shipping rate, a coupon, money formatted in the cart's currency", async () => {
  const shopper = await guest();
  await shopper.addItem(10, 2);
  await shopper.updateCustomer({ billing_address: { ...ADDRESS, email: "jane@example.com" }, shipping_address: ADDRESS });
  await shopper.selectShippingRate("free_shipping:2", 0);
  const { data: cart } = await shopper.applyCoupon("test");
  assert.deepEqual(cart.currency, { code: "USD", minor_unit: 2, symbol: "$", prefix: "$", suffix: "" });
  assert.equal(cart.shipping[0]?.selected_rate, "free_shipping:2");
  assert.equal(cart.coupons[0]?.code, "test");
  assert.equal(formatMoney(cart.items[0]?.unit_price ?? -1, cart.currency), "$18.00");
  assert.equal(formatMoney(cart.totals.discount, cart.currency), "$5.40");
  assert.equal(formatMoney(cart.totals.total, cart.currency), "$33.66");
});
