import { test, expect, type Page, type Locator } from '@playwright/test';
import { waitForHydration, screenshot, localLogin } from './helpers';

// R16: the audit trail a NAP reads, on the local portal (demo data: nora is NAP of example.org),
// in a 1 400 px window and a browser in Berlin.

test.use({ viewport: { width: 1400, height: 900 }, timezoneId: 'Europe/Berlin' });

const row = (page: Page, primary: string): Locator => page.locator(`tr.row[data-primary="${primary}"]`);

/** What the page must not show: snake_case names, JSON, Unix timestamps. */
async function expectReadable(page: Page) {
  const table = page.locator('table.audit-records');
  await expect(table).toBeVisible();
  const text = (await table.innerText()) ?? '';
  expect(text).not.toMatch(/\b[a-z]+_[a-z_]+\b/);
  expect(text).not.toMatch(/[{}]|":/);
  expect(text).not.toMatch(/\b\d{10}\b/);
  const width = await page.evaluate(() => document.scrollingElement!.scrollWidth);
  expect(width).toBeLessThanOrEqual(1400);
}

test('r16 the audit trail names events and field changes in the language, fits 1 400 px, times in the browser zone', async ({ page }) => {
  const errors: string[] = [];
  page.on('console', (m) => { if (m.type() === 'error') errors.push(m.text()); });
  page.on('pageerror', (e) => errors.push(e.message));

  await localLogin(page, 'nora');
  await page.goto('/domains/example.org');
  await waitForHydration(page);
  // A few actions: add a row, change its last name, send a challenge, deactivate the row.
  const form = page.locator('details.add-row');
  await form.locator('summary').click();
  await form.getByLabel('Primary address').fill('hanna.walk@example.org');
  await form.getByLabel('First name').fill('Hanna');
  await form.getByLabel('Last name').fill('Walk');
  await form.getByRole('button', { name: 'Add row' }).click();
  const r = row(page, 'hanna.walk@example.org');
  await expect(r).toBeVisible();
  await r.locator('td[data-field="last_name"] button.cell').click();
  await r.locator('td[data-field="last_name"] input').fill('Neumann');
  await r.locator('td[data-field="last_name"] input').press('Enter');
  await expect(page.getByRole('status')).toHaveText('Saved.');
  await r.getByRole('button', { name: 'Send challenge' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Confirm' }).click();
  await expect(r.getByText('pending since')).toBeVisible();
  await r.getByRole('button', { name: 'Deactivate' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Confirm' }).click();
  await expect(r).toHaveClass(/inactive/);

  // A fresh load: the server renders with the zone the browser put into its cookie.
  await page.goto('/domains/example.org/audit');
  await waitForHydration(page);
  const records = page.locator('table.audit-records tbody tr');
  await expect(page.locator('table.audit-records th.when')).toContainText('Europe/Berlin');
  await expect(records.filter({ hasText: 'Row deactivated' }).first()).toContainText('Status: active → inactive');
  await expect(records.filter({ hasText: 'Row edited' }).first()).toContainText('Last name: Walk → Neumann');
  await expect(records.filter({ hasText: 'Row added' }).first()).toContainText('First name: Hanna');
  await expect(records.filter({ hasText: 'Challenge sent' }).first()).toContainText('Sent to: hanna.walk@example.org');
  await expect(records.filter({ hasText: 'Challenge sent' }).first()).toContainText(/Expires: \d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}/);
  await expect(records.first().locator('td.when')).toHaveText(/^\d{1,2} [A-Z][a-z]{2} \d{4}, \d{2}:\d{2}$/);
  await expectReadable(page);

  // What the server rendered is what the hydrated page shows (no hydration mismatch).
  const served = await (await page.request.get('/domains/example.org/audit')).text();
  for (const when of await page.locator('table.audit-records td.when').allInnerTexts()) {
    expect(served).toContain(when);
  }
  await screenshot(page, 'audit');

  // The filter picks kinds by name; it sends the stored kind, as before.
  await page.locator('form.toolbar').getByLabel('What').selectOption({ label: 'Row edited' });
  await page.locator('form.toolbar').getByRole('button', { name: 'Filter' }).click();
  await expect(records).toHaveCount(1);
  await expect(records.first()).toContainText('Last name: Walk → Neumann');

  // German: the switch rewords the page at once, and a German render says the same.
  await page.locator('form.toolbar').getByLabel('What').selectOption('');
  await page.locator('form.toolbar').getByRole('button', { name: 'Filter' }).click();
  await page.getByRole('button', { name: 'Deutsch' }).click();
  await expect(records.filter({ hasText: 'Zeile deaktiviert' }).first()).toContainText('Status: aktiv → inaktiv');
  await expect(records.filter({ hasText: 'Zeile bearbeitet' }).first()).toContainText('Nachname: Walk → Neumann');
  await expect(records.filter({ hasText: 'Challenge gesendet' }).first()).toContainText(/Läuft ab: \d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}/);
  await expect(records.first().locator('td.when')).toHaveText(/^\d{2}\.\d{2}\.\d{4}, \d{2}:\d{2}$/);
  await expectReadable(page);
  await page.reload();
  await waitForHydration(page);
  await expect(records.filter({ hasText: 'Zeile angelegt' }).first()).toContainText('Vorname: Hanna');
  await expectReadable(page);
  await page.getByRole('button', { name: 'English' }).click();

  expect(errors).toEqual([]);
});
