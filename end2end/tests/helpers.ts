import { expect, type Page } from '@playwright/test';

/** Waits until the WASM client has hydrated the page: clicks before that would be lost. */
export async function waitForHydration(page: Page): Promise<void> {
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
}

/** Saves a screenshot for the README and for people to look at (end2end/screenshots/). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `screenshots/${name}.png`, fullPage: true });
}
