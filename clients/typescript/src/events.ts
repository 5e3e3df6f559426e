/**
 * Server-Sent Events over fetch: a small parser (the WHATWG event-stream format) and the
 * cart stream's reconnect loop. Node has no EventSource, and EventSource cannot send an
 * Authorization header; a fetch body stream works on Node 20 and in browsers.
 */
import type { components } from "./schema.js";

type Cart = components["schemas"]["Cart"];

export interface SseMessage {
  event: string;
  data: string;
  /** The last event id seen on this stream (ids persist across events, as in EventSource). */
  id: string | undefined;
}

/** Feed it decoded text in any chunks; it calls `onMessage` for each complete event. */
export class SseParser {
  #buffer = "";
  #started = false;
  #data: string[] = [];
  #event = "";
  lastEventId: string | undefined;
  /** The last `retry:` the server sent (ms). */
  retry: number | undefined;

  constructor(
    private readonly onMessage: (message: SseMessage) => void,
    private readonly onComment: (text: string) => void = () => {},
  ) {}

  push(text: string): void {
    this.#buffer += text;
    if (!this.#started && this.#buffer.length > 0) {
      this.#started = true;
      if (this.#buffer.startsWith("\uFEFF")) this.#buffer = this.#buffer.slice(1);
    }
    let start = 0;
    for (;;) {
      const cr = this.#buffer.indexOf("\r", start);
      const lf = this.#buffer.indexOf("\n", start);
      const end = cr === -1 ? lf : lf === -1 ? cr : Math.min(cr, lf);
      if (end === -1) break;
      // A CR as the last character may be the first half of CRLF: wait for the next chunk.
      if (end === cr && cr === this.#buffer.length - 1) break;
      this.#line(this.#buffer.slice(start, end));
      start = end + (end === cr && this.#buffer[cr + 1] === "\n" ? 2 : 1);
    }
    this.#buffer = this.#buffer.slice(start);
  }

  #line(line: string): void {
    if (line === "") return this.#dispatch();
    if (line.startsWith(":")) return this.onComment(line.slice(1).trimStart());
    const colon = line.indexOf(":");
    const field = colon === -1 ? line : line.slice(0, colon);
    let value = colon === -1 ? "" : line.slice(colon + 1);
    if (value.startsWith(" ")) value = value.slice(1);
    if (field === "data") this.#data.push(value);
    else if (field === "event") this.#event = value;
    else if (field === "id" && !value.includes("\0")) this.lastEventId = value;
    else if (field === "retry" && /^\d+$/.test(value)) this.retry = Number(value);
  }

  #dispatch(): void {
    const data = this.#data;
    const event = this.#event || "message";
    this.#data = [];
    this.#event = "";
    if (data.length > 0) this.onMessage({ event, data: data.join("\n"), id: this.lastEventId });
  }
}

/** Resolves after `ms`, or rejects when `signal` aborts. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const done = () => {
      signal?.removeEventListener("abort", abort);
      resolve();
    };
    const timer = setTimeout(done, ms);
    const abort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    signal?.addEventListener("abort", abort, { once: true });
  });
}

export interface CartStreamOptions {
  /** Every `cart` event: the whole cart, `id` its version. */
  onCart: (cart: Cart, id: string) => void;
  /** Each connection made (the answer's headers arrived). */
  onOpen?: () => void;
  /** A failed connection (the stream reconnects), or `fatal`: the stream has stopped. */
  onError?: (error: unknown, fatal: boolean) => void;
  /** Resume after this version (a cart the app already shows). */
  lastEventId?: string;
  /** A fixed reconnection delay (ms); by default the server's `retry:` (2 s, 0.1 s on shutdown). */
  reconnectMs?: number;
  signal?: AbortSignal;
}

export interface CartStream {
  close(): void;
  /** The version of the last cart received: sent as `Last-Event-ID` on reconnect. */
  readonly lastEventId: string | undefined;
  /** Settles when the stream has stopped (closed, or a fatal error). */
  readonly closed: Promise<void>;
}

type Connect = (lastEventId: string | undefined, signal: AbortSignal) => Promise<ReadableStream<Uint8Array>>;

/** 4xx answers other than 429 will not change by retrying (a bad or expired token). */
function isFatal(error: unknown): boolean {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === "number" && status >= 400 && status < 500 && status !== 429;
}

export function openCartStream(connect: Connect, options: CartStreamOptions): CartStream {
  const controller = new AbortController();
  options.signal?.addEventListener("abort", () => controller.abort(), { once: true });
  let lastEventId = options.lastEventId;
  let retryMs = 2000;
  let failures = 0;
  const report = (error: unknown, fatal: boolean) => options.onError?.(error, fatal);

  const run = async () => {
    while (!controller.signal.aborted) {
      let parser: SseParser | undefined;
      try {
        const body = await connect(lastEventId, controller.signal);
        options.onOpen?.();
        parser = new SseParser((message) => {
          failures = 0;
          if (message.event !== "cart" || message.id === undefined) return;
          let cart: Cart;
          try {
            cart = JSON.parse(message.data) as Cart;
          } catch (error) {
            return report(error, false);
          }
          lastEventId = message.id;
          options.onCart(cart, message.id);
        }, () => (failures = 0));
        parser.lastEventId = lastEventId;
        const reader = body.getReader();
        const decoder = new TextDecoder();
        try {
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            parser.push(decoder.decode(value, { stream: true }));
          }
        } finally {
          reader.releaseLock();
        }
      } catch (error) {
        if (controller.signal.aborted) break;
        if (isFatal(error)) return report(error, true);
        report(error, false);
        failures++;
      }
      retryMs = parser?.retry ?? retryMs; // the server's hint (2 s; 0.1 s as a replica stops)
      const delay = options.reconnectMs ?? Math.min(retryMs * 2 ** Math.max(failures - 1, 0), 30_000);
      await sleep(delay, controller.signal).catch(() => {});
    }
  };
  const closed = run();
  return {
    close: () => controller.abort(),
    get lastEventId() {
      return lastEventId;
    },
    closed,
  };
}
