// How the browser tests and the benchmark's hydration measurement start Debian's chromium
// (`npx playwright install` cannot download a browser here). The flags keep it from reaching out
// to Google's services, which this machine's closed network refuses, many at a time.
export const chromiumPath = '/usr/bin/chromium';
export const chromiumArgs = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-dev-shm-usage',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--disable-quic',
  '--no-first-run',
];
