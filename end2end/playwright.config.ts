import { defineConfig } from '@playwright/test';
import { chromiumArgs, chromiumPath } from './chromium.js';

// Browser tests run in Debian's chromium (`npx playwright install` cannot download a browser here).
// scripts/test.sh builds the portal first and tells us where its binary and site are; Playwright
// starts two portals (local accounts with demo data; OIDC login) on fresh data folders and the test
// services, and stops them all afterwards.

export const ports = {
  local: Number(process.env.E2E_LOCAL_PORT ?? 3100),
  oidcPortal: Number(process.env.E2E_OIDC_PORTAL_PORT ?? 3101),
  oidc: Number(process.env.E2E_OIDC_PORT ?? 3900),
  smtp: Number(process.env.E2E_SMTP_PORT ?? 2525),
  smtpApi: Number(process.env.E2E_SMTP_API_PORT ?? 2580),
};
export const localURL = `http://127.0.0.1:${ports.local}`;
export const oidcPortalURL = `http://127.0.0.1:${ports.oidcPortal}`;
export const smtpApiURL = `http://127.0.0.1:${ports.smtpApi}`;

export default defineConfig({
  testDir: './tests',
  outputDir: './test-results',
  timeout: 60_000,
  expect: { timeout: 10_000 },
  fullyParallel: false,
  workers: 1,
  retries: 0,
  reporter: [['list']],
  use: {
    baseURL: localURL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: { executablePath: chromiumPath, args: chromiumArgs },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
  webServer: [
    {
      // A real SMTP server with STARTTLS and AUTH; its certificate comes from a small test CA that
      // the OIDC portal trusts (rustls refuses a self-signed certificate that is its own CA).
      command: 'sh services/make-test-ca.sh services/.tls && node services/smtp-server.js',
      url: `http://127.0.0.1:${ports.smtpApi}/api/health`,
      reuseExistingServer: false,
      timeout: 30_000,
      env: {
        SMTP_PORT: String(ports.smtp),
        SMTP_API_PORT: String(ports.smtpApi),
        SMTP_TLS_KEY: 'services/.tls/server.key',
        SMTP_TLS_CERT: 'services/.tls/server.pem',
        SMTP_REQUIRE_TLS: '1',
        SMTP_USER: 'portal',
        SMTP_PASS: 'smtp-test-password',
      },
    },
    {
      command: 'node services/oidc-provider.js',
      url: `http://127.0.0.1:${ports.oidc}/.well-known/openid-configuration`,
      reuseExistingServer: false,
      timeout: 30_000,
      env: {
        OIDC_PORT: String(ports.oidc),
        OIDC_REDIRECT_URIS: `${oidcPortalURL}/auth/callback`,
      },
    },
    {
      command: 'bash ../scripts/e2e-portal.sh',
      url: `${localURL}/health`,
      reuseExistingServer: false,
      timeout: 120_000,
      env: { E2E_MODE: 'local', E2E_PORTAL_PORT: String(ports.local) },
    },
    {
      command: 'bash ../scripts/e2e-portal.sh',
      url: `${oidcPortalURL}/health`,
      reuseExistingServer: false,
      timeout: 120_000,
      env: {
        E2E_MODE: 'oidc',
        E2E_PORTAL_PORT: String(ports.oidcPortal),
        E2E_OIDC_PORT: String(ports.oidc),
        E2E_SMTP_PORT: String(ports.smtp),
      },
    },
  ],
});
