// The server's log as an operator reads it: pino JSON lines with levels and ISO times, one line
// per request with its request id (the client's, when it is a plain token), and no secret.
import { rmSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@aifactory/store';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { workspaceConfigAt } from '@aifactory/workspace';
import { createServerLog, levelOf } from '../src/server-log.ts';
import { prepareBusinessWorkspace } from '../../../examples/business-app/business-workspace.ts';

/** A destination that keeps every line pino writes, parsed. */
function capture(): { lines: Array<Record<string, unknown>>; stream: Writable } {
  const lines: Array<Record<string, unknown>> = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n')) if (text.trim()) lines.push(JSON.parse(text) as Record<string, unknown>);
      done();
    },
  });
  return { lines, stream };
}

describe('the server log', () => {
  it('writes pino JSON lines with a level label, an ISO time and the event as the message', async () => {
    const { lines, stream } = capture();
    const log = createServerLog({ destination: stream, level: 'info' });
    log({ event: 'request.failed', reference: 'abc' });
    log({ event: 'auth.decided', outcome: 'denied', reason: 'invalid_token' });
    log({ event: 'http.request', status: 503 });
    log({ event: 'http.request', status: 200 });
    log({ event: 'debug.detail', level: 'debug' });
    await new Promise((resolve) => setImmediate(resolve));
    expect(lines.map((line) => `${String(line.level)} ${String(line.event)}`)).toEqual([
      'error request.failed',
      'warn auth.decided',
      'error http.request',
      'info http.request',
    ]);
    expect(lines[0]!.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    expect(lines[0]).toMatchObject({ service: 'aifactory', reference: 'abc' });
    expect(levelOf({ event: 'http.request', status: 404 })).toBe('warn');
  });

  describe('of a running server', () => {
    const workspace = prepareBusinessWorkspace();
    const { lines, stream } = capture();
    let store: Store;
    let server: RunningServer;
    let token: string;

    beforeAll(async () => {
      store = await openStore();
      server = await startServer({
        store,
        config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir, policiesDir: workspace.policiesDir }),
        port: 0,
        log: createServerLog({ destination: stream }),
      });
      token = (await createApiToken(store, { principal: 'audrey@shop.example', roles: ['auditor'] })).token;
    });
    afterAll(async () => {
      await server?.close();
      await store?.close();
      rmSync(workspace.root, { recursive: true, force: true });
    });

    it('logs every request once with its request id, route, status, duration and principal, and echoes the id', async () => {
      const ok = await fetch(`${server.url}/v1/runs`, { headers: { authorization: `Bearer ${token}`, 'x-request-id': 'checkout-7f3a' } });
      expect(ok.status).toBe(200);
      expect(ok.headers.get('x-request-id')).toBe('checkout-7f3a');
      const hostile = await fetch(`${server.url}/v1/runs`, {
        headers: { authorization: `Bearer ${token}`, 'x-request-id': 'x"}{"level":"fatal' },
      });
      const fresh = hostile.headers.get('x-request-id')!;
      expect(fresh).toMatch(/^[0-9a-f-]{36}$/);
      const anonymous = await fetch(`${server.url}/v1/runs`);
      expect(anonymous.status).toBe(401);
      await new Promise((resolve) => setTimeout(resolve, 50));
      const requests = lines.filter((line) => line.event === 'http.request');
      expect(requests.find((line) => line.request_id === 'checkout-7f3a')).toMatchObject({
        level: 'info',
        method: 'GET',
        route: '/v1/runs',
        status: 200,
        principal: 'audrey@shop.example',
        duration_ms: expect.any(Number),
      });
      expect(requests.filter((line) => line.request_id === fresh)).toHaveLength(1);
      expect(requests.find((line) => line.status === 401)).toMatchObject({ level: 'warn' });
      expect(lines.some((line) => line.level === 'fatal')).toBe(false);
    });

    it('redacts secrets that reach a log line through a request', async () => {
      await fetch(`${server.url}/v1/runs/sk-proj-AbCdEfGhIjKlMnOpQrStUvWxYz0123456789abcd`, {
        headers: { authorization: `Bearer ${token}` },
      });
      await new Promise((resolve) => setTimeout(resolve, 50));
      const text = JSON.stringify(lines);
      expect(text).toContain('/v1/runs/');
      expect(text).not.toContain('sk-proj-AbCdEfGh');
    });
  });
});
