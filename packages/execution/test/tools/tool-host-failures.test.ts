import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AiFactoryError } from '@aifactory/core';
import { SystemError, UserError } from '@aifactory/core';
import { ToolHost } from '../../src/tools/index.ts';
import { everythingServer, freePort, isAlive, startEverythingHttp } from './mcp-servers.ts';

/** How many live processes have `marker` in their command line (Linux /proc; 0 elsewhere). */
function processesRunning(marker: string): number {
  if (!existsSync('/proc')) return 0;
  let count = 0;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/cmdline`, 'utf8').includes(marker)) count += 1;
    } catch {
      // The process ended while we looked.
    }
  }
  return count;
}

describe('ToolHost with the everything server over stdio', () => {
  let host: ToolHost;
  beforeAll(async () => {
    host = await ToolHost.connect([
      everythingServer({ allow: ['echo', 'get-sum', 'get-structured-content', 'get-tiny-image', 'trigger-long-running-operation'] }),
    ]);
  });
  afterAll(() => host.close());

  it('returns text, structured content and described images', async () => {
    expect(await host.call('everything.echo', { message: 'hello' })).toMatchObject({ ok: true, content: 'Echo: hello' });
    const weather = await host.call('everything.get-structured-content', { location: 'Chicago' });
    expect(weather).toMatchObject({ ok: true, structured: { temperature: expect.any(Number) } });
    const image = await host.call('everything.get-tiny-image', {});
    expect(image.ok && image.content).toMatch(/\[image: image\/png, \d+ bytes\]/);
  });

  it('turns a call that outlives its timeout into a timeout error, and the server keeps serving', async () => {
    const started = Date.now();
    const result = await host.call('everything.trigger-long-running-operation', { duration: 5, steps: 5 }, { timeoutMs: 300 });
    expect(result).toMatchObject({
      ok: false,
      error: { code: 'timeout', message: "Tool 'everything.trigger-long-running-operation' did not answer within 300 ms." },
    });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(await host.call('everything.get-sum', { a: 2, b: 3 })).toMatchObject({ ok: true, content: expect.stringContaining('5') });
    expect(host.status()[0]).toMatchObject({ connected: true, restarts: 0 });
  });

  it('turns a server killed mid-call into server_crashed, then restarts it on the next call', async () => {
    const pid = host.status()[0]?.pid as number;
    const pending = host.call('everything.trigger-long-running-operation', { duration: 5, steps: 5 });
    setTimeout(() => process.kill(pid, 'SIGKILL'), 150);
    const result = await pending;
    expect(result).toMatchObject({ ok: false, error: { code: 'server_crashed' } });
    expect(!result.ok && result.error.message).toMatch(
      /^MCP server 'everything' stopped answering during the call to 'everything\.trigger-long-running-operation'/,
    );

    expect(await host.call('everything.echo', { message: 'back' })).toMatchObject({ ok: true, content: 'Echo: back' });
    const status = host.status()[0];
    expect(status).toMatchObject({ connected: true, restarts: 1 });
    expect(status?.pid).not.toBe(pid);
  });

  it('puts down a server that stops answering altogether and starts a fresh one for the next call', async () => {
    const pid = host.status()[0]?.pid as number;
    process.kill(pid, 'SIGSTOP');
    try {
      const result = await host.call('everything.echo', { message: 'anyone?' }, { timeoutMs: 400 });
      expect(result).toMatchObject({ ok: false, error: { code: 'timeout' } });
      const next = await host.call('everything.echo', { message: 'fresh' });
      expect(next).toMatchObject({ ok: true, content: 'Echo: fresh' });
      expect(host.status()[0]?.pid).not.toBe(pid);
      expect(isAlive(pid)).toBe(false);
    } finally {
      if (isAlive(pid)) process.kill(pid, 'SIGKILL');
    }
  });

  it('ends a call in flight with host_closed when the host is closed under it', async () => {
    const own = await ToolHost.connect([everythingServer({ allow: ['trigger-long-running-operation'] })]);
    const pending = own.call('everything.trigger-long-running-operation', { duration: 5, steps: 5 });
    const pid = own.status()[0]?.pid as number;
    let closed: Promise<void> | undefined;
    setTimeout(() => (closed = own.close()), 100);
    const result = await pending;
    expect(result).toMatchObject({ ok: false, error: { code: 'host_closed' } });
    expect(result.durationMs).toBeLessThan(1_000);
    await closed;
    expect(isAlive(pid)).toBe(false);
  });

  it('stops waiting when the caller aborts', async () => {
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 100);
    const result = await host.call('everything.trigger-long-running-operation', { duration: 5, steps: 5 }, { signal: controller.signal });
    expect(result).toMatchObject({ ok: false, error: { code: 'cancelled' } });
    expect(result.durationMs).toBeLessThan(2_000);
    expect(await host.call('everything.echo', { message: 'still here' }, { signal: new AbortController().signal })).toMatchObject({
      ok: true,
    });
    const already = new AbortController();
    already.abort();
    expect(await host.call('everything.echo', { message: 'x' }, { signal: already.signal })).toMatchObject({
      ok: false,
      error: { code: 'cancelled' },
    });
  });
});

describe('ToolHost with the everything server over Streamable HTTP', () => {
  it('lists and calls tools, reports a dead server as server_crashed and reconnects once it is back', async () => {
    const port = await freePort();
    let server = await startEverythingHttp(port);
    const host = await ToolHost.connect([{ name: 'remote', url: server.url, allow: ['echo', 'get-sum'] }]);
    try {
      expect(host.list().map((tool) => tool.name)).toEqual(['remote.echo', 'remote.get-sum']);
      expect(host.status()[0]).toMatchObject({ transport: 'http', connected: true });
      expect(await host.call('remote.get-sum', { a: 20, b: 22 })).toMatchObject({ ok: true, content: expect.stringContaining('42') });
      expect(await host.call('remote.get-sum', { a: '20', b: 22 })).toMatchObject({ ok: false, error: { code: 'invalid_arguments' } });

      await server.stop();
      const down = await host.call('remote.echo', { message: 'hello?' }, { timeoutMs: 5_000 });
      expect(down).toMatchObject({ ok: false, error: { code: 'server_crashed' } });

      server = await startEverythingHttp(port);
      expect(await host.call('remote.echo', { message: 'again' })).toMatchObject({ ok: true, content: 'Echo: again' });
      expect(host.status()[0]).toMatchObject({ connected: true, restarts: 1 });
    } finally {
      await host.close();
      await server.stop();
    }
  });
});

describe('ToolHost.connect failures', () => {
  it('names a command that does not exist as the caller’s mistake', async () => {
    const error = await ToolHost.connect([{ name: 'ghost', command: 'aifactory-no-such-command' }]).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).code).toBe('TOOL_FAILED');
    expect((error as UserError).message).toBe(
      "MCP server 'ghost' could not be started with command 'aifactory-no-such-command': the command was not found.",
    );
  });

  it('reports a server that exits at start with its stderr, and stops the servers already started', async () => {
    const error = await ToolHost.connect([
      { name: 'broken', command: process.execPath, args: ['-e', 'console.error("missing API token"); process.exit(3)'] },
    ]).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SystemError);
    expect((error as SystemError).message).toMatch(/^MCP server 'broken' could not be started with command '.*node.*': /);
    expect((error as SystemError).details).toMatchObject({ stderr: expect.stringContaining('missing API token') });
  });

  it('gives up on a server that never completes the handshake, and stops its process', async () => {
    const started = Date.now();
    const marker = `mute-${process.pid}-${Date.now()}`;
    const error = await ToolHost.connect(
      [{ name: 'mute', command: process.execPath, args: ['-e', `setInterval(() => {}, 1000) // ${marker}`] }],
      { connectTimeoutMs: 500 },
    ).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SystemError);
    expect((error as SystemError).message).toMatch(/^MCP server 'mute' could not be started .*timed out/i);
    expect(Date.now() - started).toBeLessThan(5_000);
    // No orphan: the server process is gone once connect() has given up.
    await expect.poll(() => processesRunning(marker), { timeout: 2_000 }).toBe(0);
  });

  it('never puts the query string of a URL (often a token) into a message', async () => {
    const port = await freePort();
    const error = await ToolHost.connect([{ name: 'crm', url: `http://127.0.0.1:${port}/mcp?token=s3cret` }], {
      connectTimeoutMs: 2_000,
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(SystemError);
    expect((error as SystemError).message).toMatch(
      new RegExp(`^MCP server 'crm' could not be started at http://127\\.0\\.0\\.1:${port}/mcp: `),
    );
    expect(JSON.stringify((error as SystemError).toJSON())).not.toContain('s3cret');
  });

  it('rejects configurations that could never work, naming the field', async () => {
    const cases: Array<[Parameters<typeof ToolHost.connect>[0], string, RegExp]> = [
      [[{ name: 'fs.main', command: 'x' }], 'servers[0].name', /Server name 'fs\.main' is invalid/],
      [[{ name: 'knowledge', command: 'x' }], 'servers[0].name', /reserved/],
      [
        [
          { name: 'a', command: 'x' },
          { name: 'a', command: 'y' },
        ],
        'servers[1].name',
        /used twice/,
      ],
      [[{ name: 'a', command: 'x', url: 'http://localhost/mcp' }], 'servers[0]', /exactly one of 'command' \(stdio\) or 'url'/],
      [[{ name: 'a' }], 'servers[0]', /exactly one of/],
      [[{ name: 'a', url: 'ftp://example.com' }], 'servers[0].url', /must be http or https/],
      [[{ name: 'a', command: 'x', timeoutMs: 0 }], 'servers[0].timeoutMs', /positive/],
      [
        [{ name: 'a', url: 'https://agent:hunter2@crm.example.com/mcp' }],
        'servers[0].url',
        /must not carry credentials; send them in headers/,
      ],
    ];
    for (const [servers, path, message] of cases) {
      const error = await ToolHost.connect(servers).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(UserError);
      expect((error as AiFactoryError).location?.path).toBe(path);
      expect((error as AiFactoryError).message).toMatch(message);
    }
  });
});

describe('ToolHost with a server whose results break their output schema', () => {
  let host: ToolHost;
  beforeAll(async () => {
    host = await ToolHost.connect([
      { name: 'bad', command: process.execPath, args: [path.join(import.meta.dirname, 'bad-output-server.ts')] },
    ]);
  });
  afterAll(() => host.close());

  it('refuses a result whose structured content does not match the schema, and accepts one that does', async () => {
    const broken = await host.call('bad.count', {});
    expect(broken.ok).toBe(false);
    expect(!broken.ok && broken.error.message).toMatch(/output schema/i);
    expect(await host.call('bad.count', { behave: true })).toMatchObject({ ok: true, structured: { count: 3 } });
  });
});
