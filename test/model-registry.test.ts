// The model registry at work in real runs (embedded store, scripted models): every model call is
// decided with the registry's entry of its model as CEL `model`, so the shipped
// policies/model-registry denies a model nobody registered and lets a registered one through; and
// the fallback an agent names (spec.model.fallback, passed to the gateway with each call) stands in
// only when that model is registered. A run that has read personal data (a pii knowledge
// collection) and then calls a model cleared for it but hosted outside the EU goes on, and the
// DPO is told (eu-residency-for-pii, notify_human).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { listNotifications } from '@aifactory/execution/notifications';
import { createKnowledgeBase } from '@aifactory/knowledge';
import { openStore, type Store } from '@aifactory/store';
import { createWorkspaceRuntime } from '@aifactory/workspace';
import { readRunEvents } from '@aifactory/verification';

const repository = path.resolve(import.meta.dirname, '..');
const policy = path.join(repository, 'policies', 'model-registry', 'policy.yaml');
const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

function modelFile(id: string, classifications: string[], residency = 'eu'): string {
  return `apiVersion: aifactory/v1\nkind: Model\nmetadata: { name: ${id.replace(/[^a-z0-9]+/g, '-')}, owner: platform@acme.example }\nspec:\n  id: "${id}"\n  version: "1"\n  compliance: { classifications: [${classifications.join(', ')}], residency: [${residency}] }\n`;
}

async function workspaceWith(registered: string[], usPii: string[] = []) {
  const folder = mkdtempSync(path.join(tmpdir(), 'aifactory-model-registry-'));
  cleanups.push(() => rmSync(folder, { recursive: true, force: true }));
  const agents = path.join(folder, 'agents');
  mkdirSync(path.join(agents, 'scripts'), { recursive: true });
  mkdirSync(path.join(folder, 'models'));
  for (const id of registered)
    writeFileSync(path.join(folder, 'models', `${id.replace(/[^a-z0-9]+/g, '-')}.yaml`), modelFile(id, ['public', 'internal']));
  // Models cleared for personal data, hosted in the US only.
  for (const id of usPii)
    writeFileSync(path.join(folder, 'models', `${id.replace(/[^a-z0-9]+/g, '-')}.yaml`), modelFile(id, ['pii'], 'us'));
  const agent = (name: string, model: string, fallback?: string) =>
    writeFileSync(
      path.join(agents, `${name}.yaml`),
      `apiVersion: aifactory/v1\nkind: Agent\nmetadata: { name: ${name}, description: Answers. }\nspec:\n  model: { id: "${model}"${fallback ? `, fallback: "${fallback}"` : ''} }\n  system_prompt: Answer briefly.\n  policies: [${JSON.stringify(policy)}]\n`,
    );
  agent('desk', 'scripted:desk');
  agent('rogue', 'scripted:rogue');
  agent('flaky', 'scripted:flaky', 'scripted:backup');
  for (const name of ['desk', 'rogue', 'backup'])
    writeFileSync(path.join(agents, 'scripts', `${name}.yaml`), `turns: [{ say: Hello from ${name}. }]\n`);
  writeFileSync(path.join(agents, 'scripts', 'flaky.yaml'), 'turns: [{ error: provider overloaded }]\n');
  // An agent that searches a pii collection, then answers from it.
  writeFileSync(
    path.join(agents, 'reader.yaml'),
    `apiVersion: aifactory/v1\nkind: Agent\nmetadata: { name: reader, description: Answers from customer notes. }\nspec:\n  model: { id: "scripted:reader" }\n  system_prompt: Answer from the notes.\n  knowledge: [{ collection: customer-notes, top_k: 2 }]\n  policies: [${JSON.stringify(policy)}]\n`,
  );
  writeFileSync(
    path.join(agents, 'scripts', 'reader.yaml'),
    'turns:\n  - tool_calls: [{ name: knowledge__search, args: { query: delivery address } }]\n  - say: The delivery address is on file.\n',
  );
  const store: Store = await openStore();
  cleanups.push(() => store.close());
  const notes = path.join(folder, 'notes');
  mkdirSync(notes);
  writeFileSync(path.join(notes, 'customer.md'), '# Customer notes\n\nThe customer asked us to change the delivery address.\n');
  const knowledgeBase = createKnowledgeBase(store, { dataDir: path.join(folder, 'data') });
  await knowledgeBase.ingest(notes, { collection: 'customer-notes', classifications: ['pii'] });
  await knowledgeBase.close();
  const workspace = await createWorkspaceRuntime({
    store,
    dataDir: path.join(folder, 'data'),
    agentsDir: agents,
    // No gateway-wide fallback: what stands in is the agent's own spec.model.fallback.
    models: { maxRetries: 0, backoff: { initialDelayMs: 1, maxDelayMs: 1 } },
  });
  cleanups.push(() => workspace.close());
  const principal = { id: 'ann@acme.example', roles: [] };
  const modelDecisions = async (runId: string) => {
    const decisions: Array<{ name: string; authority: string; rules: string[] }> = [];
    for await (const event of readRunEvents(store, runId)) {
      if (event.type !== 'policy.decided' || event.payloadText === null) continue;
      const payload = JSON.parse(event.payloadText) as {
        action: { kind: string; name: string };
        decision: { authority: string; rules: Array<{ ruleId: string }> };
      };
      if (payload.action.kind === 'model')
        decisions.push({
          name: payload.action.name,
          authority: payload.decision.authority,
          rules: payload.decision.rules.map((rule) => rule.ruleId),
        });
    }
    return decisions;
  };
  return { run: (agentName: string) => workspace.runtime.start(agentName, 'hello', { principal }), modelDecisions, store };
}

describe('the model registry in governed runs', () => {
  it('lets a registered model answer and denies one nobody registered, naming the rule', async () => {
    const { run, modelDecisions } = await workspaceWith(['scripted:desk']);
    const allowed = await run('desk');
    expect(allowed).toMatchObject({ status: 'completed', answer: 'Hello from desk.' });
    expect(await modelDecisions(allowed.runId)).toEqual([{ name: 'scripted:desk', authority: 'autonomous', rules: [] }]);
    const denied = await run('rogue');
    expect(denied.status).not.toBe('completed');
    expect(await modelDecisions(denied.runId)).toEqual([{ name: 'scripted:rogue', authority: 'deny', rules: ['registered-models-only'] }]);
  });

  it("falls back to the agent's spec.model.fallback only when it is registered: an unregistered fallback is never called", async () => {
    const unregistered = await workspaceWith(['scripted:flaky']);
    const failed = await unregistered.run('flaky');
    expect(failed.status).toBe('failed');
    expect(failed.status === 'failed' ? failed.error : '').toContain('fallback scripted:backup is not in the model registry');
    expect((await unregistered.modelDecisions(failed.runId)).map((decision) => decision.name)).toEqual(['scripted:flaky']);

    const registered = await workspaceWith(['scripted:flaky', 'scripted:backup']);
    const rescued = await registered.run('flaky');
    expect(rescued).toMatchObject({ status: 'completed', answer: 'Hello from backup.' });
    expect(await registered.modelDecisions(rescued.runId)).toEqual([
      { name: 'scripted:flaky', authority: 'autonomous', rules: [] },
      { name: 'scripted:backup', authority: 'autonomous', rules: [] },
    ]);
  });

  it('a model cleared for personal data but hosted outside the EU answers after the run read pii, and the DPO is told', async () => {
    const { run, modelDecisions, store } = await workspaceWith([], ['scripted:reader']);
    const answered = await run('reader');
    expect(answered).toMatchObject({ status: 'completed', answer: 'The delivery address is on file.' });
    // Before the search the run has read nothing; after it, pii, and the model is outside the EU.
    expect(await modelDecisions(answered.runId)).toEqual([
      { name: 'scripted:reader', authority: 'autonomous', rules: [] },
      { name: 'scripted:reader', authority: 'notify_human', rules: ['eu-residency-for-pii'] },
    ]);
    expect((await listNotifications(store, { runId: answered.runId, all: true })).map((notification) => notification.target)).toContain(
      'email:dpo@acme.example',
    );
  });
});
