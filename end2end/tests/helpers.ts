import { expect, type Page } from '@playwright/test';

/** Waits until the WASM client has hydrated the page: clicks before that would be lost. */
export async function waitForHydration(page: Page): Promise<void> {
  await expect(page.locator('body[data-hydrated="true"]')).toHaveCount(1);
}

/** Saves a screenshot for the README and for people to look at (end2end/screenshots/). */
export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: `screenshots/${name}.png`, fullPage: true });
}

/** Logs in with a local (demo) account on the local portal. */
export async function localLogin(page: Page, user: string, password = `demo-${user}-password`): Promise<void> {
  await page.goto('/login');
  await waitForHydration(page);
  await page.getByLabel('User name').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Log in' }).click();
  // The form posts and the server redirects: wait until the browser has left the login page (or
  // came back to it with an error).
  await page.waitForURL((u) => u.pathname !== '/login' || u.searchParams.has('error'));
}


/** Drops a file with `content` on the table page's CSV drop zone, as a NAP drags it there. */
export async function dropFile(page: Page, name: string, content: string): Promise<void> {
  const dataTransfer = await page.evaluateHandle(
    ([name, content]) => {
      const dt = new DataTransfer();
      dt.items.add(new File([content], name, { type: 'text/csv' }));
      return dt;
    },
    [name, content],
  );
  await page.locator('.drop-zone').dispatchEvent('drop', { dataTransfer });
}
