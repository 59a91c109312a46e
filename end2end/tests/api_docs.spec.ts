import { test, expect } from '@playwright/test';
import { screenshot } from './helpers';

// R21: the REST API's documentation page /api/docs is Swagger UI from the portal's own files
// (npm's swagger-ui-dist, copied into the site by build-site) over /api/v1/openapi.json, under the
// portal's strict CSP (`script-src 'self'`, no inline script or style): it must render every
// operation without one refused script or style.
test('r21 the API documentation page renders the OpenAPI document from local files under the CSP', async ({ page }) => {
  const problems: string[] = [];
  const elsewhere: string[] = [];
  page.on('pageerror', (e) => problems.push(e.message));
  page.on('console', (m) => {
    if (m.type() === 'error') problems.push(m.text());
  });
  page.on('request', (r) => {
    if (!r.url().startsWith('http://127.0.0.1') && !r.url().startsWith('data:')) elsewhere.push(r.url());
  });

  const response = await page.goto('/api/docs');
  expect(response?.status()).toBe(200);
  const csp = response!.headers()['content-security-policy'];
  expect(csp).toContain("script-src 'self';");
  expect(csp).not.toContain('unsafe-inline');

  await expect(page.locator('header.api-docs-header h1')).toHaveText('REST API – My Email Domains');
  // Swagger UI rendered the document: its title and the operations, bulk among them.
  await expect(page.locator('.swagger-ui .info .title')).toContainText('RA portal API');
  await expect(page.locator('.opblock-summary-path', { hasText: '/domains/{domain}/bulk' })).toBeVisible();
  await expect(page.locator('.opblock-summary-path', { hasText: '/domains/{domain}/rows' }).first()).toBeVisible();
  await expect(page.getByRole('button', { name: /Authorize/ })).toBeVisible();
  await screenshot(page, 'api-docs');

  expect(problems).toEqual([]);
  expect(elsewhere).toEqual([]);
});

test('r21 the API documentation page speaks German to a German browser', async ({ browser }) => {
  const context = await browser.newContext({ locale: 'de-DE' });
  const page = await context.newPage();
  await page.goto('/api/docs');
  await expect(page.locator('html')).toHaveAttribute('lang', 'de');
  await expect(page.locator('header.api-docs-header h1')).toHaveText('REST-API – Meine E-Mail-Domains');
  await expect(page.getByRole('link', { name: 'API-Tokens' })).toHaveAttribute('href', '/api-tokens');
  await context.close();
});
