/** Money as the API gives it: integers in the currency's minor units, formatted. */
import type { Currency } from "./client.js";

export interface MoneyFormat {
  /** Default ".". */
  decimalSeparator?: string;
  /** Default ","; "" for none. */
  thousandSeparator?: string;
}

/**
 * `1234` in USD (`minor_unit` 2, prefix `$`) → `"$12.34"`; the currency's prefix and
 * suffix as the store sets them (`suffix: " €"` → `"12.34 €"`), its symbol in front when it
 * has neither; `minor_unit` 0 has no decimals. Negative amounts get a leading `-`.
 */
export function formatMoney(
  amount: number,
  currency: Pick<Currency, "minor_unit" | "prefix" | "suffix" | "symbol">,
  format: MoneyFormat = {},
): string {
  if (!Number.isSafeInteger(amount)) throw new RangeError(`not an amount in minor units: ${amount}`);
  const { decimalSeparator = ".", thousandSeparator = "," } = format;
  const unit = Math.max(0, Math.trunc(currency.minor_unit));
  const digits = Math.abs(amount).toString().padStart(unit + 1, "0");
  const major = digits.slice(0, digits.length - unit);
  const minor = digits.slice(digits.length - unit);
  const grouped = major.replace(/\B(?=(\d{3})+(?!\d))/g, thousandSeparator);
  const number = unit > 0 ? `${grouped}${decimalSeparator}${minor}` : grouped;
  const prefix = currency.prefix || currency.suffix ? currency.prefix : currency.symbol;
  return `${amount < 0 ? "-" : ""}${prefix}${number}${currency.suffix}`;
}
