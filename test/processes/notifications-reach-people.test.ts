// Notifications as a risk officer and an on-call lead meet them: a policy notifies a Slack channel
// and an e-mail address, `factory serve --json` says where it listens, a governed run reaches the
// notify_human rule, and the message arrives — at a local server speaking Slack's incoming-webhook
// format and at a real SMTP server — with no secret in anything the workspace prints. After the
// server stops, `factory notifications list --all` shows both deliveries and their status.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSlackWebhookServer } from '../../packages/execution/test/notifications/slack-webhook-server.ts';
import { headerOf, startSmtpPeer } from '../../packages/execution/test/notifications/smtp-peer.ts';
import {
  createTallyWorkspace,
  factory,
  spawnFactory,
  startServe,
  type ServeProcess,
  type TallyWorkspace,
} from '../fixtures/tally-workspace.ts';

const smtpPassword = 'relay-password-7f3a';

describe('notifications that reach people', () => {
  let workspace: TallyWorkspace;
  let serve: ServeProcess | undefined;
  let slack: Awaited<ReturnType<typeof startSlackWebhookServer>>;
  let smtp: Awaited<ReturnType<typeof startSmtpPeer>>;
  let secrets: Record<string, string>;
  beforeAll(async () => {
    workspace = createTallyWorkspace();
    [slack, smtp] = await Promise.all([startSlackWebhookServer(['#ops-alerts']), startSmtpPeer('relay', smtpPassword)]);
    secrets = { SLACK_OPS_ALERTS_URL: slack.urlOf('#ops-alerts'), AIFACTORY_SMTP_URL: smtp.url() };
    // Reading the tally now goes ahead with notice to the ops channel and the lead.
    writeFileSync(
      path.join(workspace.dir, 'policies', 'tally.yaml'),
      `apiVersion: aifactory/v1
kind: AutonomyPolicy
metadata: { name: tally, version: 2, owner: ops@acme.example }
spec:
  default: { tool: require_approval, model: autonomous, retrieval: autonomous, handoff: require_approval, answer: autonomous }
  rules:
    - id: reads
      match: { kind: tool, name: tally.read }
      authority: notify_human
      notify: [slack:#ops-alerts, lead@acme.example]
    - id: writes
      match: { kind: tool, name: tally.write }
      authority: require_approval
      approvers: { roles: [ops-lead], count: 1, separation_of_duties: true, expires_in: 1h, on_expiry: deny }
`,
    );
    writeFileSync(
      path.join(workspace.dir, 'notifications.yaml'),
      `slack:\n  "#ops-alerts": { webhook_url_env: SLACK_OPS_ALERTS_URL }\nemail:\n  from: "aifactory <aifactory@acme.example>"\n  smtp_url_env: AIFACTORY_SMTP_URL\n  domains: [acme.example]\n`,
    );
  });
  afterAll(async () => {
    await serve?.stop('SIGKILL');
    await Promise.all([slack?.close(), smtp?.close()]);
    workspace?.remove();
  });

  it(
    'delivers a notify_human decision to Slack and by e-mail while serve runs, and lists the deliveries after',
    { timeout: 900_000 },
    async () => {
      const lint = await factory(workspace, ['policy', 'lint', 'policies']);
      expect(lint.code, lint.stdout + lint.stderr).toBe(0);

      serve = await startServe(workspace, ['--json'], secrets);
      // --json: one line on stdout saying where the server listens.
      for (let waited = 0; !serve.stdout().includes('\n') && waited < 30_000; waited += 50) await sleep(50);
      const line = serve.stdout().split('\n')[0]!;
      const listening = JSON.parse(line) as {
        url: string;
        host: string;
        port: number;
        openapi: string;
        mcp: string | null;
        pid: number;
        console: string | null;
      };
      expect(listening).toMatchObject({
        url: serve.url,
        host: '127.0.0.1',
        port: Number(new URL(serve.url).port),
        openapi: `${serve.url}/v1/openapi.json`,
        mcp: null,
        pid: serve.pid,
      });

      const run = await factory(workspace, ['run', 'tally-clerk', '-i', 'entry', '--as', 'alice@acme.example', '--json']);
      expect(run.code, run.stderr).toBe(0);
      const runId = (JSON.parse(run.stdout) as { runId: string }).runId;

      const deadline = Date.now() + 120_000;
      while ((slack.accepted.length === 0 || smtp.received.length === 0) && Date.now() < deadline) await sleep(100);
      expect(slack.accepted).toHaveLength(1);
      expect(slack.accepted[0]!.channel).toBe('#ops-alerts');
      expect(slack.accepted[0]!.body.text).toContain('Agent tally-clerk ran tool tally.read with notice');
      expect(slack.accepted[0]!.body.text).toContain(`Run: ${runId}`);
      expect(smtp.received).toHaveLength(1);
      expect(smtp.received[0]!.to).toEqual(['lead@acme.example']);
      expect(headerOf(smtp.received[0]!.raw, 'Subject')).toBe('[aifactory] Agent tally-clerk ran tool tally.read with notice');

      const stopped = await serve.stop('SIGTERM');
      serve = undefined;
      expect(stopped.code).toBe(0);
      for (const secret of [secrets.SLACK_OPS_ALERTS_URL!, smtpPassword]) expect(stopped.stdout + stopped.stderr).not.toContain(secret);

      const listed = await factory(workspace, ['notifications', 'list', '--all', '--json']);
      expect(listed.code, listed.stderr).toBe(0);
      const rows = (
        JSON.parse(listed.stdout) as {
          notifications: Array<{ target: string; kind: string; status: string; attempts: number; runId: string }>;
        }
      ).notifications;
      expect(rows.map((row) => [row.target, row.kind, row.status, row.attempts, row.runId]).sort()).toEqual([
        ['email:lead@acme.example', 'email', 'delivered', 1, runId],
        ['slack:#ops-alerts', 'slack', 'delivered', 1, runId],
      ]);
      const text = await factory(workspace, ['notifications', 'list', '--all']);
      expect(text.stdout).toMatch(/sent\s+\S+\s+slack:#ops-alerts/);

      const channels = await factory(workspace, ['notifications', 'channels', '--json'], {
        env: { SLACK_OPS_ALERTS_URL: secrets.SLACK_OPS_ALERTS_URL! },
      });
      expect(JSON.parse(channels.stdout)).toMatchObject({
        slack: [{ channel: '#ops-alerts', env: 'SLACK_OPS_ALERTS_URL', ready: true }],
        email: { env: 'AIFACTORY_SMTP_URL', ready: false },
      });
      expect(channels.stdout).not.toContain(secrets.SLACK_OPS_ALERTS_URL!);
    },
  );

  it('mcp serve --json prints where it listens over HTTP, and refuses --json over stdio', { timeout: 600_000 }, async () => {
    const stdio = await factory(workspace, ['mcp', 'serve', 'tally-clerk', '--json']);
    expect(stdio.code).toBe(2);
    expect(JSON.parse(stdio.stdout)).toMatchObject({
      ok: false,
      error: { code: 'INPUT_INVALID', message: '--json needs --http: over stdio, stdout carries only MCP messages.' },
    });

    const child = spawnFactory(workspace, ['mcp', 'serve', 'tally-clerk', '--http', '0', '--json']);
    try {
      let stdout = '';
      child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
      for (let waited = 0; !stdout.includes('\n') && waited < 300_000; waited += 50) await sleep(50);
      const listening = JSON.parse(stdout.split('\n')[0]!) as { url: string; port: number; mcp: string; agents: string[]; pid: number };
      expect(listening).toMatchObject({ host: '127.0.0.1', mcp: `${listening.url}/mcp`, agents: ['tally-clerk'], pid: child.pid });
      expect(listening.port).toBeGreaterThan(0);
    } finally {
      if (child.exitCode === null) process.kill(child.pid!, 'SIGKILL');
    }
  });
});
