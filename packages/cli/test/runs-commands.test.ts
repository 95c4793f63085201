// `factory runs`, run in-process against a real embedded store and a real seal key.
import { stripVTControlCharacters } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { openStore, sql, type Store } from '@aifactory/store';
import {
  createRecorder,
  eventHash,
  genesisHash,
  loadOrCreateSigner,
  newSalt,
  openWitness,
  payloadHash,
  type SealSigner,
} from '@aifactory/verification';
import { registerRunsCommands } from '../src/commands/runs.ts';
import { runProgram } from './run-program.ts';

describe('factory runs', () => {
  let store: Store;
  let signer: SealSigner;
  let dataDir: string;

  beforeAll(async () => {
    store = await openStore();
    dataDir = mkdtempSync(path.join(tmpdir(), 'aifactory-runs-cli-'));
    signer = await loadOrCreateSigner(dataDir);
    const recorder = createRecorder(store, { signer });
    await recorder.startRun({
      id: 'run-refund',
      agent: 'clerk',
      principal: 'alice',
      input: { text: 'refund order 42 for jane@example.com' },
    });
    await recorder.recordBatch('run-refund', [
      { type: 'model.requested', actor: 'clerk', payload: { step: 1, provider: 'openai', model: 'gpt-5-mini' } },
      {
        type: 'model.responded',
        actor: 'clerk',
        payload: { step: 1, model: 'gpt-5-mini', usage: { inputTokens: 812, outputTokens: 40 }, cost_usd: 0.0012 },
      },
      {
        type: 'policy.decided',
        actor: 'control-plane',
        payload: {
          step: 2,
          action: { kind: 'tool', name: 'payments.refund' },
          decision: { authority: 'require_approval', rules: [{ policy: 'finance-ops', ruleId: 'large-refunds' }] },
        },
      },
    ]);
    await recorder.finishRun('run-refund', { status: 'completed', payload: { answer: 'Refunded.' } });
    await recorder.startRun({ id: 'run-open', agent: 'support', principal: 'bob' });
  });
  afterAll(async () => {
    await store?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  afterEach(() => {
    process.exitCode = 0;
    vi.restoreAllMocks();
  });

  /** Runs `factory runs <args>` in-process; returns stdout, stderr and the exit code. */
  async function factory(...args: string[]) {
    const program = new Command('factory').exitOverride();
    registerRunsCommands(program, { openStore: async () => ({ ...store, close: async () => {} }), signer: async () => signer });
    return runProgram(program, ['runs', ...args]);
  }

  it('lists runs with filters, as text and as JSON', async () => {
    const text = await factory('list');
    expect(text.stdout).toMatch(/run-refund\s+clerk\s+\S*completed\S*\s+5\s+\S*sealed/);
    expect(text.stdout).toContain('run-open');
    // Columns line up (no colour when piped): every field starts where its header does.
    const lines = stripVTControlCharacters(text.stdout).trimEnd().split('\n');
    for (const title of ['AGENT', 'STATUS', 'SEALED', 'STARTED', 'PRINCIPAL']) {
      const column = lines[0]!.indexOf(title);
      for (const line of lines.slice(1)) expect(line[column - 1], `${title} in ${JSON.stringify(line)}`).toBe(' ');
      for (const line of lines.slice(1)) expect(line[column], `${title} in ${JSON.stringify(line)}`).not.toBe(' ');
    }
    const json = JSON.parse((await factory('list', '--authority', 'require_approval', '--json')).stdout) as {
      runs: Array<{ id: string; events: number }>;
    };
    expect(json.runs.map((run) => run.id)).toEqual(['run-refund']);
    expect((await factory('list', '--status', 'running', '--since', '1h')).stdout).not.toContain('run-refund');
    const bad = await factory('list', '--since', 'yesterday');
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--since 'yesterday' is not a time/);
  });

  it('shows a readable timeline', async () => {
    const { stdout } = await factory('show', 'run-refund');
    expect(stdout).toMatch(/#\s+3 .*model\.responded .*812 in \/ 40 out tokens, \$0\.0012/);
    expect(stdout).toMatch(/policy\.decided .*payments\.refund → \S*require_approval\S* \(finance-ops\/large-refunds\)/);
    expect((await factory('show', 'nope')).exitCode).toBe(2);
  });

  it('verifies a run and the whole store, and exits 1 naming the first broken event', async () => {
    const one = await factory('verify', 'run-refund');
    expect(one.exitCode).toBe(0);
    expect(one.stdout).toContain(`run run-refund: intact, 5 events, sealed by ${signer.keyId}`);
    // Three seals: each run's start, and run-refund's end.
    expect((await factory('verify', '--all')).stdout).toMatch(/2 run\(s\), 6 events intact; 1 sealed, seal chain of 3 intact/);
    expect((await factory('verify')).exitCode).toBe(2);

    await store.query(sql.raw('ALTER TABLE events DISABLE TRIGGER USER'));
    await store.query(sql.raw(`UPDATE events SET payload = replace(payload, '812', '81') WHERE run_id = 'run-refund' AND seq = 3`));
    await store.query(sql.raw('ALTER TABLE events ENABLE TRIGGER USER'));
    try {
      const broken = await factory('verify', '--all');
      expect(broken.exitCode).toBe(1);
      expect(broken.stdout).toMatch(/broken at run run-refund, seq 3 \(payload_mismatch\)/);
      const json = JSON.parse((await factory('verify', 'run-refund', '--json')).stdout);
      expect(json).toMatchObject({ ok: false, problem: { runId: 'run-refund', seq: 3, kind: 'payload_mismatch' } });
    } finally {
      await store.query(sql.raw('ALTER TABLE events DISABLE TRIGGER USER'));
      await store.query(sql.raw(`UPDATE events SET payload = replace(payload, '81', '812') WHERE run_id = 'run-refund' AND seq = 3`));
      await store.query(sql.raw('ALTER TABLE events ENABLE TRIGGER USER'));
    }
    expect((await factory('verify', 'run-refund')).exitCode).toBe(0);
  });

  it('exports JSONL that verify --file checks offline with the printed key, and OTLP spans', async () => {
    const file = path.join(dataDir, 'export.jsonl');
    const exported = await factory('export', '--all', '--output', file);
    expect(exported.stderr).toMatch(/Exported 13 lines \(jsonl\)/);
    const keyFile = path.join(dataDir, 'auditor.pem');
    writeFileSync(keyFile, (await factory('key')).stdout);
    const offline = await factory('verify', '--file', file, '--key', keyFile);
    expect(offline.exitCode).toBe(0);
    expect(offline.stdout).toMatch(/2 run\(s\), 6 events intact/);
    writeFileSync(file, readFileSync(file, 'utf8').replace('Refunded.', 'Refunded!'));
    const tampered = await factory('verify', '--file', file, '--key', keyFile);
    expect(tampered.exitCode).toBe(1);
    expect(tampered.stdout).toMatch(/run-refund, seq 5 \(payload_mismatch\)/);
    const otlp = await factory('export', 'run-refund', '--format', 'otlp');
    const spans = otlp.stdout
      .trim()
      .split('\n')
      .flatMap((line) => JSON.parse(line).resourceSpans[0].scopeSpans[0].spans as Array<{ name: string }>);
    expect(spans.map((span) => span.name)).toEqual(expect.arrayContaining(['chat gpt-5-mini', 'invoke_agent clerk', 'policy.decided']));
    expect((await factory('export')).exitCode).toBe(2);
  });

  it("erases a subject's payloads; the run still verifies with the erasure counted", async () => {
    const erased = await factory('erase', 'run-refund', '--subject', 'jane@example.com');
    expect(erased.stdout).toContain('Erased 1 payload(s): run-refund#1 run.started.');
    expect((await factory('verify', 'run-refund')).stdout).toContain('intact, 5 events with 1 erased payload(s)');
    expect((await factory('show', 'run-refund')).stdout).toContain('(payload erased)');
    expect((await factory('erase', '--all-runs')).stderr).toMatch(/--all-runs needs --subject/);
  });

  it('verify --witness checks the tail against the checkpoints a witness keeps, and says plainly what it could not check', async () => {
    const witnessDir = mkdtempSync(path.join(tmpdir(), 'aifactory-runs-witness-'));
    try {
      const recorder = createRecorder(store, { signer, witness: openWitness(witnessDir) });
      await recorder.startRun({ id: 'run-witnessed', agent: 'clerk', principal: 'carol' });
      await recorder.finishRun('run-witnessed', { status: 'completed' });
      const witnessed = await factory('verify', '--all', '--witness', witnessDir);
      expect(witnessed.exitCode).toBe(0);
      expect(witnessed.stdout).toMatch(/tail: The seal chain \(head: seal 5\) reaches every checkpoint witness .* holds for store/);
      const json = JSON.parse((await factory('verify', 'run-witnessed', '--witness', witnessDir, '--json')).stdout) as {
        ok: boolean;
        tail: { checkedBy: string };
      };
      expect(json).toMatchObject({ ok: true, tail: { checkedBy: 'witness' } });
      expect((await factory('verify', '--all')).stdout).toMatch(/tail: The tail was checked only against the seal key's own anchor/);
      expect((await factory('verify', '--all', '--witness', path.join(witnessDir, 'missing'))).stderr).toMatch(
        /Witness directory .* does not exist/,
      );
      // An export checked offline against the same witness.
      const file = path.join(witnessDir, 'all.jsonl');
      expect((await factory('export', '--all', '--output', file)).exitCode).toBe(0);
      const offline = await factory('verify', '--file', file, '--witness', witnessDir);
      expect(offline.exitCode).toBe(0);
      expect(offline.stdout).toMatch(/tail: The export's seal chain \(head: seal 5\) reaches every checkpoint witness .* holds for store/);
    } finally {
      rmSync(witnessDir, { recursive: true, force: true });
    }
  });

  it('runs seal refuses, with exit 1, a run it cannot vouch for', async () => {
    // An ended run written straight into the tables: a valid chain, but no start seal.
    const ts = new Date().toISOString();
    const events = [
      { type: 'run.started', payload: JSON.stringify({ agent: 'clerk', principal: 'mallory' }) },
      { type: 'run.completed', payload: '{}' },
    ];
    let previous = genesisHash;
    for (const [index, event] of events.entries()) {
      const salt = newSalt();
      const hashOfPayload = payloadHash(salt, event.payload);
      const hash = eventHash(previous, {
        runId: 'run-invented',
        seq: index + 1,
        ts,
        type: event.type,
        actor: 'mallory',
        payloadHash: hashOfPayload,
        schemaVersion: 1,
      });
      await store.query(sql`INSERT INTO events (run_id, seq, ts, type, actor, payload, payload_salt, payload_hash, schema_version, prev_hash, hash)
        VALUES ('run-invented', ${index + 1}, ${ts}::timestamptz, ${event.type}, 'mallory', ${event.payload}, ${salt}, ${hashOfPayload}, 1, ${previous}, ${hash})`);
      previous = hash;
    }
    await store.query(
      sql`INSERT INTO runs (id, agent, principal, status, started_at) VALUES ('run-invented', 'clerk', 'mallory', 'running', ${ts}::timestamptz)`,
    );
    const verified = await factory('verify', 'run-invented');
    expect(verified.exitCode).toBe(1);
    expect(verified.stdout).toMatch(/run_unattested/);
    expect(verified.stdout).not.toMatch(/runs seal run-invented/);
    const sealed = await factory('seal', 'run-invented');
    expect(sealed.exitCode).toBe(1);
    expect(sealed.stdout).toMatch(/is not sealed: .*no recorded process started it/);
  });
});

describe('factory runs list, page by page', () => {
  let store: Store;
  let signer: SealSigner;
  let dataDir: string;
  beforeAll(async () => {
    store = await openStore();
    dataDir = mkdtempSync(path.join(tmpdir(), 'aifactory-runs-pages-'));
    signer = await loadOrCreateSigner(dataDir);
  });
  afterAll(async () => {
    await store?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });
  afterEach(() => {
    process.exitCode = 0;
  });
  async function factory(...args: string[]) {
    const program = new Command('factory').exitOverride();
    registerRunsCommands(program, { openStore: async () => ({ ...store, close: async () => {} }), signer: async () => signer });
    return runProgram(program, ['runs', ...args]);
  }

  it('lists newest first a page at a time: --limit, --cursor, and nextCursor in --json', async () => {
    const recorder = createRecorder(store, { signer });
    for (const id of ['run-page-1', 'run-page-2', 'run-page-3']) {
      await recorder.startRun({ id, agent: 'pager', principal: 'carol' });
      await new Promise((resolve) => setTimeout(resolve, 5)); // distinct start times
    }
    const first = JSON.parse((await factory('list', '--agent', 'pager', '--limit', '2', '--json')).stdout) as {
      runs: Array<{ id: string }>;
      nextCursor: string | null;
    };
    expect(first.runs.map((run) => run.id)).toEqual(['run-page-3', 'run-page-2']);
    expect(first.nextCursor).toEqual(expect.any(String));
    const text = await factory('list', '--agent', 'pager', '--limit', '2');
    expect(stripVTControlCharacters(text.stdout)).toContain(`More runs: factory runs list --cursor ${first.nextCursor} --limit 2`);
    const second = JSON.parse(
      (await factory('list', '--agent', 'pager', '--limit', '2', '--cursor', first.nextCursor!, '--json')).stdout,
    ) as { runs: Array<{ id: string }>; nextCursor: string | null };
    expect(second).toEqual({ runs: [expect.objectContaining({ id: 'run-page-1' })], nextCursor: null });
    const bad = await factory('list', '--cursor', 'garbage');
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/cursor is not one this server gave out/);
  });
});
