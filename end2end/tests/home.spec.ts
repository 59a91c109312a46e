import { test, expect } from '@playwright/test';
import { waitForHydration, screenshot } from './helpers';

test('the start page is rendered by the server and hydrated in the browser', async ({ page }) => {
  const scriptErrors: string[] = [];
  page.on('pageerror', (e) => scriptErrors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') scriptErrors.push(m.text());
  });

  const response = await page.goto('/');
  expect(response?.status()).toBe(200);
  // Server-rendered: the heading is in the HTML before any script runs.
  const html = await response!.text();
  expect(html).toContain('S/MIME certificates for your organisation');

  await waitForHydration(page);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('S/MIME certificates for your organisation');

  // The language switch works only once the WASM client runs: proof of hydration.
  await page.getByRole('button', { name: 'Deutsch' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('S/MIME-Zertifikate für Ihre Einrichtung');
  await expect(page.locator('html')).toHaveAttribute('lang', 'de');
  await screenshot(page, 'home-de');

  // The choice is remembered by the server (cookie): a reload renders German on the server.
  await expect
    .poll(async () => (await page.context().cookies()).find((c) => c.name === 'lang')?.value)
    .toBe('de');
  const again = await page.goto('/');
  expect(await again!.text()).toContain('S/MIME-Zertifikate für Ihre Einrichtung');
  await waitForHydration(page);
  await page.getByRole('button', { name: 'English' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('S/MIME certificates for your organisation');
  await screenshot(page, 'home-en');

  // The page's CSP is strict and nothing broke under it.
  expect(scriptErrors).toEqual([]);
});

test('q4 every page carries the security headers', async ({ request }) => {
  const r = await request.get('/');
  const h = r.headers();
  expect(h['content-security-policy']).toMatch(/script-src 'self' 'nonce-[A-Za-z0-9_-]+' 'wasm-unsafe-eval'/);
  expect(h['content-security-policy']).toContain("frame-ancestors 'none'");
  expect(h['referrer-policy']).toBe('no-referrer');
  expect(h['x-content-type-options']).toBe('nosniff');
});

test('an unknown path shows a 404 page', async ({ page }) => {
  const r = await page.goto('/no/such/page');
  expect(r?.status()).toBe(404);
  await expect(page.getByText('This page does not exist.')).toBeVisible();
});
