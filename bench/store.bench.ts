// `pnpm bench store`: the price of integrity and the speed of proof.
//  1. Durable append throughput (events/s), 1 run and 16 concurrent runs, on PGlite (a data
//     directory) and Postgres, side by side with a plain INSERT of the same rows without chaining
//     (ratio = chained / plain: what the hash chain, validation and write-ahead cost). Checkpoints
//     are on, tighter than the default (a checkpoint seal every 50 events of a run, each signed
//     and handed to a directory witness), so their cost is in the chained figure.
//  2. Verification and export over 1,000,000 events on Postgres (BENCH_QUICK=1: 50,000), each in a
//     child process so its peak RSS is its own, measured at 10% and at 100% of the store to show
//     memory stays flat as the log grows. The store is built with a fast bulk path (a valid chain
//     generated in memory and COPYed in), not through the recorder. Verification checks the tail
//     against a directory witness holding a signed checkpoint of every seal.
// Postgres: AIFACTORY_BENCH_DATABASE_URL or postgres://postgres@127.0.0.1:5432/test, in a fresh
// schema dropped afterwards. Figures go to bench/results/store.json.
import { spawnSync } from 'node:child_process';
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { once } from 'node:events';
import { appendFileSync, createWriteStream, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalJson } from '../packages/core/src/index.ts';
import { openStore, sql, type Store } from '../packages/store/src/index.ts';
import {
  createRecorder,
  checkpointJson,
  createSigner,
  eventHash,
  exportJsonl,
  genesisHash,
  genesisSealHash,
  newSalt,
  openWitness,
  payloadHash,
  readStoreId,
  sealHash,
  sealMessage,
  signCheckpoint,
  verifyAll,
  type SealSigner,
} from '../packages/verification/src/index.ts';

const quick = process.env.BENCH_QUICK === '1';
const databaseUrl = process.env.AIFACTORY_BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const benchDir = path.dirname(fileURLToPath(import.meta.url));
const payload = {
  step: 1,
  name: 'payments.refund',
  call_id: 'call_01',
  args: { order: 'ord_42', amount: 40, currency: 'EUR', reason: 'damaged on arrival' },
};

// ---------------------------------------------------------------------------------------------
// Child mode: verify or export a schema, report time and peak RSS as JSON on stdout.
if (process.argv[2] === '--child') {
  const [, , , task, url, schema, witnessDir, publicKey] = process.argv;
  const store = await openStore({ databaseUrl: url!, schema: schema!, migrate: false, maxConnections: 2 });
  let started = performance.now();
  let events = 0;
  let coldEventsPerSecond: number | undefined;
  if (task === 'verify') {
    // Twice: the first pass pays for a cold JIT and cold caches; the second shows the steady rate.
    for (let pass = 0; pass < 2; pass += 1) {
      if (pass === 1) started = performance.now();
      const summary = await verifyAll(store, { trustedKeys: [publicKey!], witness: openWitness(witnessDir!) });
      if (summary.tail.checkedBy !== 'witness') throw new Error(`bench verify did not check the witness: ${summary.tail.message}`);
      if (!summary.ok) throw new Error(`bench store does not verify: ${JSON.stringify(summary.problem)}`);
      events = summary.events;
      if (pass === 0) coldEventsPerSecond = Math.round(events / ((performance.now() - started) / 1000));
    }
  } else {
    const output = createWriteStream('/dev/null');
    for await (const line of exportJsonl(store, {})) {
      // (unsigned: the bench measures reading and formatting, not one signature at the end)
      if (line.startsWith('{"kind":"event"')) events += 1;
      if (!output.write(line)) await once(output, 'drain');
    }
    output.end();
  }
  const seconds = (performance.now() - started) / 1000;
  await store.close();
  process.stdout.write(
    JSON.stringify({
      events,
      seconds,
      eventsPerSecond: Math.round(events / seconds),
      coldEventsPerSecond,
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
    }),
  );
  process.exit(0);
}

// ---------------------------------------------------------------------------------------------
// 1. Append throughput.

interface AppendFigure {
  engine: string;
  runs: number;
  events: number;
  chainedPerSecond: number;
  plainPerSecond: number;
  ratio: number;
}

const plainInsert = `INSERT INTO events (run_id, seq, ts, type, actor, payload, payload_salt, payload_hash, schema_version, prev_hash, hash)
  VALUES ($1, $2, $3::timestamptz, $4, $5, $6, $7, $8, 1, $9, $10)`;

async function plainAppend(store: Store, runId: string, count: number): Promise<void> {
  const text = canonicalJson(payload);
  const filler = 'f'.repeat(64);
  for (let seq = 1; seq <= count; seq += 1) {
    const params = [runId, seq, new Date().toISOString(), 'tool.called', 'bench', text, 'a'.repeat(32), filler, filler, filler];
    if (store.driver.kind === 'pglite') await store.driver.client.query(plainInsert, params);
    else await store.driver.client.unsafe(plainInsert, params, { prepare: true });
  }
}

const appendWitnessDir = mkdtempSync(path.join(tmpdir(), 'aifactory-bench-witness-'));

async function chainedAppend(store: Store, signer: SealSigner, runIds: string[], perRun: number): Promise<number> {
  const recorder = createRecorder(store, {
    signer,
    witness: openWitness(appendWitnessDir),
    checkpoints: { everyEvents: 50, everySeconds: 60 },
  });
  await Promise.all(runIds.map((id) => recorder.startRun({ id, agent: 'bench', principal: 'bench' })));
  const started = performance.now();
  await Promise.all(
    runIds.map(async (id) => {
      for (let index = 1; index < perRun; index += 1) await recorder.record(id, { type: 'tool.called', actor: 'bench', payload });
    }),
  );
  return (runIds.length * (perRun - 1)) / ((performance.now() - started) / 1000);
}

async function measureAppend(engine: string, store: Store, runs: number, perRun: number): Promise<AppendFigure> {
  const signer = createSigner(generateKeyPairSync('ed25519').privateKey);
  const tag = randomUUID().slice(0, 8);
  // Alternate and repeat (plain, chained, plain, chained) so drift in the machine's load hits both.
  const chained: number[] = [];
  const plain: number[] = [];
  for (let round = 0; round < 2; round += 1) {
    const plainIds = Array.from({ length: runs }, (_, index) => `plain-${tag}-${round}-${index}`);
    const started = performance.now();
    await Promise.all(plainIds.map((id) => plainAppend(store, id, perRun - 1)));
    plain.push((runs * (perRun - 1)) / ((performance.now() - started) / 1000));
    chained.push(
      await chainedAppend(
        store,
        signer,
        Array.from({ length: runs }, (_, index) => `chain-${tag}-${round}-${index}`),
        perRun,
      ),
    );
  }
  const best = (values: number[]) => Math.round(Math.max(...values));
  return {
    engine,
    runs,
    events: runs * (perRun - 1),
    chainedPerSecond: best(chained),
    plainPerSecond: best(plain),
    ratio: Number((best(chained) / best(plain)).toFixed(2)),
  };
}

// ---------------------------------------------------------------------------------------------
// 2. A large valid store, built fast: chain generated in memory, COPYed in, runs and seals too.

function csv(value: string | number | null): string {
  if (value === null) return '';
  const text = String(value);
  return /[",\n\r]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text;
}

async function bulkBuild(
  store: Store,
  signer: SealSigner,
  witnessDir: string,
  fromRun: number,
  toRun: number,
  perRun: number,
  seal: { seq: number; hash: string },
): Promise<{ seq: number; hash: string }> {
  if (store.driver.kind !== 'postgres') throw new Error('bulk build is for Postgres');
  const storeId = (await readStoreId(store))!;
  const witnessLines: string[] = [];
  const client = store.driver.client;
  const base = Date.UTC(2026, 0, 1);
  const payloadText = canonicalJson(payload);
  const startedText = canonicalJson({ agent: 'bench', principal: 'bench' });
  let sealState = seal;
  const batchRuns = 50;
  for (let first = fromRun; first < toRun; first += batchRuns) {
    const last = Math.min(toRun, first + batchRuns);
    const eventLines: string[] = [];
    const runLines: string[] = [];
    const sealLines: string[] = [];
    for (let run = first; run < last; run += 1) {
      const runId = `bulk-${String(run).padStart(6, '0')}`;
      // The runs row's started_at is run.started's ts (verification compares them).
      const startedAt = new Date(base + run * 60_000 + 1).toISOString();
      let previous = genesisHash;
      for (let seq = 1; seq <= perRun; seq += 1) {
        const type = seq === 1 ? 'run.started' : seq === perRun ? 'run.completed' : 'tool.called';
        const text = seq === 1 ? startedText : seq === perRun ? '{}' : payloadText;
        const ts = new Date(base + run * 60_000 + seq).toISOString();
        const salt = newSalt();
        const hashOfPayload = payloadHash(salt, text);
        const hash = eventHash(previous, { runId, seq, ts, type, actor: 'bench', payloadHash: hashOfPayload, schemaVersion: 1 });
        eventLines.push([runId, seq, ts, type, 'bench', text, salt, hashOfPayload, 1, previous, hash].map(csv).join(','));
        previous = hash;
      }
      const endedAt = new Date(base + run * 60_000 + perRun).toISOString();
      runLines.push([runId, 'bench', 'bench', 'completed', startedAt, endedAt, perRun, previous].map(csv).join(','));
      const fields = {
        kind: 'final' as const,
        storeId,
        seq: sealState.seq + 1,
        runId,
        headSeq: perRun,
        headHash: previous,
        prevSealHash: sealState.hash,
        keyId: signer.keyId,
        ts: endedAt,
      };
      const message = sealMessage(fields);
      const signature = signer.sign(message);
      const hash = sealHash(message, signature);
      sealLines.push(
        [fields.seq, runId, 'final', storeId, perRun, previous, signer.keyId, signer.publicKey, sealState.hash, hash, signature, endedAt]
          .map(csv)
          .join(','),
      );
      sealState = { seq: fields.seq, hash };
      // What a recorder hands its witness after every seal.
      witnessLines.push(
        JSON.stringify(checkpointJson(signCheckpoint(signer, { storeId, sealSeq: fields.seq, sealHash: hash, ts: new Date(endedAt) }))),
      );
    }
    const copy = async (statement: string, lines: string[]) => {
      const writable = await client.unsafe(statement).writable();
      writable.write(`${lines.join('\n')}\n`);
      writable.end();
      await once(writable, 'finish');
    };
    await copy(
      'COPY events (run_id, seq, ts, type, actor, payload, payload_salt, payload_hash, schema_version, prev_hash, hash) FROM STDIN WITH (FORMAT csv)',
      eventLines,
    );
    await copy(
      'COPY runs (id, agent, principal, status, started_at, ended_at, head_seq, head_hash) FROM STDIN WITH (FORMAT csv)',
      runLines,
    );
    await copy(
      'COPY seals (seq, run_id, kind, store_id, head_seq, head_hash, key_id, public_key, prev_seal_hash, seal_hash, signature, ts) FROM STDIN WITH (FORMAT csv)',
      sealLines,
    );
  }
  appendFileSync(path.join(witnessDir, `${storeId}.jsonl`), `${witnessLines.join('\n')}\n`);
  return sealState;
}

interface ChildFigure {
  events: number;
  seconds: number;
  /** verify: the second pass; export: the only pass. */
  eventsPerSecond: number;
  /** verify: the first pass (cold JIT and caches). */
  coldEventsPerSecond?: number;
  peakRssMiB: number;
}

function child(task: 'verify' | 'export', schema: string, witnessDir: string, publicKey: string): ChildFigure {
  const result = spawnSync(
    process.execPath,
    [fileURLToPath(import.meta.url), '--child', task, databaseUrl, schema, witnessDir, publicKey],
    { encoding: 'utf8', maxBuffer: 1 << 20 },
  );
  if (result.status !== 0) throw new Error(`${task} child failed: ${result.stderr}`);
  return JSON.parse(result.stdout) as ChildFigure;
}

// ---------------------------------------------------------------------------------------------

const results: Record<string, unknown> = { quick, machine: { cpus: (await import('node:os')).cpus().length, node: process.version } };
const append: AppendFigure[] = [];

// PGlite: the embedded default, durable in a data directory.
const pgliteDir = mkdtempSync(path.join(tmpdir(), 'aifactory-bench-store-'));
try {
  const store = await openStore({ dataDir: pgliteDir });
  append.push(await measureAppend('pglite', store, 1, quick ? 200 : 1000));
  append.push(await measureAppend('pglite', store, 16, quick ? 25 : 125));
  await store.close();
} finally {
  rmSync(pgliteDir, { recursive: true, force: true });
}

// Postgres, in a fresh schema.
const appendSchema = `bench_store_${randomUUID().replace(/-/g, '').slice(0, 8)}`;
let postgresAvailable = true;
try {
  const store = await openStore({ databaseUrl, schema: appendSchema, maxConnections: 20 });
  try {
    append.push(await measureAppend('postgres', store, 1, quick ? 300 : 2000));
    append.push(await measureAppend('postgres', store, 16, quick ? 60 : 400));
  } finally {
    await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${appendSchema}" CASCADE`));
    await store.close();
  }
} catch (error) {
  postgresAvailable = false;
  process.stderr.write(`Postgres at ${databaseUrl} unavailable, its figures are skipped: ${(error as Error).message}\n`);
}
results.append = append;
console.table(
  append.map((figure) => ({
    engine: figure.engine,
    runs: figure.runs,
    events: figure.events,
    'chained ev/s': figure.chainedPerSecond,
    'plain ev/s': figure.plainPerSecond,
    ratio: figure.ratio,
  })),
);

if (postgresAvailable) {
  const total = quick ? 50_000 : 1_000_000;
  const perRun = 1000;
  const runs = total / perRun;
  const schema = `bench_verify_${randomUUID().replace(/-/g, '').slice(0, 8)}`;
  const store = await openStore({ databaseUrl, schema, maxConnections: 2 });
  const witnessDir = mkdtempSync(path.join(tmpdir(), 'aifactory-bench-verify-witness-'));
  try {
    const signer = createSigner(generateKeyPairSync('ed25519').privateKey);
    const tenth = Math.max(1, Math.round(runs / 10));
    const buildStarted = performance.now();
    const seal = await bulkBuild(store, signer, witnessDir, 0, tenth, perRun, { seq: 0, hash: genesisSealHash });
    await store.query(sql.raw(`VACUUM ANALYZE "${schema}".events`));
    const verifySmall = child('verify', schema, witnessDir, signer.publicKey);
    const exportSmall = child('export', schema, witnessDir, signer.publicKey);
    await bulkBuild(store, signer, witnessDir, tenth, runs, perRun, seal);
    await store.query(sql.raw(`VACUUM ANALYZE "${schema}".events`));
    const buildSeconds = (performance.now() - buildStarted) / 1000;
    const verifyFull = child('verify', schema, witnessDir, signer.publicKey);
    const exportFull = child('export', schema, witnessDir, signer.publicKey);
    const proof = {
      events: total,
      runs,
      buildSeconds: Number(buildSeconds.toFixed(1)),
      verify: { at10Percent: verifySmall, atFull: verifyFull },
      export: { at10Percent: exportSmall, atFull: exportFull },
    };
    results.proof = proof;
    console.table([
      {
        task: 'verify (first pass)',
        events: verifySmall.events,
        'ev/s': verifySmall.coldEventsPerSecond,
        'peak RSS MiB': verifySmall.peakRssMiB,
      },
      {
        task: 'verify (second pass)',
        events: verifySmall.events,
        'ev/s': verifySmall.eventsPerSecond,
        'peak RSS MiB': verifySmall.peakRssMiB,
      },
      {
        task: 'verify (first pass)',
        events: verifyFull.events,
        'ev/s': verifyFull.coldEventsPerSecond,
        'peak RSS MiB': verifyFull.peakRssMiB,
      },
      {
        task: 'verify (second pass)',
        events: verifyFull.events,
        'ev/s': verifyFull.eventsPerSecond,
        'peak RSS MiB': verifyFull.peakRssMiB,
      },
      { task: 'export jsonl', events: exportSmall.events, 'ev/s': exportSmall.eventsPerSecond, 'peak RSS MiB': exportSmall.peakRssMiB },
      { task: 'export jsonl', events: exportFull.events, 'ev/s': exportFull.eventsPerSecond, 'peak RSS MiB': exportFull.peakRssMiB },
    ]);
  } finally {
    await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`));
    await store.close();
    rmSync(witnessDir, { recursive: true, force: true });
  }
}
rmSync(appendWitnessDir, { recursive: true, force: true });

const postgres16 = append.find((figure) => figure.engine === 'postgres' && figure.runs === 16);
const verifyFigure = (results.proof as { verify?: { atFull: { eventsPerSecond: number } } } | undefined)?.verify?.atFull.eventsPerSecond;
results.load = (await import('node:os')).loadavg().map((value) => Number(value.toFixed(2)));
results.targets = {
  chainedAtLeast80PercentOfPlainAt16RunsOnPostgres: postgres16 ? postgres16.ratio >= 0.8 : null,
  verifyWithWitnessAtLeast300kEventsPerSecond: verifyFigure !== undefined ? verifyFigure >= 300_000 : null,
};
console.log('targets', results.targets);
mkdirSync(path.join(benchDir, 'results'), { recursive: true });
writeFileSync(path.join(benchDir, 'results', 'store.json'), `${JSON.stringify(results, null, 2)}\n`);
