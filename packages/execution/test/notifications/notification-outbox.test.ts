import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ErrorCode, UserError } from '@aifactory/core';
import { openStore, type Store } from '@aifactory/store';
import { notifications } from '@aifactory/store/schema';
import { eq } from 'drizzle-orm';
import {
  createNotificationDispatcher,
  enqueueNotification,
  getNotification,
  listNotifications,
  markNotificationsRead,
  verifyWebhookSignature,
  type NotificationDispatcherOptions,
} from '../../src/notifications/index.ts';
import { engines } from '../approvals/engines.ts';
import { startWebhookReceiver } from './webhook-receiver.ts';

const secret = 'whsec_test_0123456789abcdef';
const fast: Partial<NotificationDispatcherOptions> = {
  backoff: { initialMs: 10, maxMs: 40 },
  timeoutMs: 2000,
  pollIntervalMs: 10,
  log: () => {},
};

/** Drains until `done` holds or the deadline passes (backoff makes retries due a few ms later). */
async function drainUntil(
  dispatcher: { drainOnce(): Promise<unknown> },
  done: () => Promise<boolean> | boolean,
  deadlineMs = 5000,
): Promise<void> {
  const deadline = Date.now() + deadlineMs;
  while (!(await done())) {
    if (Date.now() > deadline) throw new Error('the outbox did not settle in time');
    await dispatcher.drainOnce();
    await sleep(5);
  }
}

for (const engine of engines) {
  describe.skipIf(engine.skip)(`notifications on ${engine.name}`, () => {
    let store: Store;
    const receivers: Array<{ close(): Promise<void> }> = [];
    beforeAll(async () => {
      store = await engine.open();
    });
    afterAll(async () => {
      if (store) await engine.dispose(store);
    });
    afterEach(async () => {
      for (const receiver of receivers.splice(0)) await receiver.close();
    });

    async function receiver(statuses: number[] = [], fallback = 200) {
      const started = await startWebhookReceiver(statuses, fallback);
      receivers.push(started);
      return started;
    }

    it('delivers a signed webhook after failures, with backoff, and never again once delivered', async () => {
      const hook = await receiver([500, 503], 200);
      const runId = `run_${randomUUID()}`;
      const queued = await enqueueNotification(store, {
        runId,
        target: `webhook:${hook.url}/hooks/approvals?token=abc`,
        payload: { event: 'tool.held', step: 4 },
      });
      expect(queued.status).toBe('pending');
      const dispatcher = createNotificationDispatcher(store, { secret, maxAttempts: 5, ...fast });
      await drainUntil(dispatcher, async () => (await getNotification(store, queued.id))?.status === 'delivered');

      expect(hook.received.map((request) => request.status)).toEqual([500, 503, 200]);
      for (const request of hook.received) {
        expect(request.path).toBe('/hooks/approvals?token=abc');
        expect(request.headers['x-aifactory-delivery']).toBe(String(queued.id));
        const verification = verifyWebhookSignature({
          secret,
          header: request.headers['x-aifactory-signature'] as string,
          body: request.body,
        });
        expect(verification).toMatchObject({ valid: true });
      }
      expect(hook.received.map((request) => request.headers['x-aifactory-attempt'])).toEqual(['1', '2', '3']);
      expect(JSON.parse(hook.received[2]!.body)).toEqual({
        id: queued.id,
        run_id: runId,
        created_at: queued.createdAt.toISOString(),
        payload: { event: 'tool.held', step: 4 },
      });
      const delivered = await getNotification(store, queued.id);
      expect(delivered).toMatchObject({ status: 'delivered', attempts: 3, lastError: null });

      // Later rounds find nothing to send: no duplicate after a success.
      await dispatcher.drainOnce();
      await sleep(60);
      await dispatcher.drainOnce();
      expect(hook.received).toHaveLength(3);
    });

    it('waits the backoff between attempts and gives up after maxAttempts, keeping the reason', async () => {
      const hook = await receiver([], 503);
      let clock = new Date('2026-11-23T10:00:00.000Z');
      const dispatcher = createNotificationDispatcher(store, {
        secret,
        maxAttempts: 3,
        backoff: { initialMs: 1000, factor: 2 },
        clock: () => clock,
        log: () => {},
      });
      const queued = await enqueueNotification(
        store,
        { runId: 'run_backoff', target: `webhook:${hook.url}/down`, payload: {} },
        { now: clock },
      );
      expect((await dispatcher.drainOnce()).retrying).toEqual([queued.id]);
      expect((await getNotification(store, queued.id))?.nextAttemptAt.toISOString()).toBe('2026-11-23T10:00:01.000Z');
      expect((await dispatcher.drainOnce()).retrying).toEqual([]); // not due yet
      clock = new Date('2026-11-23T10:00:01.000Z');
      expect((await dispatcher.drainOnce()).retrying).toEqual([queued.id]);
      expect((await getNotification(store, queued.id))?.nextAttemptAt.toISOString()).toBe('2026-11-23T10:00:03.000Z');
      clock = new Date('2026-11-23T10:00:03.000Z');
      expect((await dispatcher.drainOnce()).failed).toEqual([queued.id]);
      const failed = await getNotification(store, queued.id);
      expect(failed).toMatchObject({ status: 'failed', attempts: 3 });
      expect(failed?.lastError).toMatch(/^HTTP 503 from webhook:http:\/\/127\.0\.0\.1:\d+\/down$/);
      clock = new Date('2026-11-23T11:00:00.000Z');
      await dispatcher.drainOnce();
      expect(hook.received).toHaveLength(3);
    });

    it('resumes from the table after a dispatcher died mid-delivery: the lease runs out and another one delivers, once', async () => {
      const hook = await receiver([], 200);
      const start = new Date();
      const queued = await enqueueNotification(
        store,
        { runId: 'run_crash', target: `webhook:${hook.url}/crash`, payload: { n: 1 } },
        { now: start },
      );
      // The first dispatcher claims the notification, then hangs forever (as if its process died).
      let release!: () => void;
      const hanging = new Promise<Response>((resolve) => (release = () => resolve(new Response('late', { status: 500 }))));
      const dead = createNotificationDispatcher(store, {
        secret,
        fetch: () => hanging,
        leaseMs: 30_000,
        clock: () => start,
        log: () => {},
      });
      const deadRound = dead.drainOnce();
      await expect.poll(async () => (await getNotification(store, queued.id))?.attempts).toBe(1);
      const successor = createNotificationDispatcher(store, { secret, ...fast, clock: () => new Date(start.getTime() + 10_000) });
      expect((await successor.drainOnce()).delivered).toEqual([]); // still leased
      const later = createNotificationDispatcher(store, { secret, ...fast, clock: () => new Date(start.getTime() + 31_000) });
      expect((await later.drainOnce()).delivered).toEqual([queued.id]);
      // The dead dispatcher's late answer changes nothing.
      release();
      await deadRound;
      expect(await getNotification(store, queued.id)).toMatchObject({ status: 'delivered', attempts: 2 });
      expect(hook.received).toHaveLength(1);
    });

    it("enqueues inside the caller's transaction: rolled back, nothing is sent", async () => {
      const runId = `run_${randomUUID()}`;
      await store.db
        .transaction(async (transaction) => {
          await enqueueNotification(transaction, { runId, target: 'inbox:approvers', payload: { kept: false } });
          throw new Error('decision could not be recorded');
        })
        .catch(() => undefined);
      expect(await listNotifications(store, { runId, all: true })).toEqual([]);
      await store.db.transaction(async (transaction) => {
        await enqueueNotification(transaction, { runId, target: 'inbox:approvers', payload: { kept: true } });
      });
      expect((await listNotifications(store, { runId })).map((item) => item.payload)).toEqual([{ kept: true }]);
    });

    it('keeps inbox items readable at once, lists the unread ones, and marks them read', async () => {
      const runId = `run_${randomUUID()}`;
      const first = await enqueueNotification(store, { runId, target: 'inbox:risk-team', payload: { message: 'refund of 7200 EUR held' } });
      const second = await enqueueNotification(store, { runId, target: 'inbox:risk-team', payload: { message: 'refund approved' } });
      await enqueueNotification(store, { runId, target: 'webhook:https://hooks.example.com/x', payload: {} });
      expect(first).toMatchObject({ kind: 'inbox', status: 'delivered' });
      expect((await listNotifications(store, { runId, unread: true })).map((item) => item.id)).toEqual([second.id, first.id]);
      expect((await listNotifications(store, { runId, all: true })).map((item) => item.kind)).toEqual(['webhook', 'inbox', 'inbox']);
      expect(await markNotificationsRead(store, { ids: [first.id] })).toEqual([first.id]);
      expect((await listNotifications(store, { runId, unread: true })).map((item) => item.id)).toEqual([second.id]);
      expect(await markNotificationsRead(store, { inbox: 'risk-team', all: true })).toEqual([second.id]);
      expect(await listNotifications(store, { runId, unread: true })).toEqual([]);
      await store.db.delete(notifications).where(eq(notifications.runId, runId));
    });

    it('refuses unknown targets and unsafe webhook schemes, naming the valid forms', async () => {
      const attempt = (target: string) =>
        enqueueNotification(store, { runId: 'run_bad', target, payload: {} }).then(
          () => new UserError(ErrorCode.Internal, 'the target was accepted'),
          (error: unknown) => error as UserError,
        );
      const unknown = await attempt('pager:risk-team');
      expect(unknown).toBeInstanceOf(UserError);
      expect(unknown.code).toBe(ErrorCode.InputInvalid);
      expect(unknown.message).toBe(
        "Notification target 'pager:risk-team' is unknown; use an e-mail address, slack:#channel, inbox:<name>, webhook:https://… or log.",
      );
      expect((await attempt('email:risk@@example')).message).toBe(
        "E-mail address 'risk@@example' in a notification target is malformed; expected name@domain.tld.",
      );
      expect((await attempt('slack:finance ops')).message).toMatch(/Slack channel 'finance ops' .* is invalid/);
      expect((await attempt('webhook:file:///etc/passwd')).message).toMatch(/scheme 'file:' is not supported/);
      expect((await attempt('inbox:')).message).toMatch(/Inbox name '' .* is invalid/);
      expect(() => createNotificationDispatcher(store, { secret: 'short' })).toThrow(/at least 16 characters/);
    });
  });
}

describe.skipIf(engines[1]!.skip)('notifications across dispatchers on postgres', () => {
  it('two dispatchers on two connections deliver each notification exactly once', async () => {
    const engine = engines[1]!;
    const first = await engine.open();
    const second = await engine.reopen(first);
    const hook = await startWebhookReceiver([], 200);
    try {
      const ids: number[] = [];
      for (let index = 0; index < 30; index += 1)
        ids.push((await enqueueNotification(first, { runId: 'run_many', target: `webhook:${hook.url}/n`, payload: { index } })).id);
      const one = createNotificationDispatcher(first, { secret, ...fast, batchSize: 4 });
      const two = createNotificationDispatcher(second, { secret, ...fast, batchSize: 4 });
      one.start();
      two.start();
      await expect.poll(() => hook.received.length, { timeout: 5000 }).toBe(30);
      await Promise.all([one.stop(), two.stop()]);
      const deliveries = hook.received
        .map((request) => Number(request.headers['x-aifactory-delivery']))
        .sort((left, right) => left - right);
      expect(deliveries).toEqual(ids);
    } finally {
      await hook.close();
      await second.close();
      await engine.dispose(first);
    }
  });
});

describe('notifications survive a restart of the embedded store', () => {
  it('a notification queued before a crash is delivered after the store reopens', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'aifactory-outbox-'));
    const hook = await startWebhookReceiver([], 200);
    try {
      const before = await openStore({ dataDir });
      const queued = await enqueueNotification(before, {
        runId: 'run_restart',
        target: `webhook:${hook.url}/after-restart`,
        payload: { held: true },
      });
      await before.close(); // the process goes away before any dispatcher ran
      const after = await openStore({ dataDir });
      const report = await createNotificationDispatcher(after, { secret, ...fast }).drainOnce();
      expect(report.delivered).toEqual([queued.id]);
      expect(hook.received.map((request) => request.path)).toEqual(['/after-restart']);
      await after.close();
    } finally {
      await hook.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});

describe('verifyWebhookSignature', () => {
  const body = '{"id":1,"payload":{"amount":7200}}';
  const now = Date.parse('2026-11-23T10:00:00Z');
  const timestamp = Math.floor(now / 1000);
  it('accepts the signature of the exact body and refuses anything else', async () => {
    const { signWebhook } = await import('../../src/notifications/index.ts');
    const header = signWebhook({ secret, body, timestamp });
    expect(header).toMatch(/^t=\d+,v1=[0-9a-f]{64}$/);
    expect(verifyWebhookSignature({ secret, header, body, now })).toEqual({ valid: true, timestamp });
    expect(verifyWebhookSignature({ secret, header, body: body.replace('7200', '72000'), now })).toEqual({
      valid: false,
      reason: 'signature does not match the body',
    });
    expect(verifyWebhookSignature({ secret: 'another-secret-0123456789', header, body, now }).valid).toBe(false);
    expect(verifyWebhookSignature({ secret, header, body, now: now + 301_000 })).toMatchObject({
      valid: false,
      reason: expect.stringMatching(/301s away/),
    });
    expect(verifyWebhookSignature({ secret, header: undefined, body, now })).toMatchObject({
      valid: false,
      reason: 'missing X-Aifactory-Signature header',
    });
    expect(verifyWebhookSignature({ secret, header: `t=${timestamp},v1=${'0'.repeat(64)},${header.split(',')[1]}`, body, now }).valid).toBe(
      true,
    );
  });
});
