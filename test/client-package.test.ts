// @aifactory/client as an app outside this repository gets it: packed (ESM + .d.ts), installed from
// the tarball into a fresh app with npm, type-checked there with strict TypeScript, and used by
// that app, in its own Node process, to ask the order-desk copilot for a refund, see it held, have
// a support lead approve it, and read the answer. Its RunEvent is held equal to the server's.
import { execFile, execFileSync, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, expectTypeOf, it } from 'vitest';
import type { RunEvent as ClientRunEvent } from '@aifactory/client';
import type { RunEvent as ServerRunEvent } from '@aifactory/execution';
import { openStore, type Store } from '@aifactory/store';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { workspaceConfigAt } from '@aifactory/workspace';
import { prepareBusinessWorkspace } from '../examples/business-app/business-workspace.ts';

const repository = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const clientDir = path.join(repository, 'packages', 'client');
const tsc = path.join(repository, 'node_modules', 'typescript', 'bin', 'tsc');

// Drift fails the type check (pnpm typecheck runs over test/): every event the server streams is
// one the client knows, field for field, and the client adds only the stream's own notices.
type StreamNotice = Extract<ClientRunEvent, { type: 'run.status' | 'server.closing' }>;
expectTypeOf<Exclude<ClientRunEvent, StreamNotice>>().toEqualTypeOf<ServerRunEvent>();

const app = `
// The app has no @types/node: a browser-style app declares the little it reads from its host.
declare const process: { env: Record<string, string | undefined> };
import { AiFactoryClient, ApiError, type ChatReply, type RunEvent } from '@aifactory/client';

const baseUrl = process.env.FACTORY_URL!;
const customer = new AiFactoryClient({ baseUrl, token: process.env.CUSTOMER_TOKEN! });
const supportLead = new AiFactoryClient({ baseUrl, token: process.env.SUPPORT_LEAD_TOKEN! });
const seen: RunEvent['type'][] = [];
const chat = customer.chat('order-desk');
const reply: ChatReply = await chat.send('I want a refund, the filters are broken', { onEvent: (event) => void seen.push(event.type) });
if (reply.status !== 'held') throw new Error('expected a hold, got ' + reply.status);
const pending = await chat.status(reply);
const vote = await supportLead.vote(reply.held.approvalId, 'approve', 'filters were faulty');
const done = await chat.waitForDecision(reply);
let refused = '';
try {
  await customer.vote(reply.held.approvalId, 'approve');
} catch (error) {
  if (error instanceof ApiError) refused = String(error.status);
}
console.log(JSON.stringify({ held: reply.held.name, pending: pending.status, vote: vote.result, done, seen, refused }));
`;

describe('@aifactory/client, packed and installed into an app outside the workspace', () => {
  const workspace = prepareBusinessWorkspace();
  const appDir = mkdtempSync(path.join(tmpdir(), 'aifactory-client-app-'));
  const packDir = mkdtempSync(path.join(tmpdir(), 'aifactory-client-pack-'));
  let store: Store;
  let server: RunningServer;
  const tokens: Record<string, string> = {};

  beforeAll(async () => {
    store = await openStore();
    server = await startServer({
      store,
      config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir, policiesDir: workspace.policiesDir }),
      port: 0,
      log: () => undefined,
    });
    tokens.customer = (await createApiToken(store, { principal: 'jane@shop.example', roles: ['operator'] })).token;
    tokens.supportLead = (await createApiToken(store, { principal: 'sam@shop.example', roles: ['approver', 'support-lead'] })).token;
    // pnpm pack runs prepack (tsc -p tsconfig.build.json) and applies publishConfig's exports.
    execFileSync('pnpm', ['pack', '--pack-destination', packDir], { cwd: clientDir, stdio: 'pipe' });
  });
  afterAll(async () => {
    await server?.close();
    await store?.close();
    for (const folder of [workspace.root, appDir, packDir]) rmSync(folder, { recursive: true, force: true });
  });

  it('ships compiled ESM and type declarations only, with exports pointing at them', () => {
    const tarball = readdirSync(packDir).find((name) => name.endsWith('.tgz'))!;
    const listing = execFileSync('tar', ['tzf', path.join(packDir, tarball)], { encoding: 'utf8' })
      .split('\n')
      .filter(Boolean)
      .sort();
    expect(listing).toContain('package/dist/index.js');
    expect(listing).toContain('package/dist/index.d.ts');
    expect(listing.filter((name) => name.endsWith('.ts') && !name.endsWith('.d.ts'))).toEqual([]);
    const manifest = JSON.parse(
      execFileSync('tar', ['xzOf', path.join(packDir, tarball), 'package/package.json'], { encoding: 'utf8' }),
    ) as { private?: boolean; exports: unknown };
    expect(manifest.private).toBeUndefined();
    expect(manifest.exports).toEqual({ '.': { types: './dist/index.d.ts', default: './dist/index.js' } });
  });

  it('installs with npm, type-checks in a strict app, and takes a held refund through approval to its answer', async () => {
    const tarball = path.join(
      packDir,
      readdirSync(packDir).find((name) => name.endsWith('.tgz'))!,
    );
    writeFileSync(path.join(appDir, 'package.json'), JSON.stringify({ name: 'shop-app', private: true, type: 'module' }));
    // The client has no dependencies, so the install needs nothing but the tarball.
    execFileSync('npm', ['install', '--offline', '--no-audit', '--no-fund', '--ignore-scripts', tarball], { cwd: appDir, stdio: 'pipe' });
    expect(JSON.parse(readFileSync(path.join(appDir, 'node_modules', '@aifactory', 'client', 'package.json'), 'utf8')).version).toBe(
      '0.1.0',
    );
    writeFileSync(path.join(appDir, 'app.ts'), app);
    writeFileSync(
      path.join(appDir, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2023',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          noEmit: true,
          lib: ['ES2023', 'DOM'],
          types: [],
          skipLibCheck: false,
        },
        files: ['app.ts'],
      }),
    );
    const checked = spawnSync(process.execPath, [tsc, '-p', appDir], { encoding: 'utf8' });
    expect(checked.stdout + checked.stderr).toBe('');
    expect(checked.status).toBe(0);
    // Asynchronously: the server answering the app runs in this process.
    const ran = await promisify(execFile)(process.execPath, ['app.ts'], {
      cwd: appDir,
      encoding: 'utf8',
      timeout: 120_000,
      env: { ...process.env, FACTORY_URL: server.url, CUSTOMER_TOKEN: tokens.customer, SUPPORT_LEAD_TOKEN: tokens.supportLead },
    });
    expect(ran.stderr).not.toMatch(/Error/);
    const result = JSON.parse(ran.stdout.trim().split('\n').at(-1)!) as {
      held: string;
      pending: string;
      vote: string;
      done: { status: string; answer?: string };
      seen: string[];
      refused: string;
    };
    expect(result.held).toBe('answer');
    expect(result.pending).toBe('pending');
    expect(result.vote).toBe('approved');
    expect(result.done.status).toBe('completed');
    expect(result.done.answer).toContain('refund 40 EUR');
    expect(result.seen).toEqual(expect.arrayContaining(['run.started', 'action.decided', 'run.held']));
    // A customer (no approver role) cannot vote: the API answers as if the approval did not exist.
    expect(result.refused).toBe('404');
  });
});
