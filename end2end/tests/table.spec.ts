import { test, expect, type Page, type Locator } from '@playwright/test';
import { waitForHydration, screenshot, localLogin, dropFile } from './helpers';

// The NAP's address table on the local portal (demo data: nora is NAP of example.org).

const row = (page: Page, primary: string): Locator => page.locator(`tr.row[data-primary="${primary}"]`);

async function openTable(page: Page) {
  await localLogin(page, 'nora');
  await page.goto('/domains/example.org');
  await waitForHydration(page);
  await expect(page.getByRole('heading', { name: 'example.org' })).toBeVisible();
}

async function addRow(page: Page, fields: { primary: string; first?: string; last?: string; aliases?: string; type?: string; applicant?: string }) {
  const form = page.locator('details.add-row');
  if (!(await form.evaluate((d: HTMLDetailsElement) => d.open))) await form.locator('summary').click();
  await form.getByLabel('Primary address').fill(fields.primary);
  if (fields.type) await form.getByLabel('Type').selectOption(fields.type);
  if (fields.first) await form.getByLabel('First name').fill(fields.first);
  if (fields.last) await form.getByLabel('Last name').fill(fields.last);
  if (fields.aliases) await form.getByLabel('Aliases').fill(fields.aliases);
  if (fields.applicant) await form.getByLabel('Applicant').fill(fields.applicant);
  await form.getByRole('button', { name: 'Add row' }).click();
}

test('r01 a NAP adds rows; addresses outside their domains are refused at the cell', async ({ page }) => {
  await openTable(page);
  await addRow(page, { primary: 'Erika.Muster@Example.org', first: 'Erika', last: 'Muster', aliases: 'e.muster@example.org' });
  await expect(row(page, 'erika.muster@example.org')).toBeVisible();
  await expect(row(page, 'erika.muster@example.org').getByText('never sent').first()).toBeVisible();

  // The browser pre-checks with the same parser the server uses.
  await addRow(page, { primary: 'not an address' });
  await expect(page.locator('details.add-row .field-error')).toContainText('not an address');

  // Only the server knows which domains this NAP administers (R1).
  await addRow(page, { primary: 'someone@example.net' });
  await expect(page.locator('details.add-row .field-error')).toContainText('example.net');
  await expect(row(page, 'someone@example.net')).toHaveCount(0);

  // A functional mailbox needs its applicant.
  await addRow(page, { primary: 'info@example.org', type: 'functional', last: 'Info desk', applicant: 'boss@uni.example' });
  await expect(row(page, 'info@example.org')).toContainText('functional');
  await expect(row(page, 'info@example.org')).toContainText('boss@uni.example');
  await screenshot(page, 'table');
});

test('r06 inline editing: Enter saves, Escape cancels, the primary address cannot be edited', async ({ page }) => {
  await openTable(page);
  await addRow(page, { primary: 'max.mustermann@example.org', first: 'Max', last: 'Mustermann' });
  const r = row(page, 'max.mustermann@example.org');
  await expect(r).toBeVisible();

  await r.locator('td[data-field="last_name"] button.cell').click();
  const input = r.locator('td[data-field="last_name"] input');
  await input.fill('Mustermann-Schulz');
  await input.press('Enter');
  await expect(page.getByRole('status')).toHaveText('Saved.');
  await expect(r.locator('td[data-field="last_name"]')).toHaveText('Mustermann-Schulz');

  await r.locator('td[data-field="first_name"] button.cell').click();
  await r.locator('td[data-field="first_name"] input').fill('Moritz');
  await r.locator('td[data-field="first_name"] input').press('Escape');
  await expect(r.locator('td[data-field="first_name"]')).toHaveText('Max');

  // R2: the primary address is plain text, not an editable cell.
  await expect(r.locator('td.primary button.cell')).toHaveCount(0);

  // The change is on the server: a reload shows it.
  await page.reload();
  await waitForHydration(page);
  await expect(row(page, 'max.mustermann@example.org').locator('td[data-field="last_name"]')).toHaveText('Mustermann-Schulz');
});

test('r04 aliases are edited as chips', async ({ page }) => {
  await openTable(page);
  await addRow(page, { primary: 'clara.chip@example.org', last: 'Chip', aliases: 'c.chip@example.org cc@example.org' });
  const r = row(page, 'clara.chip@example.org');
  await r.locator('td[data-field="aliases"] button.cell').click();
  await r.getByRole('button', { name: 'Remove alias cc@example.org' }).click();
  const input = r.locator('td[data-field="aliases"] input');
  await input.fill('not valid');
  await input.press('Enter');
  await expect(r.locator('td[data-field="aliases"] .field-error')).toBeVisible();
  await input.fill('clara@example.org');
  await input.press('Enter');
  await input.press('Enter');
  await expect(page.getByRole('status')).toHaveText('Saved.');
  await expect(r.locator('td[data-field="aliases"]')).toContainText('c.chip@example.org');
  await expect(r.locator('td[data-field="aliases"]')).toContainText('clara@example.org');
  await expect(r.locator('td[data-field="aliases"]')).not.toContainText('cc@example.org');
});

test('r07 deactivate and reactivate with confirmation; r03 delete a row that never had a challenge', async ({ page }) => {
  await openTable(page);
  await addRow(page, { primary: 'leaver@example.org', first: 'Lea', last: 'Ver' });
  const r = row(page, 'leaver@example.org');
  await r.getByRole('button', { name: 'Deactivate' }).click();
  await expect(page.getByRole('alertdialog')).toContainText('Deactivate this row?');
  await page.getByRole('alertdialog').getByRole('button', { name: 'Confirm' }).click();
  await expect(r).toHaveClass(/inactive/);
  await expect(r.getByRole('button', { name: 'Reactivate' })).toBeVisible();

  // The filter finds it among the inactive rows.
  await page.locator('.toolbar').getByLabel('Status').selectOption('inactive');
  await expect(row(page, 'leaver@example.org')).toBeVisible();
  await page.locator('.toolbar').getByLabel('Status').selectOption('');
  // Wait until the unfiltered page has replaced the filtered one (an active demo row is back),
  // so the next click lands on the row that stays.
  await expect(row(page, 'anna.schmidt@example.org')).toBeVisible();

  await row(page, 'leaver@example.org').getByRole('button', { name: 'Reactivate' }).click();
  // R18: reactivating offers a new challenge round in the same step; this row never had one.
  await expect(page.getByRole('alertdialog').getByRole('button', { name: 'Reactivate and send new challenges' })).toBeVisible();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Reactivate only' }).click();
  await expect(row(page, 'leaver@example.org')).not.toHaveClass(/inactive/);

  await row(page, 'leaver@example.org').getByRole('button', { name: 'Delete' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Confirm' }).click();
  await expect(row(page, 'leaver@example.org')).toHaveCount(0);
});

test('search and bulk deactivation of a selection', async ({ page }) => {
  await openTable(page);
  await addRow(page, { primary: 'bulk.one@example.org', last: 'Bulk' });
  await addRow(page, { primary: 'bulk.two@example.org', last: 'Bulk' });
  await expect(row(page, 'bulk.two@example.org')).toBeVisible();
  await page.getByRole('searchbox').fill('bulk.');
  await page.getByRole('searchbox').press('Enter');
  await expect(page.locator('tr.row')).toHaveCount(2);
  await row(page, 'bulk.one@example.org').getByRole('checkbox').check();
  await row(page, 'bulk.two@example.org').getByRole('checkbox').check();
  await expect(page.locator('.bulk-bar')).toContainText('2 selected');
  await page.getByRole('button', { name: 'Deactivate selected' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Confirm' }).click();
  await expect(row(page, 'bulk.one@example.org')).toHaveClass(/inactive/);
  await expect(row(page, 'bulk.two@example.org')).toHaveClass(/inactive/);
});

test('internationalised domains are checked in the browser and stored as punycode', async ({ page }) => {
  await openTable(page);
  // The WASM client maps the IDN with the browser's own UTS-46 (the server with idna): same result.
  await addRow(page, { primary: 'buecher.idn@example.org', type: 'functional', last: 'Bücherei', applicant: 'Chef@Bücher.Example' });
  await expect(row(page, 'buecher.idn@example.org')).toContainText('chef@xn--bcher-kva.example');
  // A broken punycode label is refused at the cell.
  await addRow(page, { primary: 'anna@xn--zz-zz-zz.example.org' });
  await expect(page.locator('details.add-row .field-error')).toContainText('internationalised domain name');
  await expect(row(page, 'anna@xn--zz-zz-zz.example.org')).toHaveCount(0);
});

test('p2 the pager steps through a long table and back, with and without a search', async ({ page }) => {
  await openTable(page);
  await page.locator('details.csv-upload summary').click();
  // 120 rows whose addresses sort after every other row of the demo table.
  let file = 'E-Mail,Last Name\r\n';
  for (let i = 0; i < 120; i++) file += `zz.pager.${String(i).padStart(3, '0')}@example.org,Pager ${i}\r\n`;
  await dropFile(page, 'pager.csv', file);
  await page.locator('.csv-preview').getByRole('button', { name: 'Apply all changes' }).click();
  await expect(page.locator('.csv-upload [role="status"]')).toContainText('Applied: 120 new');

  const pager = page.locator('table.rows + nav.pager');
  const first = page.locator('tr.row').first();
  const expectPage = async (range: string, firstPrimary: string) => {
    await expect(pager.locator('.range')).toContainText(range);
    await expect(first).toHaveAttribute('data-primary', firstPrimary);
  };

  // Searched (the matching set's plan): 120 rows, three pages.
  const search = page.getByRole('searchbox');
  await search.fill('zz.pager');
  await search.press('Enter');
  await expectPage('1–50 of 120', 'zz.pager.000@example.org');
  await pager.getByRole('button', { name: 'Next' }).click();
  await expectPage('51–100 of 120', 'zz.pager.050@example.org');
  await pager.getByRole('button', { name: 'Next' }).click();
  await expectPage('101–120 of 120', 'zz.pager.100@example.org');
  await expect(pager.getByRole('button', { name: 'Next' })).toBeDisabled();
  await pager.getByRole('button', { name: 'Previous' }).click();
  await expectPage('51–100 of 120', 'zz.pager.050@example.org');
  await pager.getByRole('button', { name: 'Previous' }).click();
  await expectPage('1–50 of 120', 'zz.pager.000@example.org');
  await expect(pager.getByRole('button', { name: 'Previous' })).toBeDisabled();

  // The whole table by primary address, descending (the sort index's plan): the new rows first.
  await search.fill('');
  await search.press('Enter');
  // Sorted by primary address already: one click reverses it.
  await page.getByRole('button', { name: /^Primary address/ }).click();
  await expect(first).toHaveAttribute('data-primary', 'zz.pager.119@example.org');
  await pager.getByRole('button', { name: 'Next' }).click();
  await expect(first).toHaveAttribute('data-primary', 'zz.pager.069@example.org');
  await pager.getByRole('button', { name: 'Previous' }).click();
  await expect(first).toHaveAttribute('data-primary', 'zz.pager.119@example.org');
});
