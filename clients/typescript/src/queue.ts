/**
 * An offline queue: operations made while offline, replayed in order through
 * `POST /v1/cart/ops`, each with its `op_id`, each batch under one Idempotency-Key that
 * is stored with it, so a batch whose answer was lost (or an app that was killed while
 * sending) is sent again under the same key and applies once.
 */
import { CartsyncError, newIdempotencyKey, type Cart, type Cartsync, type OpResult, type Operation } from "./client.js";

type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
/** An operation to queue; an `op_id` is made when it has none. */
export type NewOperation = DistributiveOmit<Operation, "op_id"> & { op_id?: string };

/** Where the queue lives between launches (localStorage, AsyncStorage, a file). */
export interface QueueStorage {
  load(): string | null | undefined | Promise<string | null | undefined>;
  save(value: string): void | Promise<void>;
}

export interface OperationReport extends OpResult {
  operation: Operation;
}

export interface FlushReport {
  /** Each operation this flush settled, in order: `applied`, `refused`, `precondition_failed`. */
  results: OperationReport[];
  /** The cart after the last batch sent. */
  cart: Cart | undefined;
  /** Still queued: outcomes not known yet (`pending`; flush again) or `not_applied`. */
  remaining: number;
}

export interface QueueOptions {
  storage?: QueueStorage;
  /** Operations per request (the gateway takes up to 100). */
  batchSize?: number;
  /** Each settled operation, as it settles. */
  onResult?: (report: OperationReport) => void;
}

interface Saved {
  operations: Operation[];
  batch?: { key: string; size: number } | undefined;
}

export class OfflineQueue {
  #operations: Operation[] = [];
  #batch: Saved["batch"];
  #loading: Promise<void> | undefined;
  #flushing: Promise<FlushReport> | undefined;

  constructor(
    private readonly client: Cartsync,
    private readonly options: QueueOptions = {},
  ) {}

  #load(): Promise<void> {
    this.#loading ??= (async () => {
      const raw = await this.options.storage?.load();
      if (!raw) return;
      const saved = JSON.parse(raw) as Saved;
      this.#operations = [...saved.operations, ...this.#operations];
      this.#batch = saved.batch;
    })();
    return this.#loading;
  }

  async #save(): Promise<void> {
    await this.options.storage?.save(JSON.stringify({ operations: this.#operations, batch: this.#batch }));
  }

  /** The operations not settled yet, oldest first. */
  async pending(): Promise<readonly Operation[]> {
    await this.#load();
    return [...this.#operations];
  }

  /** Queues an operation (stored at once); its `op_id`. */
  async enqueue(operation: NewOperation): Promise<string> {
    await this.#load();
    const queued = { ...operation, op_id: operation.op_id ?? `op-${newIdempotencyKey()}` } as Operation;
    this.#operations.push(queued);
    await this.#save();
    return queued.op_id;
  }

  /**
   * Sends everything queued, in batches. Rejects when the gateway cannot be reached or
   * the outcome stays unknown (the batch and its key are kept: flush again later), or on
   * `cart_state_lost` (show the cart, then `flush({ ifMatch: cart.version })`).
   */
  flush(options: { ifMatch?: string } = {}): Promise<FlushReport> {
    this.#flushing ??= this.#flush(options).finally(() => (this.#flushing = undefined));
    return this.#flushing;
  }

  async #flush(options: { ifMatch?: string }): Promise<FlushReport> {
    await this.#load();
    const results: OperationReport[] = [];
    const settle = (report: OperationReport) => {
      results.push(report);
      this.options.onResult?.(report);
    };
    let cart: Cart | undefined;
    while (this.#operations.length > 0) {
      if (!this.#batch) {
        const size = Math.min(this.#operations.length, this.options.batchSize ?? 100);
        this.#batch = { key: newIdempotencyKey(), size };
        await this.#save(); // the key is kept before the batch leaves
      }
      const batch = this.#operations.slice(0, this.#batch.size);
      let answer;
      try {
        const ifMatch = options.ifMatch ? { ifMatch: options.ifMatch } : {};
        answer = await this.client.applyOperations(batch, { idempotencyKey: this.#batch.key, ...ifMatch });
      } catch (error) {
        const malformed =
          error instanceof CartsyncError && [400, 422].includes(error.status) && error.code !== "idempotency_key_reused";
        if (!malformed) throw error;
        // The request was refused whole: the operation `field` names (all, if none) is refused, the rest goes again.
        const named = /^operations\[(\d+)\]/.exec(error.field ?? "");
        const refused = new Set(named ? [Number(named[1])] : batch.map((_, i) => i));
        const detail = { code: error.code, message: error.message, field: error.field };
        batch.forEach((operation, i) => {
          if (refused.has(i)) settle({ op_id: operation.op_id, status: "refused", error: detail, operation });
        });
        this.#operations = this.#operations.filter((_, i) => !refused.has(i));
        this.#batch = undefined;
        await this.#save();
        continue;
      }
      cart = answer.data.cart;
      if (answer.status === 202) break; // outcomes not known yet: the same batch, same key, next flush
      const byId = new Map(answer.data.results.map((result) => [result.op_id, result]));
      const kept: Operation[] = [];
      for (const operation of batch) {
        const result = byId.get(operation.op_id);
        if (!result || result.status === "not_applied") kept.push(operation);
        else settle({ ...result, operation });
      }
      this.#operations = [...kept, ...this.#operations.slice(batch.length)];
      this.#batch = undefined; // the next batch is another request: another key
      await this.#save();
      if (kept.length === batch.length) break; // nothing settled: try again on the next flush
    }
    return { results, cart, remaining: this.#operations.length };
  }
}
