/** What the tests share: the gateway `scripts/run-tests.mjs` started, polling, fetch doubles. */
import { Cartsync, type CartsyncOptions } from "../src/index.js";

const url = process.env.CARTSYNC_TEST_URL;
if (!url) throw new Error("CARTSYNC_TEST_URL is not set: run the tests with `npm test`");
export const BASE_URL: string = url;

type Fetch = (request: Request) => Promise<Response>;

/** A client of a new guest (its own cart). */
export function guest(options: Partial<CartsyncOptions> = {}): Promise<Cartsync> {
  return Cartsync.guest({ baseUrl: BASE_URL, retryDelayMs: 20, ...options });
}

/** Another device of the same shopper: the same token, its own client. */
export function device(token: string, options: Partial<CartsyncOptions> = {}): Cartsync {
  return new Cartsync({ baseUrl: BASE_URL, token, retryDelayMs: 20, ...options });
}

/** Polls `probe` until it gives a value, failing after `timeoutMs` (no fixed sleeps). */
export async function until<T>(what: string, probe: () => T | undefined | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export interface Exchange {
  method: string;
  url: URL;
  headers: Headers;
  status?: number;
  responseHeaders?: Headers;
}

/** The global fetch, recording every request and answer. */
export function recording(inner: Fetch = (request) => fetch(request)): { fetch: Fetch; log: Exchange[] } {
  const log: Exchange[] = [];
  return {
    log,
    fetch: async (request) => {
      const entry: Exchange = { method: request.method, url: new URL(request.url), headers: new Headers(request.headers) };
      log.push(entry);
      const response = await inner(request);
      entry.status = response.status;
      entry.responseHeaders = response.headers;
      return response;
    },
  };
}

/** A promise and its resolve function. */
export function gate(): { opened: Promise<void>; open: () => void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

/** A new guest's token (`POST /v1/session/guest`): give it to several devices. */
export async function guestToken(): Promise<string> {
  const response = await fetch(`${BASE_URL}/v1/session/guest`, { method: "POST" });
  if (response.status !== 201) throw new Error(`guest session: ${response.status}`);
  return ((await response.json()) as { token: string }).token;
}
