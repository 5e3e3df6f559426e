import assert from "node:assert/strict";
import { test } from "node:test";
import { OfflineQueue, type QueueStorage } from "../src/index.js";
import { device, guestToken, recording } from "./support.js";

function memory(): QueueStorage & { value: string | undefined } {
  const storage = {
    value: undefined as string | undefined,
    load: () => storage.value,
    save: (value: string) => void (storage.value = value),
  };
  return storage;
}

test("queued offline, replayed in order through /v1/cart/ops, each operation's result reported", async () => {
  let offline = true;
  const http = recording(async (request) => {
    if (offline) throw new TypeError("fetch failed: network unreachable");
    return fetch(request);
  });
  const shopper = device(await guestToken(), { fetch: http.fetch, retries: 1 });
  const storage = memory();
  const queue = new OfflineQueue(shopper, { storage });
  const ids = [
    await queue.enqueue({ type: "add", product_id: 10, quantity: 1 }),
    await queue.enqueue({ type: "add", product_id: 11, quantity: 2 }),
    await queue.enqueue({ type: "add", product_id: 15, quantity: 1 }),
    await queue.enqueue({ type: "apply_coupon", code: "test" }),
    await queue.enqueue({ type: "add", product_id: 14, quantity: 1 }), // out of stock
    await queue.enqueue({ op_id: "mine", type: "set_quantity", key: "nosuchline", quantity: 3 }),
  ];
  assert.equal(ids[5], "mine");
  assert.equal(new Set(ids).size, 6);

  await assert.rejects(queue.flush(), TypeError);
  assert.equal((await queue.pending()).length, 6, "nothing is lost while offline");
  assert.equal(JSON.parse(storage.value ?? "{}").operations.length, 6);

  offline = false;
  const seen: string[] = [];
  const reported = new OfflineQueue(shopper, { storage, onResult: (r) => seen.push(r.op_id) });
  const report = await reported.flush(); // a new queue on the same storage: the app restarted
  assert.deepEqual(report.results.map((r) => r.op_id), ids);
  assert.deepEqual(seen, ids);
  assert.deepEqual(report.results.map((r) => r.status), ["applied", "applied", "applied", "applied", "refused", "refused"]);
  assert.equal(report.results[4]?.error?.code, "out_of_stock");
  assert.equal(report.results[5]?.error?.code, "item_not_found");
  assert.equal(report.results[5]?.operation.type, "set_quantity");
  assert.equal(report.remaining, 0);
  assert.deepEqual(report.cart?.items.map((i) => [i.product_id, i.quantity]), [[10, 1], [11, 2], [15, 1]]);
  assert.deepEqual(report.cart?.coupons.map((c) => c.code), ["test"]);
  assert.equal(shopper.cart?.version, report.cart?.version);
  const sent = http.log.filter((e) => e.url.pathname === "/v1/cart/ops" && e.status !== undefined);
  assert.equal(sent.length, 1, "one request carried the six");
  assert.deepEqual(await reported.pending(), []);
});

test("a batch whose answer was lost is sent again under its key after a restart, and applies once", async () => {
  const token = await guestToken();
  const storage = memory();
  const lost = recording(async (request) => {
    const response = await fetch(request);
    if (new URL(request.url).pathname === "/v1/cart/ops") {
      await response.arrayBuffer();
      throw new TypeError("fetch failed: the app was killed");
    }
    return response;
  });
  const before = new OfflineQueue(device(token, { fetch: lost.fetch, retries: 0 }), { storage });
  await before.enqueue({ type: "add", product_id: 10, quantity: 2 });
  await before.enqueue({ type: "add", product_id: 15, quantity: 1 });
  await assert.rejects(before.flush(), TypeError);

  const http = recording();
  const after = new OfflineQueue(device(token, { fetch: http.fetch }), { storage });
  const report = await after.flush();
  assert.deepEqual(report.results.map((r) => r.status), ["applied", "applied"]);
  assert.deepEqual(report.cart?.items.map((i) => [i.product_id, i.quantity]), [[10, 2], [15, 1]], "not twice");
  const [first] = lost.log.filter((e) => e.url.pathname === "/v1/cart/ops");
  const [again] = http.log.filter((e) => e.url.pathname === "/v1/cart/ops");
  assert.equal(again?.headers.get("Idempotency-Key"), first?.headers.get("Idempotency-Key"));
  assert.equal(again?.responseHeaders?.get("Idempotent-Replayed"), "true");
});

test("an operation the gateway refuses as malformed is reported alone; the others apply", async () => {
  const http = recording();
  const queue = new OfflineQueue(device(await guestToken(), { fetch: http.fetch }));
  const good = await queue.enqueue({ type: "add", product_id: 10, quantity: 1 });
  const bad = await queue.enqueue({ type: "add", product_id: 11, quantity: 0 });
  const last = await queue.enqueue({ type: "add", product_id: 12, quantity: 1 });
  const report = await queue.flush();
  const status = Object.fromEntries(report.results.map((r) => [r.op_id, [r.status, r.error?.code, r.error?.field]]));
  assert.deepEqual(status, {
    [good]: ["applied", undefined, undefined],
    [bad]: ["refused", "invalid_request", "operations[1].quantity"],
    [last]: ["applied", undefined, undefined],
  });
  assert.deepEqual(report.cart?.items.map((i) => i.product_id), [10, 12]);
  const keys = http.log.filter((e) => e.url.pathname === "/v1/cart/ops").map((e) => e.headers.get("Idempotency-Key"));
  assert.equal(keys.length, 2);
  assert.notEqual(keys[0], keys[1], "another body is another request: another key");
});
