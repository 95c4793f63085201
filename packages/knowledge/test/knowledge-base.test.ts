import { copyFileSync, existsSync, rmSync, statSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { Store } from '@aifactory/store';
import { chunks, documents } from '@aifactory/store/schema';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHashingEmbedder, createKnowledgeBase, type Embedder, type IngestProgress } from '../src/index.ts';
import { minimalPdf } from '../src/testing/index.ts';
import { disposeStore, engines, postgresUrl, temporaryFolder, writeTree } from './helpers.ts';

if (!postgresUrl)
  console.warn('[knowledge] AIFACTORY_TEST_DATABASE_URL is not set: Postgres knowledge tests are skipped (PGlite tests still run).');

/** The real hashing embedder, counting the texts it is asked to embed. */
function countingEmbedder(dimensions = 384): Embedder & { texts: string[] } {
  const inner = createHashingEmbedder({ dimensions });
  const texts: string[] = [];
  return {
    id: inner.id,
    dimensions: inner.dimensions,
    texts,
    embed(batch) {
      texts.push(...batch);
      return inner.embed(batch);
    },
  };
}

const handbook = {
  'policies/leave.md': [
    '---',
    'title: Leave policy',
    'classification: internal',
    '---',
    '# Leave policy',
    '',
    'Everyone gets 28 days of paid leave per year.',
    '',
    '## Parental leave',
    '',
    'Parents get 16 weeks of fully paid parental leave.',
    '',
    '## Sick leave',
    '',
    'Report sickness to your manager before 10:00 on the first day.',
  ].join('\n'),
  'notes.txt': 'Office notes.\nThe Berlin office opens at 08:00 and closes at 19:00.\n',
  'security.html':
    '<html><head><title>Security</title><script>var x = "ignored";</script></head><body><h1>Security basics</h1><p>Lock your screen &amp; use the password manager.</p><h2>Laptops</h2><ul><li>Encrypt every disk.</li></ul></body></html>',
  'faq.jsonl': [
    JSON.stringify({ id: 'vpn', question: 'How do I reset my VPN token?', answer: 'Open the self-service portal and choose Reset token.' }),
    JSON.stringify({
      id: 'expenses',
      question: 'Where is the expense form?',
      answer: 'The expense form is in the finance portal under Forms.',
    }),
  ].join('\n'),
  'travel.pdf': minimalPdf(
    [
      ['Travel policy', 'Book economy class for flights under six hours.'],
      ['Trains', 'Prefer trains for trips under 600 km.'],
    ],
    { title: 'Travel' },
  ),
};

for (const engine of engines) {
  describe.skipIf(engine.skip)(`knowledge base on ${engine.name}`, () => {
    let store: Store;
    const folders: Array<{ remove: () => void }> = [];
    const folder = () => {
      const created = temporaryFolder();
      folders.push(created);
      return created.path;
    };

    beforeAll(async () => {
      store = await engine.open('base');
    });
    afterAll(async () => {
      await disposeStore(store);
      for (const created of folders) created.remove();
    });

    it('ingests Markdown, text, HTML, PDF and JSONL and cites each by heading, lines, page and record', async () => {
      const source = folder();
      writeTree(source, handbook);
      const events: IngestProgress[] = [];
      const knowledge = createKnowledgeBase(store, { dataDir: folder() });
      const summary = await knowledge.ingest(source, {
        collection: 'formats',
        jsonl: { textField: 'answer', titleField: 'question' },
        onProgress: (event) => events.push(event),
      });
      expect(summary).toMatchObject({ added: 5, updated: 0, removed: 0, unchanged: 0, skipped: 0, errors: [] });
      expect(events.filter((event) => event.type === 'file.processed')).toHaveLength(5);
      expect(events.at(-1)?.type).toBe('ingest.completed');

      const [parental] = await knowledge.search('formats', 'how many weeks of parental leave', { topK: 1 });
      expect(parental?.citation).toMatchObject({
        source: 'policies/leave.md',
        location: { headingPath: ['Leave policy', 'Parental leave'], lines: { from: 9, to: 11 } },
        documentVersion: 1,
        title: 'Leave policy',
      });
      expect(parental?.citation.text).toBe('policies/leave.md › Leave policy › Parental leave (lines 9-11)');
      expect(parental?.classifications).toEqual(['internal']);
      expect(parental?.contentHash).toMatch(/^[0-9a-f]{64}$/);

      const [trains] = await knowledge.search('formats', 'trains for trips', { topK: 1 });
      expect(trains?.citation).toMatchObject({
        source: 'travel.pdf',
        location: { page: 2 },
        mediaType: 'application/pdf',
        title: 'Travel',
      });

      const [vpn] = await knowledge.search('formats', 'reset VPN token', { topK: 1 });
      expect(vpn?.citation.location).toEqual({ record: { line: 1, id: 'vpn' } });
      expect(vpn?.content).toContain('How do I reset my VPN token?');

      const [laptops] = await knowledge.search('formats', 'encrypt disk laptop', { topK: 1 });
      expect(laptops?.citation.location.headingPath).toEqual(['Security basics', 'Laptops']);
      const all = await knowledge.search('formats', 'ignored var', { topK: 20, mode: 'keyword' });
      expect(all.some((result) => result.content.includes('var x'))).toBe(false);

      const [office] = await knowledge.search('formats', 'Berlin office opening hours', { topK: 1 });
      expect(office?.citation).toMatchObject({ source: 'notes.txt', location: { lines: { from: 1, to: 2 } } });
      await knowledge.close();
    });

    it('re-ingest leaves unchanged documents untouched, re-embeds changed ones and removes deleted ones', async () => {
      const source = folder();
      writeTree(source, {
        'a.md': '# A\n\nAlpha apples are red.',
        'b.md': '# B\n\nBeta bananas are yellow.',
        'c.md': '# C\n\nGamma grapes are green.',
      });
      const embedder = countingEmbedder();
      const knowledge = createKnowledgeBase(store, { dataDir: folder(), embedder });
      await knowledge.ingest(source, { collection: 'incremental' });
      const [before] = await store.db.select().from(documents).where(eq(documents.sourcePath, 'a.md'));
      const idsBefore = (await store.db.select({ id: chunks.id }).from(chunks).where(eq(chunks.documentId, before!.id))).map(
        (row) => row.id,
      );
      embedder.texts.length = 0;

      writeTree(source, { 'b.md': '# B\n\nBeta bananas are now brown.', 'd.md': '# D\n\nDelta dates are sweet.' });
      unlinkSync(path.join(source, 'c.md'));
      const summary = await knowledge.ingest(source, { collection: 'incremental' });
      expect(summary).toMatchObject({ added: 1, updated: 1, removed: 1, unchanged: 1, skipped: 0 });
      expect(summary.chunks).toMatchObject({ added: 2, removed: 2, embedded: 2, total: 3 });
      expect(embedder.texts.sort()).toEqual(['# B\n\nBeta bananas are now brown.', '# D\n\nDelta dates are sweet.']);

      const idsAfter = (await store.db.select({ id: chunks.id }).from(chunks).where(eq(chunks.documentId, before!.id))).map(
        (row) => row.id,
      );
      expect(idsAfter).toEqual(idsBefore);
      const [changed] = await knowledge.search('incremental', 'bananas', { topK: 1 });
      expect(changed?.content).toContain('brown');
      expect(changed?.citation.documentVersion).toBe(2);
      const grapes = await knowledge.search('incremental', 'gamma grapes green', { topK: 3 });
      expect(grapes.map((result) => result.citation.source)).not.toContain('c.md');
      expect(
        (await store.db.select().from(documents).where(eq(documents.collection, 'incremental'))).map((row) => row.sourcePath).sort(),
      ).toEqual(['a.md', 'b.md', 'd.md']);

      const third = await knowledge.ingest(source, { collection: 'incremental' });
      expect(third).toMatchObject({ added: 0, updated: 0, removed: 0, unchanged: 3 });
      await knowledge.close();
    });

    it('embeds identical chunks once and returns them once', async () => {
      const source = folder();
      const text = '# Holidays\n\nThe office is closed between Christmas and New Year.';
      writeTree(source, { 'one.md': text, 'copy/two.md': text, 'other.md': '# Parking\n\nVisitors park in bay 7.' });
      const embedder = countingEmbedder();
      const knowledge = createKnowledgeBase(store, { dataDir: folder(), embedder });
      const summary = await knowledge.ingest(source, { collection: 'dedup' });
      expect(summary.chunks).toMatchObject({ added: 3, embedded: 2, reused: 1 });
      expect(embedder.texts.filter((entry) => entry === text)).toHaveLength(1);
      const results = await knowledge.search('dedup', 'office closed christmas', { topK: 3 });
      expect(results.filter((result) => result.content === text)).toHaveLength(1);
      await knowledge.close();
    });

    it('reports unreadable, broken and mis-encoded files with reasons and ingests the rest', async () => {
      const source = folder();
      writeTree(source, {
        'good.md': '# Good\n\nThis one is fine.',
        'broken.pdf': '%PDF-1.4\nthis is not really a pdf',
        'fake.pdf': 'plain text pretending',
        'latin1.txt': new Uint8Array([0x63, 0x61, 0x66, 0xe9, 0x20, 0x6e, 0x6f, 0x69, 0x72]),
        'bad.jsonl': '{"text": "fine"}\n{not json}\n',
        'empty.md': '   \n',
        'image.png': new Uint8Array([0x89, 0x50, 0x4e, 0x47]),
      });
      symlinkSync(path.join(source, 'missing-target.md'), path.join(source, 'dangling.md'));
      const knowledge = createKnowledgeBase(store, { dataDir: folder() });
      const summary = await knowledge.ingest(source, { collection: 'errors' });
      expect(summary).toMatchObject({ added: 1, skipped: 6, ignored: 1 });
      const reasons = Object.fromEntries(summary.errors.map((error) => [error.path, error.reason]));
      expect(reasons['broken.pdf']).toMatch(/^broken PDF: /);
      expect(reasons['fake.pdf']).toBe('not a PDF file (no %PDF- header)');
      expect(reasons['latin1.txt']).toMatch(/not valid UTF-8 text \(unknown encoding, first invalid byte near offset 3\)/);
      expect(reasons['bad.jsonl']).toMatch(/^line 2: not valid JSON/);
      expect(reasons['empty.md']).toBe('no text to index (empty document)');
      expect(reasons['dangling.md']).toBe('unreadable: ENOENT');
      expect((await knowledge.search('errors', 'fine', { topK: 1 }))[0]?.citation.source).toBe('good.md');
      await knowledge.close();
    });

    it('refuses to mix embedding models in one collection, on ingest and on search', async () => {
      const source = folder();
      writeTree(source, { 'a.md': '# A\n\nSomething.' });
      const dataDir = folder();
      const first = createKnowledgeBase(store, { dataDir });
      await first.ingest(source, { collection: 'one-model' });
      const other = createKnowledgeBase(store, { dataDir, embedder: createHashingEmbedder({ dimensions: 256 }) });
      const message =
        /Collection 'one-model' is embedded with 'local:hashing-v1-384' \(384 dimensions\), but this knowledge base embeds with 'local:hashing-v1-256' \(256\); models cannot be mixed/;
      await expect(other.ingest(source, { collection: 'one-model' })).rejects.toThrow(message);
      await expect(other.search('one-model', 'something')).rejects.toMatchObject({ code: 'CONFLICT' });
      expect((await first.listCollections()).find((entry) => entry.name === 'one-model')?.embeddingModel).toBe('local:hashing-v1-384');
      await first.close();
      await other.close();
    });

    it('hybrid search ranks an exact identifier first where vector search alone does not', async () => {
      const source = folder();
      writeTree(source, {
        'refunds.md':
          '# Refunds\n\nRefund policy for an order: a refund for an order is paid within 14 days. Refund order policy questions go to the refund desk.',
        'refund-faq.md': '# Refund questions\n\nCan I get a refund for my order? Our refund policy covers every order.',
        'returns.md': '# Returns\n\nReturn an order within 30 days for a refund under the returns policy.',
        'incident.md':
          '# Customs incident\n\nShipment ZX-99812 was held at customs in Rotterdam for four days because the commercial invoice was missing; the carrier re-filed the paperwork and the pallet was released on Friday.',
        'shipping.md': '# Shipping\n\nWe ship worldwide with tracked couriers.',
        // A realistic corpus: the query's common words are everywhere, the identifier in one place.
        ...Object.fromEntries(
          ['gift cards', 'sale items', 'damaged goods', 'late delivery', 'bulk orders', 'subscriptions', 'vouchers', 'store credit'].map(
            (topic) => [
              `policy/${topic.replace(' ', '-')}.md`,
              `# ${topic}\n\nOur refund policy for ${topic}: each order of ${topic} follows the standard order refund policy.`,
            ],
          ),
        ),
      });
      const knowledge = createKnowledgeBase(store, { dataDir: folder() });
      await knowledge.ingest(source, { collection: 'hybrid' });
      const query = 'refund policy for order ZX-99812';
      const vector = await knowledge.search('hybrid', query, { topK: 3, mode: 'vector' });
      const hybrid = await knowledge.search('hybrid', query, { topK: 3 });
      expect(vector[0]?.citation.source).not.toBe('incident.md');
      expect(hybrid[0]?.citation.source).toBe('incident.md');
      expect(hybrid[0]?.scores.keywordRank).toBe(1);
      await knowledge.close();
    });

    it('persists the index beside the store, reloads it, and repairs a missing or stale file from stored vectors', async () => {
      const source = folder();
      const dataDir = folder();
      writeTree(source, handbook);
      const first = createKnowledgeBase(store, { dataDir });
      await first.ingest(source, { collection: 'persisted', jsonl: { textField: 'answer' } });
      const file = path.join(dataDir, 'knowledge', 'persisted.hnsw');
      expect(existsSync(file)).toBe(true);
      expect(JSON.parse((await import('node:fs')).readFileSync(`${file}.json`, 'utf8'))).toMatchObject({
        embeddingModel: 'local:hashing-v1-384',
        dimensions: 384,
      });
      const expected = await first.search('persisted', 'parental leave weeks', { topK: 3 });
      await first.close();
      const stale = path.join(dataDir, 'stale.hnsw');
      copyFileSync(file, stale);
      const modified = statSync(file).mtimeMs;

      const reopened = createKnowledgeBase(store, { dataDir });
      expect(await reopened.search('persisted', 'parental leave weeks', { topK: 3 })).toEqual(expected);
      expect(statSync(file).mtimeMs).toBe(modified);
      writeTree(source, { 'new.md': '# Bicycles\n\nBicycle storage is in the basement.' });
      await reopened.ingest(source, { collection: 'persisted' });
      await reopened.close();

      // A crash after the store committed but before the file was written: the old file comes back.
      copyFileSync(stale, file);
      const repaired = createKnowledgeBase(store, { dataDir });
      const [bicycles] = await repaired.search('persisted', 'bicycle storage basement', { topK: 1, mode: 'vector' });
      expect(bicycles?.citation.source).toBe('new.md');
      await repaired.close();

      rmSync(file);
      writeFileSync(`${file}.json`, 'not json');
      const rebuilt = createKnowledgeBase(store, { dataDir });
      expect((await rebuilt.search('persisted', 'parental leave weeks', { topK: 3 })).map((result) => result.chunkId)).toEqual(
        expected.map((result) => result.chunkId),
      );
      expect(existsSync(file)).toBe(true);
      await rebuilt.close();
    });

    it("a second knowledge base over the same store sees another one's ingest (revision reload)", async () => {
      const source = folder();
      const dataDir = folder();
      writeTree(source, { 'a.md': '# Apples\n\nApples grow on trees.' });
      const writer = createKnowledgeBase(store, { dataDir });
      const reader = createKnowledgeBase(store, { dataDir: folder() });
      await writer.ingest(source, { collection: 'shared' });
      expect((await reader.search('shared', 'apples trees', { topK: 1 }))[0]?.citation.source).toBe('a.md');
      writeTree(source, { 'b.md': '# Bananas\n\nBananas grow in bunches.' });
      await writer.ingest(source, { collection: 'shared' });
      // The reader has its own index file (another machine): it reloads from the store's vectors.
      expect((await reader.search('shared', 'bananas bunches', { topK: 1 }))[0]?.citation.source).toBe('b.md');
      unlinkSync(path.join(source, 'a.md'));
      await writer.ingest(source, { collection: 'shared' });
      expect((await reader.search('shared', 'apples trees', { topK: 5 })).map((result) => result.citation.source)).toEqual(['b.md']);
      await writer.close();
      await reader.close();
    });

    it('stops after the current file when aborted, keeping what was committed and removing nothing', async () => {
      const source = folder();
      writeTree(
        source,
        Object.fromEntries(Array.from({ length: 5 }, (_, position) => [`f${position}.md`, `# File ${position}\n\nContent ${position}.`])),
      );
      const knowledge = createKnowledgeBase(store, { dataDir: folder() });
      const controller = new AbortController();
      const summary = await knowledge.ingest(source, {
        collection: 'aborted',
        signal: controller.signal,
        onProgress: (event) => {
          if (event.type === 'file.processed' && event.processed === 2) controller.abort();
        },
      });
      expect(summary).toMatchObject({ added: 2, removed: 0 });
      expect((await knowledge.ingest(source, { collection: 'aborted' })).added).toBe(3);
      await knowledge.close();
    });

    it('rebuild compacts deleted vectors and applies new index settings', async () => {
      const source = folder();
      writeTree(
        source,
        Object.fromEntries(
          Array.from({ length: 12 }, (_, position) => [
            `doc-${position}.md`,
            `# Topic ${position}\n\nNote number ${position} about subject ${position * 7}.`,
          ]),
        ),
      );
      const knowledge = createKnowledgeBase(store, { dataDir: folder() });
      await knowledge.ingest(source, { collection: 'rebuilt' });
      for (let position = 0; position < 5; position++) unlinkSync(path.join(source, `doc-${position}.md`));
      expect((await knowledge.ingest(source, { collection: 'rebuilt' })).removed).toBe(5);
      const summary = await knowledge.rebuild('rebuilt', { index: { m: 8, efConstruction: 50 } });
      expect(summary).toMatchObject({ collection: 'rebuilt', vectors: 7, reclaimed: 5, embedded: 0 });
      const info = (await knowledge.listCollections()).find((entry) => entry.name === 'rebuilt');
      expect(info?.settings.index).toEqual({ m: 8, efConstruction: 50, efSearch: 100 });
      expect((await knowledge.search('rebuilt', 'note number 9', { topK: 1 }))[0]?.citation.source).toBe('doc-9.md');
      const reembedded = await knowledge.rebuild('rebuilt', { reembed: true });
      expect(reembedded.embedded).toBe(7);
      await expect(knowledge.rebuild('no-such')).rejects.toThrow(/Collection 'no-such' does not exist/);
      await knowledge.close();
    });

    it('labels collections and documents, masks PII on ingest, and filters by label', async () => {
      const source = folder();
      writeTree(source, {
        'public/intro.md': '# Welcome\n\nWelcome to Acme. Our support line answers every question.',
        'people/contacts.md':
          '---\nclassifications: [pii]\n---\n# Contacts\n\nMail jane.doe@example.com or call +44 20 7946 0958 for support questions. Card 4111 1111 1111 1111.',
      });
      const knowledge = createKnowledgeBase(store, { dataDir: folder() });
      const summary = await knowledge.ingest(source, { collection: 'labelled', classifications: ['Internal'], piiMasking: true });
      expect(summary.masked).toEqual({ email: 1, phone: 1, card: 1 });
      expect(await knowledge.describeCollections(['labelled'])).toEqual([
        { name: 'labelled', classifications: ['internal', 'pii'], embeddingModel: 'local:hashing-v1-384' },
      ]);
      const stored = await store.db.select({ content: chunks.content }).from(chunks).where(eq(chunks.collection, 'labelled'));
      expect(stored.map((row) => row.content).join('\n')).not.toMatch(/jane\.doe|7946|4111/);
      expect(stored.map((row) => row.content).join('\n')).toContain('Mail [EMAIL] or call [PHONE]');

      const all = await knowledge.search('labelled', 'support questions', { topK: 5 });
      expect(all.map((result) => result.citation.source).sort()).toEqual(['people/contacts.md', 'public/intro.md']);
      const withoutPii = await knowledge.search('labelled', 'support questions', { topK: 5, filter: { excludeClassifications: ['pii'] } });
      expect(withoutPii.map((result) => result.citation.source)).toEqual(['public/intro.md']);
      const onlyPeople = await knowledge.search('labelled', 'support questions', { topK: 5, filter: { sourcePrefix: 'people/' } });
      expect(onlyPeople.map((result) => result.citation.source)).toEqual(['people/contacts.md']);
      await expect(knowledge.describeCollections(['labelled', 'nope'])).rejects.toThrow(/Collection 'nope' does not exist/);

      // Labels are remembered per source folder: a plain re-ingest keeps them, new ones relabel without re-embedding.
      expect(await knowledge.ingest(source, { collection: 'labelled' })).toMatchObject({ unchanged: 2, updated: 0 });
      const relabelled = await knowledge.ingest(source, { collection: 'labelled', classifications: ['confidential'] });
      expect(relabelled).toMatchObject({ unchanged: 0, updated: 2, chunks: { embedded: 0, added: 0 } });
      const [intro] = await knowledge.search('labelled', 'welcome to acme', { topK: 1 });
      expect(intro?.classifications).toEqual(['confidential']);
      expect((await knowledge.describeCollections(['labelled']))[0]?.classifications).toEqual(['confidential', 'internal', 'pii']);
      // The pii label came from a document; once it is gone, so is the label. Declared labels stay.
      unlinkSync(path.join(source, 'people/contacts.md'));
      expect((await knowledge.ingest(source, { collection: 'labelled' })).removed).toBe(1);
      expect((await knowledge.describeCollections(['labelled']))[0]?.classifications).toEqual(['confidential', 'internal']);
      await expect(knowledge.ingest(source, { collection: 'labelled', classifications: ['not ok!'] })).rejects.toThrow(
        /Classification 'not ok!' in the ingest options is invalid/,
      );
      await knowledge.close();
    });

    it('searches several collections at once and names unknown ones', async () => {
      const hr = folder();
      const it = folder();
      writeTree(hr, { 'leave.md': '# Leave\n\nAnnual leave is 28 days.' });
      writeTree(it, { 'laptops.md': '# Laptops\n\nLaptops are replaced every three years.' });
      const knowledge = createKnowledgeBase(store, { dataDir: folder() });
      await knowledge.ingest(hr, { collection: 'multi-hr' });
      await knowledge.ingest(it, { collection: 'multi-it' });
      const results = await knowledge.search(['multi-hr', 'multi-it'], 'laptops replaced years', { topK: 2 });
      expect(results[0]?.citation).toMatchObject({ collection: 'multi-it', source: 'laptops.md' });
      expect(results.map((result) => result.citation.collection).sort()).toEqual(['multi-hr', 'multi-it']);
      await expect(knowledge.search(['multi-hr', 'multi-nope'], 'x')).rejects.toThrow(
        /Collection 'multi-nope' does not exist; known collections: .*multi-hr/,
      );
      await expect(knowledge.search('multi-hr', '   ')).rejects.toThrow(/query is empty/);
      await expect(knowledge.search('multi-hr', 'x', { topK: 0 })).rejects.toThrow(/topK must be an integer from 1 to 100/);
      expect(await knowledge.deleteCollection('multi-it')).toBe(true);
      expect((await knowledge.listCollections()).map((entry) => entry.name)).not.toContain('multi-it');
      await knowledge.close();
    });
  });
}
