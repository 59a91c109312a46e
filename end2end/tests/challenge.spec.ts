import { test, expect, type Page } from '@playwright/test';
import { oidcPortalURL, smtpApiURL } from '../playwright.config';
import { waitForHydration, screenshot } from './helpers';

// S1 up to the link: the NAP sends a challenge, the mail arrives at a real SMTP server (STARTTLS +
// AUTH), the recipient opens the link, logs in through the real OIDC provider and confirms; the
// NAP's table then shows who confirmed.

const nav = (page: Page) => page.locator('header.top');

async function oidcSignIn(page: Page, user: string) {
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(`test-password-${user}`);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

async function oidcLogin(page: Page, user: string) {
  await page.goto(`${oidcPortalURL}/login`);
  await waitForHydration(page);
  await page.getByRole('link', { name: "Log in with your organisation's account" }).click();
  await oidcSignIn(page, user);
  await waitForHydration(page);
}

async function mailTo(address: string): Promise<{ subject: string; text: string; html: string }> {
  let found: { subject: string; text: string; html: string } | undefined;
  await expect
    .poll(
      async () => {
        const r = await fetch(`${smtpApiURL}/api/mails?to=${encodeURIComponent(address)}`);
        const mails = await r.json();
        found = mails[mails.length - 1];
        return mails.length;
      },
      { timeout: 20_000 },
    )
    .toBeGreaterThan(0);
  return found!;
}

test('r09 r11 a challenge mail goes out over SMTP and its recipient confirms after logging in', async ({ page }) => {
  await oidcLogin(page, 'nap-example');
  await page.goto(`${oidcPortalURL}/domains/example.org`);
  await waitForHydration(page);

  const form = page.locator('details.add-row');
  await form.locator('summary').click();
  await form.getByLabel('Primary address').fill('carla.klein@example.org');
  await form.getByLabel('First name').fill('Carla');
  await form.getByLabel('Last name').fill('Klein');
  await form.getByRole('button', { name: 'Add row' }).click();
  const row = page.locator('tr.row[data-primary="carla.klein@example.org"]');
  await expect(row).toBeVisible();

  await row.getByRole('button', { name: 'Send challenge' }).click();
  await page.getByRole('alertdialog').getByRole('button', { name: 'Confirm' }).click();
  await expect(row.getByText('pending since')).toBeVisible();
  // A row with a challenge can no longer be deleted (R3): the button says why.
  await expect(row.getByRole('button', { name: 'Delete' })).toBeDisabled();

  const mail = await mailTo('carla.klein@example.org');
  expect(mail.subject).toContain('confirm');
  const link = mail.text.match(/http:\/\/127\.0\.0\.1:\d+\/confirm\/[A-Za-z0-9_-]+/)?.[0];
  expect(link, mail.text).toBeTruthy();
  expect(link!.startsWith(oidcPortalURL)).toBe(true);
  expect(mail.html).toContain(link!);

  // The table shows where the mail is: delivered to the SMTP server.
  await page.reload();
  await waitForHydration(page);
  await expect(row.getByText('mail sent')).toBeVisible();

  await nav(page).getByRole('button', { name: 'Log out' }).click();
  await expect(nav(page).getByRole('link', { name: 'Log in' })).toBeVisible();

  // Opening the link changes nothing and asks to log in first.
  await page.goto(link!);
  await waitForHydration(page);
  await expect(page.getByText('please log in first')).toBeVisible();
  await page.locator('main').getByRole('link', { name: 'Log in' }).click();
  await waitForHydration(page);
  await page.getByRole('link', { name: "Log in with your organisation's account" }).click();
  await oidcSignIn(page, 'carla');
  await expect(page).toHaveURL(link!);
  await waitForHydration(page);
  await expect(page.getByTestId('challenge-address')).toHaveText('carla.klein@example.org');
  await expect(page.getByText('sub-carla (Carla Klein)')).toBeVisible();
  await screenshot(page, 'confirm');
  await page.getByRole('button', { name: 'Confirm: this is my mailbox' }).click();
  await expect(page.getByRole('status')).toHaveText('Confirmed. The address is now linked to your user ID.');

  // The link works once only.
  await page.goto(link!);
  await waitForHydration(page);
  await expect(page.getByRole('alert')).toContainText('already');

  await nav(page).getByRole('button', { name: 'Log out' }).click();
  await oidcLogin(page, 'nap-example');
  await page.goto(`${oidcPortalURL}/domains/example.org`);
  await waitForHydration(page);
  await expect(page.locator('tr.row[data-primary="carla.klein@example.org"]')).toContainText('confirmed by sub-carla (Carla Klein)');
});
