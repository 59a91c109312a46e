import { test, expect, type Locator, type Page } from '@playwright/test';
import { oidcPortalURL } from '../playwright.config';
import { dropFile, localLogin, screenshot, waitForHydration } from './helpers';
import { onboard } from './journeys';

// Issue 19, Q9: refusals travel as data and the page words them in the reader's language, so a
// German page shows German messages only — field errors, CSV errors (column names included) and
// a refused certificate request — and no English sentence made on the server.

/** Words of English sentences that no German message of the portal contains. */
const ENGLISH = [' is ', ' the ', ' not ', ' has ', ' must ', 'column', 'line ', 'address', 'valid until', 'already', 'nothing'];

async function expectGermanOnly(where: Locator): Promise<void> {
  const text = (await where.innerText()).toLowerCase();
  for (const word of ENGLISH) expect(text, `English "${word}" in: ${text}`).not.toContain(word);
}

async function inGerman(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Deutsch' }).click();
  await expect(page.locator('html')).toHaveAttribute('lang', 'de');
}

test('q9 r01 r08 the German table page words an invalid address and a CSV file with errors in German', async ({ page }) => {
  await localLogin(page, 'nora');
  await page.goto('/domains/example.org');
  await waitForHydration(page);
  await inGerman(page);

  // An invalid address in the add-row form: checked in the browser by the domain's own parser.
  const form = page.locator('details.add-row');
  await form.locator('summary').click();
  await form.getByLabel('Absenderadresse').fill('anna@@example.org');
  await form.getByLabel('Nachname').fill('Schmidt');
  await form.getByRole('button', { name: 'Zeile hinzufügen' }).click();
  const fieldError = form.locator('.field-error');
  await expect(fieldError.first()).toContainText('„anna@@example.org“ ist keine E-Mail-Adresse: sie hat mehr als ein @');
  await expectGermanOnly(form);
  await screenshot(page, 'german-field-error');

  // A CSV file whose header names an unknown column: refused as a whole, the columns listed.
  await page.locator('details.csv-upload summary').click();
  const upload = page.locator('.csv-upload');
  await dropFile(page, 'falsch.csv', 'E-Mail,Vorname,Shoe Size\nkein-at,X,42\n');
  const alert = upload.locator('[role="alert"]').first();
  await expect(alert).toContainText('Spalte 3 „Shoe Size“ ist keine Spalte der Adresstabelle');
  await expectGermanOnly(alert);

  // A file whose lines have errors: each at its line and column, in German, nothing applicable.
  await dropFile(page, 'zeilen.csv', 'E-Mail,Vorname\nkein-at,X\nok.de@example.org,Y,Z\nneu.de@example.org,Ja\n');
  await expect(alert).toContainText('„kein-at“ ist keine E-Mail-Adresse: es fehlt das @');
  await expect(alert).toContainText('Diese Zeile hat 3 Zellen, die Kopfzeile nur 2');
  await expect(alert).toContainText('Spalte 1 „E-Mail“');
  await expectGermanOnly(alert);
  await screenshot(page, 'german-csv-errors');
});

test('q9 r13 a refused certificate request reads in German, with the date written the German way', async ({ page }) => {
  await onboard(page, { primary: 'de.carla@example.org', first: 'Carla', last: 'Klein' }, 'carla', 'server');
  await page.goto(`${oidcPortalURL}/certificates`);
  await waitForHydration(page);
  await inGerman(page);

  // R13: one valid certificate per mailbox; the card says why no new one can be requested.
  const refusal = page.locator('article.mailbox-card[data-row="de.carla@example.org"] .refusal');
  await expect(refusal).toContainText('Sie haben bereits ein gültiges Zertifikat für dieses Postfach, gültig bis');
  await expect(refusal).toHaveText(/gültig bis \d\d\.\d\d\.\d{4}; ein neues können Sie ab dem \d\d\.\d\d\.\d{4} beantragen/);
  await expectGermanOnly(refusal);

  // R16: the certificate's validity is written the German way, as days of the browser's zone,
  // which the heading names; the server rendered the very same text (hydration changes nothing).
  const zone = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  const certificates = page.locator('table.certificates');
  await expect(certificates.locator('th.validity .zone')).toHaveText(`(${zone})`);
  const validity = certificates.locator('td.validity').first();
  await expect(validity).toHaveText(/^\d\d\.\d\d\.\d{4} – \d\d\.\d\d\.\d{4}$/);
  const served = await (await page.request.get(`${oidcPortalURL}/certificates`)).text();
  expect(served).toContain(await validity.innerText());
  await screenshot(page, 'german-certificate-refusal');
});
