import { test, expect, type Page } from '@playwright/test';
import { oidcPortalURL } from '../playwright.config';
import { waitForHydration, screenshot, localLogin } from './helpers';

const nav = (page: Page) => page.locator('header.top');

async function oidcLogin(page: Page, user: string, password = `test-password-${user}`) {
  await page.goto(`${oidcPortalURL}/login`);
  await waitForHydration(page);
  await page.getByRole('link', { name: "Log in with your organisation's account" }).click();
  await page.getByLabel('Username').fill(user);
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('anonymous visitors see only the login link', async ({ page }) => {
  await page.goto('/');
  await waitForHydration(page);
  await expect(nav(page).getByRole('link', { name: 'Log in' })).toBeVisible();
  await expect(nav(page).getByText('My email domains')).toHaveCount(0);
  await expect(nav(page).getByText('My client certificates')).toHaveCount(0);
});

test('q2 a NAP logs in with a local account, sees the NAP navigation, and logs out', async ({ page }) => {
  await localLogin(page, 'nora');
  await waitForHydration(page);
  await expect(nav(page).getByText('Nora Nap')).toBeVisible();
  await expect(nav(page).getByRole('link', { name: 'My email domains' })).toBeVisible();
  await expect(nav(page).getByRole('link', { name: 'My client certificates' })).toBeVisible();
  await expect(nav(page).getByRole('link', { name: 'Domains (operator)' })).toHaveCount(0);

  const cookie = (await page.context().cookies()).find((c) => c.name === 'ra_session');
  expect(cookie?.httpOnly).toBe(true);
  expect(cookie?.sameSite).toBe('Lax');

  await nav(page).getByRole('link', { name: 'My email domains' }).click();
  await expect(page.getByRole('heading', { name: 'My email domains' })).toBeVisible();
  await expect(page.getByText('example.org')).toBeVisible();
  await screenshot(page, 'my-domains-nora');

  await nav(page).getByRole('button', { name: 'Log out' }).click();
  await expect(nav(page).getByRole('link', { name: 'Log in' })).toBeVisible();
  // The old cookie is worthless now: the session ended on the server.
  await page.context().addCookies([{ ...cookie!, expires: -1 }]);
  await page.goto('/domains');
  await expect(page.getByText('Please log in to see this page.')).toBeVisible();
});

test('a user who is no NAP sees only "My client certificates"', async ({ page }) => {
  await localLogin(page, 'anna');
  await waitForHydration(page);
  await expect(nav(page).getByText('Anna Schmidt')).toBeVisible();
  await expect(nav(page).getByRole('link', { name: 'My client certificates' })).toBeVisible();
  await expect(nav(page).getByRole('link', { name: 'My email domains' })).toHaveCount(0);
  await nav(page).getByRole('link', { name: 'My client certificates' }).click();
  await expect(page.getByText('Anna Schmidt', { exact: true }).last()).toBeVisible();
});

test('a wrong local password is refused with a clear message', async ({ page }) => {
  await localLogin(page, 'nora', 'not-the-password');
  await expect(page.getByRole('alert')).toHaveText('Unknown user name or wrong password.');
  await expect(nav(page).getByRole('link', { name: 'Log in' })).toBeVisible();
  await screenshot(page, 'login-refused');
});

test('after login the user returns to the page they were going to', async ({ page }) => {
  await page.goto('/certificates');
  await waitForHydration(page);
  await expect(page.getByText('Please log in to see this page.')).toBeVisible();
  await page.locator('main').getByRole('link', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/login\?return_to=%2Fcertificates|\/login\?return_to=\/certificates/);
  await waitForHydration(page);
  await page.getByLabel('User name').fill('ben');
  await page.getByLabel('Password').fill('demo-ben-password');
  await page.getByRole('button', { name: 'Log in' }).click();
  await expect(page).toHaveURL(/\/certificates$/);
  await expect(page.getByRole('heading', { name: 'My client certificates' })).toBeVisible();
});

test('an operator registers a domain through the OIDC login and its NAP then sees it', async ({ page }) => {
  await oidcLogin(page, 'operator');
  await waitForHydration(page);
  await expect(nav(page).getByText('Olga Operator')).toBeVisible();
  await nav(page).getByRole('link', { name: 'Domains (operator)' }).click();
  await expect(page.getByRole('heading', { name: 'Email domains of the portal' })).toBeVisible();
  await waitForHydration(page);

  await page.getByLabel('Email domain').fill('Uni-Test.DE');
  await page.getByLabel('Contact group (NAPs)').last().fill('nap-other');
  await page.getByRole('button', { name: 'Register' }).click();
  await expect(page.locator('td', { hasText: 'uni-test.de' })).toBeVisible();
  await screenshot(page, 'operator-domains');

  // Registering it twice is refused with a message naming the domain.
  await page.getByLabel('Email domain').fill('uni-test.de');
  await page.getByLabel('Contact group (NAPs)').last().fill('nap-other');
  await page.getByRole('button', { name: 'Register' }).click();
  await expect(page.getByRole('alert')).toContainText('uni-test.de is already registered');

  await nav(page).getByRole('button', { name: 'Log out' }).click();
  await expect(nav(page).getByRole('link', { name: 'Log in' })).toBeVisible();

  await oidcLogin(page, 'nap-other');
  await waitForHydration(page);
  await expect(nav(page).getByText('Otto Other')).toBeVisible();
  await nav(page).getByRole('link', { name: 'My email domains' }).click();
  await expect(page.getByText('uni-test.de')).toBeVisible();
  await expect(page.getByText('example.org')).toHaveCount(0);
});

test('a wrong password at the OIDC provider keeps the user logged out', async ({ page }) => {
  await page.goto(`${oidcPortalURL}/login`);
  await waitForHydration(page);
  await page.getByRole('link', { name: "Log in with your organisation's account" }).click();
  await page.getByLabel('Username').fill('anna');
  await page.getByLabel('Password').fill('wrong');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await expect(page.getByText('Invalid username or password')).toBeVisible();
  await page.getByLabel('Password').fill('test-password-anna');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await waitForHydration(page);
  await expect(nav(page).getByText('Anna Schmidt')).toBeVisible();
  await expect(nav(page).getByRole('link', { name: 'My email domains' })).toHaveCount(0);
});
