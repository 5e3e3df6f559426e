// `npm test`'s last step: starts storesim and a gateway in front of it (the embedded state
// store, a guest secret; no user JWT is needed), waits for both, runs the compiled tests
// with node's test runner against them (CARTSYNC_TEST_URL), and stops both.
//
// Python: $PYTHON, else the repository's .venv/bin/python (`make setup` makes it).
// CARTSYNC_TEST_URL set: the tests run against that gateway and nothing is started.
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { existsSync, readdirSync } from "node:fs";
import { createServer } from "node:net";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const client = resolve(here, "..");
const repository = resolve(client, "..", "..");
const python = process.env.PYTHON || join(repository, ".venv", "bin", "python");
const START_TIMEOUT_MS = 30_000;

function freePort() {
  return new Promise((ok, fail) => {
    const server = createServer();
    server.once("error", fail);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => ok(port));
    });
  });
}

function start(name, args, env) {
  // None of the caller's CARTSYNC_* settings: the gateway runs with these alone.
  const inherited = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.startsWith("CARTSYNC_")));
  const child = spawn(python, args, { env: { ...inherited, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  const log = [];
  child.stdout.on("data", (chunk) => log.push(chunk));
  child.stderr.on("data", (chunk) => log.push(chunk));
  child.name = name;
  child.log = () => Buffer.concat(log).toString();
  return child;
}

async function waitUntilAnswering(url, child) {
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`${child.name} exited with ${child.exitCode}:\n${child.log()}`);
    try {
      const response = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (response.status < 500) return;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) throw new Error(`${child.name} did not answer at ${url}:\n${child.log()}`);
    await new Promise((ok) => setTimeout(ok, 100));
  }
}

function stop(child) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((ok) => {
    const kill = setTimeout(() => child.kill("SIGKILL"), 10_000);
    child.once("exit", () => {
      clearTimeout(kill);
      ok();
    });
    child.kill("SIGTERM");
  });
}

function runTests(env) {
  const folder = join(client, "dist", "test");
  const files = readdirSync(folder).filter((name) => name.endsWith(".test.js")).sort().map((name) => join(folder, name));
  if (files.length === 0) throw new Error(`no compiled tests in ${folder}: run \`npm run build\``);
  return new Promise((ok) => {
    const runner = spawn(process.execPath, ["--test", "--test-reporter=spec", ...files], {
      env: { ...process.env, ...env },
      stdio: "inherit",
    });
    runner.once("exit", (code, signal) => ok(code ?? (signal ? 1 : 0)));
  });
}

async function main() {
  if (process.env.CARTSYNC_TEST_URL) return runTests({});
  if (!existsSync(python)) {
    throw new Error(`no Python at ${python}: run \`make setup\` at the repository's root, or set PYTHON`);
  }
  const [simPort, gatewayPort] = [await freePort(), await freePort()];
  const children = [];
  try {
    const storesim = start("storesim", ["-m", "storesim", "--host", "127.0.0.1", "--port", String(simPort)], {});
    children.push(storesim);
    await waitUntilAnswering(`http://127.0.0.1:${simPort}/__sim/state`, storesim);
    const gateway = start("gateway", ["-m", "cartsync", "serve", "--host", "127.0.0.1", "--port", String(gatewayPort)], {
      CARTSYNC_UPSTREAM_URL: `http://127.0.0.1:${simPort}`,
      CARTSYNC_UPSTREAM_KIND: "storeapi",
      CARTSYNC_JWT_SECRET: randomBytes(32).toString("hex"),
      CARTSYNC_JWT_ISSUER: "https://shop.example",
      CARTSYNC_GUEST_SECRET: randomBytes(32).toString("hex"),
      // No CARTSYNC_REDIS_URL: the embedded state store.
      CARTSYNC_SSE_HEARTBEAT_S: "2",
    });
    children.push(gateway);
    const url = `http://127.0.0.1:${gatewayPort}`;
    await waitUntilAnswering(`${url}/readyz`, gateway);
    console.log(`gateway ${url} in front of storesim http://127.0.0.1:${simPort}`);
    const code = await runTests({ CARTSYNC_TEST_URL: url });
    if (code !== 0) console.error(`--- gateway log ---\n${gateway.log().slice(-20_000)}`);
    return code;
  } finally {
    await Promise.all(children.map(stop));
  }
}

main().then(
  (code) => process.exit(code),
  (error) => {
    console.error(error instanceof Error ? error.message : error);
    process.exit(1);
  },
);
