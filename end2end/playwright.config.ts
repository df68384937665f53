import { defineConfig } from "@playwright/test";
import * as os from "node:os";
import * as path from "node:path";
import * as fs from "node:fs";

// The end-to-end run starts the real server binary on its own port with a fresh SQLite
// database and storage directory, and drives Debian's Chromium (never a downloaded browser).
// Billing talks to the fake Stripe (server/examples/fake_stripe.rs) on the port below it.
const port = Number(process.env.E2E_PORT ?? 3999);
const baseURL = `http://127.0.0.1:${port}`;
const repoRoot = path.resolve(__dirname, "..");
const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(repoRoot, "target");
const serverBin = process.env.SLIMAGE_SERVER_BIN ?? path.join(targetDir, "debug", "server");
const fakeStripeBin =
  process.env.FAKE_STRIPE_BIN ?? path.join(targetDir, "debug", "examples", "fake_stripe");
const fakeStripePort = port - 1;
// One data directory per run: the config is loaded by every worker too, and they inherit the
// variable instead of making directories of their own; teardown.ts deletes it.
process.env.SLIMAGE_E2E_DATA_DIR ??= fs.mkdtempSync(path.join(os.tmpdir(), "slimage-e2e-"));
const dataDir = process.env.SLIMAGE_E2E_DATA_DIR;
const webhookSecret = "whsec_e2e_secret";

export default defineConfig({
  testDir: "./tests",
  globalTeardown: "./teardown.ts",
  timeout: 30_000,
  expect: { timeout: 10_000 },
  fullyParallel: true,
  forbidOnly: true,
  retries: 0,
  workers: 2,
  reporter: [["list"]],
  outputDir: path.join(os.tmpdir(), "slimage-e2e-results"),
  use: {
    baseURL,
    trace: "retain-on-failure",
    launchOptions: {
      executablePath: process.env.CHROMIUM_PATH ?? "/usr/bin/chromium",
      args: [
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
      ],
    },
  },
  projects: [{ name: "chromium", use: { browserName: "chromium" } }],
  webServer: [
    {
      command: fakeStripeBin,
      cwd: repoRoot,
      port: fakeStripePort,
      reuseExistingServer: false,
      timeout: 30_000,
      stdout: "ignore",
      stderr: "pipe",
      env: {
        FAKE_STRIPE_ADDR: `127.0.0.1:${fakeStripePort}`,
        FAKE_STRIPE_WEBHOOK_URL: `${baseURL}/webhooks/stripe`,
        FAKE_STRIPE_WEBHOOK_SECRET: webhookSecret,
      },
    },
    {
    command: serverBin,
    cwd: repoRoot,
    url: `${baseURL}/readyz`,
    reuseExistingServer: false,
    timeout: 60_000,
    stdout: "ignore",
    stderr: "pipe",
    env: {
      LEPTOS_SITE_ADDR: `127.0.0.1:${port}`,
      LEPTOS_SITE_ROOT: path.join(repoRoot, "target", "site"),
      DATA_DIR: dataDir,
      RUST_LOG: "warn",
      STRIPE_SECRET_KEY: "sk_test_e2e",
      STRIPE_WEBHOOK_SECRET: webhookSecret,
      STRIPE_PRICE_PREMIUM: "price_premium_monthly",
      STRIPE_PRICE_PRO: "price_pro_monthly",
      STRIPE_API_BASE: `http://127.0.0.1:${fakeStripePort}/`,
    },
    },
  ],
});
