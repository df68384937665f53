import { test, expect, type ConsoleMessage } from "@playwright/test";

// A visitor's first look: the page arrives rendered, becomes interactive, and is clean.
test.describe("landing page", () => {
  test("is rendered on the server, before any script runs", async ({ request }) => {
    const response = await request.get("/");
    expect(response.status()).toBe(200);
    const html = await response.text();
    expect(html).toContain("Smaller images. The same pictures.");
    expect(html).toContain('href="/signup"');
    // Every FAQ answer is in the HTML and visible without JavaScript.
    expect(html).toContain("What happens to my files?");
    expect(html).not.toMatch(/id="faq-answer-\d"[^>]*class="[^"]*\bhidden\b/);
  });

  test("hydrates: the questions fold and unfold on click", async ({ page }) => {
    const problems: string[] = [];
    page.on("console", (message: ConsoleMessage) => {
      if (message.type() === "error" || message.type() === "warning") {
        problems.push(`${message.type()}: ${message.text()}`);
      }
    });
    page.on("pageerror", (error) => problems.push(`pageerror: ${error.message}`));

    await page.goto("/");
    await expect(page.getByRole("heading", { level: 1 })).toHaveText(
      "Smaller images. The same pictures.",
    );
    const question = page.getByRole("button", { name: "What happens to my files?" });
    const answer = page.locator("#faq-answer-2");
    // Folding happens only once the WASM bundle has hydrated the page.
    await expect(answer).toBeHidden();
    await expect(question).toHaveAttribute("aria-expanded", "false");
    await question.click();
    await expect(answer).toBeVisible();
    await expect(answer).toContainText("deleted");
    await expect(question).toHaveAttribute("aria-expanded", "true");
    // Opening one question closes the one that was open.
    await expect(page.locator("#faq-answer-0")).toBeHidden();

    // The stylesheet was served and applied (the primary button is indigo, not unstyled).
    const signUp = page.getByRole("link", { name: "Sign up", exact: true });
    await expect(signUp).toHaveCSS("color", "rgb(255, 255, 255)");

    expect(problems).toEqual([]);
  });

  test("an unknown address shows a friendly page with a way back", async ({ page }) => {
    const response = await page.goto("/this/does/not/exist");
    expect(response?.status()).toBe(404);
    await expect(page.getByRole("heading", { name: "Page not found" })).toBeVisible();
    await page.getByRole("link", { name: "Back to the home page" }).click();
    await expect(page).toHaveURL("/");
  });
});
