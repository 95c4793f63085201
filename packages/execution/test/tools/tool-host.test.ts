import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ToolHost } from '../../src/tools/index.ts';
import { filesystemServer, isAlive, memoryServer } from './mcp-servers.ts';

let folder: string;
let outside: string;

beforeAll(async () => {
  folder = await mkdtemp(path.join(tmpdir(), 'aifactory-tools-'));
  outside = await mkdtemp(path.join(tmpdir(), 'aifactory-outside-'));
  await writeFile(path.join(folder, 'notes.txt'), 'Quarterly numbers are in.\n');
  await writeFile(path.join(outside, 'secret.txt'), 'not for agents\n');
});

afterAll(async () => {
  await rm(folder, { recursive: true, force: true });
  await rm(outside, { recursive: true, force: true });
});

describe('ToolHost with the filesystem server', () => {
  let host: ToolHost;
  beforeAll(async () => {
    host = await ToolHost.connect([filesystemServer(folder)]);
  });
  afterAll(() => host.close());

  it('lists the server tools as <server>.<tool> with their input schemas and model names', () => {
    const read = host.get('fs.read_text_file');
    expect(read).toMatchObject({ server: 'fs', tool: 'read_text_file', modelName: 'fs__read_text_file' });
    expect(read?.inputSchema).toMatchObject({ type: 'object', properties: { path: { type: 'string' } }, required: ['path'] });
    expect(host.list().map((tool) => tool.name)).toEqual(expect.arrayContaining(['fs.list_directory', 'fs.write_file', 'fs.move_file']));
    for (const tool of host.list()) expect(tool.modelName).toMatch(/^[a-zA-Z0-9_-]{1,64}$/);
    expect(host.fromModelToolName('fs__read_text_file')).toBe('fs.read_text_file');
  });

  it('reads, lists and writes files in the folder it serves', async () => {
    const read = await host.call('fs.read_text_file', { path: path.join(folder, 'notes.txt') });
    expect(read).toMatchObject({ ok: true, content: 'Quarterly numbers are in.\n' });
    const written = await host.call('fs.write_file', { path: path.join(folder, 'summary.md'), content: '# Summary\n' });
    expect(written.ok).toBe(true);
    expect(await readFile(path.join(folder, 'summary.md'), 'utf8')).toBe('# Summary\n');
    const listing = await host.call('fs.list_directory', { path: folder });
    expect(listing.ok && listing.content).toContain('[FILE] summary.md');
  });

  it('reports the server refusing a path outside its folder as a tool error, not an exception', async () => {
    const result = await host.call('fs.read_text_file', { path: path.join(outside, 'secret.txt') });
    expect(result).toMatchObject({ ok: false, error: { code: 'tool_error' } });
    expect(!result.ok && result.error.message).toMatch(/access denied|outside allowed/i);
  });

  it('refuses arguments that do not match the schema before the server sees them', async () => {
    const target = path.join(folder, 'never.txt');
    const result = await host.call('fs.write_file', { path: target, content: 42 } as unknown as Record<string, unknown>);
    expect(result).toMatchObject({ ok: false, error: { code: 'invalid_arguments' } });
    expect(!result.ok && result.error.message).toBe("Invalid arguments for 'fs.write_file': args.content: must be string.");
    expect(existsSync(target)).toBe(false);

    expect(host.validate('fs.read_text_file', {})).toEqual({ ok: false, errors: ["args: must have required property 'path'"] });
    expect(host.validate('fs.read_text_file', { path: 'a', head: 'ten' })).toEqual({ ok: false, errors: ['args.head: must be number'] });
    expect(host.validate('fs.read_text_file', ['a'])).toEqual({ ok: false, errors: ['args: must be an object, got an array'] });
    expect(host.validate('fs.read_text_file', { path: 'a' })).toEqual({ ok: true });
  });

  it('names the available tools when asked for an unknown one, prototype keys included', async () => {
    for (const name of ['fs.delete_file', '__proto__', 'constructor', 'toString', 'hasOwnProperty']) {
      const result = await host.call(name, {});
      expect(result).toMatchObject({ ok: false, error: { code: 'unknown_tool' } });
      expect(!result.ok && result.error.message).toMatch(
        new RegExp(`^Unknown tool '${name.replace(/[.]/g, '\\.')}'\\. Available tools: .*fs\\.read_text_file`),
      );
    }
    expect(host.validate('__proto__', {})).toMatchObject({ ok: false });
    const byModelName = await host.call('fs__read_text_file', { path: 'x' });
    expect(!byModelName.ok && byModelName.error.message).toContain("is the model name of 'fs.read_text_file'");
  });
});

describe('ToolHost allow-lists', () => {
  it('offers and runs only allow-listed tools; the rest are refused without reaching the server', async () => {
    const host = await ToolHost.connect([filesystemServer(folder, { allow: ['read_*', 'list_directory', 'write_fil'] })]);
    try {
      expect(
        host
          .list()
          .map((tool) => tool.tool)
          .sort(),
      ).toEqual(['list_directory', 'read_file', 'read_media_file', 'read_multiple_files', 'read_text_file']);
      expect(host.listAll().find((tool) => tool.name === 'fs.write_file')).toMatchObject({ allowed: false });
      expect(host.warnings).toEqual([expect.stringContaining("allow pattern 'write_fil' matches none of its tools")]);

      const target = path.join(folder, 'blocked.txt');
      const result = await host.call('fs.write_file', { path: target, content: 'x' });
      expect(result).toMatchObject({ ok: false, error: { code: 'not_allowed' } });
      expect(!result.ok && result.error.message).toMatch(
        /^Tool 'fs\.write_file' is not in its server's allow-list\. Allowed tools: fs\.read_file, /,
      );
      expect(existsSync(target)).toBe(false);
      expect(host.validate('fs.write_file', { path: target, content: 'x' })).toMatchObject({ ok: false });
      expect((await host.call('fs.read_text_file', { path: path.join(folder, 'notes.txt') })).ok).toBe(true);
    } finally {
      await host.close();
    }
  });

  it('offers nothing from a server whose allow-list is empty', async () => {
    const host = await ToolHost.connect([filesystemServer(folder, { allow: [] })]);
    try {
      expect(host.list()).toEqual([]);
      expect(host.listAll().length).toBeGreaterThan(5);
    } finally {
      await host.close();
    }
  });
});

describe('ToolHost with several servers', () => {
  it('keeps the memory server and the filesystem server apart by prefix and stops both on close', async () => {
    const memoryFile = path.join(folder, 'memory.jsonl');
    const host = await ToolHost.connect([filesystemServer(folder, { allow: ['read_text_file'] }), memoryServer(memoryFile)]);
    const pids = host.status().map((server) => server.pid);
    expect(pids.every((pid) => typeof pid === 'number')).toBe(true);
    expect(host.list().map((tool) => tool.name)).toEqual(
      expect.arrayContaining(['fs.read_text_file', 'memory.create_entities', 'memory.search_nodes']),
    );

    const created = await host.call('memory.create_entities', {
      entities: [{ name: 'ACME-1042', entityType: 'ticket', observations: ['Customer cannot log in after password reset'] }],
    });
    expect(created.ok).toBe(true);
    const found = await host.call('memory.search_nodes', { query: 'password' });
    expect(found.ok && found.content).toContain('ACME-1042');
    expect(found.ok && found.structured).toMatchObject({ entities: [{ name: 'ACME-1042' }] });
    expect(await readFile(memoryFile, 'utf8')).toContain('ACME-1042');

    await host.close();
    for (const pid of pids) expect(isAlive(pid as number)).toBe(false);
    expect(await host.call('fs.read_text_file', { path: path.join(folder, 'notes.txt') })).toMatchObject({
      ok: false,
      error: { code: 'host_closed' },
    });
  });
});
