// A real `factory serve` (the CLI, in a child process) over a throw-away copy of the business
// app's workspace, on the embedded store (PGlite) or on Postgres in a schema of its own, with two
// tokens: a customer (operator) who starts runs, and lena, an admin who is also a support lead
// and so may approve the order desk's held refunds. Used by the console's browser test, its
// screenshot script and its benchmark.
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { openStore, sql } from '@aifactory/store';
import { createApiToken } from '@aifactory/server';
import { prepareBusinessWorkspace, type BusinessWorkspace } from '../../../examples/business-app/business-workspace.ts';

const cli = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'cli', 'dist', 'factory.mjs');

/** A served console. */
/** Debian's Chromium: the console's browser test, its bench and its screenshots drive it. */
export const chromiumPath = '/usr/bin/chromium';

/** Launches that Chromium headless, without the background work (updates, sync, networking) that would slow a page down. */
export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath,
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export interface ConsoleServer {
  url: string;
  engine: 'pglite' | 'postgres';
  workspace: BusinessWorkspace;
  /** The customer's token (operator): starts runs. */
  customerToken: string;
  /** lena@shop.example: admin and support-lead (approves refunds, reads everything). */
  leadToken: string;
  /** The server's pid (ended by it in close). */
  pid: number;
  /** Starts a run through the API as the customer; answers with its result. */
  startRun(input: string): Promise<{ runId: string; status: string; held?: { approvalId: string } }>;
  close(): Promise<void>;
}

/** Options of startConsoleServer. */
export interface ConsoleServerOptions {
  engine: 'pglite' | 'postgres';
  /** Postgres URL (engine postgres). */
  databaseUrl?: string;
  /** Runs work on the store before the server starts (e.g. seeding many runs). */
  seed?: (store: Awaited<ReturnType<typeof openStore>>) => Promise<void>;
  /** More environment for `factory serve` (e.g. AIFACTORY_OIDC_*). */
  env?: Record<string, string>;
}

/** Prepares a workspace, creates the tokens, starts `factory serve --port 0` and waits for its URL. */
export async function startConsoleServer(options: ConsoleServerOptions): Promise<ConsoleServer> {
  const workspace = prepareBusinessWorkspace();
  const schema = options.engine === 'postgres' ? `t_console_${randomBytes(5).toString('hex')}` : undefined;
  const env: NodeJS.ProcessEnv = { ...process.env, AIFACTORY_HOME: workspace.dataDir, NO_COLOR: '1', ...options.env };
  delete env.DATABASE_URL;
  delete env.AIFACTORY_DB_SCHEMA;
  if (options.engine === 'postgres') {
    if (!options.databaseUrl) throw new Error('startConsoleServer: the postgres engine needs a databaseUrl');
    env.DATABASE_URL = options.databaseUrl;
    env.AIFACTORY_DB_SCHEMA = schema;
  }
  const openSeedStore = () =>
    options.engine === 'postgres'
      ? openStore({ databaseUrl: options.databaseUrl!, schema: schema! })
      : openStore({ dataDir: path.join(workspace.dataDir, 'pglite') });
  const store = await openSeedStore();
  let customerToken: string;
  let leadToken: string;
  try {
    customerToken = (await createApiToken(store, { principal: 'customer-7@shop.example', roles: ['operator'] })).token;
    leadToken = (await createApiToken(store, { principal: 'lena@shop.example', roles: ['admin', 'support-lead'] })).token;
    await options.seed?.(store);
  } finally {
    await store.close();
  }

  const child: ChildProcess = spawn(
    process.execPath,
    [cli, 'serve', '--port', '0', '--agents', workspace.agentsDir, '--policies', workspace.policiesDir],
    { env, cwd: workspace.root, stdio: ['ignore', 'ignore', 'pipe'] },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let stderr = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`factory serve did not start: ${stderr}`)), 120_000);
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /serving (http:\/\/\S+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]!);
      }
    });
    child.once('exit', () => {
      clearTimeout(timer);
      reject(new Error(`factory serve exited: ${stderr}`));
    });
  });
  // Keep reading so the pipe never fills; the log is not needed.
  child.stderr!.on('data', () => undefined);

  return {
    url,
    engine: options.engine,
    workspace,
    customerToken,
    leadToken,
    pid: child.pid!,
    async startRun(input) {
      const response = await fetch(`${url}/v1/runs`, {
        method: 'POST',
        headers: { authorization: `Bearer ${customerToken}`, 'content-type': 'application/json' },
        body: JSON.stringify({ agent: 'order-desk', input }),
      });
      if (!response.ok) throw new Error(`POST /v1/runs answered ${response.status}: ${await response.text()}`);
      return (await response.json()) as { runId: string; status: string; held?: { approvalId: string } };
    },
    async close() {
      if (child.exitCode === null && child.signalCode === null) {
        process.kill(child.pid!, 'SIGTERM');
        const killer = setTimeout(
          () => child.exitCode === null && child.signalCode === null && process.kill(child.pid!, 'SIGKILL'),
          15_000,
        );
        await exited;
        clearTimeout(killer);
      }
      if (options.engine === 'postgres') {
        const dropper = await openStore({ databaseUrl: options.databaseUrl!, schema: schema! });
        try {
          await dropper.query(sql.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
        } finally {
          await dropper.close();
        }
      }
      rmSync(workspace.root, { recursive: true, force: true });
    },
  };
}
