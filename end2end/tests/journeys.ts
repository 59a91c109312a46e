import { expect, type Locator, type Page } from '@playwright/test';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { oidcPortalURL, smtpApiURL } from '../playwright.config';
import { waitForHydration } from './helpers';

// The steps people take in SPEC §7's procedures, on the OIDC portal with the real IdP and the real
// SMTP server; and the outside tools (openssl, pkilint) that check what the portal issues.

export const NAP = 'nap-example';
const nav = (page: Page) => page.locator('header.top');

export const tableRow = (page: Page, primary: string): Locator => page.locator(`tr.row[data-primary="${primary}"]`);

/** Logs out (if logged in) and logs in at the real IdP as `user`. */
export async function loginAs(page: Page, user: string): Promise<void> {
  await page.goto(`${oidcPortalURL}/`);
  await waitForHydration(page);
  const logout = nav(page).getByRole('button', { name: 'Log out' });
  if (await logout.isVisible()) {
    await logout.click();
    await expect(nav(page).getByRole('link', { name: 'Log in' })).toBeVisible();
  }
  await page.goto(`${oidcPortalURL}/login`);
  await waitForHydration(page);
  await page.getByRole('link', { name: "Log in with your organisation's account" }).click();
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(`test-password-${user}`);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL((u) => u.origin === oidcPortalURL);
  await waitForHydration(page);
}

/** The NAP's table of example.org. */
export async function openTable(page: Page): Promise<void> {
  await page.goto(`${oidcPortalURL}/domains/example.org`);
  await waitForHydration(page);
  await expect(page.locator('table.rows')).toBeVisible();
}

/** Adds a row through the add-row form. */
export async function addRow(
  page: Page,
  fields: { primary: string; first?: string; last: string; type?: 'personal' | 'functional'; applicant?: string; aliases?: string },
): Promise<void> {
  const form = page.locator('details.add-row');
  if (!(await form.evaluate((d: HTMLDetailsElement) => d.open))) await form.locator('summary').click();
  await form.getByLabel('Primary address').fill(fields.primary);
  if (fields.type) await form.getByLabel('Type').selectOption(fields.type);
  if (fields.first) await form.getByLabel('First name').fill(fields.first);
  await form.getByLabel('Last name').fill(fields.last);
  if (fields.aliases) await form.getByLabel('Aliases').fill(fields.aliases);
  if (fields.applicant) await form.getByLabel('Applicant').fill(fields.applicant);
  await form.getByRole('button', { name: 'Add row' }).click();
  await expect(tableRow(page, fields.primary)).toBeVisible();
}

/** How many mails the SMTP server holds for `address`. */
export async function mailCount(address: string): Promise<number> {
  const r = await fetch(`${smtpApiURL}/api/mails?to=${encodeURIComponent(address)}`);
  return (await r.json()).length;
}

/** Waits for mail number `index` (0-based) to `address` and gives it. */
export async function mailNumber(address: string, index: number): Promise<{ subject: string; text: string }> {
  let mails: { subject: string; text: string }[] = [];
  await expect
    .poll(
      async () => {
        const r = await fetch(`${smtpApiURL}/api/mails?to=${encodeURIComponent(address)}`);
        mails = await r.json();
        return mails.length;
      },
      { timeout: 20_000, message: `mail #${index + 1} to ${address}` },
    )
    .toBeGreaterThan(index);
  return mails[index];
}

/** The NAP sends challenges for a row (R9); gives the challenge link that arrived at `recipient`. */
export async function sendChallenge(page: Page, primary: string, recipient = primary): Promise<string> {
  const before = await mailCount(recipient);
  await tableRow(page, primary).getByRole('button', { name: 'Send challenge' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Confirm' }).click();
  await expect(tableRow(page, primary).getByText('pending since').first()).toBeVisible();
  const mail = await mailNumber(recipient, before);
  const link = mail.text.match(/http:\/\/127\.0\.0\.1:\d+\/confirm\/[A-Za-z0-9_-]+/)?.[0];
  expect(link, mail.text).toBeTruthy();
  return link!;
}

/** `user` opens a challenge link, logs in and confirms (R10, R11). */
export async function confirmAs(page: Page, user: string, link: string): Promise<void> {
  await loginAs(page, user);
  await page.goto(link);
  await waitForHydration(page);
  await page.getByRole('button', { name: 'Confirm: this is my mailbox' }).click();
  await expect(page.getByRole('status')).toHaveText('Confirmed. The address is now linked to your user ID.');
}

/** Deactivates or reactivates a row on the open table (R7). Deactivating a row with valid
 * certificates revokes them in the same step, as the dialog proposes (R19). */
export async function setActive(page: Page, primary: string, active: boolean): Promise<void> {
  await tableRow(page, primary).getByRole('button', { name: active ? 'Reactivate' : 'Deactivate' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: active ? 'Reactivate only' : 'Confirm' }).click();
  await expect(tableRow(page, primary).getByRole('button', { name: active ? 'Deactivate' : 'Reactivate' })).toBeVisible();
}

/** R19: the leaver in one dialog: the NAP deactivates a row, sees its valid certificates listed
 * and revokes them in the same step (or, with `revoke: false`, leaves them for the worklist).
 * Gives the number of certificates revoked as the page reports it. */
export async function deactivate(
  page: Page,
  primary: string,
  options: { revoke?: boolean; reason?: string; holder?: string } = {},
): Promise<number> {
  await tableRow(page, primary).getByRole('button', { name: 'Deactivate' }).click();
  const dialog = page.getByRole('alertdialog');
  if (options.holder) await expect(dialog.locator('.held-certificates')).toContainText(options.holder);
  const revoke = dialog.getByRole('checkbox', { name: /Revoke them now/ });
  let revoked = 0;
  if (await revoke.count()) {
    await expect(revoke).toBeChecked();
    if (options.revoke === false) await revoke.uncheck();
    else {
      await dialog.getByLabel('Reason').selectOption(options.reason ?? 'affiliationChanged');
      revoked = await dialog.locator('.held-certificates li').count();
    }
  }
  await dialog.getByRole('button', { name: 'Confirm' }).click();
  await expect(tableRow(page, primary).getByRole('button', { name: 'Reactivate' })).toBeVisible();
  if (revoked > 0) {
    await expect(page.getByRole('status').filter({ hasText: 'Certificates revoked:' })).toContainText(String(revoked));
  }
  return revoked;
}

/** R18: reactivates a row and sends new challenges in one step; gives the link that arrived at `recipient`. */
export async function reactivateAndSend(page: Page, primary: string, recipient = primary): Promise<string> {
  const before = await mailCount(recipient);
  await tableRow(page, primary).getByRole('button', { name: 'Reactivate' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Reactivate and send new challenges' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Confirm' }).click();
  await expect(tableRow(page, primary).getByText('pending since').first()).toBeVisible();
  const mail = await mailNumber(recipient, before);
  const link = mail.text.match(/http:\/\/127\.0\.0\.1:\d+\/confirm\/[A-Za-z0-9_-]+/)?.[0];
  expect(link, mail.text).toBeTruthy();
  return link!;
}

/** Edits a text cell of a row in place (Enter saves). */
export async function editCell(page: Page, primary: string, field: 'first_name' | 'last_name' | 'applicant', value: string): Promise<void> {
  const cell = tableRow(page, primary).locator(`td[data-field="${field}"]`);
  await cell.locator('button.cell').click();
  await cell.locator('input').fill(value);
  await cell.locator('input').press('Enter');
  // A change of applicant drops links (R5): the table asks first.
  const dialog = page.getByRole('alertdialog');
  if (field === 'applicant') await dialog.getByRole('button', { name: 'Confirm' }).click();
  await expect(page.getByRole('status').first()).toHaveText('Saved.');
  await expect(tableRow(page, primary).locator(`td[data-field="${field}"]`)).toHaveText(value);
}

export type Issued = { serial: string; pem: string; dir: string };

/** On "My client certificates", requests a certificate for the mailbox `primary` (R13, R14). */
export async function requestCertificate(
  page: Page,
  primary: string,
  key: 'server' | 'csr' = 'server',
): Promise<Issued> {
  await page.goto(`${oidcPortalURL}/certificates`);
  await waitForHydration(page);
  const card = page.locator(`article.mailbox-card[data-row="${primary}"]`);
  await card.getByRole('button', { name: 'Request a certificate' }).click();
  const dir = mkdtempSync(join(tmpdir(), 'ra-e2e-cert-'));
  if (key === 'server') {
    await card.getByLabel('Password for the file').fill('correct horse battery');
    await card.getByLabel('Password again').fill('correct horse battery');
  } else {
    execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
      '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'req.pem'), '-subj', '/CN=ignored by the portal']);
    await card.getByLabel('Use my own key').check();
    await card.getByLabel('Certificate request (PEM)').fill(readFileSync(join(dir, 'req.pem'), 'utf8'));
  }
  await card.getByRole('button', { name: 'Issue certificate' }).click();
  const serial = (await page.getByTestId('issued-serial').textContent())!.trim();
  if (key === 'server') {
    // The key file is offered once; openssl must read it with the password (modern PBES2).
    const [download] = await Promise.all([page.waitForEvent('download'), page.getByTestId('p12-download').click()]);
    const p12 = join(dir, 'cert.p12');
    await download.saveAs(p12);
    const info = execFileSync('openssl', ['pkcs12', '-in', p12, '-info', '-nokeys', '-passin', 'pass:correct horse battery'], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
    expect(info).toContain('BEGIN CERTIFICATE');
  }
  const pem = await downloadPem(page, serial);
  writeFileSync(join(dir, 'cert.pem'), pem);
  return { serial, pem, dir };
}

/** The PEM of a certificate listed on the current page, through its download link. */
export async function downloadPem(page: Page, serial: string): Promise<string> {
  const href = await page.locator(`tr[data-serial="${serial}"] a`, { hasText: 'PEM' }).first().getAttribute('href');
  const r = await page.request.get(`${oidcPortalURL}${href}`);
  expect(r.status()).toBe(200);
  return r.text();
}

/** The subject and SAN as openssl prints them. */
export function describe(cert: Issued): string {
  return execFileSync('openssl', ['x509', '-in', join(cert.dir, 'cert.pem'), '-noout', '-subject', '-ext', 'subjectAltName']).toString();
}

/** pkilint's S/MIME lint finds no error; openssl verifies against the CA and the current CRL. */
export async function expectGoodCertificate(cert: Issued): Promise<void> {
  // The profile is detected from the certificate's policy OID; pkilint exits non-zero when it
  // reports findings, so its report is read either way.
  let lint: string;
  try {
    lint = execFileSync('lint_cabf_smime_cert', ['lint', '-d', '-s', 'NOTICE', '--document-format', 'PEM', join(cert.dir, 'cert.pem')],
      { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  } catch (e: any) {
    lint = `${e.stdout}${e.stderr}`;
  }
  expect(lint, lint).not.toContain('Traceback');
  expect(lint, lint).not.toMatch(/\((ERROR|FATAL)\)/);
  expect(await verify(cert)).toContain(': OK');
}

/** After a revocation, openssl with the current CRL refuses the certificate. */
export async function expectRevoked(cert: Issued): Promise<void> {
  expect(await verify(cert)).toContain('certificate revoked');
}

async function verify(cert: Issued): Promise<string> {
  const ca = await (await fetch(`${oidcPortalURL}/pki/ca.pem`)).text();
  const crl = await (await fetch(`${oidcPortalURL}/pki/ca.crl.pem`)).text();
  writeFileSync(join(cert.dir, 'ca.pem'), ca);
  writeFileSync(join(cert.dir, 'crl.pem'), crl);
  try {
    return execFileSync('openssl', ['verify', '-purpose', 'smimesign', '-CAfile', join(cert.dir, 'ca.pem'), '-crl_check',
      '-CRLfile', join(cert.dir, 'crl.pem'), join(cert.dir, 'cert.pem')], { stdio: ['ignore', 'pipe', 'pipe'] }).toString();
  } catch (e: any) {
    return `${e.stdout}${e.stderr}`;
  }
}

/** The state line of a certificate on "My client certificates". */
export async function myCertificateLine(page: Page, serial: string): Promise<Locator> {
  await page.goto(`${oidcPortalURL}/certificates`);
  await waitForHydration(page);
  return page.locator(`table.certificates tr[data-serial="${serial}"]`);
}

/**
 * S1 up to the certificate: the NAP adds the row and sends its challenge, `user` confirms from the
 * mail (which goes to `recipient`: the applicant on a functional row) and requests a certificate,
 * which pkilint and openssl must accept.
 */
export async function onboard(
  page: Page,
  row: Parameters<typeof addRow>[1],
  user: string,
  key: 'server' | 'csr',
  recipient = row.primary,
): Promise<Issued> {
  await loginAs(page, NAP);
  await openTable(page);
  await addRow(page, row);
  const link = await sendChallenge(page, row.primary, recipient);
  await confirmAs(page, user, link);
  const cert = await requestCertificate(page, row.primary, key);
  await expectGoodCertificate(cert);
  return cert;
}
