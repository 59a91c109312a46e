// Test SMTP server for the RA portal end-to-end tests: receives mail, keeps it in memory
// (and optionally as .eml files) and serves it over a small HTTP API.
// See services/README.md for the env vars.
import { createServer } from 'node:http';
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';

import { SMTPServer } from 'smtp-server';
import { simpleParser } from 'mailparser';

const env = process.env;
const port = Number(env.SMTP_PORT || 2525);
const apiPort = Number(env.SMTP_API_PORT || 2580);
const host = '127.0.0.1';
const truthy = (v) => ['1', 'true', 'yes'].includes(String(v || '').toLowerCase());
const requireTls = truthy(env.SMTP_REQUIRE_TLS);
const user = env.SMTP_USER || '';
const pass = env.SMTP_PASS || '';
const authRequired = Boolean(user || pass);
const maildir = env.SMTP_MAILDIR || '';
const delayMs = Number(env.SMTP_DELAY_MS || 0);
const addrList = (v) => new Set(String(v || '').split(',').map((s) => s.trim().toLowerCase()).filter(Boolean));

// Recipient rules; start from env, can be changed at run time with PUT /api/rules.
const rules = {
  fail: addrList(env.SMTP_FAIL_RCPT),
  tempfail: addrList(env.SMTP_TEMPFAIL_RCPT),
};

let key;
let cert;
if (env.SMTP_TLS_KEY || env.SMTP_TLS_CERT) {
  if (!env.SMTP_TLS_KEY || !env.SMTP_TLS_CERT) {
    console.error('smtp-server: set both SMTP_TLS_KEY and SMTP_TLS_CERT');
    process.exit(2);
  }
  key = readFileSync(env.SMTP_TLS_KEY);
  cert = readFileSync(env.SMTP_TLS_CERT);
} else if (requireTls) {
  console.error('smtp-server: SMTP_REQUIRE_TLS needs SMTP_TLS_KEY and SMTP_TLS_CERT');
  process.exit(2);
}
const tls = Boolean(key);

if (maildir) mkdirSync(maildir, { recursive: true });

const mails = [];
let nextId = 1;

const smtpError = (code, message) => Object.assign(new Error(message), { responseCode: code });

const server = new SMTPServer({
  name: 'localhost',
  banner: 'RA portal e2e test SMTP server',
  logger: false,
  secure: false,
  key,
  cert,
  hideSTARTTLS: !tls,
  // Plain-text AUTH is allowed unless TLS is required.
  allowInsecureAuth: !requireTls,
  authMethods: ['PLAIN', 'LOGIN'],
  authOptional: !authRequired,
  disabledCommands: authRequired ? [] : ['AUTH'],
  size: 10 * 1024 * 1024,
  rejectOversized: true,
  disableReverseLookup: true,

  onAuth(auth, _session, callback) {
    if (auth.method !== 'PLAIN' && auth.method !== 'LOGIN') {
      return callback(smtpError(504, 'Error: unsupported authentication mechanism'));
    }
    if (auth.username === user && auth.password === pass) {
      return callback(null, { user: auth.username });
    }
    console.log(`smtp-server: AUTH ${auth.method} failed for ${JSON.stringify(auth.username)}`);
    return callback(smtpError(535, 'Error: authentication credentials invalid'));
  },

  onMailFrom(_address, session, callback) {
    if (requireTls && !session.secure) {
      return callback(smtpError(530, 'Error: must issue a STARTTLS command first'));
    }
    return callback();
  },

  onRcptTo(address, _session, callback) {
    const addr = String(address.address || '').toLowerCase();
    if (rules.fail.has(addr)) {
      console.log(`smtp-server: RCPT ${addr} rejected permanently (550)`);
      return callback(smtpError(550, `5.1.1 <${addr}>: mailbox unavailable (test rejection)`));
    }
    if (rules.tempfail.has(addr)) {
      console.log(`smtp-server: RCPT ${addr} rejected temporarily (451)`);
      return callback(smtpError(451, `4.3.0 <${addr}>: temporary failure, try again later (test rejection)`));
    }
    return callback();
  },

  onData(stream, session, callback) {
    const chunks = [];
    stream.on('data', (c) => chunks.push(c));
    stream.on('error', callback);
    stream.on('end', async () => {
      if (stream.sizeExceeded) return callback(smtpError(552, 'Error: message too large'));
      const raw = Buffer.concat(chunks);
      try {
        const parsed = await simpleParser(raw);
        const id = nextId++;
        const headerTo = [parsed.to, parsed.cc].flat().filter(Boolean)
          .flatMap((a) => a.value || []).map((a) => String(a.address || '').toLowerCase()).filter(Boolean);
        const mail = {
          id,
          from: parsed.from?.value?.[0]?.address || session.envelope.mailFrom?.address || '',
          to: session.envelope.rcptTo.map((r) => String(r.address).toLowerCase()),
          headerTo,
          subject: parsed.subject || '',
          text: parsed.text || '',
          html: typeof parsed.html === 'string' ? parsed.html : '',
          date: (parsed.date || new Date()).toISOString(),
          receivedAt: new Date().toISOString(),
          messageId: parsed.messageId || '',
          envelopeFrom: session.envelope.mailFrom?.address || '',
          authUser: session.user || null,
          secure: Boolean(session.secure),
          raw: raw.toString('utf8'),
        };
        // A relay that takes its time to accept (writing its queue file), as real ones do; the
        // mail counts as received once that is done, right before the answer.
        if (delayMs > 0) await new Promise((resolve) => setTimeout(resolve, delayMs));
        mails.push(mail);
        if (maildir) writeFileSync(join(maildir, `${id}.eml`), raw);
        console.log(`smtp-server: mail #${id} from ${mail.envelopeFrom} to ${mail.to.join(',')}${mail.secure ? ' (TLS)' : ''}`);
        return callback(null, `OK: queued as test-${id}`);
      } catch (err) {
        console.error('smtp-server: cannot parse mail', err);
        return callback(smtpError(451, 'Error: cannot parse message'));
      }
    });
  },
});

function onServerError(what) {
  return (err) => {
    console.error(`smtp-server: ${what} error: ${err.message}`);
    if (err.syscall === 'listen') process.exit(1);
  };
}
server.on('error', onServerError('smtp'));

// ---------------------------------------------------------------- HTTP API
const publicMail = ({ raw, ...m }) => m;

function json(res, status, body) {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(JSON.stringify(body));
}

function readJson(req, limit = 64 * 1024) {
  return new Promise((resolve, reject) => {
    const chunks = [];
    let size = 0;
    req.on('data', (c) => {
      size += c.length;
      if (size > limit) { reject(new Error('body too large')); req.destroy(); return; }
      chunks.push(c);
    });
    req.on('end', () => {
      try { resolve(chunks.length ? JSON.parse(Buffer.concat(chunks).toString('utf8')) : {}); } catch (e) { reject(e); }
    });
    req.on('error', reject);
  });
}

const api = createServer(async (req, res) => {
  const url = new URL(req.url, `http://${host}:${apiPort}`);
  const path = url.pathname.replace(/\/+$/, '');
  try {
    if (path === '/api/mails' && req.method === 'GET') {
      const to = (url.searchParams.get('to') || '').toLowerCase();
      const list = to ? mails.filter((m) => m.to.includes(to) || m.headerTo.includes(to)) : mails;
      return json(res, 200, list.map(publicMail));
    }
    // How often each Message-ID arrived (the several-instances check counts thousands of mails).
    if (path === '/api/message-ids' && req.method === 'GET') {
      const counts = {};
      for (const m of mails) counts[m.messageId] = (counts[m.messageId] || 0) + 1;
      return json(res, 200, counts);
    }
    if (path === '/api/mails' && req.method === 'DELETE') {
      const n = mails.length;
      mails.length = 0;
      return json(res, 200, { deleted: n });
    }
    const one = /^\/api\/mails\/(\d+)(\/raw)?$/.exec(path);
    if (one && req.method === 'GET') {
      const mail = mails.find((m) => m.id === Number(one[1]));
      if (!mail) return json(res, 404, { error: 'not found' });
      if (one[2]) {
        res.writeHead(200, { 'content-type': 'message/rfc822' });
        return res.end(mail.raw);
      }
      return json(res, 200, publicMail(mail));
    }
    if (path === '/api/rules' && req.method === 'GET') {
      return json(res, 200, { fail: [...rules.fail], tempfail: [...rules.tempfail] });
    }
    if (path === '/api/rules' && (req.method === 'PUT' || req.method === 'POST')) {
      const body = await readJson(req);
      if (body.fail !== undefined) rules.fail = addrList([].concat(body.fail).join(','));
      if (body.tempfail !== undefined) rules.tempfail = addrList([].concat(body.tempfail).join(','));
      return json(res, 200, { fail: [...rules.fail], tempfail: [...rules.tempfail] });
    }
    if (path === '/api/health' && req.method === 'GET') {
      return json(res, 200, { ok: true, mails: mails.length });
    }
    return json(res, 404, { error: 'not found' });
  } catch (err) {
    return json(res, 400, { error: String(err.message || err) });
  }
});

api.on('error', onServerError('api'));

let up = 0;
const ready = () => {
  up += 1;
  if (up === 2) {
    console.log(`smtp-server: starttls ${tls ? 'on' : 'off'}${requireTls ? ' (required)' : ''}, auth ${authRequired ? 'required' : 'off'}`);
    console.log(`smtp-server listening on ${host}:${port} (api :${apiPort})`);
  }
};
server.listen(port, host, ready);
api.listen(apiPort, host, ready);

function shutdown(sig) {
  console.log(`smtp-server: ${sig}, shutting down`);
  let open = 2;
  const done = () => { open -= 1; if (open === 0) process.exit(0); };
  server.close(done);
  api.close(done);
  api.closeAllConnections?.();
  setTimeout(() => process.exit(0), 2000).unref();
}
process.on('SIGTERM', () => shutdown('SIGTERM'));
process.on('SIGINT', () => shutdown('SIGINT'));
