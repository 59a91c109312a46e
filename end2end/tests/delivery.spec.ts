import { test, expect, type Page } from '@playwright/test';
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { waitForHydration } from './helpers';

// SPEC P5: a browser never runs a client of one build against the server of another. build-site
// names the client files by their content and writes the names beside the server binary
// (client-hashes.txt); the server reads them once, at start. Here a portal of build A serves, then
// is replaced by build B (same server code, a client whose JS differs, as after an upgrade),
// both builds' files lying side by side in one site folder as build-site leaves them.

const port = Number(process.env.E2E_DELIVERY_PORT ?? 3102);
const base = `http://127.0.0.1:${port}`;
const HASH_FILE = 'client-hashes.txt';

type Build = { dir: string; stem: string; css: string };

function hashesOf(file: string): { js: string; css: string } {
  if (!fs.existsSync(file)) {
    throw new Error(`${file} is missing: build the site with build-site (scripts/test.sh does)`);
  }
  const field = (key: string) => {
    const line = fs.readFileSync(file, 'utf8').split('\n').find((l) => l.startsWith(`${key}:`));
    return line!.slice(key.length + 1).trim();
  };
  return { js: field('js'), css: field('css') };
}

/** A server binary of its own with this build's hash file beside it (written after the copy). */
function installBuild(dir: string, js: string, css: string): Build {
  fs.mkdirSync(dir, { recursive: true });
  fs.copyFileSync(process.env.E2E_PORTAL_BIN!, path.join(dir, 'ra-portal'));
  fs.chmodSync(path.join(dir, 'ra-portal'), 0o755);
  fs.writeFileSync(path.join(dir, HASH_FILE), `js: ${js}\nwasm: ${js}\ncss: ${css}\n`);
  return { dir, stem: `ra-portal.${js}`, css: `ra-portal.${css}.css` };
}

/** Every client file of a build in `pkg` (the split client's loader and lazy modules too), and its CSS. */
function filesOf(b: Build, pkg: string): string[] {
  const client = fs
    .readdirSync(pkg)
    .filter((f) => f.startsWith(`${b.stem}.`) && !f.endsWith('.br') && !f.endsWith('.gz'));
  return [...client, b.css];
}

/** `bytes` with every `from` replaced by `to` (as long: a name inside WASM). */
function replaceBytes(bytes: Buffer, from: string, to: string): Buffer {
  const out = Buffer.from(bytes);
  const needle = Buffer.from(from);
  for (let at = out.indexOf(needle); at >= 0; at = out.indexOf(needle, at + needle.length)) {
    Buffer.from(to).copy(out, at);
  }
  return out;
}

async function startPortal(b: Build, site: string): Promise<ChildProcess> {
  const child = spawn('bash', ['../scripts/e2e-portal.sh'], {
    env: {
      ...process.env,
      E2E_MODE: 'local',
      E2E_PORTAL_PORT: String(port),
      E2E_PORTAL_BIN: path.join(b.dir, 'ra-portal'),
      E2E_SITE_ROOT: site,
    },
    stdio: 'ignore',
  });
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`${base}/health`)).ok) return child;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`the portal of ${b.dir} did not start`);
}

async function stopPortal(child: ChildProcess): Promise<void> {
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

/** Loads `/` until hydrated; returns the client files the HTML names and those the browser fetched. */
async function visit(page: Page, how: 'goto' | 'reload') {
  const fetched: string[] = [];
  const onRequest = (r: { url(): string }) => {
    const u = new URL(r.url());
    if (u.pathname.startsWith('/pkg/')) fetched.push(u.pathname.slice('/pkg/'.length));
  };
  page.on('request', onRequest);
  const response = how === 'goto' ? await page.goto(`${base}/`) : await page.reload();
  expect(response?.status()).toBe(200);
  expect(response!.headers()['cache-control']).toBe('no-store');
  const html = await response!.text();
  await waitForHydration(page);
  page.off('request', onRequest);
  const named = [...html.matchAll(/\/pkg\/([^"'\s)]+)/g)].map((m) => m[1]);
  return { named, fetched };
}

test('p5 a new build is never mixed with the client of an old one', async ({ page }) => {
  test.setTimeout(180_000);
  const bin = process.env.E2E_PORTAL_BIN!;
  const siteA = process.env.E2E_SITE_ROOT!;
  const a = hashesOf(path.join(path.dirname(bin), HASH_FILE));
  const work = fs.mkdtempSync(path.join(os.tmpdir(), 'ra-portal-delivery-'));
  const site = path.join(work, 'site');
  try {
    // Build A's files as build-site wrote them (with their br and gzip copies) and the assets.
    fs.mkdirSync(path.join(site, 'pkg'), { recursive: true });
    for (const f of fs.readdirSync(siteA)) {
      if (f !== 'pkg') fs.cpSync(path.join(siteA, f), path.join(site, f), { recursive: true });
    }
    const buildA = installBuild(path.join(work, 'a'), a.js, a.css);
    const filesA = filesOf(buildA, path.join(siteA, 'pkg'));
    expect(filesA.some((f) => f.endsWith('.split.js'))).toBe(true);
    for (const f of filesA) {
      for (const ext of ['', '.br', '.gz']) {
        fs.copyFileSync(path.join(siteA, 'pkg', f + ext), path.join(site, 'pkg', f + ext));
      }
    }

    // Build B: A's client with a different JS glue, under a hash of its own. Every file of A is
    // there again under B's hash, with the names inside it (the glue's import of the loader, the
    // loader's of the glue and the lazy modules, the loader's name inside the WASM) B's.
    const jsA = fs.readFileSync(path.join(siteA, 'pkg', `${buildA.stem}.js`), 'utf8');
    const hashB = createHash('sha256').update(jsA).update('build B').digest().subarray(0, 16).toString('base64url');
    expect(hashB).not.toBe(a.js);
    const buildB = installBuild(path.join(work, 'b'), hashB, a.css);
    for (const f of filesA.filter((f) => f !== buildA.css)) {
      const to = path.join(site, 'pkg', f.replace(a.js, hashB));
      const bytes = fs.readFileSync(path.join(siteA, 'pkg', f));
      if (f.endsWith('.wasm')) {
        fs.writeFileSync(to, replaceBytes(bytes, a.js, hashB));
      } else {
        const marker = f === `${buildA.stem}.js` ? '\n// build B\n' : '';
        fs.writeFileSync(to, bytes.toString('utf8').replaceAll(a.js, hashB) + marker);
      }
    }
    const pkg = path.join(site, 'pkg');

    // Build A serves: the page names A's files only, and the browser fetches A's files only.
    let portal = await startPortal(buildA, site);
    try {
      const first = await visit(page, 'goto');
      expect(first.named.length).toBeGreaterThan(0);
      for (const f of first.named) expect(filesOf(buildA, pkg)).toContain(f);
      expect(first.fetched.length).toBeGreaterThan(0);
      for (const f of first.fetched) expect(filesOf(buildA, pkg)).toContain(f);
    } finally {
      await stopPortal(portal);
    }

    // Build B replaces it. A reload of the open page loads B's client, nothing of A's (the
    // stylesheet is the same file in both builds, so it may come from the cache).
    portal = await startPortal(buildB, site);
    try {
      const second = await visit(page, 'reload');
      expect(second.named).toContain(`${buildB.stem}.js`);
      expect(second.named).toContain(`${buildB.stem}.wasm`);
      for (const f of second.named) expect(filesOf(buildB, pkg)).toContain(f);
      for (const f of second.fetched) expect(filesOf(buildB, pkg)).toContain(f);
      expect(second.fetched).toContain(`${buildB.stem}.split.js`);
      const loaded = await page.evaluate(() =>
        performance.getEntriesByType('resource').map((r) => new URL(r.name).pathname),
      );
      expect(loaded).toContain(`/pkg/${buildB.stem}.js`);
      expect(loaded).toContain(`/pkg/${buildB.stem}.wasm`);
      expect(loaded.filter((p) => p.includes(buildA.stem))).toEqual([]);
      // The client that runs is B's glue.
      const glue = await page.evaluate(async (url) => (await fetch(url)).text(), `/pkg/${buildB.stem}.js`);
      expect(glue).toContain('// build B');

      // A's hashed URL is never answered with B's file: it is A's own file (kept for a server
      // of A still running) or nothing.
      const old = await fetch(`${base}/pkg/${buildA.stem}.js`);
      if (old.status === 200) {
        expect(await old.text()).toBe(jsA);
        expect(old.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
      } else {
        expect(old.status).toBe(404);
      }
      const unknown = await fetch(`${base}/pkg/ra-portal.${'x'.repeat(22)}.js`);
      expect(unknown.status).toBe(404);
    } finally {
      await stopPortal(portal);
    }
  } finally {
    fs.rmSync(work, { recursive: true, force: true });
  }
});
