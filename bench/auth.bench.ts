// Authentication cost per request, in one run: GET /v1/me through the whole HTTP app (host guard,
// hygiene, authentication, role check, JSON answer; in-process, no socket) with our own API token
// against the same request with an OIDC access token (RS256 JWT, verified with jose against a JWKS
// served on loopback). Both ways twice: as a busy client sees it (the verified token remembered
// for 2 s, the default) and with that cache off (every request looks the token up in the store,
// or verifies the JWT's signature). Also the bare checks alone: jose jwtVerify against a sha256.
// Target (issue #13): a JWT costs at most 50 µs more per authenticated request than our own token.
// BENCH_QUICK=1 uses fewer iterations. Figures go to bench/results/auth.json.
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { loadavg } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createLocalJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { openStore } from '@aifactory/store';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { workspaceConfigAt } from '@aifactory/workspace';
import { prepareBusinessWorkspace } from '../examples/business-app/business-workspace.ts';

const quick = process.env.BENCH_QUICK === '1';
const iterations = quick ? 400 : 4000;
const rounds = quick ? 2 : 5;
const benchDir = path.dirname(fileURLToPath(import.meta.url));

// The identity provider's key set, served on loopback like any issuer's jwks_uri.
const { privateKey, publicKey } = await generateKeyPair('RS256');
const publicJwk = { ...(await exportJWK(publicKey)), kid: 'bench-1', alg: 'RS256', use: 'sig' };
const jwksServer = createServer((_request, response) => {
  response.writeHead(200, { 'content-type': 'application/json' });
  response.end(JSON.stringify({ keys: [publicJwk] }));
});
await new Promise<void>((resolve) => jwksServer.listen(0, '127.0.0.1', resolve));
const jwksUri = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/jwks`;
const issuer = 'https://login.acme.example/realms/main';
const audience = 'https://factory.acme.example';
const jwt = await new SignJWT({ roles: ['operator', 'auditor'] })
  .setProtectedHeader({ alg: 'RS256', kid: 'bench-1' })
  .setIssuer(issuer)
  .setAudience(audience)
  .setSubject('bench@acme.example')
  .setIssuedAt()
  .setExpirationTime('2h')
  .sign(privateKey);

const workspace = prepareBusinessWorkspace();
const store = await openStore();
const common = {
  store,
  config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir, policiesDir: workspace.policiesDir }),
  port: 0,
  log: () => undefined,
  rateLimit: { burst: 1e9, perSecond: 1e9 },
  oidc: { issuer, audience: [audience], jwksUri },
};
const cached = await startServer(common);
const uncached = await startServer({ ...common, tokenCacheMs: 0 });
const { token } = await createApiToken(store, { principal: 'bench@acme.example', roles: ['operator', 'auditor'] });

/** Mean microseconds of one authenticated GET /v1/me, best of `rounds` rounds (the machine is shared). */
async function perRequest(server: RunningServer, bearer: string): Promise<number> {
  const headers = { authorization: `Bearer ${bearer}`, host: 'localhost' };
  const once = async () => {
    const response = await server.http.app.request('/v1/me', { headers });
    if (response.status !== 200) throw new Error(`GET /v1/me answered ${response.status}: ${await response.text()}`);
    await response.arrayBuffer();
  };
  // The first JWT request fetches the key set; on a loaded machine that fetch may fail once.
  for (let attempt = 1; ; attempt += 1) {
    const response = await server.http.app.request('/v1/me', { headers });
    await response.arrayBuffer();
    if (response.status === 200) break;
    if (attempt === 5) throw new Error(`GET /v1/me answered ${response.status} five times`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  for (let warm = 0; warm < 200; warm += 1) await once();
  let best = Infinity;
  for (let round = 0; round < rounds; round += 1) {
    const started = process.hrtime.bigint();
    for (let index = 0; index < iterations; index += 1) await once();
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1000 / iterations);
  }
  return best;
}

/** Mean microseconds of `check`, best of `rounds`. */
async function perCall(check: () => Promise<unknown> | unknown): Promise<number> {
  for (let warm = 0; warm < 200; warm += 1) await check();
  let best = Infinity;
  for (let round = 0; round < rounds; round += 1) {
    const started = process.hrtime.bigint();
    for (let index = 0; index < iterations; index += 1) await check();
    best = Math.min(best, Number(process.hrtime.bigint() - started) / 1000 / iterations);
  }
  return best;
}

// Interleave the peers so a burst of load from other processes falls on both alike.
const figures = { own_cached: Infinity, jwt_cached: Infinity, own_uncached: Infinity, jwt_uncached: Infinity };
for (let pass = 0; pass < 2; pass += 1) {
  figures.own_cached = Math.min(figures.own_cached, await perRequest(cached, token));
  figures.jwt_cached = Math.min(figures.jwt_cached, await perRequest(cached, jwt));
  figures.own_uncached = Math.min(figures.own_uncached, await perRequest(uncached, token));
  figures.jwt_uncached = Math.min(figures.jwt_uncached, await perRequest(uncached, jwt));
}
const keySet = createLocalJWKSet({ keys: [publicJwk] });
const verifyOnly = await perCall(() => jwtVerify(jwt, keySet, { issuer, audience, algorithms: ['RS256'] }));
const hashOnly = await perCall(() => createHash('sha256').update(token).digest('hex'));

await cached.close();
await uncached.close();
await store.close();
jwksServer.close();
rmSync(workspace.root, { recursive: true, force: true });

const round = (value: number) => Number(value.toFixed(1));
const results = {
  quick,
  iterations,
  per_request_us: {
    own_token_cached: round(figures.own_cached),
    jwt_cached: round(figures.jwt_cached),
    jwt_minus_own_cached: round(figures.jwt_cached - figures.own_cached),
    own_token_store_lookup: round(figures.own_uncached),
    jwt_signature_verified: round(figures.jwt_uncached),
    jwt_minus_own_uncached: round(figures.jwt_uncached - figures.own_uncached),
  },
  check_alone_us: { jose_jwt_verify_rs256: round(verifyOnly), sha256_of_token: round(hashOnly) },
  target: 'a JWT costs at most 50 µs more per authenticated request',
  target_met: figures.jwt_cached - figures.own_cached <= 50 && figures.jwt_uncached - figures.own_uncached <= 50,
  loadavg: loadavg().map((value) => Number(value.toFixed(2))),
};
console.table(results.per_request_us);
console.table(results.check_alone_us);
console.log(`target met: ${results.target_met} (load average ${results.loadavg.join(', ')})`);
mkdirSync(path.join(benchDir, 'results'), { recursive: true });
writeFileSync(path.join(benchDir, 'results', 'auth.json'), `${JSON.stringify(results, null, 2)}\n`);
