import { test, expect, type Page } from '@playwright/test';
import { waitForHydration, localLogin } from './helpers';

// SPEC P4: the client is split by route (app/src/lazy_pages.rs, site_build's wasm-split). The table
// page a NAP opens most loads only the main module; the certificates, audit, operator, API-token,
// confirmation and sign-in pages load a module of their own when they are shown, whether the page
// is loaded from the server or reached by a click. Leptos calls splitting young, so this checks that
// the lazy pages really hydrate and work, not only that the files are there.

/** The `/pkg/` WASM modules the page fetches from now on (main first). */
function wasmFetched(page: Page): string[] {
  const fetched: string[] = [];
  page.on('request', (r) => {
    const p = new URL(r.url()).pathname;
    if (p.startsWith('/pkg/') && p.endsWith('.wasm')) fetched.push(p.slice('/pkg/'.length));
  });
  return fetched;
}

function errorsOf(page: Page): string[] {
  const errors: string[] = [];
  page.on('pageerror', (e) => errors.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') errors.push(m.text());
  });
  return errors;
}

const lazy = (files: string[], route: string) => files.filter((f) => f.includes(`split___${route}_route_view`));

test('p4 the table page loads the main module first, then preloads its lazy parts; a lazy page loads its own when reached by a click', async ({ page }) => {
  const errors = errorsOf(page);
  await localLogin(page, 'nora');
  const fetched = wasmFetched(page);
  await page.goto('/domains/example.org');
  await waitForHydration(page);
  await expect(page.getByRole('heading', { level: 1, name: 'example.org' })).toBeVisible();
  // The main module first; once hydrated, the table preloads the modules of its lazy parts (the CSV
  // preview, a row's certificates) — and no page's module.
  expect(fetched[0]).toMatch(/^ra-portal\.[A-Za-z0-9_-]{22}\.wasm$/);
  await expect.poll(() => fetched.filter((f) => f.includes('.split_preview_of_')).length).toBe(1);
  await expect.poll(() => fetched.filter((f) => f.includes('.split_row_certificates_panel_')).length).toBe(1);
  expect(fetched.filter((f) => f.includes('_route_view_'))).toEqual([]);

  // A row's certificates open without fetching anything more.
  const before = fetched.length;
  await page.getByRole('button', { name: 'Certificates' }).first().click();
  await expect(page.locator('.row-certificates')).toBeVisible();
  expect(fetched.length).toBe(before);

  // A click on "My client certificates" loads that page's module, and the page works.
  await page.locator('header.top').getByRole('link', { name: 'My client certificates' }).click();
  await expect(page).toHaveURL(/\/certificates$/);
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('My client certificates');
  expect(lazy(fetched, 'certificates')).toHaveLength(1);
  // Its module is fetched once: going back and forth uses what was loaded.
  await page.goBack();
  await expect(page.getByRole('heading', { level: 1, name: 'example.org' })).toBeVisible();
  await page.goForward();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('My client certificates');
  expect(lazy(fetched, 'certificates')).toHaveLength(1);
  expect(errors).toEqual([]);
});

test('p4 a lazy page loaded from the server hydrates once its module arrived, and reacts', async ({ page }) => {
  const errors = errorsOf(page);
  await localLogin(page, 'nora');
  const fetched = wasmFetched(page);
  await page.goto('/api-tokens');
  await waitForHydration(page);
  expect(lazy(fetched, 'api_tokens')).toHaveLength(1);
  // Reacting needs the hydrated page: the language switch rewrites the page's own heading.
  await page.getByRole('button', { name: 'Deutsch' }).click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'de');
  await expect(page.getByRole('heading', { level: 1 })).not.toHaveText('API tokens');
  await page.getByRole('button', { name: 'English' }).click();
  await expect(page.getByRole('heading', { level: 1 })).toHaveText('API tokens');
  expect(errors).toEqual([]);
});
