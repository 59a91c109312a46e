import { test, expect, request as apiRequest } from '@playwright/test';
import { localLogin, waitForHydration, screenshot } from './helpers';
import { localURL } from '../playwright.config';

// R22 from the operator's side: a token made on the operator page connects the IdM; when the IdM
// deactivates a person, their open browser session is over at once and they cannot log in again
// until the IdM re-activates them; a revoked token is refused.
test('r22 an operator connects the IdM with a token, a deactivation ends the leaver\'s session, revoking the token ends the connection', async ({ browser }) => {
  const operator = await browser.newPage();
  await localLogin(operator, 'olga');
  await operator.goto('/operator');
  await waitForHydration(operator);
  const panel = operator.locator('section.scim-tokens');
  await expect(panel.getByRole('heading', { name: 'IdM connection (SCIM)' })).toBeVisible();
  await expect(panel.locator('code').first()).toHaveText(`${localURL}/scim/v2`);
  await panel.locator('input[type=text][name=name]').fill('entra-e2e');
  await panel.getByRole('button', { name: 'Make token' }).click();
  const value = panel.locator('.scim-token-value');
  await expect(value).toHaveText(/^rascim_[A-Za-z0-9_-]{43}$/);
  const token = (await value.textContent())!;
  await expect(panel.locator('tbody tr', { hasText: 'entra-e2e' })).toContainText('in force');

  // anna is logged in somewhere.
  const leaverContext = await browser.newContext();
  const leaver = await leaverContext.newPage();
  await localLogin(leaver, 'anna');
  await leaver.goto('/certificates');
  await waitForHydration(leaver);
  await expect(leaver.getByText('Please log in to see this page.')).toHaveCount(0);

  // The IdM provisions anna, then disables her the way Entra ID does.
  const idm = await apiRequest.newContext({
    baseURL: `${localURL}/scim/v2/`,
    extraHTTPHeaders: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json' },
  });
  const created = await idm.post('Users', {
    data: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'anna', active: true },
  });
  expect(created.status()).toBe(201);
  expect(created.headers()['content-type']).toBe('application/scim+json');
  const id = (await created.json()).id;
  const disabled = await idm.patch(`Users/${id}`, {
    data: {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    },
  });
  expect(disabled.status()).toBe(200);
  expect((await disabled.json()).active).toBe(false);

  // anna's next click finds her logged out.
  await leaver.reload();
  await expect(leaver.getByText('Please log in to see this page.')).toBeVisible();

  // While the IdM says she is inactive she cannot log in again, and is told why (R22).
  await localLogin(leaver, 'anna');
  await expect(leaver).toHaveURL(/\/login\?error=deactivated/);
  await expect(leaver.getByRole('alert')).toHaveText(
    "Your account was deactivated by your organisation's identity management, so you cannot log in to the portal. If this is a mistake, contact the network contact (NAP) of your domain.",
  );
  await screenshot(leaver, 'login-idm-inactive');

  // The IdM re-activates her: she logs in again (S5), as the other journeys expect of anna.
  const enabled = await idm.patch(`Users/${id}`, {
    data: {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'active', value: 'True' }],
    },
  });
  expect(enabled.status()).toBe(200);
  await localLogin(leaver, 'anna');
  await leaver.goto('/certificates');
  await waitForHydration(leaver);
  await expect(leaver.getByText('Please log in to see this page.')).toHaveCount(0);

  // The operator sees the token used, and revokes it: the IdM is refused from then on.
  await operator.reload();
  await waitForHydration(operator);
  const row = panel.locator('tbody tr', { hasText: 'entra-e2e' });
  await expect(row).not.toContainText('never');
  await screenshot(operator, 'operator-scim-tokens');
  await row.getByRole('button', { name: 'Revoke' }).click();
  await expect(row).toContainText('revoked');
  const refused = await idm.get('Users?startIndex=1&count=2');
  expect(refused.status()).toBe(401);
  expect(refused.headers()['www-authenticate']).toContain('Bearer');

  await idm.dispose();
  await leaverContext.close();
});
