export * from "./client.js";
export { openCartStream, SseParser, type CartStream, type CartStreamOptions, type SseMessage } from "./events.js";
export { formatMoney, type MoneyFormat } from "./money.js";
export * from "./queue.js";
export type { components, operations, paths } from "./schema.js";
