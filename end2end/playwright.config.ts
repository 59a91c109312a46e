import { defineConfig } from '@playwright/test';

// Browser tests run in Debian's chromium (`npx playwright install` cannot download a browser here).
// scripts/test.sh builds the portal first and tells us where its binary and site are; Playwright
// starts the portal (on a fresh data folder) and the test services, and stops them afterwards.

const portalPort = Number(process.env.E2E_PORTAL_PORT ?? 3100);
export const baseURL = `http://127.0.0.1:${portalPort}`;

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
    baseURL,
    trace: 'retain-on-failure',
    screenshot: 'only-on-failure',
    launchOptions: {
      executablePath: '/usr/bin/chromium',
      args: [
        '--headless',
        '--no-sandbox',
        '--disable-gpu',
        '--disable-dev-shm-usage',
        '--disable-background-networking',
        '--disable-component-update',
        '--disable-sync',
        '--disable-quic',
        '--no-first-run',
      ],
    },
  },
  projects: [{ name: 'chromium', use: { browserName: 'chromium' } }],
  webServer: [
    {
      command: 'bash ../scripts/e2e-portal.sh',
      url: `${baseURL}/health`,
      reuseExistingServer: false,
      timeout: 120_000,
      stdout: 'pipe',
      stderr: 'pipe',
      env: { E2E_PORTAL_PORT: String(portalPort) },
    },
  ],
});
