// Nothing secret at rest: a governed run through the runtime — scripted model, the real MCP
// filesystem server returning a file full of secrets, a held write whose arguments carry them, an
// approval, a resume in a second runtime — with markers of every kind in its input and in its tool
// results. Then every column of every table (cast to text; bytea decoded) and every file under the
// home are scanned: no marker, in any of its spellings. Erasing a data subject reaches the
// encrypted checkpoints, approvals and notifications too; the scan stays clean after it.
import { mkdirSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, describe, expect, it } from 'vitest';
import { contentHash } from '@aifactory/core';
import { openStore, sql, type Store } from '@aifactory/store';
import { StoreCheckpointSaver, eraseRunData, listNotifications } from '@aifactory/execution';
import { createWorkspaceRuntime } from '@aifactory/workspace';
import { loadAtRestCipher, verifyRun } from '@aifactory/verification';
import { prepareDemoWorkspace } from '../examples/demo/demo-workspace.ts';

const postgresUrl = process.env.AIFACTORY_TEST_DATABASE_URL;
if (!postgresUrl) console.warn('[secrets-at-rest] AIFACTORY_TEST_DATABASE_URL is not set: the Postgres half is skipped (PGlite runs).');

const alphanumeric = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
/** Random characters from an alphabet, so a marker found can only come from this run. */
function random(length: number, alphabet = alphanumeric): string {
  return [...randomBytes(length)].map((byte) => alphabet[byte % alphabet.length]).join('');
}

interface Marker {
  kind: string;
  /** How it is written into the input and the tool's file. */
  written: string;
  /** Distinctive parts that must appear nowhere at rest (after zero-width characters are dropped and percent-escapes decoded). */
  needles: string[];
}

/** One marker of every kind the redactor promises to find, fresh for each run. */
function makeMarkers(): Marker[] {
  const openai = `sk-proj-${random(40)}`;
  const encodedKey = `sk-proj-${random(36)}`;
  const splitKey = `sk-proj-${random(36)}`;
  const awsSecret = `${random(12)}/${random(15)}+${random(11)}`;
  const upper = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';
  const card = '4539 1488 0343 6467';
  const pem = `-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEI${random(24)}\n-----END PRIVATE KEY-----`;
  const passwords = { postgres: `Pg-${random(14)}`, mongo: `Mg${random(14)}`, redis: `Rd${random(14)}`, amqp: `Mq${random(14)}` };
  const literal = `literal-${random(16)}`;
  const single = (kind: string, value: string): Marker => ({ kind, written: value, needles: [value] });
  return [
    single('openai_key', openai),
    single('anthropic_key', `sk-ant-api03-${random(40)}`),
    single('aws_access_key', `AKIA${random(16, upper)}`),
    { kind: 'aws_secret_key', written: `aws_secret_access_key = ${awsSecret}`, needles: [awsSecret] },
    single('aifactory_token', `aif_${randomBytes(32).toString('base64url')}`),
    single('github_token', `ghp_${random(36)}`),
    single('slack_token', `xoxb-${random(12, '0123456789')}-${random(24)}`),
    single('google_api_key', `AIza${random(35)}`),
    single('stripe_key', `sk_live_${random(24)}`),
    single('jwt', `eyJ${random(20)}.eyJ${random(30)}.${random(30)}`),
    { kind: 'bearer_token', written: `Authorization: Bearer ${'tok'}${random(30)}`, needles: [] },
    { kind: 'private_key', written: pem, needles: [pem.split('\n')[1]!] },
    { kind: 'connection_password', written: `postgres://app:${passwords.postgres}@db.internal:5432/app`, needles: [passwords.postgres] },
    {
      kind: 'connection_password',
      written: `mongodb+srv://reader:${passwords.mongo}@cluster0.example.mongodb.net/db`,
      needles: [passwords.mongo],
    },
    { kind: 'connection_password', written: `redis://:${passwords.redis}@cache:6379/0`, needles: [passwords.redis] },
    { kind: 'connection_password', written: `amqp://guest:${passwords.amqp}@mq.internal/vhost`, needles: [passwords.amqp] },
    {
      kind: 'url_encoded_key',
      written: `https://api.example.com/v1?key=${encodeURIComponent(encodedKey).replaceAll('-', '%2D')}`,
      needles: [encodedKey, encodedKey.slice(8)],
    },
    {
      kind: 'zero_width_split_key',
      written: `${splitKey.slice(0, 14)}\u200B${splitKey.slice(14, 30)}\u2060${splitKey.slice(30)}`,
      needles: [splitKey, splitKey.slice(14, 30)],
    },
    single('secret', literal),
    single('email', `jane.${random(10).toLowerCase()}@example.com`),
    single('iban', 'DE89 3704 0044 0532 0130 00'),
    single('credit_card', card),
    single('phone', `+44 20 ${random(4, '123456789')} ${random(4, '123456789')}`),
    single('us_ssn', `${random(3, '12345678')}-${random(2, '123456789')}-${random(4, '123456789')}`),
  ].map((marker) => (marker.needles.length > 0 ? marker : { ...marker, needles: [marker.written.split(' ').at(-1)!] }));
}

/** Drops invisible characters and decodes percent-escapes, as someone hunting for a key would. */
function normalise(text: string): string {
  return text
    .replace(/[\u00AD\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\uFEFF]/g, '')
    .replace(/%([0-9A-Fa-f]{2})/g, (_match, hex: string) => String.fromCharCode(Number.parseInt(hex, 16)));
}

/** Every needle found in text, with where. */
function findNeedles(text: string, markers: Marker[], where: string): string[] {
  const views = [text, normalise(text)];
  const found: string[] = [];
  for (const marker of markers) {
    for (const needle of marker.needles) if (views.some((view) => view.includes(needle))) found.push(`${marker.kind} in ${where}`);
  }
  return found;
}

/** Every column of every table of the store's schema, cast to text (bytea decoded), searched for the markers. */
async function scanTables(store: Store, markers: Marker[]): Promise<{ found: string[]; cells: number; tables: number }> {
  const schema = store.kind === 'postgres' ? store.schemaName : 'public';
  const columns = await store.query<{ table_name: string; column_name: string; data_type: string }>(
    sql`select c.table_name, c.column_name, c.data_type from information_schema.columns c join information_schema.tables t on t.table_schema = c.table_schema and t.table_name = c.table_name where c.table_schema = ${schema} and t.table_type = 'BASE TABLE' order by c.table_name, c.ordinal_position`,
  );
  const found: string[] = [];
  let cells = 0;
  for (const column of columns) {
    const reference = `"${schema}"."${column.table_name}"."${column.column_name}"`;
    const expression = column.data_type === 'bytea' ? `encode("${column.column_name}", 'escape')` : `"${column.column_name}"::text`;
    const rows = await store.query<{ value: string | null }>(
      sql.raw(`select ${expression} as value from "${schema}"."${column.table_name}"`),
    );
    for (const row of rows) {
      if (row.value === null) continue;
      cells += 1;
      found.push(...findNeedles(row.value, markers, reference));
    }
  }
  return { found, cells, tables: new Set(columns.map((column) => column.table_name)).size };
}

/** Every file under a folder, read as bytes and searched as Latin-1 text. */
function scanFiles(root: string, markers: Marker[]): { found: string[]; files: number } {
  const found: string[] = [];
  let files = 0;
  const walk = (folder: string) => {
    for (const entry of readdirSync(folder)) {
      const file = path.join(folder, entry);
      const stats = statSync(file);
      if (stats.isDirectory()) walk(file);
      else if (stats.isFile()) {
        files += 1;
        const bytes = readFileSync(file);
        found.push(...findNeedles(bytes.toString('latin1'), markers, file), ...findNeedles(bytes.toString('utf8'), markers, file));
      }
    }
  };
  walk(root);
  return { found: [...new Set(found)], files };
}

const engines = [
  { name: 'pglite', skip: false },
  { name: 'postgres', skip: !postgresUrl },
];

for (const engine of engines) {
  describe.skipIf(engine.skip)(`secrets at rest on ${engine.name}`, () => {
    const cleanups: Array<() => Promise<void> | void> = [];
    afterAll(async () => {
      for (const cleanup of cleanups.reverse()) await cleanup();
    });

    it('keeps every marker of every kind out of every table and every file under the home, before and after erasure', async () => {
      const demo = prepareDemoWorkspace();
      cleanups.push(() => rmSync(demo.root, { recursive: true, force: true }));
      const markers = makeMarkers();
      const subject = `customer-${random(12)}`;
      const secretsText = `${subject}\n${markers.map((marker) => `${marker.kind}: ${marker.written}`).join('\n')}\n`;
      const statement = `statement-${random(6).toLowerCase()}.txt`;
      writeFileSync(path.join(demo.sharedFolder, 'invoices', statement), secretsText);

      // The home: the data directory with keys, the redaction configuration and (PGlite) the store.
      mkdirSync(demo.dataDir, { recursive: true });
      const literal = markers.find((marker) => marker.kind === 'secret')!.written;
      // A literal secret comes from the environment (secretEnv), so the home never holds it either.
      const variable = `AIFACTORY_TEST_SECRET_${random(6).toUpperCase()}`;
      process.env[variable] = literal;
      cleanups.push(() => {
        delete process.env[variable];
      });
      writeFileSync(
        path.join(demo.dataDir, 'redaction.json'),
        JSON.stringify({ pii: ['email', 'phone', 'iban', 'credit_card', 'us_ssn'], secretEnv: [variable] }),
      );
      // An agent of our own over the real filesystem MCP server: read the statement (notifies
      // finance), write its secrets into a report (held for an ops lead), answer with the result.
      const fileClerk = readFileSync(path.join(demo.agentsDir, 'file-clerk.yaml'), 'utf8');
      writeFileSync(
        path.join(demo.agentsDir, 'secrets-clerk.yaml'),
        fileClerk.replace('name: file-clerk', 'name: secrets-clerk').replaceAll('file-clerk.script', 'secrets-clerk.script'),
      );
      const writeArgs = { path: `reports/${statement}`, content: `Copied for ${subject}:\n${secretsText}` };
      const script = {
        description: 'Copies a statement full of secrets into a report.',
        scenarios: [
          {
            turns: [
              { say: 'Reading the statement.', tool_calls: [{ name: 'fs.read_text_file', args: { path: `invoices/${statement}` } }] },
              { say: 'Copying it to reports.', tool_calls: [{ name: 'fs.write_file', args: writeArgs }] },
              { say: 'Done: {{last_tool_result}}' },
            ],
          },
        ],
      };
      writeFileSync(path.join(demo.agentsDir, 'scripts', 'secrets-clerk.script.yaml'), JSON.stringify(script, null, 2));

      const store: Store =
        engine.name === 'postgres'
          ? await openStore({ databaseUrl: postgresUrl!, schema: `t_secrets_${randomUUID().slice(0, 8)}` })
          : await openStore({ dataDir: path.join(demo.dataDir, 'pglite') });
      let closed = false;
      cleanups.push(async () => {
        if (closed) return;
        if (store.kind === 'postgres') await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${store.schemaName}" CASCADE`));
        await store.close();
      });

      const first = await createWorkspaceRuntime({ store, dataDir: demo.dataDir, agentsDir: demo.agentsDir });
      cleanups.push(() => (closed ? undefined : first.close()));
      const input = `Please file the statement for ${subject}. For reference: ${markers.map((marker) => marker.written).join(' | ')}`;
      const started = await first.runtime.start('secrets-clerk', input, { principal: { id: 'alice@acme.example', roles: ['clerk'] } });
      expect(started.status).toBe('held');
      if (started.status !== 'held') return;

      // Approvers see masked arguments and the hash of the real ones they approve.
      const approval = await first.approvals.get(started.held.approvalId);
      expect(approval.argsHash).toBe(contentHash(writeArgs));
      expect(findNeedles(JSON.stringify(approval), markers, 'the approval as shown')).toEqual([]);
      expect(JSON.stringify(approval.action.args)).toMatch(/\[REDACTED:openai_key:[0-9a-f]{8}\]/);
      expect(await listNotifications(store, { inbox: 'finance' })).toHaveLength(1);

      await first.approvals.vote(started.held.approvalId, {
        approver: { id: 'bob@acme.example', roles: ['ops-lead'] },
        vote: 'approve',
        comment: `ok, contains ${markers[0]!.written}`,
      });
      const second = await createWorkspaceRuntime({ store, dataDir: demo.dataDir, agentsDir: demo.agentsDir });
      cleanups.push(() => (closed ? undefined : second.close()));
      const finished = await second.runtime.resume(started.runId, { approvalId: started.held.approvalId });
      expect(finished.status).toBe('completed');
      // The checkpoint gave the resumed run the real arguments: the tool wrote the real secrets.
      expect(readFileSync(path.join(demo.sharedFolder, 'reports', statement), 'utf8')).toBe(writeArgs.content);

      const before = await scanTables(store, markers);
      expect(before.tables).toBeGreaterThanOrEqual(12);
      expect(before.cells).toBeGreaterThan(100);
      expect(before.found).toEqual([]);
      // The subject is not a secret: the trace keeps it, so erasure has something to find.
      expect(
        (await store.query<{ n: number }>(sql`select count(*)::int as n from events where strpos(payload, ${subject}) > 0`))[0]!.n,
      ).toBeGreaterThan(0);

      const erased = await eraseRunData(store, { subject }, { cipher: await loadAtRestCipher(demo.dataDir) });
      expect(erased.erased.length).toBeGreaterThan(0);
      expect(erased.checkpointValuesRewritten).toBeGreaterThan(0);
      expect(erased.approvals).toBe(1);
      expect((await verifyRun(store, started.runId)).ok).toBe(true);
      const after = await scanTables(store, [...markers, { kind: 'subject', written: subject, needles: [subject] }]);
      expect(after.found).toEqual([]);
      // Nor in the checkpoints once opened with the key.
      const saver = new StoreCheckpointSaver(store, { cipher: await loadAtRestCipher(demo.dataDir) });
      const history: string[] = [];
      for await (const tuple of saver.list({ configurable: { thread_id: started.runId } })) history.push(JSON.stringify(tuple));
      expect(history.length).toBeGreaterThan(0);
      expect(history.join('\n')).not.toContain(subject);
      expect(history.join('\n')).toContain('[ERASED]');

      await first.close();
      await second.close();
      if (store.kind === 'postgres') await store.query(sql.raw(`DROP SCHEMA IF EXISTS "${store.schemaName}" CASCADE`));
      await store.close();
      closed = true;
      const files = scanFiles(demo.dataDir, markers);
      expect(files.files).toBeGreaterThan(engine.name === 'pglite' ? 100 : 2);
      expect(files.found).toEqual([]);
    });
  });
}
