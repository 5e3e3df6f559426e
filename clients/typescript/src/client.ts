/**
 * The cartsync `/v1` client: typed calls through openapi-fetch (types generated from
 * `openapi/cartsync.v1.json` into `schema.d.ts`), a cached cart read with `If-None-Match`,
 * an `Idempotency-Key` on every write (generated, reused on every retry), and the change
 * stream. No dependency beyond openapi-fetch; runs on Node 20, browsers and React Native.
 */
import createClient, { type Client } from "openapi-fetch";
import { openCartStream, sleep, type CartStream, type CartStreamOptions } from "./events.js";
import type { components, paths } from "./schema.js";

export type Schemas = components["schemas"];
export type Cart = Schemas["Cart"];
export type Item = Schemas["Item"];
export type Currency = Schemas["Currency"];
export type AddressIn = Schemas["AddressIn"];
export type CustomerIn = Schemas["CustomerIn"];
export type VariationIn = Schemas["VariationIn"];
export type ErrorBody = Schemas["ErrorBody"];
/** One entry of `POST /v1/cart/ops`: `{op_id, type, ...}`. */
export type Operation = Schemas["OpsIn"]["operations"][number];
/** `applied`, `refused` (with `error`), `precondition_failed`, `not_applied` or `pending`. */
export type OpResult = Schemas["OpOut"];
export type OpsAnswer = { results: OpResult[]; cart: Cart };
export type MergeAnswer = { merge: Schemas["MergeReportOut"]; cart: Cart };

export interface CartsyncOptions {
  /** The gateway, e.g. `https://cart.shop.example` (no `/v1`). */
  baseUrl: string;
  /** The bearer token (a shop login's JWT or a guest token), or a function giving it. */
  token?: string | (() => string | Promise<string>);
  /** Another fetch (tests, instrumentation); the global one by default. */
  fetch?: (input: Request) => Promise<Response>;
  /** Attempts after the first for a write that may be retried (503, 504, 429, network). */
  retries?: number;
  /** First retry delay, doubling each time; a `Retry-After` wins. Default 250 ms. */
  retryDelayMs?: number;
  /** The longest wait between two attempts. Default 10 s. */
  maxRetryDelayMs?: number;
}

export interface WriteOptions {
  /** Reuse a key (a retry of your own); by default one is generated for this call. */
  idempotencyKey?: string;
  /** `"<epoch>.<n>"` (or the ETag): apply only if the cart is still at that version. */
  ifMatch?: string;
  signal?: AbortSignal;
}

export interface Written<T> {
  data: T;
  status: number;
  /** The `Idempotency-Key` sent (the same on every attempt). */
  idempotencyKey: string;
  /** `Idempotent-Replayed: true`: the answer of an earlier request with this key. */
  replayed: boolean;
}

export interface CartRead {
  cart: Cart;
  /** `304`: the cached cart is current. */
  notModified: boolean;
}

/** Every 4xx and 5xx answer (`{code, message, field, cart}`), and a cut connection. */
export class CartsyncError extends Error {
  override readonly name = "CartsyncError";
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly field: string | null = null,
    readonly cart: Cart | undefined = undefined,
    readonly retryAfter: number | undefined = undefined,
  ) {
    super(message);
  }

  /** Worth sending again with the same Idempotency-Key: nothing or not known yet applied. */
  get retryable(): boolean {
    return [429, 503, 504].includes(this.status) || this.code === "idempotency_in_progress";
  }
}

function errorOf(response: Response, body: unknown): CartsyncError {
  const retry = Number(response.headers.get("Retry-After") ?? Number.NaN);
  const after = Number.isFinite(retry) ? retry : undefined;
  if (typeof body === "object" && body !== null && "code" in body && "message" in body) {
    const e = body as ErrorBody;
    return new CartsyncError(response.status, e.code, e.message, e.field, e.cart as Cart | undefined, after);
  }
  const message = response.statusText || "HTTP error";
  return new CartsyncError(response.status, `http_${response.status}`, message, null, undefined, after);
}

/** A random key (UUID where the platform has `crypto.randomUUID`). */
export function newIdempotencyKey(): string {
  const c = (globalThis as { crypto?: Partial<Crypto> }).crypto;
  if (c?.randomUUID) return c.randomUUID();
  const bytes = new Uint8Array(16);
  if (c?.getRandomValues) c.getRandomValues(bytes);
  else for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(Math.random() * 256);
  return Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
}

/** `"epoch.n"` older than `than` (a version of another epoch never is: the sequence restarted). */
function isOlder(version: string, than: string): boolean {
  const [e1, n1] = version.split(".");
  const [e2, n2] = than.split(".");
  return e1 === e2 && Number(n1) < Number(n2);
}

type Sent<T> = { data?: T; error?: unknown; response: Response };
type Init = { headers: Record<string, string>; signal?: AbortSignal };

export class Cartsync {
  /** The typed openapi-fetch client, with the bearer token on every call. */
  readonly api: Client<paths>;
  readonly #public: Client<paths>;
  readonly #options: CartsyncOptions;
  #cart: Cart | undefined;
  #etag: string | undefined;

  constructor(options: CartsyncOptions) {
    this.#options = options;
    const base = { baseUrl: options.baseUrl, ...(options.fetch ? { fetch: options.fetch } : {}) };
    this.#public = createClient<paths>(base);
    this.api = createClient<paths>(base);
    this.api.use({
      onRequest: async ({ request }) => {
        const token = typeof options.token === "function" ? await options.token() : options.token;
        if (token !== undefined && !request.headers.has("Authorization")) {
          request.headers.set("Authorization", `Bearer ${token}`);
        }
        return request;
      },
    });
  }

  /** A new guest (`POST /v1/session/guest`) and a client with its token. */
  static async guest(options: Omit<CartsyncOptions, "token">): Promise<Cartsync> {
    const { data, error, response } = await new Cartsync(options).#public.POST("/v1/session/guest");
    if (!data) throw errorOf(response, error);
    return new Cartsync({ ...options, token: data.token });
  }

  /** The last cart this client saw (a read, a write's answer or the stream). */
  get cart(): Cart | undefined {
    return this.#cart;
  }

  #remember(cart: Cart, etag: string | null): void {
    if (this.#cart && isOlder(cart.version, this.#cart.version)) return; // a late answer
    this.#cart = cart;
    this.#etag = etag ?? `"${cart.version}"`;
  }

  /** `GET /v1/cart` with `If-None-Match`: a `304` answers the cached cart. */
  async getCart(options: { signal?: AbortSignal } = {}): Promise<CartRead> {
    const cached = this.#cart;
    const header = cached && this.#etag ? { "If-None-Match": this.#etag } : {};
    const { data, error, response } = await this.api.GET("/v1/cart", {
      params: { header },
      ...(options.signal ? { signal: options.signal } : {}),
    });
    if (response.status === 304 && cached) return { cart: cached, notModified: true };
    if (!data) throw errorOf(response, error);
    this.#remember(data, response.headers.get("ETag"));
    return { cart: data, notModified: false };
  }

  /** Sends a write with its Idempotency-Key, again with the same key while it may be retried. */
  async #write<T>(send: (init: Init) => Promise<Sent<T>>, options: WriteOptions, cartOf: (data: T) => Cart): Promise<Written<T>> {
    const idempotencyKey = options.idempotencyKey ?? newIdempotencyKey();
    const headers: Record<string, string> = { "Idempotency-Key": idempotencyKey };
    if (options.ifMatch) headers["If-Match"] = options.ifMatch;
    const init = { headers, ...(options.signal ? { signal: options.signal } : {}) };
    const { retries = 3, retryDelayMs = 250, maxRetryDelayMs = 10_000 } = this.#options;
    for (let attempt = 0; ; attempt++) {
      let failure: unknown;
      try {
        const { data, error, response } = await send(init);
        if (response.ok && data !== undefined) {
          this.#remember(cartOf(data), response.headers.get("ETag"));
          const replayed = response.headers.get("Idempotent-Replayed") === "true";
          return { data, status: response.status, idempotencyKey, replayed };
        }
        failure = errorOf(response, error);
      } catch (cut) {
        failure = cut; // no answer (offline, a dropped connection): the outcome is unknown
      }
      const again = failure instanceof CartsyncError ? failure.retryable : !options.signal?.aborted;
      if (!again || attempt >= retries) throw failure;
      const hinted = failure instanceof CartsyncError ? failure.retryAfter : undefined;
      const delay = hinted !== undefined ? hinted * 1000 : retryDelayMs * 2 ** attempt;
      await sleep(Math.min(delay, maxRetryDelayMs), options.signal);
    }
  }

  #cartWrite(send: (init: Init) => Promise<Sent<Cart>>, options: WriteOptions): Promise<Written<Cart>> {
    return this.#write(send, options, (cart) => cart);
  }

  addItem(productId: number, quantity = 1, variation: VariationIn[] = [], options: WriteOptions = {}) {
    const body = { product_id: productId, quantity, ...(variation.length ? { variation } : {}) };
    return this.#cartWrite((init) => this.api.POST("/v1/cart/items", { body, ...init }), options);
  }

  /** `0` removes the line. */
  setQuantity(key: string, quantity: number, options: WriteOptions = {}) {
    const params = { path: { key } };
    return this.#cartWrite((init) => this.api.PATCH("/v1/cart/items/{key}", { params, body: { quantity }, ...init }), options);
  }

  removeItem(key: string, options: WriteOptions = {}) {
    const params = { path: { key } };
    return this.#cartWrite((init) => this.api.DELETE("/v1/cart/items/{key}", { params, ...init }), options);
  }

  applyCoupon(code: string, options: WriteOptions = {}) {
    return this.#cartWrite((init) => this.api.POST("/v1/cart/coupons", { body: { code }, ...init }), options);
  }

  removeCoupon(code: string, options: WriteOptions = {}) {
    const params = { path: { code } };
    return this.#cartWrite((init) => this.api.DELETE("/v1/cart/coupons/{code}", { params, ...init }), options);
  }

  /** Partial addresses merge into the cart's. */
  updateCustomer(customer: CustomerIn, options: WriteOptions = {}) {
    return this.#cartWrite((init) => this.api.PUT("/v1/cart/customer", { body: customer, ...init }), options);
  }

  selectShippingRate(rateId: string, packageId?: number | string, options: WriteOptions = {}) {
    const body = { rate_id: rateId, ...(packageId !== undefined ? { package_id: packageId } : {}) };
    return this.#cartWrite((init) => this.api.PUT("/v1/cart/shipping", { body, ...init }), options);
  }

  /** `POST /v1/cart/ops`: up to 100 operations in order, one result per `op_id` (202: some pending). */
  applyOperations(operations: Operation[], options: WriteOptions = {}): Promise<Written<OpsAnswer>> {
    const send = (init: Init) => this.api.POST("/v1/cart/ops", { body: { operations }, ...init });
    return this.#write(send as (init: Init) => Promise<Sent<OpsAnswer>>, options, (answer) => answer.cart);
  }

  /** After login (this client has the user's token): the guest's cart into the user's. */
  mergeGuestCart(guestToken: string, options: WriteOptions = {}): Promise<Written<MergeAnswer>> {
    const send = (init: Init) => this.api.POST("/v1/cart/merge", { body: { guest_token: guestToken }, ...init });
    return this.#write(send as (init: Init) => Promise<Sent<MergeAnswer>>, options, (answer) => answer.cart);
  }

  /** A one-minute token that opens only the change stream (`?stream_token=`). */
  async streamToken(): Promise<string> {
    const { data, error, response } = await this.api.POST("/v1/cart/events/token");
    if (!data) throw errorOf(response, error);
    return data.token;
  }

  /** The stream's URL for a browser's `EventSource` (which cannot send Authorization). */
  async eventSourceUrl(): Promise<string> {
    const base = this.#options.baseUrl.replace(/\/+$/, "");
    return `${base}/v1/cart/events?stream_token=${encodeURIComponent(await this.streamToken())}`;
  }

  /**
   * `GET /v1/cart/events` over fetch: every change of the cart, from any device, with
   * reconnects that resume from `Last-Event-ID`. `useStreamToken` opens it with a stream
   * token instead of the Authorization header, as a browser's EventSource must.
   */
  events(options: CartStreamOptions & { useStreamToken?: boolean }): CartStream {
    const connect = async (lastEventId: string | undefined, signal: AbortSignal) => {
      const header = lastEventId ? { "Last-Event-ID": lastEventId } : {};
      const api = options.useStreamToken ? this.#public : this.api;
      const query = options.useStreamToken ? { stream_token: await this.streamToken() } : {};
      const { data, error, response } = await api.GET("/v1/cart/events", {
        params: { header, query },
        headers: { Accept: "text/event-stream" },
        parseAs: "stream",
        signal,
      });
      if (!response.ok || !data) throw errorOf(response, error);
      return data;
    };
    const onCart = (cart: Cart, id: string) => {
      this.#remember(cart, `"${id}"`);
      options.onCart(cart, id);
    };
    return openCartStream(connect, { ...options, onCart });
  }
}
