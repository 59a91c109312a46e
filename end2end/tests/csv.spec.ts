import { test, expect, type Page } from '@playwright/test';
import { waitForHydration, screenshot, localLogin, dropFile } from './helpers';

// SPEC §4: a NAP drops a CSV file on the table page, sees the preview, applies it, sees the rows.

async function openUpload(page: Page) {
  await localLogin(page, 'nora');
  await page.goto('/domains/example.org');
  await waitForHydration(page);
  await page.locator('details.csv-upload summary').click();
}

test('r08 a dropped CSV file is previewed, then applied in one go', async ({ page }) => {
  await openUpload(page);
  // German headers in another order, semicolons, a functional row: as German Excel writes it.
  const file =
    'Nachname;E-Mail-Adresse;Vorname;Aliase;Postfachtyp;Antragsteller-E-Mail\r\n' +
    'Csv;karl.csv@example.org;Karl;k.csv@example.org;persönlich;\r\n' +
    'Poststelle;post.csv@example.org;;;funktional;anna@uni.example\r\n';
  await dropFile(page, 'mailboxes.csv', file);
  const preview = page.locator('.csv-preview');
  await expect(preview).toContainText('Preview: nothing is saved yet');
  await expect(preview.locator('.counts')).toContainText('2 new');
  await expect(preview).toContainText('karl.csv@example.org');
  await screenshot(page, 'csv-preview');
  // Nothing is saved by the preview.
  await expect(page.locator('tr.row[data-primary="karl.csv@example.org"]')).toHaveCount(0);

  await preview.getByRole('button', { name: 'Apply all changes' }).click();
  await expect(page.locator('.csv-upload [role="status"]')).toContainText('Applied: 2 new');
  await expect(page.locator('tr.row[data-primary="karl.csv@example.org"]')).toBeVisible();
  await expect(page.locator('tr.row[data-primary="post.csv@example.org"]')).toContainText('functional');

  // Download, then upload the same file again: every line is unchanged.
  const download = await page.request.get('/domains/example.org/csv');
  expect(download.status()).toBe(200);
  const csv = await download.text();
  // A UTF-8 byte order mark first, so that Excel shows umlauts right; the upload drops it again.
  expect(csv.split(/\r?\n/)[0]).toBe('\uFEFFE-Mail,First Name,Last Name,Aliases,Mailbox Type,Applicant E-Mail,Comment,Active');
  expect(csv).toContain('karl.csv@example.org');
  // The variant for Excel on a German Windows: semicolons, German header and values.
  const german = await page.request.get('/domains/example.org/csv?format=excel-de');
  expect(german.status()).toBe(200);
  expect((await german.text()).split(/\r?\n/)[0]).toBe('\uFEFFE-Mail-Adresse;Vorname;Nachname;Aliase;Postfachtyp;Antragsteller-E-Mail;Kommentar;Aktiv');
  await dropFile(page, 'again.csv', csv);
  await expect(preview.locator('.counts')).toContainText('0 new');
  await expect(preview.locator('.counts')).toContainText('0 changed');
});

test('r08 a file with errors names line and column and cannot be applied', async ({ page }) => {
  await openUpload(page);
  await dropFile(page, 'bad.csv', 'E-Mail,Vorname,Shoe Size\nnot-an-address,X,42\n');
  const errors = page.locator('.csv-upload [role="alert"]');
  await expect(errors).toContainText('Shoe Size');
  await dropFile(page, 'bad.csv', 'E-Mail,First Name\nnot-an-address,X\nok.csv@example.org,Y\n');
  await expect(errors).toContainText('not-an-address');
  await expect(errors.locator('td').first()).toHaveText('2');
  await expect(page.getByRole('button', { name: 'Apply all changes' })).toBeDisabled();
  await expect(page.locator('tr.row[data-primary="ok.csv@example.org"]')).toHaveCount(0);
});

test('a long preview pages 50 lines at a time and nothing is saved on discard', async ({ page }) => {
  await openUpload(page);
  let file = 'E-Mail,Last Name\r\n';
  for (let i = 0; i < 120; i++) file += `page.${String(i).padStart(3, '0')}@example.org,Page ${i}\r\n`;
  await dropFile(page, 'long.csv', file);
  const preview = page.locator('.csv-preview');
  await expect(preview.locator('.counts')).toContainText('120 new');
  const pager = preview.locator('nav.pager');
  await expect(pager).toContainText('1 / 3');
  await expect(pager.getByRole('button', { name: 'Previous' })).toBeDisabled();
  await expect(preview).toContainText('page.049@example.org');
  await expect(preview).not.toContainText('page.050@example.org');
  await pager.getByRole('button', { name: 'Next' }).click();
  await expect(pager).toContainText('2 / 3');
  await expect(preview).toContainText('page.050@example.org');
  await pager.getByRole('button', { name: 'Next' }).click();
  await expect(pager).toContainText('3 / 3');
  await expect(pager.getByRole('button', { name: 'Next' })).toBeDisabled();
  await preview.getByRole('button', { name: 'Discard' }).click();
  await expect(preview).toHaveCount(0);
  await expect(page.locator('tr.row[data-primary="page.000@example.org"]')).toHaveCount(0);
});
