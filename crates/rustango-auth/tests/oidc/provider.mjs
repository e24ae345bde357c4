// The OpenID Connect provider that crates/rustango-auth/tests/oidc_e2e.rs logs in
// against: npm `oidc-provider` with devInteractions (a login form that accepts any
// username and password, then a consent form).
//
//   node provider.mjs --port 0 --redirect-uri http://127.0.0.1:PORT/oidc/callback \
//        --keys-file /tmp/keys.json [--rotate]
//
// Prints one JSON line once listening: {"issuer", "port", "kids"}.
//
// Signing keys live in --keys-file (private JWKs). Without the file, one RS256 key
// is made. With --rotate, a new key is put first (oidc-provider signs with it) and
// the old ones stay published: restart the provider with --rotate on the same port
// to rotate its keys the way a deployment does.
//
// GET /test/rogue-id-token?aud=..&sub=..&nonce=.. answers an id_token for this
// issuer signed by a key that is NOT in the JWKS (kid "rogue"): the relying party
// must refuse it.
//
// Client: client_id "rustango-test", secret "rustango-test-secret",
// client_secret_basic, PKCE required. Account claims: sub = the login typed in the
// form, email = <login>@example.test (verified), name = "User <login>".
import { generateKeyPairSync, randomUUID, sign } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';

import Provider from 'oidc-provider';

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    'redirect-uri': { type: 'string' },
    'keys-file': { type: 'string' },
    rotate: { type: 'boolean', default: false },
  },
});
if (!args['redirect-uri'] || !args['keys-file']) {
  console.error('usage: provider.mjs --port N --redirect-uri URL --keys-file PATH [--rotate]');
  process.exit(2);
}

function newKey() {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
  return { ...privateKey.export({ format: 'jwk' }), kid: `key-${randomUUID()}`, alg: 'RS256', use: 'sig' };
}

let keys = existsSync(args['keys-file']) ? JSON.parse(readFileSync(args['keys-file'], 'utf8')) : [];
if (keys.length === 0 || args.rotate) {
  keys = [newKey(), ...keys];
}
writeFileSync(args['keys-file'], JSON.stringify(keys));

const rogue = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey;

function b64url(value) {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url');
}

async function start(port) {
  // Listen first to learn the port, then build the provider for that issuer.
  const server = createServer();
  await new Promise((resolve) => server.listen(Number(port), '127.0.0.1', resolve));
  const actualPort = server.address().port;
  const issuer = `http://127.0.0.1:${actualPort}`;

  const provider = new Provider(issuer, {
    clients: [{
      client_id: 'rustango-test',
      client_secret: 'rustango-test-secret',
      redirect_uris: [args['redirect-uri']],
      response_types: ['code'],
      grant_types: ['authorization_code'],
      token_endpoint_auth_method: 'client_secret_basic',
    }],
    pkce: { required: () => true },
    features: { devInteractions: { enabled: true } },
    jwks: { keys },
    cookies: { keys: ['rustango-test-cookie-key-0123456789'] },
    claims: {
      openid: ['sub'],
      email: ['email', 'email_verified'],
      profile: ['name', 'given_name', 'family_name'],
    },
    async findAccount(ctx, id) {
      return {
        accountId: id,
        async claims() {
          return {
            sub: id,
            email: `${id}@example.test`,
            email_verified: true,
            name: `User ${id}`,
            given_name: 'User',
            family_name: id,
          };
        },
      };
    },
  });

  provider.use(async (ctx, next) => {
    if (ctx.path === '/test/rogue-id-token') {
      const now = Math.floor(Date.now() / 1000);
      const header = { alg: 'RS256', typ: 'JWT', kid: 'rogue' };
      const payload = {
        iss: issuer,
        aud: ctx.query.aud,
        sub: ctx.query.sub,
        nonce: ctx.query.nonce,
        iat: now,
        exp: now + 300,
      };
      const signingInput = `${b64url(header)}.${b64url(payload)}`;
      const signature = sign('sha256', Buffer.from(signingInput), rogue).toString('base64url');
      ctx.type = 'text/plain';
      ctx.body = `${signingInput}.${signature}`;
      return;
    }
    await next();
  });

  server.on('request', provider.callback());
  console.log(JSON.stringify({ issuer, port: actualPort, kids: keys.map((k) => k.kid) }));
}

for (const signal of ['SIGTERM', 'SIGINT']) {
  process.on(signal, () => process.exit(0));
}

await start(args.port);
