import assert from "node:assert/strict";
import { test } from "node:test";
import { formatMoney } from "../src/index.js";

const USD = { code: "USD", minor_unit: 2, symbol: "$", prefix: "$", suffix: "" };
const EUR = { code: "EUR", minor_unit: 2, symbol: "€", prefix: "", suffix: "\u00a0€" };
const JPY = { code: "JPY", minor_unit: 0, symbol: "¥", prefix: "¥", suffix: "" };
const KWD = { code: "KWD", minor_unit: 3, symbol: "KD", prefix: "", suffix: " KD" };

test("USD: 1234 minor units are $12.34", () => {
  assert.equal(formatMoney(1234, USD), "$12.34");
  assert.equal(formatMoney(0, USD), "$0.00");
  assert.equal(formatMoney(5, USD), "$0.05");
  assert.equal(formatMoney(123456789, USD), "$1,234,567.89");
  assert.equal(formatMoney(-540, USD), "-$5.40");
});

test("a currency with a suffix, and the store's separators", () => {
  assert.equal(formatMoney(1234, EUR), "12.34\u00a0€");
  assert.equal(formatMoney(123456, EUR, { decimalSeparator: ",", thousandSeparator: "." }), "1.234,56\u00a0€");
  assert.equal(formatMoney(1234, KWD), "1.234 KD");
});

test("minor_unit 0: no decimals", () => {
  assert.equal(formatMoney(1234, JPY), "¥1,234");
  assert.equal(formatMoney(1234567, JPY, { thousandSeparator: "" }), "¥1234567");
  assert.equal(formatMoney(7, JPY), "¥7");
});

test("the symbol stands in front when the currency has no prefix or suffix", () => {
  assert.equal(formatMoney(250, { minor_unit: 2, symbol: "£", prefix: "", suffix: "" }), "£2.50");
});

test("an amount that is not an integer of minor units is refused", () => {
  assert.throws(() => formatMoney(12.5, USD), RangeError);
  assert.throws(() => formatMoney(Number.NaN, USD), RangeError);
});
