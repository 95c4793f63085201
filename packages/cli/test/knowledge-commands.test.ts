// The knowledge commands, run in-process against a real embedded store and real index files.
import { Writable } from 'node:stream';
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { openStore, type Store } from '@aifactory/store';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createProgressRenderer, registerKnowledgeCommands } from '../src/commands/knowledge.ts';
import { runProgram } from './run-program.ts';

class Collector extends Writable {
  text = '';
  isTTY: boolean;
  columns = 100;
  constructor(isTTY: boolean) {
    super();
    this.isTTY = isTTY;
  }
  override _write(chunk: Buffer, _encoding: string, callback: () => void) {
    this.text += chunk.toString();
    callback();
  }
}

describe('factory knowledge', () => {
  let store: Store;
  let root: string;
  let progress: Collector;

  beforeAll(async () => {
    store = await openStore();
    root = mkdtempSync(path.join(tmpdir(), 'aifactory-kn-cli-'));
    mkdirSync(path.join(root, 'docs'));
    writeFileSync(path.join(root, 'docs', 'leave.md'), '# Leave\n\n## Parental leave\n\nParents get 16 weeks of paid parental leave.\n');
    writeFileSync(path.join(root, 'docs', 'faq.jsonl'), '{"id": "vpn", "q": "VPN token?", "a": "Reset it in the self-service portal."}\n');
    writeFileSync(path.join(root, 'docs', 'broken.pdf'), '%PDF-1.4 nothing else');
  });
  afterAll(async () => {
    await store?.close();
    rmSync(root, { recursive: true, force: true });
  });

  async function factory(...args: string[]) {
    const program = new Command('factory').exitOverride();
    progress = new Collector(false);
    registerKnowledgeCommands(program, {
      openStore: async () => ({ ...store, close: async () => {} }),
      dataDir: () => path.join(root, 'data'),
      progressStream: progress,
    });
    return runProgram(program, args);
  }

  it('ingests a folder with plain progress lines, reports the skipped file, and exits 1 only with --strict', async () => {
    const ingest = await factory(
      'knowledge',
      'ingest',
      path.join(root, 'docs'),
      '--collection',
      'handbook',
      '--text-field',
      'a',
      '--title-field',
      'q',
      '--classification',
      'internal',
    );
    expect(ingest.exitCode).toBe(0);
    expect(progress.text).toContain('[1/3] skipped broken.pdf: broken PDF');
    expect(progress.text).toContain('[3/3] added leave.md (1 chunks)');
    expect(ingest.stdout).toContain('handbook (local:hashing-v1-384): 2 added, 0 updated, 0 removed, 0 unchanged, 1 skipped');
    expect(ingest.stdout).toMatch(/skipped broken\.pdf: broken PDF/);

    const again = await factory('knowledge', 'ingest', path.join(root, 'docs'), '--collection', 'handbook', '--strict', '--json');
    expect(again.exitCode).toBe(1);
    expect(JSON.parse(again.stdout)).toMatchObject({ collection: 'handbook', unchanged: 2, skipped: 1, errors: [{ path: 'broken.pdf' }] });
    expect(progress.text).toBe('');
  });

  it('searches with citations in text and JSON', async () => {
    const text = await factory('knowledge', 'search', 'handbook', 'parental leave weeks', '--top-k', '1');
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toContain('1. leave.md › Leave › Parental leave (lines 3-5) [internal]');
    expect(text.stdout).toContain('Parents get 16 weeks of paid parental leave.');
    const json = await factory('knowledge', 'search', 'handbook', 'VPN token', '--json', '-k', '1');
    const body = JSON.parse(json.stdout);
    expect(body.results).toHaveLength(1);
    expect(body.results[0]).toMatchObject({
      citation: { source: 'faq.jsonl', location: { record: { line: 1, id: 'vpn' } }, documentVersion: 1 },
      contentHash: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  });

  it('lists and rebuilds collections', async () => {
    const list = JSON.parse((await factory('knowledge', 'list', '--json')).stdout);
    expect(list.collections).toEqual([
      expect.objectContaining({
        name: 'handbook',
        documents: 2,
        chunks: 2,
        classifications: ['internal'],
        embeddingModel: 'local:hashing-v1-384',
      }),
    ]);
    const rebuilt = await factory('knowledge', 'rebuild', 'handbook', '--ef-search', '64', '--json');
    expect(JSON.parse(rebuilt.stdout)).toMatchObject({ collection: 'handbook', vectors: 2 });
    const after = JSON.parse((await factory('knowledge', 'list', '--json')).stdout);
    expect(after.collections[0].settings.index.efSearch).toBe(64);
  });

  it('names unknown collections and bad options with exit code 2', async () => {
    const unknown = await factory('knowledge', 'search', 'nope', 'anything');
    expect(unknown.exitCode).toBe(2);
    expect(unknown.stderr).toMatch(/Collection 'nope' does not exist; known collections: handbook\./);
    const badTopK = await factory('knowledge', 'search', 'handbook', 'x', '--top-k', 'many');
    expect(badTopK.stderr).toMatch(/--top-k must be a whole number; got 'many'/);
    expect(badTopK.exitCode).toBe(2);
    const missing = await factory('knowledge', 'ingest', path.join(root, 'no-such-folder'), '--collection', 'handbook');
    expect(missing.exitCode).toBe(2);
    expect(missing.stderr).toMatch(/Source '.*no-such-folder' does not exist/);
    const model = await factory(
      'knowledge',
      'ingest',
      path.join(root, 'docs'),
      '--collection',
      'handbook',
      '--embedding-model',
      'local:hashing-v1-128',
    );
    expect(model.exitCode).toBe(2);
    expect(model.stderr).toMatch(/models cannot be mixed in one collection/);
    const deletion = await factory('knowledge', 'delete', 'handbook');
    expect(deletion.stderr).toMatch(/add --yes to confirm/);
  });
});

describe('ingest progress renderer', () => {
  it('redraws one bar with counts and rates on a terminal and prints skipped files on their own line', () => {
    const stream = new Collector(true);
    let clock = 0;
    const render = createProgressRenderer(stream, () => clock);
    render({ type: 'ingest.started', collection: 'c', root: '/r', files: 2 });
    clock = 500;
    render({
      type: 'file.processed',
      path: 'a.md',
      outcome: 'skipped',
      chunks: 0,
      reason: 'broken',
      processed: 1,
      files: 2,
      chunksWritten: 0,
    });
    clock = 1000;
    render({ type: 'file.processed', path: 'b.md', outcome: 'added', chunks: 4, processed: 2, files: 2, chunksWritten: 4 });
    expect(stream.text).toContain('skipped a.md: broken\n');
    expect(stream.text).toContain('\r\x1b[2K████████████████████████ 2/2 files · 4 chunks · 2.0 files/s · 4 chunks/s');
    expect(stream.text).not.toContain('[2/2]');
  });
});
