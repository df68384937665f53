import { test, expect, type Page } from "@playwright/test";

// A person's account, in a real browser: sign up, log out, log in, the account page, errors
// next to the field, API keys, and the whole sign-up with JavaScript turned off.

const PASSWORD = "correct horse battery";
let counter = 0;
const freshEmail = (label: string) =>
  `${label}-${Date.now()}-${process.pid}-${counter++}@example.com`;

/// Waits until the form's page has hydrated: submitting earlier is a plain HTML post, which the
/// JavaScript-disabled test covers.
async function hydrated(page: Page) {
  await expect(page.getByTestId("form-card")).toHaveAttribute("data-ready", "true");
}

async function signUp(page: Page, email: string) {
  await page.goto("/signup");
  await hydrated(page);
  await page.getByLabel("Email").fill(email);
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/account$/);
}

test.describe("accounts", () => {
  test("sign up, log out, log in and see the account page", async ({ page }) => {
    const email = freshEmail("ada");
    await page.goto("/signup");
    // Hydrated: the password is checked while typing, before anything is sent.
    await page.getByLabel("Password").fill("short");
    await expect(page.locator('[data-field-error="password"]')).toHaveText(
      "Use at least 10 characters (5 so far).",
    );
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await expect(page.locator('[data-field-error="password"]')).toHaveText("");
    await page.getByRole("button", { name: "Create account" }).click();

    await expect(page).toHaveURL(/\/account$/);
    await expect(page.getByTestId("account-email")).toHaveText(email);
    await expect(page.getByText("Member since")).toBeVisible();
    await expect(page.getByTestId("plan-name")).toHaveText("Free");
    await expect(page.getByTestId("usage-text")).toHaveText("0 of 500 images this month");

    await page.getByRole("button", { name: "Log out" }).click();
    await expect(page).toHaveURL(/\/$/);
    await expect(page.getByRole("link", { name: "Log in" })).toBeVisible();
    // Signed out for real: the account page now sends us to log in.
    await page.goto("/account");
    await expect(page).toHaveURL(/\/login$/);
    await hydrated(page);

    await page.getByLabel("Email").fill(email.toUpperCase());
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Log in" }).click();
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.getByTestId("account-email")).toHaveText(email);
  });

  test("a wrong password shows the error next to the form", async ({ page }) => {
    const email = freshEmail("grace");
    await signUp(page, email);
    await page.getByRole("button", { name: "Log out" }).click();
    await expect(page.getByRole("link", { name: "Log in" })).toBeVisible();

    await page.goto("/login");
    await hydrated(page);
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("not my password");
    await page.getByRole("button", { name: "Log in" }).click();
    await expect(page.locator('[data-field-error="password"]')).toHaveText(
      "The email or password is incorrect.",
    );
    await expect(page).toHaveURL(/\/login$/);
    await expect(page.getByLabel("Password")).toHaveAttribute("aria-invalid", "true");
  });

  test("API keys: create one, see it once, revoke it", async ({ page, request }) => {
    await signUp(page, freshEmail("dev"));
    await page.getByLabel("Key name").fill("build server");
    await page.getByRole("button", { name: "Create key" }).click();
    const secret = page.getByTestId("new-api-key");
    await expect(secret).toHaveText(/^[A-Za-z0-9]{32}$/);
    const key = (await secret.textContent())!.trim();
    await expect(page.getByText("build server", { exact: true })).toBeVisible();

    const auth = { Authorization: `Basic ${Buffer.from(`api:${key}`).toString("base64")}` };
    expect((await request.get("/api/v1/account", { headers: auth })).status()).toBe(200);

    await page.getByRole("button", { name: "Revoke key build server" }).click();
    await expect(page.getByText("You have no API keys yet.")).toBeVisible();
    expect((await request.get("/api/v1/account", { headers: auth })).status()).toBe(401);

    // The secret is not shown again after a reload.
    await page.reload();
    await expect(page.getByTestId("new-api-key")).toHaveCount(0);
  });

  test("the callback signing secret is shown and can be replaced", async ({ page }) => {
    await signUp(page, freshEmail("hooks"));
    const secret = page.getByTestId("callback-secret");
    await expect(secret).toHaveText(/^whsec_[A-Za-z0-9]{32}$/);
    const before = (await secret.textContent())!.trim();
    // The same secret on every visit until it is replaced.
    await page.reload();
    await expect(secret).toHaveText(before);
    await page.getByRole("button", { name: "Replace secret" }).click();
    await expect(secret).not.toHaveText(before);
    await expect(secret).toHaveText(/^whsec_[A-Za-z0-9]{32}$/);
  });

  test("the whole sign-up works with JavaScript disabled", async ({ browser }) => {
    const context = await browser.newContext({ javaScriptEnabled: false });
    const page = await context.newPage();
    const email = freshEmail("nojs");
    await page.goto("/signup");
    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill("tooshort");
    await page.getByRole("button", { name: "Create account" }).click();
    // The server answered with the form again and the error next to the password.
    await expect(page).toHaveURL(/\/signup\?/);
    await expect(page.locator('[data-field-error="password"]')).toContainText(
      "Use at least 10 characters",
    );

    await page.getByLabel("Email").fill(email);
    await page.getByLabel("Password").fill(PASSWORD);
    await page.getByRole("button", { name: "Create account" }).click();
    await expect(page).toHaveURL(/\/account$/);
    await expect(page.getByTestId("account-email")).toHaveText(email);
    await expect(page.getByRole("button", { name: "Log out" })).toBeVisible();
    await context.close();
  });
});
