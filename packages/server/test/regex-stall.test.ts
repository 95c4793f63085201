// Issue #13: one rule `matches("(a+)+$")` and 28 characters of input stopped the server answering
// /healthz for seconds, doubling with each character, because CEL ran JavaScript's backtracking
// RegExp on the request thread. With RE2 the same rule decides 10,000 characters at once, and the
// server keeps answering while such runs are decided. A real server on loopback, PGlite, the
// scripted model echoing the user's text as its answer.
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openStore, type Store } from '@aifactory/store';
import { createApiToken, startServer, type RunningServer } from '@aifactory/server';
import { prepareBusinessWorkspace } from '../../../examples/business-app/business-workspace.ts';
import { workspaceConfigAt } from '@aifactory/workspace';

describe('a catastrophic pattern in a policy', () => {
  const workspace = prepareBusinessWorkspace();
  let store: Store;
  let server: RunningServer;
  let token = '';

  beforeAll(async () => {
    mkdirSync(path.join(workspace.policiesDir, 'echo'), { recursive: true });
    writeFileSync(
      path.join(workspace.policiesDir, 'echo', 'policy.yaml'),
      'apiVersion: aifactory/v1\nkind: AutonomyPolicy\nmetadata: { name: echo, version: 1 }\nspec:\n  default: autonomous\n  rules:\n    - id: no-runs-of-a\n      match: { kind: answer }\n      when: action.args.text.matches("(a+)+$")\n      authority: deny\n      reason: Answers ending in a run of a are refused.\n',
    );
    writeFileSync(
      path.join(workspace.agentsDir, 'scripts', 'echo.script.yaml'),
      'description: Echoes the user.\nscenarios:\n  - turns:\n      - say: "{{last_user_message}}"\n',
    );
    writeFileSync(
      path.join(workspace.agentsDir, 'echo.yaml'),
      'apiVersion: aifactory/v1\nkind: Agent\nmetadata: { name: echo, description: Echoes the user. }\nspec:\n  model: { id: "scripted:echo.script", script: ./scripts/echo.script.yaml }\n  system_prompt: Echo.\n  policies: [../policies/echo/policy.yaml]\n',
    );
    store = await openStore();
    server = await startServer({
      store,
      config: workspaceConfigAt(workspace.dataDir, { agentsDir: workspace.agentsDir, policiesDir: workspace.policiesDir }),
      port: 0,
      log: () => undefined,
      rateLimit: { burst: 1000, perSecond: 1000 },
    });
    token = (await createApiToken(store, { principal: 'mallory@shop.example', roles: ['operator'] })).token;
  }, 180_000);

  afterAll(async () => {
    await server?.close();
    await store?.close();
    rmSync(workspace.root, { recursive: true, force: true });
  });

  const startRun = async (input: string): Promise<{ status: string; error?: string }> => {
    console.log('RUN', input.length, input.at(-1));
    const response = await fetch(`${server.url}/v1/runs`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ agent: 'echo', input }),
    });
    expect(response.status, await response.clone().text()).toBe(200);
    return (await response.json()) as { status: string; error?: string };
  };

  it('decides 10,000-character inputs while /healthz keeps answering', async () => {
    let polling = true;
    let slowest = 0;
    let answered = 0;
    const poll = (async () => {
      while (polling) {
        const started = performance.now();
        const response = await fetch(`${server.url}/healthz`);
        expect(response.status).toBe(200);
        await response.arrayBuffer();
        slowest = Math.max(slowest, performance.now() - started);
        answered += 1;
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
    })();
    try {
      // No match: backtracking would try 2^10000 ways before saying so.
      const allowed = await startRun(`${'a'.repeat(10_000)}!`);
      expect(allowed.status).toBe('completed');
      const denied = await startRun('a'.repeat(10_000));
      expect(denied.status).toBe('failed');
      expect(denied.error).toMatch(/Answers ending in a run of a are refused/);
      for (const input of [`${'a'.repeat(9_999)}!`, `${'a'.repeat(5_000)}b`]) expect((await startRun(input)).status).toBe('completed');
    } finally {
      polling = false;
      await poll;
    }
    expect(answered).toBeGreaterThan(0);
    // 28 characters stalled the old server for 5 s; a loaded test machine answers well within 2 s.
    expect(slowest).toBeLessThan(2_000);
  }, 180_000);
});
