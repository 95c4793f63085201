import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { randomUUID } from 'node:crypto';
import type { Store } from '@aifactory/store';
import {
  createNotificationDispatcher,
  enqueueNotification,
  getNotification,
  notificationTransports,
  outboxTarget,
  parseNotificationChannels,
  retryNotifications,
  undeliverableTarget,
  type NotificationDispatcherOptions,
} from '../../src/notifications/index.ts';
import { engines } from '../approvals/engines.ts';
import { startSlackWebhookServer } from './slack-webhook-server.ts';
import { headerOf, startSmtpPeer } from './smtp-peer.ts';

const smtpPassword = 'p4ss-w0rd-of-the-relay';
const channelsYaml = `slack:
  "#finance-ops": { webhook_url_env: SLACK_FINANCE_OPS_URL }
  "#support-leads": { webhook_url_env: SLACK_SUPPORT_LEADS_URL }
email:
  from: "aifactory <aifactory@acme.example>"
  smtp_url_env: TEST_SMTP_URL
  domains: [acme.example]
`;
const channels = parseNotificationChannels(channelsYaml, 'notifications.yaml');

/** A clock the test moves by hand, so backoff and Retry-After are checked without sleeping. */
function manualClock(start = Date.parse('2026-03-02T09:00:00Z')) {
  let now = start;
  return { now: () => new Date(now), advance: (ms: number) => void (now += ms) };
}

const payload = {
  step: 3,
  action: { kind: 'tool', name: 'payments.refund' },
  rules: ['finance-ops/mid-refunds'],
  reason: 'Allowed with notice to a human',
  agent: 'refund-agent',
};

for (const engine of engines) {
  describe.skipIf(engine.skip)(`Slack and e-mail notifications on ${engine.name}`, () => {
    let store: Store;
    let slack: Awaited<ReturnType<typeof startSlackWebhookServer>>;
    let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
    let env: Record<string, string>;
    const logged: string[] = [];
    beforeAll(async () => {
      [store, slack, smtp] = await Promise.all([
        engine.open(),
        startSlackWebhookServer(['#finance-ops', '#support-leads']),
        startSmtpPeer('relay-user', smtpPassword),
      ]);
      env = {
        SLACK_FINANCE_OPS_URL: slack.urlOf('#finance-ops'),
        SLACK_SUPPORT_LEADS_URL: slack.urlOf('#support-leads'),
        TEST_SMTP_URL: smtp.url(),
      };
    });
    afterAll(async () => {
      await Promise.all([slack?.close(), smtp?.close()]);
      if (store) await engine.dispose(store);
    });

    function dispatcher(clock: { now: () => Date }, extra: Partial<NotificationDispatcherOptions> = {}) {
      return createNotificationDispatcher(store, {
        channels: notificationTransports(channels, env),
        maxAttempts: 4,
        backoff: { initialMs: 1000, maxMs: 8000 },
        timeoutMs: 5000,
        clock: clock.now,
        log: (line) => logged.push(line),
        ...extra,
      });
    }

    async function queue(policyTarget: string, clock: { now: () => Date }) {
      return enqueueNotification(
        store,
        { runId: `run_${randomUUID()}`, target: outboxTarget(policyTarget), payload },
        { now: clock.now() },
      );
    }

    it('posts to the Slack channel the policy names, as text with blocks, and marks it delivered', async () => {
      const clock = manualClock();
      const queued = await queue('slack:#finance-ops', clock);
      const before = slack.accepted.length;
      const report = await dispatcher(clock).drainOnce();
      expect(report.delivered).toContain(queued.id);
      const message = slack.accepted.slice(before).find((item) => JSON.stringify(item.body).includes(queued.runId))!;
      expect(message.channel).toBe('#finance-ops');
      expect(message.body.text).toContain('Agent refund-agent ran tool payments.refund with notice');
      expect(message.body.text).toContain('finance-ops/mid-refunds');
      expect(message.body.blocks?.[0]).toMatchObject({ type: 'section', text: { type: 'mrkdwn' } });
      expect(JSON.stringify(message.body.blocks)).toContain(`aifactory notification ${queued.id}`);
      const row = await getNotification(store, queued.id);
      expect(row).toMatchObject({ status: 'delivered', kind: 'slack', attempts: 1, lastError: null });
    });

    it("waits as long as Slack's 429 Retry-After asks, retries 5xx with backoff, then delivers once", async () => {
      const clock = manualClock();
      const queued = await queue('slack:#support-leads', clock);
      const worker = dispatcher(clock);
      slack.answerNext({ status: 429, retryAfterSeconds: 30 }, 500);
      expect((await worker.drainOnce()).retrying).toContain(queued.id);
      let row = (await getNotification(store, queued.id))!;
      expect(row.lastError).toBe('Slack answered HTTP 429 rate_limited (slack:#support-leads)');
      expect(row.nextAttemptAt.getTime() - clock.now().getTime()).toBe(30_000);
      clock.advance(29_000);
      expect((await worker.drainOnce()).retrying).not.toContain(queued.id);
      clock.advance(1_000);
      expect((await worker.drainOnce()).retrying).toContain(queued.id);
      row = (await getNotification(store, queued.id))!;
      expect(row.lastError).toBe('Slack answered HTTP 500 rollup_error (slack:#support-leads)');
      expect(row.nextAttemptAt.getTime() - clock.now().getTime()).toBe(2000);
      clock.advance(2000);
      expect((await worker.drainOnce()).delivered).toContain(queued.id);
      expect((await worker.drainOnce()).delivered).toEqual([]);
      expect(slack.accepted.filter((item) => item.body.text?.includes(queued.runId))).toHaveLength(1);
    });

    it('sends a dead letter at once when Slack refuses the webhook (403, 410), and never names its URL', async () => {
      const clock = manualClock();
      const queued = await queue('slack:#finance-ops', clock);
      slack.answerNext(403);
      expect((await dispatcher(clock).drainOnce()).failed).toContain(queued.id);
      const row = (await getNotification(store, queued.id))!;
      expect(row).toMatchObject({ status: 'failed', attempts: 1, lastError: 'Slack answered HTTP 403 invalid_token (slack:#finance-ops)' });
      expect(JSON.stringify(row)).not.toContain(slack.base);
      expect(logged.join('\n')).not.toContain(slack.base);
      // An operator who fixed the webhook puts the dead letter back in the queue.
      expect(await retryNotifications(store, { ids: [queued.id] }, { now: clock.now() })).toEqual([queued.id]);
      expect((await dispatcher(clock).drainOnce()).delivered).toContain(queued.id);
    });

    it('e-mails an address through a real SMTP server, with a Message-ID made from the outbox id', async () => {
      const clock = manualClock();
      const queued = await queue('refunds-lead@acme.example', clock);
      expect(queued.target).toBe('email:refunds-lead@acme.example');
      expect((await dispatcher(clock).drainOnce()).delivered).toContain(queued.id);
      const mail = smtp.received.find((item) => item.raw.includes(queued.runId))!;
      expect(mail.to).toEqual(['refunds-lead@acme.example']);
      expect(mail.from).toBe('aifactory@acme.example');
      expect(headerOf(mail.raw, 'Subject')).toBe('[aifactory] Agent refund-agent ran tool payments.refund with notice');
      expect(headerOf(mail.raw, 'Message-ID')).toBe(`<notification-${queued.id}.${queued.runId}@acme.example>`);
      expect(headerOf(mail.raw, 'X-Aifactory-Delivery')).toBe(String(queued.id));
      // The body is quoted-printable: soft line breaks end in '='.
      expect(mail.raw.replace(/=\r?\n/g, '')).toContain(`factory runs show ${queued.runId}`);
    });

    it('retries a 450 from the mail server and dead-letters a 550 at once', async () => {
      const clock = manualClock();
      smtp.refuse('busy@acme.example', 450);
      smtp.refuse('gone@acme.example', 550);
      const busy = await queue('busy@acme.example', clock);
      const gone = await queue('gone@acme.example', clock);
      const worker = dispatcher(clock);
      const first = await worker.drainOnce();
      expect(first.retrying).toContain(busy.id);
      expect(first.failed).toContain(gone.id);
      expect((await getNotification(store, busy.id))!.lastError).toMatch(/^SMTP 450: .*Mailbox busy.* \(email:busy@acme\.example\)$/);
      expect((await getNotification(store, gone.id))!.lastError).toMatch(/^SMTP 550: .*Mailbox unavailable/);
      clock.advance(1000);
      expect((await worker.drainOnce()).delivered).toContain(busy.id);
    });

    it('keeps the SMTP password out of errors when the login is refused, and gives up after maxAttempts on unreachable servers', async () => {
      const clock = manualClock();
      const refused = await queue('auditor@acme.example', clock);
      const wrong = createNotificationDispatcher(store, {
        channels: notificationTransports(channels, { ...env, TEST_SMTP_URL: smtp.url('relay-user', 'wrong-secret-password') }),
        clock: clock.now,
        log: () => {},
      });
      expect((await wrong.drainOnce()).failed).toContain(refused.id);
      const row = (await getNotification(store, refused.id))!;
      expect(row.lastError).toMatch(/^SMTP 535: /);
      expect(row.lastError).not.toContain('wrong-secret-password');

      const unreachable = await queue('ops@acme.example', clock);
      const closedPort = createNotificationDispatcher(store, {
        channels: notificationTransports(channels, { ...env, TEST_SMTP_URL: `smtp://relay-user:${smtpPassword}@127.0.0.1:1` }),
        maxAttempts: 2,
        backoff: { initialMs: 10 },
        clock: clock.now,
        log: () => {},
      });
      expect((await closedPort.drainOnce()).retrying).toContain(unreachable.id);
      clock.advance(10);
      expect((await closedPort.drainOnce()).failed).toContain(unreachable.id);
      const dead = (await getNotification(store, unreachable.id))!;
      expect(dead).toMatchObject({ status: 'failed', attempts: 2 });
      expect(dead.lastError).toMatch(/ECONNREFUSED/);
      expect(dead.lastError).not.toContain(smtpPassword);
    });

    it('dead-letters a channel nobody configured, and retries one whose secret is missing from the environment', async () => {
      const clock = manualClock();
      const undeclared = await queue('slack:#treasury', clock);
      const unset = await queue('slack:#finance-ops', clock);
      const worker = createNotificationDispatcher(store, {
        channels: notificationTransports(channels, { TEST_SMTP_URL: smtp.url() }),
        clock: clock.now,
        log: () => {},
      });
      const report = await worker.drainOnce();
      expect(report.failed).toContain(undeclared.id);
      expect(report.retrying).toContain(unset.id);
      expect((await getNotification(store, undeclared.id))!.lastError).toBe(
        'Slack channel #treasury is not configured in notifications.yaml.',
      );
      expect((await getNotification(store, unset.id))!.lastError).toBe(
        'SLACK_FINANCE_OPS_URL is not set (the incoming-webhook URL of #finance-ops)',
      );
    });

    it('sends again at most once after a dispatcher died between the send and the mark (at least once)', async () => {
      const clock = manualClock();
      const queued = await queue('slack:#finance-ops', clock);
      let sent = 0;
      // The first dispatcher's send reaches Slack, and then its process "dies": the mark never happens.
      const dying = dispatcher(clock, {
        leaseMs: 60_000,
        fetch: async (input, init) => {
          await fetch(input, init);
          sent += 1;
          return new Promise<Response>(() => {});
        },
      });
      void dying.drainOnce();
      while (sent === 0) await new Promise((resolve) => setTimeout(resolve, 5));
      const survivor = dispatcher(clock);
      expect((await survivor.drainOnce()).delivered).not.toContain(queued.id);
      clock.advance(60_000);
      expect((await survivor.drainOnce()).delivered).toContain(queued.id);
      clock.advance(3_600_000);
      expect((await survivor.drainOnce()).delivered).toEqual([]);
      const copies = slack.accepted.filter((item) => item.body.text?.includes(queued.runId));
      expect(copies).toHaveLength(2);
      expect(JSON.stringify(copies[0]!.body.blocks)).toBe(JSON.stringify(copies[1]!.body.blocks));
    });
  });
}

describe('notifications.yaml and deliverable targets', () => {
  it('knows which targets it can deliver and says why not for the others', () => {
    expect(undeliverableTarget('slack:#finance-ops', channels)).toBeUndefined();
    expect(undeliverableTarget('refunds-lead@acme.example', channels)).toBeUndefined();
    expect(undeliverableTarget('inbox:finance', channels)).toBeUndefined();
    expect(undeliverableTarget('slack:#finance', channels)).toBe(
      "Slack channel '#finance' is not configured in notifications.yaml; configured channels: #finance-ops, #support-leads.",
    );
    expect(undeliverableTarget('cfo@gmail.com', channels)).toBe(
      "E-mail address 'cfo@gmail.com' is outside the configured domains (acme.example).",
    );
    expect(undeliverableTarget('refunds-lead@acme', channels)).toBe(
      "E-mail address 'refunds-lead@acme' in a notification target is malformed; expected name@domain.tld.",
    );
    const none = parseNotificationChannels('{}', 'empty.yaml');
    expect(undeliverableTarget('dpo@acme.example', none)).toBe(
      "E-mail to 'dpo@acme.example' cannot be delivered: e-mail is not configured in empty.yaml (add email: {from, smtp_url_env}).",
    );
  });

  it('refuses a channels file that would put a secret in it, naming line, column and field', () => {
    const attempt = () =>
      parseNotificationChannels('slack:\n  "#ops": { webhook_url: https://hooks.slack.com/services/T/B/x }\n', 'notifications.yaml');
    expect(attempt).toThrow("slack.#ops.webhook_url: Unknown key 'webhook_url'.");
    try {
      attempt();
    } catch (error) {
      expect((error as { location?: unknown }).location).toMatchObject({ file: 'notifications.yaml', line: 2, column: 13 });
    }
  });
});
