import { test, expect, request as apiRequest } from '@playwright/test';
import { localLogin, waitForHydration, screenshot } from './helpers';
import { localURL } from '../playwright.config';

// R21 from the NAP's side: nora makes an API token on "API tokens" (reached from "My email
// domains"), sees its secret once, finds it listed with its domain and access, a script reads
// /api/v1/domains and adds a row with it (audited as the token of nora), she revokes it (after a
// confirmation) and the next call is refused.
test('r21 a NAP makes an API token, sees it once, uses it, and revokes it', async ({ page }) => {
  await localLogin(page, 'nora');
  await page.goto('/domains');
  await waitForHydration(page);
  await page.locator('a.api-tokens-link').click();
  await expect(page).toHaveURL(/\/api-tokens$/);
  await waitForHydration(page);
  await expect(page.getByRole('heading', { name: 'API tokens', level: 1 })).toBeVisible();
  await expect(page.locator('code').first()).toHaveText(`${localURL}/api/v1`);

  // The expiry is 90 days ahead and at most a year.
  const form = page.locator('form.api-token-form');
  await form.getByRole('checkbox', { name: 'example.org', exact: true }).check();
  const expiry = form.locator('input[type=date]');
  const day = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString().slice(0, 10);
  expect(Math.abs(Date.parse((await expiry.inputValue())!) - Date.parse(day(90)))).toBeLessThanOrEqual(86_400_000);
  expect(Math.abs(Date.parse((await expiry.getAttribute('max'))!) - Date.parse(day(365)))).toBeLessThanOrEqual(86_400_000);

  // A name the rules refuse is refused with a message saying why, and nothing is made.
  await form.getByLabel('Name').fill('idm sync');
  await form.locator('input[name=name]').evaluate((e: HTMLInputElement) => e.removeAttribute('pattern'));
  await form.getByRole('button', { name: 'Make token' }).click();
  await expect(page.getByRole('alert')).toContainText('is not allowed');
  await expect(page.locator('.api-token-value')).toHaveCount(0);

  await form.getByLabel('Name').fill('e2e-sync');
  await form.getByLabel('read and write').check();
  await form.getByRole('button', { name: 'Make token' }).click();
  const made = page.locator('.api-token-made');
  await expect(made).toContainText('you will not see it again');
  const value = made.locator('.api-token-value');
  await expect(value).toHaveText(/^raapi_[A-Za-z0-9_-]{43}$/);
  const token = (await value.textContent())!;
  await made.getByRole('button', { name: 'Copy' }).click();
  await expect(made).toContainText('Copied.');

  const row = page.locator('table.api-token-list tbody tr[data-token="e2e-sync"]');
  await expect(row).toContainText('example.org');
  await expect(row).toContainText('read and write');
  await expect(row).toContainText('in force');
  await expect(row).toContainText('never');
  // R16: the token's times are written in the browser's zone, which the list's heading names.
  const zone = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  await expect(page.locator('table.api-token-list th .zone').first()).toHaveText(`(${zone})`);
  await screenshot(page, 'api-tokens');

  // Shown once: after a reload the list still has it, the page no longer has its secret.
  await page.reload();
  await waitForHydration(page);
  await expect(row).toContainText('in force');
  expect(await page.content()).not.toContain(token);

  // A script with the token (no cookies: a fresh request context).
  const script = await apiRequest.newContext({
    baseURL: `${localURL}/api/v1/`,
    extraHTTPHeaders: { Authorization: `Bearer ${token}` },
  });
  const domains = await script.get('domains');
  expect(domains.status()).toBe(200);
  expect(JSON.stringify(await domains.json())).toContain('example.org');
  // A change through the API is audited with the token and its creator as actor (R21).
  const created = await script.post('domains/example.org/rows', {
    data: { primary_address: 'api-e2e@example.org', last_name: 'API' },
  });
  expect(created.status()).toBe(201);
  const { id } = await created.json();
  await page.goto('/domains/example.org/audit');
  await waitForHydration(page);
  const actor = page
    .locator('table.audit-records tr[data-kind="row_created"]', { hasText: 'api-e2e@example.org' })
    .locator('td[title^="api:e2e-sync#"]');
  await expect(actor).toHaveText(/^API token e2e-sync \(no\. \d+\) of nora$/);
  // The row goes again (it never had a challenge, R3), so the other journeys find the table as before.
  const deleted = await script.delete(`domains/example.org/rows/${id}`, {
    headers: { 'If-Match': created.headers()['etag'] },
  });
  expect(deleted.status()).toBe(204);
  await page.goto('/api-tokens');
  await waitForHydration(page);
  await expect(row).not.toContainText('never');

  // Revoke, after saying yes.
  await row.getByRole('button', { name: 'Revoke' }).click();
  await expect(row.getByRole('alertdialog')).toContainText('Revoke this token?');
  await row.getByRole('button', { name: 'Cancel' }).click();
  await expect(row).toContainText('in force');
  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.getByRole('button', { name: 'Yes, revoke' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'The token is revoked.' })).toBeVisible();
  await expect(row).toContainText('revoked by the person who made it');
  await expect(row.getByRole('button', { name: 'Revoke' })).toHaveCount(0);
  expect((await script.get('domains')).status()).toBe(401);
  await script.dispose();

  // In German too.
  await page.getByRole('button', { name: 'Deutsch' }).click();
  await expect(page.getByRole('heading', { name: 'API-Tokens', level: 1 })).toBeVisible();
  await expect(row).toContainText('von der anlegenden Person widerrufen');
  await expect(page.getByRole('button', { name: 'Token erzeugen' })).toBeVisible();
  await screenshot(page, 'api-tokens-de');
});

// Operators see every token and may revoke any (the token of nora above is listed for them).
test('r21 an operator sees every token and revokes a NAP\'s token', async ({ browser }) => {
  const nap = await browser.newPage();
  await localLogin(nap, 'nora');
  await nap.goto('/api-tokens');
  await waitForHydration(nap);
  const form = nap.locator('form.api-token-form');
  await form.getByLabel('Name').fill('e2e-reader');
  await form.getByRole('checkbox', { name: 'example.org', exact: true }).check();
  await form.getByRole('button', { name: 'Make token' }).click();
  await expect(nap.locator('.api-token-value')).toHaveText(/^raapi_/);

  const operatorContext = await browser.newContext();
  const operator = await operatorContext.newPage();
  await localLogin(operator, 'olga');
  await operator.goto('/api-tokens');
  await waitForHydration(operator);
  await expect(operator.getByRole('heading', { name: 'Every token (operators)' })).toBeVisible();
  const row = operator.locator('table.api-token-list').last().locator('tbody tr[data-token="e2e-reader"]').first();
  await expect(row).toContainText('read only');
  await row.getByRole('button', { name: 'Revoke' }).click();
  await row.getByRole('button', { name: 'Yes, revoke' }).click();
  await expect(row).toContainText('revoked by an operator');
  await screenshot(operator, 'api-tokens-operator');

  await nap.reload();
  await waitForHydration(nap);
  await expect(nap.locator('tbody tr[data-token="e2e-reader"]').first()).toContainText('revoked by an operator');
  await operatorContext.close();
});
