// Redaction patterns, the keys in the data directory, and the hashing rules, without a store.
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, chmodSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { canonicalJson, sha256Hex } from '@aifactory/core';
import {
  canonicalHeader,
  createRedactor,
  eventHash,
  ibanChecksumValid,
  loadOrCreateRedactionKey,
  loadOrCreateSigner,
  luhnValid,
  readPublicKeyFile,
  sealMessage,
  verifySealSignature,
} from '../src/index.ts';
import {
  detectionText,
  detectSpans,
  secretDetectors,
  secretDetectorsSafeText,
  secretDetectorsShortestMatch,
} from '../src/secret-detectors.ts';

const key = Buffer.alloc(32, 1);
const firstStartChild = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'first-start-child.ts');

describe('redaction', () => {
  const redactor = createRedactor({ key, pii: ['email', 'phone', 'iban', 'credit_card'], secrets: ['correct-horse-battery'] });

  it.each([
    ['openai_key', `sk-proj-${'Ab3d'.repeat(10)}`],
    ['anthropic_key', `sk-ant-api03-${'x9Y_'.repeat(10)}`],
    ['aws_access_key', 'AKIAIOSFODNN7EXAMPLE'],
    ['github_token', `ghp_${'a1B2c3D4e5'.repeat(4)}`],
    ['private_key', '-----BEGIN PRIVATE KEY-----\nMC4CAQAwBQYDK2VwBCIEIJ+fake\n-----END PRIVATE KEY-----'],
    ['secret', 'correct-horse-battery'],
    ['email', 'jane.doe@example.com'],
    ['iban', 'DE89 3704 0044 0532 0130 00'],
    ['credit_card', '4111 1111 1111 1111'],
    ['phone', '+44 20 7946 0958'],
  ])('replaces a %s with a typed placeholder carrying a keyed hash', (kind, value) => {
    const result = redactor.redact({ text: `before ${value} after` });
    expect(result.value.text).toMatch(new RegExp(`^before \\[REDACTED:${kind}:[0-9a-f]{8}\\] after$`));
    expect(result.value.text).not.toContain(value);
    expect(result.redactions).toEqual([{ path: 'text', kind }]);
  });

  it('keeps the token word of a bearer header and redacts the token', () => {
    const { value } = redactor.redact({ header: 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz012345' });
    expect(value.header).toMatch(/^Authorization: Bearer \[REDACTED:bearer_token:[0-9a-f]{8}\]$/);
  });

  it('gives equal values equal placeholders and different keys different ones, so auditors can compare without reading', () => {
    const first = redactor.redactText('mail jane@example.com').text;
    const again = redactor.redactText('jane@example.com was here').text;
    expect(first.match(/\[REDACTED:email:[0-9a-f]{8}\]/)![0]).toBe(again.match(/\[REDACTED:email:[0-9a-f]{8}\]/)![0]);
    const other = createRedactor({ key: Buffer.alloc(32, 2), pii: ['email'] }).redactText('jane@example.com').text;
    expect(other).not.toBe(first.slice(5));
  });

  it('leaves numbers that fail the card and IBAN checksums, content hashes and PII when not enabled', () => {
    expect(redactor.redactText('order 4111 1111 1111 1112').kinds).toEqual([]);
    expect(createRedactor({ key, pii: ['iban'] }).redactText('DE89 3704 0044 0532 0130 01').kinds).toEqual([]);
    expect(redactor.redactText(sha256Hex('x')).kinds).toEqual([]);
    expect(createRedactor({ key }).redactText('jane@example.com').kinds).toEqual([]);
    expect(luhnValid('4111111111111111')).toBe(true);
    expect(ibanChecksumValid('GB82WEST12345698765432')).toBe(true);
  });

  it('walks arrays and nested objects, noting every path', () => {
    const result = redactor.redact({ messages: [{ content: 'hi' }, { content: 'call +1 415 555 0100 or mail a@b.co' }] });
    expect(result.redactions).toEqual([
      { path: 'messages[1].content', kind: 'email' },
      { path: 'messages[1].content', kind: 'phone' },
    ]);
    expect(createRedactor({ key }).redact({ a: 1 }).redactions).toEqual([]);
  });

  const awsSecret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
  const openai = `sk-proj-${'Ab3d'.repeat(10)}`;

  it.each([
    ['aws_secret_key', `aws_secret_access_key = ${awsSecret}`, awsSecret],
    ['aws_secret_key', `{"AccessKeyId":"ASIAY34FZKBOKMUTVV7A","SecretAccessKey":"${awsSecret}"}`, awsSecret],
    ['aws_secret_key', `the key is ${'q8Zr/Tn3Kx0pVb+2Lm9YwHc4Rd7Gf1Js5Ue6Ai0O'} ok`, 'q8Zr/Tn3Kx0pVb+2Lm9YwHc4Rd7Gf1Js5Ue6Ai0O'],
    ['aifactory_token', 'token aif_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg used', 'aif_Zm9vYmFyYmF6cXV4MTIzNDU2Nzg5MGFiY2RlZg'],
    ['connection_password', 'postgres://app:S3cr3t-pw@db.internal:5432/app', 'S3cr3t-pw'],
    ['connection_password', 'postgresql://app:p@ss@word@db/app?sslmode=require', 'p@ss@word'],
    ['connection_password', 'mongodb+srv://reader:m0ngoPass@cluster0.abc.mongodb.net/db', 'm0ngoPass'],
    ['connection_password', 'redis://:r3disPassw0rd@cache:6379/0', 'r3disPassw0rd'],
    ['connection_password', 'amqps://guest:rabbitPass1@mq.internal/vhost', 'rabbitPass1'],
    ['credential', 'Server=db;User Id=app;Password=Adonet-Pass9;', 'Adonet-Pass9'],
    ['credential', 'export DB_PASSWORD="envPassw0rd!"', 'envPassw0rd!'],
  ])('finds a %s in %j', (kind, text, secret) => {
    const { text: redacted, kinds } = redactor.redactText(text);
    expect(kinds).toContain(kind);
    expect(redacted).not.toContain(secret);
  });

  it('keeps the user and host of a connection string and replaces only its password', () => {
    expect(redactor.redactText('postgres://app:S3cr3t-pw@db.internal:5432/app').text).toMatch(
      /^postgres:\/\/app:\[REDACTED:connection_password:[0-9a-f]{8}\]@db\.internal:5432\/app$/,
    );
  });

  it("normalises before matching: a key split by zero-width characters, percent-encoded or in full-width letters gets the plain key's placeholder", () => {
    const plain = redactor.redactText(openai).text;
    expect(plain).toMatch(/^\[REDACTED:openai_key:[0-9a-f]{8}\]$/);
    const split = `${openai.slice(0, 10)}\u200B${openai.slice(10, 20)}\u2060${openai.slice(20)}`;
    const encoded = encodeURIComponent(openai).replaceAll('-', '%2D');
    const fullWidth = [...openai]
      .map((character) => (/[A-Za-z0-9]/.test(character) ? String.fromCharCode(character.charCodeAt(0) + 0xfee0) : character))
      .join('');
    for (const variant of [split, `key=${encoded}&x=1`, fullWidth, `AK\u200BIAIOSFODNN7EXAMPLE`]) {
      const { text } = redactor.redactText(variant);
      expect(text).not.toMatch(/Ab3d|AKIA|IOSFODNN/);
      expect(text).toMatch(/\[REDACTED:(openai_key|aws_access_key):[0-9a-f]{8}\]/);
    }
    expect(redactor.redactText(split).text).toBe(plain);
    expect(redactor.redactText(`key=${encoded}&x=1`).text).toBe(`key=${plain}&x=1`);
  });

  it('redacts the whole value of a secret-named field, whatever it looks like, and notes its path', () => {
    const result = redactor.redact({
      db: { password: 'hunter2', apiKey: 'plainword', aws_secret_access_key: awsSecret, passwordHint: 'pet name', token_id: 'tok_1' },
    });
    expect(result.value.db.password).toMatch(/^\[REDACTED:secret_field:[0-9a-f]{8}\]$/);
    expect(result.value.db.apiKey).toMatch(/^\[REDACTED:secret_field:[0-9a-f]{8}\]$/);
    expect(result.value.db.aws_secret_access_key).toMatch(/^\[REDACTED:(secret_field|aws_secret_key):[0-9a-f]{8}\]$/);
    expect(result.value.db.passwordHint).toBe('pet name');
    expect(result.value.db.token_id).toBe('tok_1');
    expect(result.redactions.map((note) => note.path)).toEqual(['db.password', 'db.apiKey', 'db.aws_secret_access_key']);
  });

  it('leaves look-alikes alone: sha1 hex, 40-character paths, prose about passwords, and its own placeholders', () => {
    const quiet = createRedactor({ key });
    for (const text of [
      'commit 2fd4e1c67a2d28fced849ee1bb76e7391b93eb12',
      'src/components/button/index/helpers/abc12',
      'Passwords must be rotated; the password policy is strict.',
      'see https://example.com/docs/page?id=42',
      '[REDACTED:secret:0a1b2c3d] and secret: [REDACTED:openai_key:0a1b2c3d]',
    ]) {
      expect(quiet.redactText(text)).toEqual({ text, kinds: [] });
    }
  });

  it('finds nothing the built-in formats could match in text shorter than their shortest match or made of lower-case letters, digits and dots, so such text skips the detectors', () => {
    const found = (text: string) => secretDetectors.filter((detector) => detectSpans(detector, text, detectionText(text)).length > 0);
    // The bound is tight: the shortest connection password is found.
    expect(found('ab://:p@h'.padEnd(secretDetectorsShortestMatch, 'x')).map((detector) => detector.kind)).toEqual(['connection_password']);
    const ascii = fc.constantFrom(...'abcdefghkpqrstuvwxyzABCEFGHIJKLNOPQRSTUVWXYZ0123456789:/@-_=.+ "\'\n\t%;,'.split(''));
    fc.assert(
      fc.property(fc.string({ unit: ascii, maxLength: secretDetectorsShortestMatch - 1 }), (text) => found(text).length === 0),
      { numRuns: 20_000 },
    );
    fc.assert(
      fc.property(fc.string({ unit: fc.constantFrom(...'abcdefghijklmnopqrstuvwxyz0123456789.'.split('')), maxLength: 200 }), (text) =>
        secretDetectorsSafeText.test(text) ? found(text).length === 0 : false,
      ),
      { numRuns: 5_000 },
    );
    // Configured secrets and patterns shorter than that are still looked for.
    expect(createRedactor({ key, secrets: ['abcd'] }).redact({ a: 'xabcd' }).redactions).toEqual([{ path: 'a', kind: 'secret' }]);
    expect(createRedactor({ key, piiPatterns: [{ name: 'tag', pattern: 'q\\d' }] }).redact({ a: 'q1', b: 'abc.q7' }).redactions).toEqual([
      { path: 'a', kind: 'tag' },
      { path: 'b', kind: 'tag' },
    ]);
    expect(createRedactor({ key, secrets: ['abcdefghijkl'] }).redact({ a: 'xxabcdefghijkl' }).redactions).toEqual([
      { path: 'a', kind: 'secret' },
    ]);
  });

  it('refuses bad configuration naming the entry', () => {
    expect(() => createRedactor({ key: Buffer.alloc(4) })).toThrow(/at least 16 bytes/);
    expect(() => createRedactor({ key, pii: ['passport' as never] })).toThrow(
      /Unknown PII pattern 'passport'; built-in ones are email, phone/,
    );
    expect(() => createRedactor({ key, piiPatterns: [{ name: 'emp', pattern: '(' }] })).toThrow(
      /piiPatterns\[0\]\.pattern is not a valid regular expression/,
    );
    expect(() => createRedactor({ key, piiPatterns: [{ name: 'Bad Name', pattern: 'x' }] })).toThrow(
      /piiPatterns\[0\]\.name 'Bad Name' is invalid/,
    );
    const custom = createRedactor({ key, piiPatterns: [{ name: 'employee_id', pattern: 'EMP-\\d{6}' }] });
    expect(custom.redactText('EMP-123456 asked').text).toMatch(/^\[REDACTED:employee_id:[0-9a-f]{8}\] asked$/);
  });
});

describe('keys in the data directory', () => {
  it('generates the seal key once with mode 0600, reloads it with the same key id, and signs verifiably', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'aifactory-keys-'));
    try {
      const first = await loadOrCreateSigner(dataDir);
      const keyFile = path.join(dataDir, 'keys', 'seal-ed25519.pem');
      expect(statSync(keyFile).mode & 0o777).toBe(0o600);
      const second = await loadOrCreateSigner(dataDir);
      expect(second.keyId).toBe(first.keyId);
      expect(first.keyId).toMatch(/^ed25519:[0-9a-f]{16}$/);
      const message = sealMessage({
        seq: 1,
        runId: 'r',
        headSeq: 2,
        headHash: 'h',
        prevSealHash: '0'.repeat(64),
        keyId: first.keyId,
        ts: new Date(0).toISOString(),
      });
      expect(verifySealSignature(second.publicKey, message, first.sign(message))).toBe(true);
      expect(verifySealSignature(second.publicKey, `${message} `, first.sign(message))).toBe(false);
      expect(await readPublicKeyFile(keyFile)).toBe(first.publicKey);
      await first.writeAnchor('postgres:x#s', { seq: 4, sealHash: 'abc' });
      await first.writeAnchor('postgres:x#s', { seq: 3, sealHash: 'older' });
      expect(await (await loadOrCreateSigner(dataDir)).readAnchor('postgres:x#s')).toEqual({ seq: 4, sealHash: 'abc' });
      chmodSync(keyFile, 0o644);
      await expect(loadOrCreateSigner(dataDir)).rejects.toThrow(/readable by others \(mode 644\); run 'chmod 600/);
      await expect(loadOrCreateSigner(dataDir, { keyPath: path.join(dataDir, 'nope.pem') })).rejects.toThrow(/does not exist/);
      const notKey = path.join(dataDir, 'not-a-key.pem');
      writeFileSync(notKey, 'hello', { mode: 0o600 });
      await expect(loadOrCreateSigner(dataDir, { keyPath: notKey })).rejects.toThrow(/is not a PEM private key/);
      const redactionKey = await loadOrCreateRedactionKey(dataDir);
      expect(redactionKey.length).toBe(32);
      expect((await loadOrCreateRedactionKey(dataDir)).equals(redactionKey)).toBe(true);
      expect(statSync(path.join(dataDir, 'keys', 'redaction.key')).mode & 0o777).toBe(0o600);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
  it('gives processes starting at once on fresh data directories one key each, never a half-written one', async () => {
    // Three processes start on the same 150 new data directories, in step (each says ready, then all
    // go). Written with writeFile(…, { flag: 'wx' }) the key file existed, empty, before its bytes
    // did, and about one start in a hundred read it then: "At-rest key … is shorter than 16 bytes".
    const dirs = Array.from({ length: 150 }, () => mkdtempSync(path.join(tmpdir(), 'aifactory-keys-')));
    try {
      const children = [0, 1, 2].map(() =>
        spawn(process.execPath, [firstStartChild, JSON.stringify(dirs)], { stdio: ['pipe', 'pipe', 'inherit'] }),
      );
      const outputs = children.map(
        (child) =>
          new Promise<string>((resolve, reject) => {
            let stdout = '';
            child.stdout.on('data', (chunk: Buffer) => {
              stdout += chunk.toString();
              if (stdout === 'ready\n') ready();
            });
            child.on('error', reject);
            child.on('exit', (code) =>
              code === 0 ? resolve(stdout.slice('ready\n'.length)) : reject(new Error(`exit ${code}: ${stdout}`)),
            );
          }),
      );
      let readyCount = 0;
      const ready = () => {
        if (++readyCount === children.length) for (const child of children) child.stdin.end('go\n');
      };
      const killer = setTimeout(() => children.forEach((child) => child.kill('SIGKILL')), 60_000);
      const texts = await Promise.all(outputs).finally(() => clearTimeout(killer));
      const lines = texts.flatMap((output) => output.trim().split('\n'));
      expect(lines.filter((line) => line.includes(' error '))).toEqual([]);
      expect(lines).toHaveLength(dirs.length * 3);
      for (const dir of dirs) expect(new Set(lines.filter((line) => line.startsWith(`${dir} `))).size).toBe(1);
      for (const dir of dirs) expect(readdirSync(path.join(dir, 'keys')).sort()).toEqual(['at-rest.key', 'seal-ed25519.pem']);
    } finally {
      for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('seal anchors beside the key', () => {
  it('appends one line a seal, folds the log into the anchor file every thousand, and reads the newest per store across the file, a fold left behind and the log', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'aifactory-anchors-'));
    try {
      const signer = await loadOrCreateSigner(dataDir);
      const keyFile = path.join(dataDir, 'keys', 'seal-ed25519.pem');
      // Written before the log existed: the whole anchor file, still read.
      writeFileSync(`${keyFile}.anchors.json`, JSON.stringify({ 'store:old': { seq: 7, sealHash: 'old' } }), { mode: 0o600 });
      for (let seq = 1; seq <= 1001; seq += 1) await signer.writeAnchor('store:a', { seq, sealHash: `h${seq}` });
      await signer.writeAnchor('store:b', { seq: 2, sealHash: 'b2' });
      await signer.writeAnchor('store:b', { seq: 1, sealHash: 'b1' });
      // The first thousand were folded into the file, which kept the older store's anchor.
      const folded = JSON.parse(readFileSync(`${keyFile}.anchors.json`, 'utf8')) as Record<string, { seq: number }>;
      expect(folded['store:a']?.seq).toBe(1000);
      expect(folded['store:old']?.seq).toBe(7);
      expect(statSync(`${keyFile}.anchors.log`).mode & 0o777).toBe(0o600);
      // A line torn by a crash and a fold a dead process left behind.
      appendFileSync(`${keyFile}.anchors.log`, '{"store":"store:a","seq":99999,"sealH');
      writeFileSync(`${keyFile}.anchors.log.1.2.folding`, `${JSON.stringify({ store: 'store:c', seq: 3, sealHash: 'c3' })}\n`);
      const reader = await loadOrCreateSigner(dataDir);
      expect(await reader.readAnchor('store:a')).toEqual({ seq: 1001, sealHash: 'h1001' });
      expect(await reader.readAnchor('store:b')).toEqual({ seq: 2, sealHash: 'b2' });
      expect(await reader.readAnchor('store:c')).toEqual({ seq: 3, sealHash: 'c3' });
      expect(await reader.readAnchor('store:old')).toEqual({ seq: 7, sealHash: 'old' });
      expect(await reader.readAnchor('__proto__')).toBeUndefined();
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('hashing rules', () => {
  it('hashes the previous hash with the canonical JSON (RFC 8785) of the header, for any strings, integers and redaction notes', () => {
    fc.assert(
      fc.property(
        fc.string({ unit: 'binary' }),
        fc.integer({ min: -1, max: Number.MAX_SAFE_INTEGER }),
        fc.string({ unit: 'grapheme' }),
        fc.string({ unit: 'binary' }),
        fc.option(fc.array(fc.record({ path: fc.string(), kind: fc.string() }), { maxLength: 3 }), { nil: undefined }),
        (runId, seq, type, actor, redactions) => {
          const header = { runId, seq, ts: new Date(0).toISOString(), type, actor, payloadHash: 'p', schemaVersion: 1, redactions };
          const expected = canonicalJson({
            run_id: runId,
            seq,
            ts: header.ts,
            type,
            actor,
            payload_hash: 'p',
            schema_version: 1,
            ...(redactions && redactions.length > 0 ? { redactions } : {}),
          });
          expect(canonicalHeader(header)).toBe(expected);
          expect(eventHash('a'.repeat(64), header)).toBe(sha256Hex('a'.repeat(64) + expected));
        },
      ),
      { numRuns: 500 },
    );
  });
});
