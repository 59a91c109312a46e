// Test OpenID Connect provider for the RA portal end-to-end tests.
// Built on npm `oidc-provider` v9 (ESM). See services/README.md for the env vars.
import { createServer } from 'node:http';
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

import Provider, { errors, interactionPolicy } from 'oidc-provider';

const here = dirname(fileURLToPath(import.meta.url));

const port = Number(process.env.OIDC_PORT || 3900);
const issuer = `http://127.0.0.1:${port}`;
const clientId = process.env.OIDC_CLIENT_ID || 'ra-portal';
const clientSecret = process.env.OIDC_CLIENT_SECRET || 'test-secret';
const redirectUris = (process.env.OIDC_REDIRECT_URIS || 'http://127.0.0.1:3000/auth/callback')
  .split(',').map((s) => s.trim()).filter(Boolean);
// Post-logout redirect: the portal root of every redirect URI's origin, unless given.
const postLogoutRedirectUris = process.env.OIDC_POST_LOGOUT_REDIRECT_URIS
  ? process.env.OIDC_POST_LOGOUT_REDIRECT_URIS.split(',').map((s) => s.trim()).filter(Boolean)
  : [...new Set(redirectUris.map((u) => `${new URL(u).origin}/`))];
const accountsFile = resolve(process.env.OIDC_ACCOUNTS || resolve(here, 'oidc-accounts.json'));
const cookieKeys = (process.env.OIDC_COOKIE_KEYS || 'e2e-test-cookie-key-not-secret')
  .split(',').map((s) => s.trim()).filter(Boolean);
// By default every authorization request asks for the password again (no SSO), so a browser
// test can log out of the portal and log in as somebody else. OIDC_SSO=1 keeps OP sessions.
const ssoEnabled = ['1', 'true', 'yes'].includes(String(process.env.OIDC_SSO || '').toLowerCase());

// ---------------------------------------------------------------- accounts
const accountList = JSON.parse(readFileSync(accountsFile, 'utf8'));
const bySub = new Map();
const byUsername = new Map();
for (const a of accountList) {
  if (!a.sub || !a.username || typeof a.password !== 'string') {
    throw new Error(`${accountsFile}: every account needs sub, username and password`);
  }
  bySub.set(a.sub, a);
  byUsername.set(a.username, a);
}

function claimsOf(a) {
  const name = [a.given_name, a.family_name].filter(Boolean).join(' ');
  return {
    sub: a.sub,
    preferred_username: a.username,
    given_name: a.given_name,
    family_name: a.family_name,
    ...(name ? { name } : {}),
    email: a.email,
    email_verified: Boolean(a.email),
    groups: Array.isArray(a.groups) ? a.groups : [],
  };
}

async function findAccount(_ctx, sub) {
  const a = bySub.get(sub);
  if (!a) return undefined;
  return {
    accountId: a.sub,
    async claims() { return claimsOf(a); },
  };
}

// ---------------------------------------------------------------- signing keys
// RS256 key. Kept across restarts when OIDC_JWKS_FILE is set (created on first start).
function loadJwks() {
  const file = process.env.OIDC_JWKS_FILE;
  if (file && existsSync(file)) return JSON.parse(readFileSync(file, 'utf8'));
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwk = privateKey.export({ format: 'jwk' });
  const jwks = { keys: [{ ...jwk, use: 'sig', alg: 'RS256', kid: `e2e-${Date.now().toString(36)}` }] };
  if (file) writeFileSync(file, JSON.stringify(jwks), { mode: 0o600 });
  return jwks;
}

// ---------------------------------------------------------------- HTML
const esc = (s) => String(s ?? '').replace(/[&<>"']/g, (c) => ({
  '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;',
}[c]));

function page(title, body) {
  return `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${esc(title)}</title>
<style>
body{font-family:sans-serif;max-width:26rem;margin:3rem auto;padding:0 1rem}
label{display:block;margin-top:1rem}input{display:block;width:100%;padding:.4rem;box-sizing:border-box}
button{margin-top:1.2rem;padding:.5rem 1.2rem}.error{color:#a00;font-weight:bold}
</style>
</head>
<body>
${body}
</body>
</html>`;
}

function loginPage(uid, clientName, { username = '', error } = {}) {
  return page('Sign in - Test identity provider', `<h1>Test identity provider</h1>
<p>Sign in to continue to <strong>${esc(clientName)}</strong>.</p>
${error ? `<p class="error" role="alert">${esc(error)}</p>` : ''}
<form method="post" action="/interaction/${esc(uid)}/login">
<label for="username">Username</label>
<input id="username" name="username" type="text" value="${esc(username)}" autocomplete="username" required autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit">Sign in</button>
</form>
<p><a href="/interaction/${esc(uid)}/abort">Cancel</a></p>`);
}

// ---------------------------------------------------------------- provider
const policy = interactionPolicy.base();
if (!ssoEnabled) {
  policy.get('login').checks.add(new interactionPolicy.Check(
    'sso_disabled',
    'this test provider asks for credentials on every authorization request',
    (ctx) => (ctx.oidc.result?.login
      ? interactionPolicy.Check.NO_NEED_TO_PROMPT
      : interactionPolicy.Check.REQUEST_PROMPT),
  ));
}

const configuration = {
  clients: [{
    client_id: clientId,
    client_secret: clientSecret,
    client_name: 'RA portal',
    redirect_uris: redirectUris,
    post_logout_redirect_uris: postLogoutRedirectUris,
    grant_types: ['authorization_code'],
    response_types: ['code'],
    token_endpoint_auth_method: 'client_secret_basic',
  }],
  clientAuthMethods: ['client_secret_basic', 'client_secret_post'],
  // Registered as client_secret_basic; oidc-provider v9 treats basic and post as
  // interchangeable for a client with a secret, so client_secret_post works as well.
  jwks: loadJwks(),
  findAccount,
  scopes: ['openid', 'profile', 'email', 'groups'],
  claims: {
    openid: ['sub'],
    profile: ['name', 'given_name', 'family_name', 'preferred_username'],
    email: ['email', 'email_verified'],
    groups: ['groups'],
  },
  // Put the scope-granted claims into the ID token too (the portal reads groups from it).
  conformIdTokenClaims: false,
  pkce: { required: () => true },
  responseTypes: ['code'],
  cookies: {
    names: {
      session: 'op_session',
      interaction: 'op_interaction',
      resume: 'op_interaction_resume',
    },
    long: { httpOnly: true, sameSite: 'lax' },
    short: { httpOnly: true, sameSite: 'lax' },
    keys: cookieKeys,
  },
  features: {
    devInteractions: { enabled: false },
    rpInitiatedLogout: {
      enabled: true,
      async logoutSource(ctx, form) {
        ctx.body = page('Sign out - Test identity provider', `<h1>Sign out</h1>
<p>Do you want to sign out from the test identity provider?</p>
${form}
<button type="submit" form="op.logoutForm" value="yes" name="logout">Yes, sign me out</button>
<button type="submit" form="op.logoutForm">No, stay signed in</button>`);
      },
      async postLogoutSuccessSource(ctx) {
        ctx.body = page('Signed out - Test identity provider', '<h1>Signed out</h1><p>You have been signed out.</p>');
      },
    },
  },
  // First-party client: consent is implied, so no consent screen. The grant always
  // covers everything this request asks for.
  async loadExistingGrant(ctx) {
    const { oidc } = ctx;
    const grantId = oidc.result?.consent?.grantId || oidc.session.grantIdFor(oidc.client.clientId);
    let grant = grantId ? await oidc.provider.Grant.find(grantId) : undefined;
    if (oidc.client.clientId !== clientId) return grant;
    if (!grant) {
      grant = new oidc.provider.Grant({ clientId: oidc.client.clientId, accountId: oidc.session.accountId });
    }
    grant.addOIDCScope([...oidc.requestParamOIDCScopes].join(' '));
    const claims = [...oidc.requestParamClaims];
    if (claims.length) grant.addOIDCClaims(claims);
    await grant.save();
    return grant;
  },
  async renderError(ctx, out) {
    ctx.type = 'html';
    ctx.body = page('Error - Test identity provider', `<h1>Something went wrong</h1>
${Object.entries(out).map(([k, v]) => `<p><strong>${esc(k)}</strong>: ${esc(v)}</p>`).join('\n')}`);
  },
  interactions: {
    policy,
    url: (_ctx, interaction) => `/interaction/${interaction.uid}`,
  },
  ttl: {
    AccessToken: 3600,
    AuthorizationCode: 60,
    IdToken: 3600,
    Interaction: 3600,
    Session: 24 * 3600,
    Grant: 24 * 3600,
  },
};

const provider = new Provider(issuer, configuration);
const providerCallback = provider.callback();

// ---------------------------------------------------------------- interaction routes
function readForm(req, limit = 16 * 1024) {
  return new Promise((resolveBody, reject) => {
    let size = 0;
    const chunks = [];
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) { reject(Object.assign(new Error('body too large'), { status: 413 })); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => resolveBody(new URLSearchParams(Buffer.concat(chunks).toString('utf8'))));
    req.on('error', reject);
  });
}

function sendHtml(res, status, html) {
  res.writeHead(status, {
    'content-type': 'text/html; charset=utf-8',
    'cache-control': 'no-store',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self' http://127.0.0.1:* http://localhost:*; frame-ancestors 'none'",
  });
  res.end(html);
}

async function clientName(params) {
  const c = await provider.Client.find(String(params.client_id));
  return c?.clientName || c?.clientId || 'the application';
}

async function handleInteraction(req, res, uid, action) {
  const details = await provider.interactionDetails(req, res);
  if (details.uid !== uid) throw new errors.SessionNotFound('interaction session id mismatch');
  const { prompt, params } = details;

  if (req.method === 'GET' && !action) {
    if (prompt.name === 'login') {
      return sendHtml(res, 200, loginPage(uid, await clientName(params), { username: params.login_hint || '' }));
    }
    // Should not happen (loadExistingGrant grants everything), but never show a consent screen.
    if (prompt.name === 'consent') {
      const grant = details.grantId
        ? await provider.Grant.find(details.grantId)
        : new provider.Grant({ accountId: details.session.accountId, clientId: params.client_id });
      if (prompt.details.missingOIDCScope) grant.addOIDCScope(prompt.details.missingOIDCScope.join(' '));
      if (prompt.details.missingOIDCClaims) grant.addOIDCClaims(prompt.details.missingOIDCClaims);
      const grantId = await grant.save();
      return provider.interactionFinished(req, res, { consent: details.grantId ? {} : { grantId } }, { mergeWithLastSubmission: true });
    }
    return sendHtml(res, 400, page('Error', `<p>Unsupported prompt ${esc(prompt.name)}</p>`));
  }

  if (req.method === 'POST' && action === 'login') {
    const form = await readForm(req);
    const username = form.get('username') || '';
    const password = form.get('password') || '';
    const account = byUsername.get(username);
    if (prompt.name !== 'login' || !account || account.password !== password) {
      console.log(`oidc-provider: failed login for ${JSON.stringify(username)}`);
      return sendHtml(res, 200, loginPage(uid, await clientName(params), { username, error: 'Invalid username or password' }));
    }
    console.log(`oidc-provider: login ${JSON.stringify(username)} (sub ${account.sub})`);
    return provider.interactionFinished(req, res, {
      login: { accountId: account.sub, remember: false },
    }, { mergeWithLastSubmission: false });
  }

  if (req.method === 'GET' && action === 'abort') {
    return provider.interactionFinished(req, res, {
      error: 'access_denied', error_description: 'End-User aborted interaction',
    }, { mergeWithLastSubmission: false });
  }

  res.writeHead(405, { allow: 'GET, POST' });
  return res.end();
}

const server = createServer((req, res) => {
  const m = /^\/interaction\/([A-Za-z0-9_-]+)(?:\/(login|abort))?\/?(?:\?.*)?$/.exec(req.url);
  if (!m) {
    if (req.url === '/favicon.ico') { res.writeHead(204); return res.end(); }
    return providerCallback(req, res);
  }
  return handleInteraction(req, res, m[1], m[2]).catch((err) => {
    if (res.headersSent) { res.destroy(); return; }
    const status = err.status || err.statusCode || 500;
    if (status >= 500) console.error('oidc-provider: interaction error', err);
    sendHtml(res, status, page('Error - Test identity provider', `<h1>Something went wrong</h1>
<p><strong>${esc(err.error || err.name)}</strong>: ${esc(err.error_description || err.message)}</p>`));
  });
});

provider.on('server_error', (_ctx, err) => console.error('oidc-provider: server_error', err));

server.on('error', (err) => {
  console.error(`oidc-provider: ${err.message}`);
  if (err.syscall === 'listen') process.exit(1);
});
server.listen(port, '127.0.0.1', () => {
  console.log(`oidc-provider listening on ${issuer}`);
});

function shutdown(sig) {
  console.log(`oidc-provider: ${sig}, shutting down`);
  server.close(() => process.exit(0));
  server.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
