import * as fs from "node:fs";

// Deletes the run's data directory (SQLite database, stored files) made by playwright.config.ts.
export default async function teardown() {
  const dir = process.env.SLIMAGE_E2E_DATA_DIR;
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}
