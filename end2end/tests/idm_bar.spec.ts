import { test, expect, request as apiRequest } from '@playwright/test';
import { oidcPortalURL } from '../playwright.config';
import { screenshot, waitForHydration } from './helpers';
import { loginAs } from './journeys';

// R22, the IdM's bar on the OIDC portal: the IdM deactivates emil, but the OIDC provider still lets
// him in; the portal refuses the login and says why (in English and German). Once the IdM
// re-activates him, he logs in again.
test('r22 someone the IdM deactivated cannot log in through OIDC until the IdM re-activates them', async ({ page }) => {
  // The operator connects the IdM.
  await loginAs(page, 'operator');
  await page.goto(`${oidcPortalURL}/operator`);
  await waitForHydration(page);
  const panel = page.locator('section.scim-tokens');
  await panel.locator('input[type=text][name=name]').fill('r22-bar');
  await panel.getByRole('button', { name: 'Make token' }).click();
  const value = panel.locator('.scim-token-value');
  await expect(value).toHaveText(/^rascim_/);
  const token = (await value.textContent())!;
  const idm = await apiRequest.newContext({
    baseURL: `${oidcPortalURL}/scim/v2/`,
    extraHTTPHeaders: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json' },
  });
  const setActive = async (id: string, active: boolean) => {
    const resp = await idm.patch(`Users/${id}`, {
      data: {
        schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
        Operations: [{ op: 'Replace', path: 'active', value: active ? 'True' : 'False' }],
      },
    });
    expect(resp.status()).toBe(200);
  };

  // The IdM provisions emil (his OIDC sub is his SCIM userName), and he logs in.
  const created = await idm.post('Users', {
    data: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'sub-emil', active: true },
  });
  expect(created.status()).toBe(201);
  const id = (await created.json()).id;
  await loginAs(page, 'emil');
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();

  // The IdM deactivates him; the OIDC provider still signs him in, the portal does not.
  await setActive(id, false);
  await loginAs(page, 'emil');
  await expect(page).toHaveURL(/\/login\?error=deactivated/);
  await expect(page.getByRole('alert')).toHaveText(
    "Your account was deactivated by your organisation's identity management, so you cannot log in to the portal. If this is a mistake, contact the network contact (NAP) of your domain.",
  );
  await expect(page.getByRole('button', { name: 'Log out' })).toHaveCount(0);
  await page.getByRole('button', { name: 'Deutsch' }).click();
  await expect(page.getByRole('alert')).toHaveText(
    'Ihr Konto wurde vom Identitätsmanagement Ihrer Einrichtung deaktiviert, daher können Sie sich nicht am Portal anmelden. Falls das ein Irrtum ist, wenden Sie sich an die Kontaktperson (NAP) Ihrer Domain.',
  );
  await screenshot(page, 'login-idm-inactive-de');
  await page.getByRole('button', { name: 'English' }).click();
  await expect(page.getByRole('alert')).toContainText('identity management');

  // Re-activated by the IdM, he logs in again.
  await setActive(id, true);
  await loginAs(page, 'emil');
  await expect(page).not.toHaveURL(/error=/);
  await expect(page.getByRole('button', { name: 'Log out' })).toBeVisible();

  await idm.dispose();
});
