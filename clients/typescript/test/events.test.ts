import assert from "node:assert/strict";
import { test } from "node:test";
import { Cartsync, CartsyncError, SseParser, type Cart } from "../src/index.js";
import { BASE_URL, device, gate, guest, guestToken, recording, until } from "./support.js";

type Received = { id: string; cart: Cart };

test("the stream delivers a change made on another device", async () => {
  const token = await guestToken();
  const http = recording();
  const phone = device(token, { fetch: http.fetch });
  const laptop = device(token);
  const { cart: current } = await phone.getCart();
  const received: Received[] = [];
  const stream = phone.events({ onCart: (cart, id) => received.push({ id, cart }) });
  try {
    await until("the current cart on the stream", () => received.length >= 1);
    assert.equal(received[0]?.id, current.version);

    const { data: changed } = await laptop.addItem(15, 1);
    const event = await until("the laptop's change", () => received.find((r) => r.id === changed.version));
    assert.equal(event.cart.items[0]?.product_id, 15);
    assert.equal(stream.lastEventId, changed.version);
    assert.equal(phone.cart?.version, changed.version, "the stream keeps the cached cart current");
    assert.equal(http.log.find((e) => e.url.pathname === "/v1/cart/events")?.headers.get("Accept"), "text/event-stream");
  } finally {
    stream.close();
    await stream.closed;
  }
});

test("a cut stream reconnects with Last-Event-ID and gets what it missed, once", async () => {
  let connections = 0;
  const reconnecting = gate();
  const release = gate();
  const secondLastEventId: (string | null)[] = [];
  const http = recording(async (request) => {
    if (new URL(request.url).pathname !== "/v1/cart/events") return fetch(request);
    connections += 1;
    if (connections === 2) {
      secondLastEventId.push(request.headers.get("Last-Event-ID"));
      reconnecting.open();
      await release.opened;
    }
    const response = await fetch(request);
    if (connections !== 1 || !response.body) return response;
    // The first connection ends (a proxy's idle cut) right after its first cart event.
    const upstream = response.body.getReader();
    const decoder = new TextDecoder();
    let sawCart = false;
    const parser = new SseParser((message) => (sawCart ||= message.event === "cart"));
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        const { done, value } = await upstream.read();
        if (done) return controller.close();
        controller.enqueue(value);
        parser.push(decoder.decode(value, { stream: true }));
        if (sawCart) {
          controller.close();
          await upstream.cancel();
        }
      },
    });
    return new Response(body, { status: response.status, headers: response.headers });
  });
  const token = await guestToken();
  const phone = device(token, { fetch: http.fetch });
  const laptop = device(token);
  const received: string[] = [];
  const stream = phone.events({ onCart: (_cart, id) => received.push(id), reconnectMs: 20 });
  try {
    await reconnecting.opened;
    assert.equal(received.length, 1);
    assert.deepEqual(secondLastEventId, [received[0]]);

    const { data: changed } = await laptop.addItem(11, 1); // made while the stream is down
    release.open();
    await until("the change made while disconnected", () => received.includes(changed.version));
    assert.deepEqual(received, [secondLastEventId[0], changed.version], "nothing twice");
    assert.equal(connections, 2);
  } finally {
    release.open();
    stream.close();
    await stream.closed;
  }
});

test("a stream opened at the current version waits for the next change", async () => {
  const token = await guestToken();
  const phone = device(token);
  const laptop = device(token);
  const { data: before } = await phone.addItem(10, 1);
  const received: string[] = [];
  const stream = phone.events({ lastEventId: before.version, onCart: (_cart, id) => received.push(id) });
  try {
    const { data: after } = await laptop.addItem(12, 1);
    await until("the next change", () => received.length >= 1);
    assert.deepEqual(received, [after.version], "the version it had is not sent again");
  } finally {
    stream.close();
    await stream.closed;
  }
});

test("a stream token opens the stream without an Authorization header, as EventSource must", async () => {
  const http = recording();
  const phone = await guest({ fetch: http.fetch });
  const { cart } = await phone.getCart();
  const received: string[] = [];
  const stream = phone.events({ useStreamToken: true, onCart: (_cart, id) => received.push(id) });
  try {
    await until("the cart on a stream-token stream", () => received.length >= 1);
    assert.deepEqual(received, [cart.version]);
    const opened = http.log.find((e) => e.url.pathname === "/v1/cart/events");
    assert.ok(opened);
    assert.ok(opened.url.searchParams.get("stream_token"));
    assert.equal(opened.headers.get("Authorization"), null);
  } finally {
    stream.close();
    await stream.closed;
  }

  const url = await phone.eventSourceUrl();
  assert.ok(url.startsWith(`${BASE_URL}/v1/cart/events?stream_token=`));
  const abort = new AbortController();
  const response = await fetch(url, { signal: abort.signal });
  assert.equal(response.status, 200);
  assert.match(response.headers.get("Content-Type") ?? "", /^text\/event-stream/);
  abort.abort();
  await response.body?.cancel().catch(() => {});
});

test("a stream refused for its token stops with a fatal error", async () => {
  const errors: [unknown, boolean][] = [];
  const stranger = new Cartsync({ baseUrl: BASE_URL, token: "not-a-token" });
  const stream = stranger.events({ onCart: () => assert.fail("no cart"), onError: (e, fatal) => errors.push([e, fatal]) });
  await stream.closed;
  assert.equal(errors.length, 1);
  const [error, fatal] = errors[0] ?? [];
  assert.ok(error instanceof CartsyncError);
  assert.equal(error.status, 401);
  assert.equal(fatal, true);
});
