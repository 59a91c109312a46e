// Measures how long a page of the portal takes to become interactive in headless Debian chromium
// (SPEC P4: "interactive (hydrated) in ≤ 200 ms on a first visit and ≤ 130 ms on a repeat visit
// (persistent browser profile)"): from the start of the navigation until the WASM client has
// hydrated the page and marked <body data-hydrated="true">. Each round starts chromium on a new,
// empty profile folder and loads the page (first visit: nothing cached), closes chromium and
// starts it again on the same profile folder and loads the page again (repeat visit: the HTTP cache
// and chromium's cache of compiled WASM code are on disk, as for a NAP coming back another day; an
// in-memory browser context never keeps compiled WASM). Also counts the bytes of /pkg/ files each
// visit fetched over the network. Run by the benchmark (bench/src/p4.rs):
//
//   node measure/hydration.mjs <base-url> <cookie name=value> <path> <loads>
//
// Prints one JSON array, one object per round with the timings of both visits (in ms since the
// navigation started).
import { chromium } from '@playwright/test';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { chromiumArgs, chromiumPath } from '../chromium.js';

const [baseUrl, cookie, pagePath, loadsArg] = process.argv.slice(2);
const loads = Number(loadsArg ?? 10);
const split = cookie.indexOf('=');
const session = { name: cookie.slice(0, split), value: cookie.slice(split + 1), url: baseUrl };

/** Starts chromium on a profile folder, with the session and the page's timing marks. */
async function launch(profile) {
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: chromiumPath,
    args: chromiumArgs,
  });
  await context.addCookies([session]);
  // The moment the WASM module is compiled and instantiated, and the moment the client sets the
  // marker, seen from inside the page.
  await context.addInitScript(() => {
    for (const name of ['instantiateStreaming', 'instantiate']) {
      const original = WebAssembly[name];
      WebAssembly[name] = async (...args) => {
        const result = await original.apply(WebAssembly, args);
        window.__wasmReadyAt ??= performance.now();
        return result;
      };
    }
    new MutationObserver((_, observer) => {
      if (document.body?.dataset.hydrated === 'true') {
        window.__hydratedAt = performance.now();
        observer.disconnect();
      }
    }).observe(document, { attributes: true, subtree: true, attributeFilter: ['data-hydrated'] });
  });
  return context;
}

/** Loads the page in a fresh tab and returns its timings once it is hydrated. */
async function load(context) {
  const page = await context.newPage();
  const response = await page.goto(baseUrl + pagePath, { waitUntil: 'commit' });
  if (!response || response.status() !== 200) {
    throw new Error(`GET ${pagePath} answered ${response?.status()}`);
  }
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
  const timing = await page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const pkg = performance.getEntriesByType('resource').filter((r) => r.name.includes('/pkg/'));
    const wasm = pkg.find((r) => r.name.endsWith('.wasm'));
    return {
      hydrated: window.__hydratedAt,
      wasmReady: window.__wasmReadyAt ?? null,
      html: nav.responseEnd,
      domContentLoaded: nav.domContentLoadedEventEnd,
      wasmLoaded: wasm ? wasm.responseEnd : null,
      // Bytes over the network (0 when the HTTP cache answered).
      pkgTransferred: pkg.reduce((sum, r) => sum + r.transferSize, 0),
    };
  });
  await page.close();
  return timing;
}

const results = [];
// One round more than asked: the first warms up the machine (disk cache of chromium itself).
for (let i = 0; i <= loads; i++) {
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'ra-portal-hydration-'));
  try {
    let context = await launch(profile);
    const first = await load(context);
    await context.close();
    context = await launch(profile);
    const repeat = await load(context);
    await context.close();
    if (i > 0) results.push({ first, repeat });
  } finally {
    fs.rmSync(profile, { recursive: true, force: true });
  }
}
console.log(JSON.stringify(results));
