import { test, expect, Page } from "@playwright/test";
import { execFileSync } from "node:child_process";
import * as fs from "node:fs";
import * as path from "node:path";

// The main journey in a real browser: drop a PNG and a JPEG onto the drop zone (a DataTransfer
// dispatched as a real `drop` event), watch both upload and compress, compare before and after,
// and download everything as a ZIP whose entries are the two smaller files. Then the same page
// on a phone-sized screen.

const PASSWORD = "correct horse battery";
const freshEmail = (label: string) => `${label}-${Date.now()}-${process.pid}@example.com`;
const fixtures = path.join(__dirname, "..", "fixtures");
const inputs = [
  { name: "graphic.png", type: "image/png", bytes: fs.readFileSync(path.join(fixtures, "graphic.png")) },
  { name: "photo.jpg", type: "image/jpeg", bytes: fs.readFileSync(path.join(fixtures, "photo.jpg")) },
];

async function signUp(page: Page, label: string): Promise<string> {
  const email = freshEmail(label);
  await page.goto("/signup");
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/account$/);
  return email;
}

/// Gives the account a plan with the operator's command, against the test server's database.
function setPlan(email: string, plan: string) {
  const repoRoot = path.resolve(__dirname, "..", "..");
  const targetDir = process.env.CARGO_TARGET_DIR ?? path.join(repoRoot, "target");
  const serverBin = process.env.SLIMAGE_SERVER_BIN ?? path.join(targetDir, "debug", "server");
  execFileSync(serverBin, ["admin", "set-plan", email, plan], {
    env: { ...process.env, DATA_DIR: process.env.SLIMAGE_E2E_DATA_DIR!, RUST_LOG: "error" },
    stdio: "pipe",
  });
}

async function drop(page: Page, files: typeof inputs) {
  const payload = files.map((f) => ({ name: f.name, type: f.type, data: f.bytes.toString("base64") }));
  const transfer = await page.evaluateHandle((items) => {
    const dt = new DataTransfer();
    for (const item of items) {
      const bytes = Uint8Array.from(atob(item.data), (c) => c.charCodeAt(0));
      dt.items.add(new File([bytes], item.name, { type: item.type }));
    }
    return dt;
  }, payload);
  const zone = page.getByTestId("drop-zone");
  // Dropping before the page has hydrated would drop onto plain HTML.
  await expect(zone).toHaveAttribute("data-ready", "true");
  await zone.dispatchEvent("dragenter", { dataTransfer: transfer });
  await zone.dispatchEvent("dragover", { dataTransfer: transfer });
  await zone.dispatchEvent("drop", { dataTransfer: transfer });
}

/// Entry names and sizes of a ZIP, read by Python's zipfile (an independent reader).
function zipEntries(file: string): { name: string; size: number; stored: boolean }[] {
  const script =
    "import json,sys,zipfile;z=zipfile.ZipFile(sys.argv[1]);" +
    "print(json.dumps([{'name':i.filename,'size':i.file_size,'stored':i.compress_type==0} for i in z.infolist()]))";
  return JSON.parse(execFileSync("python3", ["-c", script, file]).toString());
}

test("drop a PNG and a JPEG, watch them shrink, compare, and download the ZIP", async ({ page }) => {
  const email = await signUp(page, "dropper");
  setPlan(email, "premium");
  await page.goto("/compress");
  await expect(page.getByTestId("limits")).toContainText("Premium plan");

  await drop(page, inputs);
  const rows = page.getByTestId("file-row");
  await expect(rows).toHaveCount(2);
  await expect(page.getByTestId("upload-progress")).toHaveCount(2);
  await expect(rows.nth(0)).toContainText("graphic.png");
  await expect(rows.nth(1)).toContainText("photo.jpg");

  // Both finish smaller, with their saving and score.
  const states = page.getByTestId("file-state");
  for (const i of [0, 1]) {
    await expect(states.nth(i)).toContainText("→", { timeout: 60_000 });
    await expect(states.nth(i)).toContainText("score");
    await expect(page.getByTestId("upload-progress").nth(i)).toHaveJSProperty("value", 100);
  }
  await expect(page.getByTestId("batch-summary")).toContainText("2 of 2 done");

  // The compare slider shows the original and the result; dragging moves the divide; 100 % zooms.
  await rows.nth(1).getByRole("button", { name: "Compare" }).click();
  const dialog = page.getByTestId("compare-dialog");
  await expect(dialog).toBeVisible();
  for (const id of ["compare-original", "compare-result"]) {
    await expect
      .poll(() => dialog.getByTestId(id).evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
      .toBe(400);
  }
  await dialog.getByTestId("compare-slider").fill("20");
  await expect(dialog.getByTestId("compare-result")).toHaveAttribute("style", /inset\(0 0 0 20%\)/);
  await dialog.getByTestId("zoom").click();
  await expect(dialog.getByTestId("zoom")).toHaveAttribute("aria-pressed", "true");
  await dialog.getByRole("button", { name: "Close" }).click();
  await expect(dialog).toHaveCount(0);

  // Download all: a ZIP of the two smaller files, stored, under their names.
  const downloading = page.waitForEvent("download");
  await page.getByTestId("download-all").click();
  const download = await downloading;
  const saved = path.join(test.info().outputDir, "all.zip");
  await download.saveAs(saved);
  const entries = zipEntries(saved);
  expect(entries.map((e) => e.name)).toEqual(["graphic.png", "photo.jpg"]);
  entries.forEach((entry, i) => {
    expect(entry.stored).toBe(true);
    expect(entry.size).toBeGreaterThan(0);
    expect(entry.size).toBeLessThan(inputs[i].bytes.length);
  });

  // The job page shows the same results after a reload, and the history lists the job.
  await page.getByRole("link", { name: "Job page" }).click();
  await expect(page).toHaveURL(/\/jobs\//);
  await page.reload();
  await expect(page.getByTestId("file-state").nth(1)).toContainText("→");
  await page.goto("/history");
  await expect(page.getByTestId("history")).toContainText("Finished");
});

test("a Free account gets separate downloads, and the page works on a phone", async ({ page }) => {
  await page.setViewportSize({ width: 390, height: 844 });
  await signUp(page, "phone");
  await page.goto("/compress");
  await drop(page, inputs);
  await expect(page.getByTestId("file-state").nth(0)).toContainText("→", { timeout: 60_000 });
  await expect(page.getByTestId("file-state").nth(1)).toContainText("→", { timeout: 60_000 });
  await expect(page.getByTestId("zip-upsell")).toContainText("Premium feature");
  await expect(page.getByTestId("download-all")).toHaveCount(0);
  // Each file downloads on its own, smaller than it came.
  const downloading = page.waitForEvent("download");
  await page.getByTestId("download").nth(0).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe("graphic.png");
  const saved = path.join(test.info().outputDir, "graphic.png");
  await download.saveAs(saved);
  expect(fs.statSync(saved).size).toBeLessThan(inputs[0].bytes.length);
  // Nothing overflows the phone's width.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  expect(overflow).toBeLessThanOrEqual(0);
  await page.getByTestId("download").nth(1).scrollIntoViewIfNeeded();
  await expect(page.getByTestId("download").nth(1)).toBeInViewport();
});

test("choosing AVIF gives a smaller .avif that the browser shows in the comparison", async ({ page }) => {
  test.setTimeout(150_000); // the AVIF search is the engine's slowest
  await signUp(page, "avif");
  await page.goto("/compress");
  await expect(page.getByTestId("drop-zone")).toHaveAttribute("data-ready", "true");
  await page.getByTestId("format").selectOption("avif");
  await drop(page, [inputs[1]]);
  await expect(page.getByTestId("file-state").nth(0)).toContainText("→", { timeout: 120_000 });
  // Chromium decodes the result: the comparison shows it at the photo's size.
  await page.getByTestId("file-row").nth(0).getByRole("button", { name: "Compare" }).click();
  const dialog = page.getByTestId("compare-dialog");
  await expect
    .poll(() => dialog.getByTestId("compare-result").evaluate((img: HTMLImageElement) => img.complete && img.naturalWidth))
    .toBe(400);
  await dialog.getByRole("button", { name: "Close" }).click();
  const downloading = page.waitForEvent("download");
  await page.getByTestId("download").nth(0).click();
  const download = await downloading;
  expect(download.suggestedFilename()).toBe("photo.avif");
  const saved = path.join(test.info().outputDir, "photo.avif");
  await download.saveAs(saved);
  const bytes = fs.readFileSync(saved);
  expect(bytes.subarray(4, 12).toString("latin1")).toBe("ftypavif");
  expect(bytes.length).toBeLessThan(inputs[1].bytes.length);
});

test("a visitor can try it on the landing page", async ({ page }) => {
  await page.goto("/");
  await expect(page.getByTestId("limits")).toContainText("Without an account");
  await drop(page, [inputs[0]]);
  await expect(page.getByTestId("file-state").nth(0)).toContainText("→", { timeout: 60_000 });
  await expect(page.getByRole("link", { name: "Sign up free for 500 images a month." })).toBeVisible();
});
