import { test, expect } from '@playwright/test';
import { oidcPortalURL } from '../playwright.config';
import { screenshot, waitForHydration } from './helpers';
import {
  NAP, addRow, confirmAs, onboard, deactivate, describe, editCell, expectGoodCertificate, expectRevoked, loginAs, mailCount,
  mailNumber, myCertificateLine, openTable, reactivateAndSend, requestCertificate, sendChallenge, setActive, tableRow,
} from './journeys';

// SPEC §7: the seven procedures, each a journey through the real OIDC provider and the real SMTP
// server, with every issued certificate checked by pkilint and by openssl against the CA and CRL.

test('s1 r13 r14 onboarding: row, challenge, confirm, certificate with the IdM name', async ({ page }) => {
  await loginAs(page, NAP);
  await openTable(page);
  await addRow(page, { primary: 's1.anna@example.org', first: 'Anna', last: 'Schmidt' });
  const link = await sendChallenge(page, 's1.anna@example.org');

  await confirmAs(page, 'anna', link);
  await page.getByRole('link', { name: 'My client certificates' }).first().click();
  await waitForHydration(page);
  const card = page.locator('article.mailbox-card[data-row="s1.anna@example.org"]');
  await expect(card).toContainText('CN=Anna Schmidt');
  await screenshot(page, 'my-certificates-request');

  const cert = await requestCertificate(page, 's1.anna@example.org', 'server');
  expect(describe(cert)).toMatch(/CN\s*=\s*Anna Schmidt/);
  expect(describe(cert)).toContain('email:s1.anna@example.org');
  await expectGoodCertificate(cert);
  await screenshot(page, 'my-certificates');

  // R13: one valid certificate per row; the card says until when.
  await expect(card).toContainText('you already hold a valid certificate for this mailbox');
  await expect(card.getByRole('button', { name: 'Request a certificate' })).toHaveCount(0);
});

test('r15 the owner revokes their certificate: CRL at once, confirmation mail, new request allowed', async ({ page }) => {
  const cert = await onboard(page, { primary: 'own.ben@example.org', first: 'Ben', last: 'Weber' }, 'ben', 'csr');

  const mailsBefore = await mailCount('own.ben@example.org');
  const line = await myCertificateLine(page, cert.serial);
  await line.getByRole('button', { name: 'Revoke' }).click();
  await line.getByLabel('Reason').selectOption('keyCompromise');
  await line.getByRole('alertdialog').getByRole('button', { name: 'Revoke' }).click();
  await expect(line).toContainText('revoked');
  await expect(line).toContainText('key compromise');
  await expectRevoked(cert);

  const mail = await mailNumber('own.ben@example.org', mailsBefore);
  expect(mail.text).toContain(cert.serial);
  await expect(page.locator('article.mailbox-card[data-row="own.ben@example.org"]').getByRole('button', { name: 'Request a certificate' })).toBeVisible();
});

test('s2 r15 r17 r19 leaver in one dialog: deactivated and revoked together, holder and NAP mailed', async ({ page }) => {
  const cert = await onboard(page, { primary: 's2.ben@example.org', first: 'Ben', last: 'Weber' }, 'ben', 'csr');

  await loginAs(page, NAP);
  await openTable(page);
  // R17: the table shows who holds a valid certificate for the row, without opening a panel.
  await expect(tableRow(page, 's2.ben@example.org').locator('.held-certificates')).toContainText('sub-ben (Ben Weber)');
  // While the row is active the NAP cannot revoke (R15): the panel says to deactivate first.
  await tableRow(page, 's2.ben@example.org').getByRole('button', { name: 'Certificates' }).click();
  await expect(page.locator('tr.row-certs')).toContainText('Deactivate the row to revoke.');
  // R20: the NAP sees which confirmation backed the certificate's address.
  await page.locator('tr.row-certs details.evidence summary').click();
  await expect(page.locator('tr.row-certs details.evidence')).toContainText('sub-ben');
  await expect(page.locator('tr.row-certs details.evidence')).toContainText('127.0.0.1');
  await screenshot(page, 'nap-row-certificates');
  await tableRow(page, 's2.ben@example.org').getByRole('button', { name: 'Certificates' }).click();

  const holderMails = await mailCount('s2.ben@example.org');
  const napMails = await mailCount('nap-example@example.org');
  await tableRow(page, 's2.ben@example.org').getByRole('button', { name: 'Deactivate' }).click();
  await screenshot(page, 'leaver-dialog');
  await page.getByRole('alertdialog').getByRole('button', { name: 'Cancel' }).click();
  expect(await deactivate(page, 's2.ben@example.org', { holder: 'sub-ben' })).toBe(1);
  await expectRevoked(cert);
  const mail = await mailNumber('s2.ben@example.org', holderMails);
  expect(mail.text).toContain(cert.serial);
  const copy = await mailNumber('nap-example@example.org', napMails);
  expect(copy.text).toContain(cert.serial);
  await expect(tableRow(page, 's2.ben@example.org').locator('.held-certificates')).toHaveCount(0);

  await loginAs(page, 'ben');
  const line = await myCertificateLine(page, cert.serial);
  await expect(line).toContainText('revoked');
  const card = page.locator('article.mailbox-card[data-row="s2.ben@example.org"]');
  await expect(card).toContainText('deactivated');
  await expect(card.getByRole('button', { name: 'Request a certificate' })).toHaveCount(0);
});

test('r19 a leaver left unrevoked goes on the worklist with the BR deadline, revoked from there', async ({ page }) => {
  const cert = await onboard(page, { primary: 'r19.lea@example.org', first: 'Lea', last: 'Ver' }, 'anna', 'csr');

  await loginAs(page, NAP);
  await openTable(page);
  expect(await deactivate(page, 'r19.lea@example.org', { revoke: false })).toBe(0);
  const item = page.locator('.worklist li[data-primary="r19.lea@example.org"]');
  await expect(item).toContainText('revoke by');
  await expect(item).toContainText('sub-anna');
  // R16: the deadline on the browser's clock, written the English way, its zone named; the
  // certificate's end as a day.
  const zone = await page.evaluate(() => Intl.DateTimeFormat().resolvedOptions().timeZone);
  const inZone = zone.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  await expect(item).toContainText(new RegExp(`revoke by \\d{1,2} [A-Z][a-z]{2} \\d{4}, \\d{2}:\\d{2} ${inZone}`));
  await expect(item.locator('.held-certificates')).toContainText(/until \d{1,2} [A-Z][a-z]{2} \d{4}/);
  await screenshot(page, 'worklist');
  await item.getByRole('button', { name: 'Revoke now' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Certificates revoked:' })).toContainText('1');
  await expect(item).toHaveCount(0);
  await expectRevoked(cert);
});

test('s3 r11 r12 r18 address recycling: the previous holder gets nothing once the new round is out', async ({ page }) => {
  const annas = await onboard(page, { primary: 's3.office@example.org', first: 'Anna', last: 'Schmidt' }, 'anna', 'server');

  await loginAs(page, NAP);
  await openTable(page);
  // Deactivate and revoke in one dialog; a plain rename changes nothing else (R6).
  expect(await deactivate(page, 's3.office@example.org')).toBe(1);
  await expectRevoked(annas);
  await editCell(page, 's3.office@example.org', 'first_name', 'Ben');
  await editCell(page, 's3.office@example.org', 'last_name', 'Weber');
  // Reactivate and send in one step: anna's link stays visible, suspended (R17, R18).
  const second = await reactivateAndSend(page, 's3.office@example.org');
  await expect(tableRow(page, 's3.office@example.org').locator('.badge.link.suspended')).toContainText('sub-anna');
  await screenshot(page, 'suspended-link');

  // The previous holder, still linked, cannot request while the new round waits.
  await loginAs(page, 'anna');
  await page.goto(`${oidcPortalURL}/certificates`);
  await waitForHydration(page);
  const annasCard = page.locator('article.mailbox-card[data-row="s3.office@example.org"]');
  await expect(annasCard).toContainText('a new challenge was sent');
  await expect(annasCard.getByRole('button', { name: 'Request a certificate' })).toHaveCount(0);

  await confirmAs(page, 'ben', second);
  const bens = await requestCertificate(page, 's3.office@example.org', 'server');
  await expectGoodCertificate(bens);
  expect(describe(bens)).toMatch(/CN\s*=\s*Ben Weber/);
  await expect(page.locator(`tr[data-serial="${annas.serial}"]`)).toHaveCount(0);

  await loginAs(page, 'anna');
  await page.goto(`${oidcPortalURL}/certificates`);
  await waitForHydration(page);
  await expect(page.locator(`tr[data-serial="${annas.serial}"]`)).toContainText('revoked');
  await expect(page.locator(`tr[data-serial="${bens.serial}"]`)).toHaveCount(0);
  await expect(page.locator('article.mailbox-card[data-row="s3.office@example.org"]')).toHaveCount(0);
});

test('s4 name change with a new sender address: the same user confirms the new row', async ({ page }) => {
  const old = await onboard(page, { primary: 's4.klein@example.org', first: 'Carla', last: 'Klein' }, 'carla', 'csr');

  await loginAs(page, NAP);
  await openTable(page);
  expect(await deactivate(page, 's4.klein@example.org', { reason: 'superseded' })).toBe(1);
  await addRow(page, { primary: 's4.carla.neu@example.org', first: 'Carla', last: 'Neu' });
  const newLink = await sendChallenge(page, 's4.carla.neu@example.org');
  await confirmAs(page, 'carla', newLink);
  const renewed = await requestCertificate(page, 's4.carla.neu@example.org', 'csr');
  await expectGoodCertificate(renewed);
  expect(describe(renewed)).toContain('email:s4.carla.neu@example.org');
  await expectRevoked(old);
  const oldCard = page.locator('article.mailbox-card[data-row="s4.klein@example.org"]');
  await expect(oldCard).toContainText('deactivated');
});

test('s5 r06 r07 name change with the same address: no new challenge needed', async ({ page }) => {
  const before = await onboard(page, { primary: 's5.ben@example.org', first: 'Ben', last: 'Weber' }, 'ben', 'server');

  await loginAs(page, NAP);
  await openTable(page);
  expect(await deactivate(page, 's5.ben@example.org')).toBe(1);
  await editCell(page, 's5.ben@example.org', 'last_name', 'Weber-Lang');
  await setActive(page, 's5.ben@example.org', true);
  await expect(tableRow(page, 's5.ben@example.org')).toContainText('confirmed by sub-ben');
  const mails = await mailCount('s5.ben@example.org');

  await loginAs(page, 'ben');
  const after = await requestCertificate(page, 's5.ben@example.org', 'server');
  await expectGoodCertificate(after);
  expect(after.serial).not.toBe(before.serial);
  expect(await mailCount('s5.ben@example.org')).toBe(mails);
});

test('s6 functional mailbox: the applicant confirms and gets a certificate without CN', async ({ page }) => {
  const cert = await onboard(page, { primary: 's6.helpdesk@example.org', type: 'functional', last: 'Helpdesk', applicant: 'carla@example.org' }, 'carla', 'server', 'carla@example.org');
  const text = describe(cert);
  expect(text).not.toContain('CN');
  expect(text).toContain('emailAddress');
  expect(text).toContain('s6.helpdesk@example.org');
});

test('s7 r05 r18 new applicant: the previous applicant keeps only the certificates they had', async ({ page }) => {
  const annas = await onboard(page, { primary: 's7.office@example.org', type: 'functional', last: 'Office', applicant: 'anna@example.org' }, 'anna', 'csr', 'anna@example.org');

  await loginAs(page, NAP);
  await openTable(page);
  expect(await deactivate(page, 's7.office@example.org')).toBe(1);
  await editCell(page, 's7.office@example.org', 'applicant', 'ben@example.org');
  const second = await reactivateAndSend(page, 's7.office@example.org', 'ben@example.org');
  await confirmAs(page, 'ben', second);
  const bens = await requestCertificate(page, 's7.office@example.org', 'csr');
  await expectGoodCertificate(bens);
  await expect(page.locator(`tr[data-serial="${annas.serial}"]`)).toHaveCount(0);

  await loginAs(page, 'anna');
  await page.goto(`${oidcPortalURL}/certificates`);
  await waitForHydration(page);
  await expect(page.locator(`tr[data-serial="${annas.serial}"]`)).toContainText('revoked');
  await expect(page.locator(`tr[data-serial="${bens.serial}"]`)).toHaveCount(0);
  await expect(page.locator('article.mailbox-card[data-row="s7.office@example.org"]')).toHaveCount(0);
});
