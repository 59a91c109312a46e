// Measures how long a page of the portal takes to become interactive in headless Debian chromium
// (SPEC P4: "interactive (hydrated) in ≤ 300 ms"): from the start of the navigation until the
// WASM client has hydrated the page and marked <body data-hydrated="true">. Each new browser
// context loads the page twice: first with nothing cached (neither the WASM download nor its
// compiled code), as on a NAP's first visit, then again with the browser's caches warm, as on every
// later visit. Run by the benchmark (bench/src/p4.rs):
//
//   node measure/hydration.mjs <base-url> <cookie name=value> <path> <loads>
//
// Prints one JSON array, one object per context with the timings of both loads (in ms since the
// navigation started).
import { chromium } from '@playwright/test';
import { chromiumArgs, chromiumPath } from '../chromium.js';

const [baseUrl, cookie, path, loadsArg] = process.argv.slice(2);
const loads = Number(loadsArg ?? 10);
const split = cookie.indexOf('=');
const session = { name: cookie.slice(0, split), value: cookie.slice(split + 1), url: baseUrl };

const browser = await chromium.launch({ executablePath: chromiumPath, args: chromiumArgs });

/** Loads the page and returns its timings once it is hydrated. */
async function load(page) {
  const response = await page.goto(baseUrl + path, { waitUntil: 'commit' });
  if (!response || response.status() !== 200) {
    throw new Error(`GET ${path} answered ${response?.status()}`);
  }
  await page.waitForSelector('body[data-hydrated="true"]', { timeout: 30_000 });
  return page.evaluate(() => {
    const nav = performance.getEntriesByType('navigation')[0];
    const wasm = performance.getEntriesByType('resource').find((r) => r.name.endsWith('.wasm'));
    return {
      hydrated: window.__hydratedAt,
      wasmReady: window.__wasmReadyAt ?? null,
      html: nav.responseEnd,
      domContentLoaded: nav.domContentLoadedEventEnd,
      wasmLoaded: wasm ? wasm.responseEnd : null,
    };
  });
}

const results = [];
try {
  // One load more than asked: the first warms up the browser process itself, not the page.
  for (let i = 0; i <= loads; i++) {
    const context = await browser.newContext();
    await context.addCookies([session]);
    // The moment the WASM module is compiled and instantiated, and the moment the client sets
    // the marker, seen from inside the page.
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
    const page = await context.newPage();
    // The first visit (nothing cached), then the same page again in the same browser context
    // (the browser's HTTP cache and its cache of compiled WASM code are warm, as on every later
    // visit of a NAP).
    const timing = { cold: await load(page), warm: await load(page) };
    if (i > 0) results.push(timing);
    await context.close();
  }
} finally {
  await browser.close();
}
console.log(JSON.stringify(results));
