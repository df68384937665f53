import { test, expect } from "@playwright/test";

// Paying for a plan, in a real browser against the fake Stripe (server/tests/common/fake_stripe.rs,
// started by playwright.config.ts): sign up → pricing → Upgrade → Stripe's checkout page → pay →
// the fake posts the signed webhook and sends the browser back → the new plan and its limits.

const PASSWORD = "correct horse battery";
const freshEmail = (label: string) => `${label}-${Date.now()}-${process.pid}@example.com`;

test("upgrade to Premium through Stripe Checkout", async ({ page }) => {
  await page.goto("/signup");
  await page.getByLabel("Email").fill(freshEmail("payer"));
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId("plan-name")).toHaveText("Free");

  await page.getByRole("navigation", { name: "Main" }).getByRole("link", { name: "Pricing" }).click();
  await expect(page).toHaveURL(/\/pricing$/);
  const free = page.getByTestId("plan-free");
  await expect(free).toHaveAttribute("data-current", "true");
  await expect(free.getByText("Your plan")).toBeVisible();
  await expect(page.getByTestId("plan-table")).toContainText("10,000");

  await page.getByRole("button", { name: "Upgrade to Premium" }).click();
  // The browser is on Stripe's (fake) checkout page, another origin.
  await expect(page).toHaveURL(/\/checkout\/cs_/);
  await expect(page.getByRole("heading", { name: "Fake Stripe Checkout" })).toBeVisible();
  await expect(page.locator("[data-plan]")).toHaveText("Premium");
  await page.getByRole("button", { name: "Pay and subscribe" }).click();

  // Back on Slimage: "activating…" until the webhook has landed, then the plan.
  await expect(page).toHaveURL(/\/billing\/success\?session_id=cs_/);
  await expect(page.getByTestId("activated")).toBeVisible();
  await expect(page.getByRole("heading", { name: "You are on Premium." })).toBeVisible();

  await page.getByRole("link", { name: "Your account" }).click();
  await expect(page).toHaveURL(/\/account$/);
  await expect(page.getByTestId("plan-name")).toHaveText("Premium");
  await expect(page.getByTestId("plan-standing")).toContainText("Renews on");
  await expect(page.getByTestId("usage-text")).toHaveText("0 of 10,000 images this month");
  await expect(page.getByTestId("plan-limits")).toContainText("25 MB");
  await expect(page.getByTestId("plan-limits")).toContainText("Included");

  // Cancel at period end from the account page: the plan stays, with its end date.
  await page.getByRole("button", { name: "Cancel subscription" }).click();
  await expect(page.getByTestId("plan-standing")).toContainText("lasts until");
  await expect(page.getByTestId("plan-name")).toHaveText("Premium");
  await expect(page.getByRole("button", { name: "Keep my plan" })).toBeVisible();
});

test("cancelling checkout comes back to the pricing page with nothing charged", async ({ page }) => {
  await page.goto("/signup");
  await page.getByLabel("Email").fill(freshEmail("undecided"));
  await page.getByLabel("Password").fill(PASSWORD);
  await page.getByRole("button", { name: "Create account" }).click();
  await expect(page).toHaveURL(/\/account$/);
  await page.goto("/pricing");
  await page.getByRole("button", { name: "Upgrade to Pro" }).click();
  await expect(page.locator("[data-plan]")).toHaveText("Pro");
  await page.getByRole("link", { name: "Cancel and go back" }).click();
  await expect(page).toHaveURL(/\/pricing\?notice=checkout-cancelled$/);
  await expect(page.getByText("Checkout was cancelled: nothing was charged.")).toBeVisible();
  await expect(page.getByTestId("plan-free")).toHaveAttribute("data-current", "true");
});
