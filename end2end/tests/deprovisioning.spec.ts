import { test, expect, request as apiRequest, type Page } from '@playwright/test';
import { oidcPortalURL } from '../playwright.config';
import { screenshot, waitForHydration } from './helpers';
import { NAP, expectRevoked, loginAs, onboard, openTable, tableRow } from './journeys';

// R22 from the NAP's side, on the OIDC portal: in a domain whose NAPs chose "propose", the IdM
// reporting a leaver puts their row on the worklist; one click deactivates it and revokes the
// certificate (the one-step leaver of R19), which the CRL then lists.

async function setMode(page: Page, mode: 'revoke' | 'propose'): Promise<void> {
  await openTable(page);
  const settings = page.locator('details.domain-settings');
  await settings.locator('summary').click();
  await settings.locator('select[name=deprovision_mode]').selectOption(mode);
  await expect(settings.getByRole('status')).toHaveText('Saved.');
}

test('r22 the IdM reports a leaver: the row is proposed on the worklist, and accepting deactivates and revokes in one step', async ({ page }) => {
  const primary = 'r22.dora@example.org';
  const cert = await onboard(page, { primary, first: 'Dora', last: 'Döring' }, 'dora', 'csr');

  await loginAs(page, NAP);
  await setMode(page, 'propose');

  // The operator connects the IdM.
  await loginAs(page, 'operator');
  await page.goto(`${oidcPortalURL}/operator`);
  await waitForHydration(page);
  const panel = page.locator('section.scim-tokens');
  await panel.locator('input[type=text][name=name]').fill('r22-propose');
  await panel.getByRole('button', { name: 'Make token' }).click();
  const value = panel.locator('.scim-token-value');
  await expect(value).toHaveText(/^rascim_/);
  const token = (await value.textContent())!;

  // The IdM provisions dora and disables her.
  const idm = await apiRequest.newContext({
    baseURL: `${oidcPortalURL}/scim/v2/`,
    extraHTTPHeaders: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/scim+json' },
  });
  const created = await idm.post('Users', {
    data: { schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'], userName: 'sub-dora', active: true },
  });
  expect(created.status()).toBe(201);
  const disabled = await idm.patch(`Users/${(await created.json()).id}`, {
    data: {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'Replace', path: 'active', value: 'False' }],
    },
  });
  expect(disabled.status()).toBe(200);
  await idm.dispose();

  // Nothing is revoked yet: the NAP sees the proposal and the row still active.
  await loginAs(page, NAP);
  await openTable(page);
  const proposal = page.locator(`li.idm-proposal[data-primary="${primary}"]`);
  await expect(proposal).toContainText('The IdM reports that');
  await expect(proposal).toContainText('sub-dora');
  await expect(proposal).toContainText('scim:r22-propose');
  await expect(proposal).toContainText('1 valid certificate(s)');
  await expect(tableRow(page, primary).getByRole('button', { name: 'Deactivate' })).toBeVisible();
  await screenshot(page, 'idm-proposal');

  await proposal.getByRole('button', { name: 'Accept: deactivate and revoke' }).click();
  await expect(page.getByRole('status').filter({ hasText: 'Certificates revoked:' })).toContainText('1');
  await expect(proposal).toHaveCount(0);
  await expect(tableRow(page, primary).getByRole('button', { name: 'Reactivate' })).toBeVisible();
  await expectRevoked(cert);

  // Back to the default for the other journeys.
  await setMode(page, 'revoke');
});
