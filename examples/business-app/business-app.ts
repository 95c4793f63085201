// A tiny business web app that embeds a governed copilot: the aifactory server (API on its own
// port, CORS for the app's origin) and the shop page, whose widget uses the client SDK in the
// browser. The SDK's TypeScript is served as JavaScript by stripping types (node:module), so
// there is no build step.
//   node examples/business-app/business-app.ts   → prints the shop URL; Ctrl-C stops it.
// The customer's token is handed to the page for the demo; a real app mints a short-lived,
// customer-scoped token on its backend instead.
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { stripTypeScriptTypes } from 'node:module';
import path from 'node:path';
import { openStore, type Store } from '@aifactory/store';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { exampleRoot, prepareBusinessWorkspace, type BusinessWorkspace } from './business-workspace.ts';
import { workspaceConfigAt } from '@aifactory/workspace';

const sdkDir = path.resolve(exampleRoot, '..', '..', 'packages', 'client', 'src');

/** The running app. */
export interface BusinessApp {
  /** The shop page. */
  url: string;
  api: RunningServer;
  store: Store;
  workspace: BusinessWorkspace;
  /** A support lead's token (approver), for the demo's other side. */
  supportLeadToken: string;
  close(): Promise<void>;
}

/** Starts the API and the shop page on free loopback ports. */
export async function startBusinessApp(): Promise<BusinessApp> {
  const workspace = prepareBusinessWorkspace();
  const store = await openStore();
  const page = createServer();
  await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
  const pageUrl = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
  const api = await startServer({
    store,
    config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir, policiesDir: workspace.policiesDir }),
    port: 0,
    corsOrigins: [pageUrl],
    log: () => undefined,
  });
  const customer = await createApiToken(store, { principal: 'customer-7@shop.example', roles: ['operator'], description: 'shop page' });
  const lead = await createApiToken(store, { principal: 'lena@shop.example', roles: ['approver', 'support-lead'] });
  page.on('request', (request, response) => {
    serve(request.url ?? '/', { apiUrl: api.url, token: customer.token, agent: 'order-desk' })
      .then(({ status, type, body }) => {
        response.writeHead(status, { 'content-type': type, 'cache-control': 'no-store' });
        response.end(body);
      })
      .catch(() => {
        response.writeHead(500).end();
      });
  });
  return {
    url: pageUrl,
    api,
    store,
    workspace,
    supportLeadToken: lead.token,
    async close() {
      await new Promise<void>((resolve) => (page as Server).close(() => resolve()));
      page.closeAllConnections();
      await api.close();
      await store.close();
    },
  };
}

async function serve(url: string, config: Record<string, string>): Promise<{ status: number; type: string; body: string }> {
  const pathname = new URL(url, 'http://x').pathname;
  if (pathname === '/' || pathname === '/index.html')
    return { status: 200, type: 'text/html; charset=utf-8', body: await readFile(path.join(exampleRoot, 'public', 'index.html'), 'utf8') };
  if (pathname === '/app.js')
    return { status: 200, type: 'text/javascript', body: await readFile(path.join(exampleRoot, 'public', 'app.js'), 'utf8') };
  if (pathname === '/config.json') return { status: 200, type: 'application/json', body: JSON.stringify(config) };
  const sdk = /^\/sdk\/([a-z-]+)\.js$/.exec(pathname);
  if (sdk) {
    const source = await readFile(path.join(sdkDir, `${sdk[1]}.ts`), 'utf8').catch(() => undefined);
    if (source === undefined) return { status: 404, type: 'text/plain', body: 'not found' };
    // Local imports name .ts files; the browser asks for .js.
    const body = stripTypeScriptTypes(source).replace(/from '(\.\/[a-z-]+)\.ts'/g, "from '$1.js'");
    return { status: 200, type: 'text/javascript', body };
  }
  return { status: 404, type: 'text/plain', body: 'not found' };
}

if (import.meta.main) {
  const app = await startBusinessApp();
  process.stdout.write(
    `Acme Shop: ${app.url}\nAPI: ${app.api.url}\nApprove held refunds with:\n  curl -X POST -H 'authorization: Bearer ${app.supportLeadToken}' ${app.api.url}/v1/approvals/<approval id>/approve\n`,
  );
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
  await app.close();
}
