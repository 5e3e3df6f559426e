// src/schema.d.ts from the repository's OpenAPI document, with openapi-typescript.
//
//   node scripts/generate.mjs            (npm run generate) writes it
//   node scripts/generate.mjs --check    (npm run check-generated) fails when the committed
//                                        file differs from a fresh run: the document moved on
//   --document PATH                      another document (the check's own tests)
//
// The document itself is generated from the gateway's code (`python -m cartsync openapi`,
// checked by tests/integration/test_in_process.py); this checks the next link of the chain.
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const client = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const args = process.argv.slice(2);
const check = args.includes("--check");
const at = args.indexOf("--document");
const document = at >= 0 ? resolve(args[at + 1] ?? "") : resolve(client, "..", "..", "openapi", "cartsync.v1.json");
const target = join(client, "src", "schema.d.ts");
const cli = join(client, "node_modules", "openapi-typescript", "bin", "cli.js");

function generate() {
  const folder = mkdtempSync(join(tmpdir(), "cartsync-schema-"));
  try {
    const output = join(folder, "schema.d.ts");
    const run = spawnSync(process.execPath, [cli, document, "--output", output], { encoding: "utf8" });
    if (run.status !== 0) {
      throw new Error(`openapi-typescript failed on ${document}:\n${run.stdout}${run.stderr}` +
        (run.error ? `\n${run.error.message} (run \`npm ci\` in clients/typescript)` : ""));
    }
    return readFileSync(output, "utf8");
  } finally {
    rmSync(folder, { recursive: true, force: true });
  }
}

function firstDifference(a, b) {
  const left = a.split("\n");
  const right = b.split("\n");
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    if (left[i] !== right[i]) return `line ${i + 1}:\n  committed: ${left[i] ?? "(end)"}\n  fresh:     ${right[i] ?? "(end)"}`;
  }
  return "";
}

try {
  const fresh = generate();
  const name = relative(process.cwd(), target) || target;
  if (!check) {
    writeFileSync(target, fresh);
    console.log(`wrote ${name} from ${relative(process.cwd(), document)}`);
  } else {
    let committed = "";
    try {
      committed = readFileSync(target, "utf8");
    } catch {
      // missing: stale
    }
    if (committed !== fresh) {
      console.error(
        `${name} is stale: the OpenAPI document (${document}) changed since it was generated.\n` +
          `Regenerate it: cd clients/typescript && npm run generate (and commit it).\n` +
          `First difference, ${firstDifference(committed, fresh)}`,
      );
      process.exit(1);
    }
    console.log(`${name} matches ${relative(process.cwd(), document)}`);
  }
} catch (error) {
  console.error(error instanceof Error ? error.message : error);
  process.exit(2);
}
