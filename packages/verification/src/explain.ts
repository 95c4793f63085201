// The proof of a run, action by action, read from its recorded events only: what occurred; why it
// was allowed (policy, version, content hash, each rule with the values its condition saw); what
// data could have influenced it (chunks retrieved earlier with their source and content hash,
// earlier tool results by content hash); whether it succeeded; and how to replay it. Rendered as
// text, Markdown (for an audit report) or JSON.
import { ErrorCode, UserError, sha256Hex } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import { queryRows, toDate } from './store-access.ts';
import { readRunEvents } from './verify.ts';

/** A rule that took part in a decision, as recorded. */
export interface ExplainedRule {
  policy: string;
  ruleId: string;
  authority: string;
  reason?: string;
  /** The values the rule's condition read, by path. */
  values: Record<string, unknown>;
  conditionError?: string;
}

/** Data the action could have been influenced by: what the run had read before it. */
export interface ExplainedInfluence {
  step: number;
  kind: 'retrieval' | 'tool_result';
  name: string;
  /** Retrievals: the chunks with their source and content hash. */
  chunks?: Array<{ id: string; source: string; contentHash: string; score?: number; location?: unknown }>;
  /** Tool results: sha256 of the recorded result text and its first line. */
  contentHash?: string;
  summary?: string;
}

/** One governed action and its proof. */
export interface ExplainedAction {
  step: number;
  kind: string;
  name: string;
  args: Record<string, unknown>;
  argsHash: string | null;
  decidedAt: string;
  authority: string;
  reason: string;
  defaulted: boolean;
  rules: ExplainedRule[];
  policies: Array<{ name: string; version: string; hash: string }>;
  notify: string[];
  influences: ExplainedInfluence[];
  /** What happened after the decision. */
  outcome: {
    status: 'succeeded' | 'failed' | 'denied' | 'waiting' | 'rejected' | 'not_run' | 'in_doubt';
    detail: string;
    approval?: { id: string; outcome: string; approvers: string[] };
  };
}

/** A change of hands in a run's life: a live process recovered it, or a crash left an action in doubt and a human settled it. */
export interface ExplainedCustody {
  seq: number;
  ts: string;
  kind: 'recovered' | 'in_doubt' | 'resolved';
  detail: string;
}

/** The proof of a run. */
export interface RunExplanation {
  run: {
    id: string;
    agent: string;
    principal: string;
    status: string;
    startedAt: string;
    endedAt: string | null;
    replayOf: string | null;
    definitionHash: string | null;
    promptHash: string | null;
    /** The registry prompt version the run used (`spec.prompt`), when it named one. */ prompt: {
      name: string;
      version: number;
      label: string | null;
    } | null;
    policySetHash: string | null;
  };
  actions: ExplainedAction[];
  /** Recoveries from dead owners and in-doubt actions, in order. */
  custody: ExplainedCustody[];
  /** The commands that replay the run, as recorded and under other policies. */
  replay: { command: string; whatIf: string };
}

interface LoadedEvent {
  seq: number;
  ts: Date;
  type: string;
  payload: Record<string, unknown> | null;
}

/** Explains every governed action of a run, or only the one at `step`. */
export async function explainRun(store: Store, runId: string, options: { step?: number } = {}): Promise<RunExplanation> {
  const [row] = await queryRows(
    store,
    'SELECT id, agent, principal, status, started_at, ended_at, replay_of, metadata FROM runs WHERE id = $1',
    [runId],
  );
  if (!row) throw new UserError(ErrorCode.NotFound, `Run '${runId}' does not exist; run 'factory runs list' to see the runs.`);
  const metadata = (typeof row.metadata === 'string' ? JSON.parse(row.metadata) : (row.metadata ?? {})) as Record<string, unknown>;
  const events: LoadedEvent[] = [];
  for await (const event of readRunEvents(store, runId)) {
    events.push({
      seq: event.seq,
      ts: event.ts,
      type: event.type,
      payload: event.payloadText === null ? null : (JSON.parse(event.payloadText) as Record<string, unknown>),
    });
  }
  const influences: ExplainedInfluence[] = [];
  const actions: ExplainedAction[] = [];
  const custody: ExplainedCustody[] = [];
  for (const [index, event] of events.entries()) {
    const payload = event.payload;
    if (!payload) continue;
    const at = { seq: event.seq, ts: event.ts.toISOString() };
    if (event.type === 'run.recovered') {
      const retried = Array.isArray(payload.retried) ? (payload.retried as Array<{ name?: string; step?: number }>) : [];
      custody.push({
        ...at,
        kind: 'recovered',
        detail: `Recovered by ${String(payload.owner)} (lease epoch ${String(payload.epoch)})${payload.previous_owner ? ` after ${String(payload.previous_owner)} stopped` : ''}; went on from its last checkpoint, recorded outcomes served back${retried.length > 0 ? `; retried as idempotent: ${retried.map((call) => `${String(call.name)} (step ${String(call.step)})`).join(', ')}` : ''}.`,
      });
    } else if (event.type === 'run.held' && payload.reason === 'outcome_unknown') {
      custody.push({
        ...at,
        kind: 'in_doubt',
        detail: `Held: the outcome of ${String(payload.name)} (step ${String(payload.step)}) is unknown — its process died after the call was decided and before its outcome was recorded; it is not idempotent, so it was not run again.`,
      });
    } else if (event.type === 'action.resolved') {
      custody.push({
        ...at,
        kind: 'resolved',
        detail: `${String(payload.by)} resolved ${String(payload.name)} (step ${String(payload.step)}) as ${String(payload.resolution)}${payload.reason ? `: ${String(payload.reason)}` : ''}.`,
      });
    }
    if (event.type === 'retrieval.performed') {
      const chunks = (Array.isArray(payload.chunks) ? payload.chunks : []) as Array<Record<string, unknown>>;
      influences.push({
        step: Number(payload.step),
        kind: 'retrieval',
        name: Array.isArray(payload.collections) ? payload.collections.join(',') : 'knowledge',
        chunks: chunks.map((chunk) => ({
          id: String(chunk.id),
          source: String(chunk.source ?? ''),
          contentHash: String(chunk.content_hash),
          ...(typeof chunk.score === 'number' ? { score: chunk.score } : {}),
          ...(chunk.location ? { location: chunk.location } : {}),
        })),
      });
    } else if (event.type === 'tool.returned') {
      const content = typeof payload.content === 'string' ? payload.content : JSON.stringify(payload.content ?? '');
      influences.push({
        step: Number(payload.step),
        kind: 'tool_result',
        name: String(payload.name),
        contentHash: sha256Hex(content),
        summary: firstLine(content),
      });
    } else if (event.type === 'policy.decided') {
      const step = Number(payload.step);
      if (options.step !== undefined && step !== options.step) continue;
      const action = (payload.action ?? {}) as { kind?: string; name?: string; args?: Record<string, unknown>; args_hash?: string };
      const decision = (payload.decision ?? {}) as {
        authority?: string;
        reason?: string;
        defaulted?: boolean;
        rules?: ExplainedRule[];
        policies?: ExplainedAction['policies'];
        obligations?: { notify?: string[] };
      };
      actions.push({
        step,
        kind: String(action.kind ?? ''),
        name: String(action.name ?? ''),
        args: action.args ?? {},
        argsHash: action.args_hash ?? null,
        decidedAt: event.ts.toISOString(),
        authority: String(decision.authority ?? ''),
        reason: String(decision.reason ?? ''),
        defaulted: decision.defaulted === true,
        rules: (decision.rules ?? []).map((rule) => ({
          policy: rule.policy,
          ruleId: rule.ruleId,
          authority: rule.authority,
          ...(rule.reason ? { reason: rule.reason } : {}),
          values: rule.values ?? {},
          ...(rule.conditionError ? { conditionError: rule.conditionError } : {}),
        })),
        policies: (decision.policies ?? []).map((policy) => ({ name: policy.name, version: String(policy.version), hash: policy.hash })),
        notify: decision.obligations?.notify ?? [],
        influences: influences.filter((influence) => influence.step < step),
        outcome: outcomeOf(events, index, step, String(action.kind ?? ''), String(decision.authority ?? '')),
      });
    }
  }
  if (options.step !== undefined && actions.length === 0) {
    throw new UserError(ErrorCode.NotFound, `Run '${runId}' has no governed action at step ${options.step}.`, {
      location: { path: 'step' },
    });
  }
  return {
    run: {
      id: String(row.id),
      agent: String(row.agent),
      principal: String(row.principal),
      status: String(row.status),
      startedAt: toDate(row.started_at).toISOString(),
      endedAt: row.ended_at ? toDate(row.ended_at).toISOString() : null,
      replayOf: (row.replay_of as string | null) ?? null,
      definitionHash: typeof metadata.definition_hash === 'string' ? metadata.definition_hash : null,
      promptHash: typeof metadata.prompt_hash === 'string' ? metadata.prompt_hash : null,
      prompt: promptOf(metadata.prompt),
      policySetHash: typeof metadata.policy_set_hash === 'string' ? metadata.policy_set_hash : null,
    },
    actions,
    custody,
    replay: { command: `factory runs replay ${runId}`, whatIf: `factory runs replay ${runId} --policy <file...>` },
  };
}

const outcomeTypes: Record<string, string[]> = {
  model: ['model.responded', 'model.failed'],
  tool: ['tool.returned', 'tool.failed'],
  handoff: ['tool.returned', 'tool.failed'],
  retrieval: ['retrieval.performed', 'tool.failed'],
  answer: ['answer.given'],
};

function outcomeOf(events: LoadedEvent[], from: number, step: number, kind: string, authority: string): ExplainedAction['outcome'] {
  if (authority === 'deny') return { status: 'denied', detail: 'Not run: the policy denied it.' };
  let approval: { id: string; outcome: string; approvers: string[] } | undefined;
  if (authority === 'require_approval') {
    const held = events.slice(from).find((event) => event.type === 'run.held' && event.payload?.step === step);
    const id = String(held?.payload?.approval_id ?? '');
    const resumed = events.slice(from).find((event) => event.type === 'run.resumed' && event.payload?.step === step);
    const approvers = events
      .filter((event) => event.type === 'approval.voted' && event.payload?.approval_id === id)
      .map((event) => `${String(event.payload?.approver)} (${String(event.payload?.vote)})`);
    if (!resumed)
      return {
        status: 'waiting',
        detail: `Held for approval ${id || '(unknown)'}; not decided yet.`,
        ...(id ? { approval: { id, outcome: 'pending', approvers } } : {}),
      };
    approval = { id, outcome: String(resumed.payload?.outcome ?? 'approved'), approvers };
    if (approval.outcome === 'rejected')
      return { status: 'rejected', detail: `Rejected by ${approvers.join(', ') || 'its approvers'}; not run.`, approval };
  }
  const types = outcomeTypes[kind] ?? [];
  const result = events.slice(from + 1).find((event) => types.includes(event.type) && event.payload?.step === step);
  const base = approval ? { approval } : {};
  const inDoubt = events
    .slice(from)
    .find((event) => event.type === 'run.held' && event.payload?.reason === 'outcome_unknown' && event.payload?.step === step);
  const resolved = events.slice(from).find((event) => event.type === 'action.resolved' && event.payload?.step === step);
  if (!result && inDoubt) {
    const detail = resolved
      ? `Outcome unknown after a crash; ${String(resolved.payload?.by)} resolved it as ${String(resolved.payload?.resolution)}.`
      : 'Outcome unknown: the process died after the call was decided and before its outcome was recorded; held (outcome_unknown) for a human to confirm, retry or fail.';
    return { status: 'in_doubt', detail, ...base };
  }
  if (!result) return { status: 'not_run', detail: 'No outcome recorded (the run stopped before it).', ...base };
  const payload = result.payload ?? {};
  if (typeof payload.confirmed_by === 'string')
    return {
      status: 'succeeded',
      detail: `Outcome unknown after a crash; ${payload.confirmed_by} confirmed it happened (not run again).`,
      ...base,
    };
  if (result.type.endsWith('.failed')) {
    const error = payload.error as { message?: string } | string | undefined;
    return { status: 'failed', detail: typeof error === 'string' ? error : String(error?.message ?? 'failed'), ...base };
  }
  if (result.type === 'model.responded') {
    const usage = (payload.usage ?? {}) as { inputTokens?: number; outputTokens?: number };
    const calls = Array.isArray(payload.tool_calls) ? payload.tool_calls.map((call) => String((call as { name?: string }).name)) : [];
    return {
      status: 'succeeded',
      detail: `${usage.inputTokens ?? 0}+${usage.outputTokens ?? 0} tokens, $${Number(payload.cost_usd ?? 0).toFixed(4)}${calls.length > 0 ? `; asked for ${calls.join(', ')}` : `; answered`}.`,
      ...base,
    };
  }
  if (result.type === 'retrieval.performed')
    return { status: 'succeeded', detail: `${Array.isArray(payload.chunks) ? payload.chunks.length : 0} chunks retrieved.`, ...base };
  if (result.type === 'answer.given') return { status: 'succeeded', detail: `Answered: ${firstLine(String(payload.text ?? ''))}`, ...base };
  const served =
    typeof payload.recorded_seq === 'number'
      ? ` (after recovery, served from the record at seq ${payload.recorded_seq}; not run again)`
      : '';
  return {
    status: 'succeeded',
    detail: `Returned: ${firstLine(typeof payload.content === 'string' ? payload.content : JSON.stringify(payload.content ?? ''))}${served}`,
    ...base,
  };
}

function firstLine(text: string): string {
  const line = text.replace(/\s+/g, ' ').trim();
  return line.length > 100 ? `${line.slice(0, 97)}...` : line;
}

function shortHash(hash: string | null | undefined): string {
  return hash ? hash.slice(0, 12) : '-';
}

function valuesText(values: Record<string, unknown>): string {
  const entries = Object.entries(values);
  return entries.length === 0 ? '' : ` with ${entries.map(([key, value]) => `${key} = ${JSON.stringify(value)}`).join(', ')}`;
}

/** The explanation as plain text. */
export function renderExplanationText(explanation: RunExplanation): string {
  const { run } = explanation;
  const lines = [
    `Run ${run.id}: agent ${run.agent}, principal ${run.principal}, ${run.status}, started ${run.startedAt}${run.replayOf ? `, replay of ${run.replayOf}` : ''}`,
  ];
  const prompt = run.prompt ? ` (${run.prompt.name} v${run.prompt.version}${run.prompt.label ? ` via @${run.prompt.label}` : ''})` : '';
  lines.push(
    `  agent definition ${shortHash(run.definitionHash)}, prompt ${shortHash(run.promptHash)}${prompt}, policy set ${shortHash(run.policySetHash)}`,
    '',
  );
  for (const action of explanation.actions) {
    lines.push(`step ${action.step}  ${action.kind} ${action.name}  ${action.authority}  (${action.decidedAt})`);
    if (Object.keys(action.args).length > 0)
      lines.push(`  args: ${JSON.stringify(action.args)}${action.argsHash ? ` (hash ${shortHash(action.argsHash)})` : ''}`);
    lines.push(`  why: ${action.reason}`);
    for (const rule of action.rules)
      lines.push(
        `    rule ${rule.policy}/${rule.ruleId} -> ${rule.authority}${valuesText(rule.values)}${rule.conditionError ? ` (condition failed: ${rule.conditionError})` : ''}`,
      );
    if (action.rules.length === 0) lines.push(`    no rule applied; the default authority for ${action.kind} decided`);
    lines.push(
      `  policies: ${action.policies.map((policy) => `${policy.name} v${policy.version} ${shortHash(policy.hash)}`).join(', ') || '-'}`,
    );
    if (action.notify.length > 0) lines.push(`  notified: ${action.notify.join(', ')}`);
    for (const influence of action.influences) lines.push(`  data: ${influenceText(influence)}`);
    lines.push(
      `  outcome: ${action.outcome.status}: ${action.outcome.detail}${action.outcome.approval ? ` (approval ${action.outcome.approval.id}: ${action.outcome.approval.outcome}${action.outcome.approval.approvers.length > 0 ? ` by ${action.outcome.approval.approvers.join(', ')}` : ''})` : ''}`,
      '',
    );
  }
  for (const entry of explanation.custody) lines.push(`seq ${entry.seq}  ${entry.kind}  (${entry.ts})`, `  ${entry.detail}`, '');
  lines.push(`Replay: ${explanation.replay.command}`, `What-if: ${explanation.replay.whatIf}`);
  return lines.join('\n');
}

function influenceText(influence: ExplainedInfluence): string {
  if (influence.kind === 'retrieval')
    return `step ${influence.step} retrieved from ${influence.name}: ${(influence.chunks ?? []).map((chunk) => `${chunk.source} (${shortHash(chunk.contentHash)})`).join('; ') || 'nothing'}`;
  return `step ${influence.step} result of ${influence.name} (${shortHash(influence.contentHash)}): ${influence.summary ?? ''}`;
}

function cell(text: string): string {
  return text.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

/** The explanation as Markdown, to attach to an audit report. */
export function renderExplanationMarkdown(explanation: RunExplanation): string {
  const { run } = explanation;
  const lines = [
    `# Run ${run.id}`,
    '',
    '| field | value |',
    '| --- | --- |',
    `| agent | ${cell(run.agent)} |`,
    `| principal | ${cell(run.principal)} |`,
    `| status | ${run.status} |`,
    `| started | ${run.startedAt} |`,
    `| agent definition | \`${run.definitionHash ?? '-'}\` |`,
    `| prompt | \`${run.promptHash ?? '-'}\` |`,
    ...(run.prompt
      ? [`| prompt version | ${run.prompt.name} v${run.prompt.version}${run.prompt.label ? ` (@${run.prompt.label})` : ''} |`]
      : []),
    `| policy set | \`${run.policySetHash ?? '-'}\` |`,
    ...(run.replayOf ? [`| replay of | ${run.replayOf} |`] : []),
    '',
    '| step | action | authority | rules | outcome |',
    '| --- | --- | --- | --- | --- |',
    ...explanation.actions.map(
      (action) =>
        `| ${action.step} | ${action.kind} \`${cell(action.name)}\` | ${action.authority} | ${cell(action.rules.map((rule) => `${rule.policy}/${rule.ruleId}`).join(', ') || '(default)')} | ${action.outcome.status} |`,
    ),
    '',
  ];
  for (const action of explanation.actions) {
    lines.push(`## Step ${action.step}: ${action.kind} \`${action.name}\` — ${action.authority}`, '');
    if (Object.keys(action.args).length > 0) lines.push('```json', JSON.stringify(action.args, null, 2), '```', '');
    if (action.argsHash) lines.push(`Arguments hash \`${action.argsHash}\`, decided at ${action.decidedAt}.`, '');
    lines.push(`**Why:** ${action.reason}`, '');
    for (const rule of action.rules)
      lines.push(
        `- rule \`${rule.policy}/${rule.ruleId}\` → ${rule.authority}${valuesText(rule.values)}${rule.reason ? ` — ${rule.reason}` : ''}`,
      );
    if (action.rules.length === 0) lines.push(`- no rule applied; the default authority for ${action.kind} decided`);
    lines.push(
      '',
      `**Policies:** ${action.policies.map((policy) => `${policy.name} v${policy.version} (\`${policy.hash}\`)`).join(', ') || '-'}`,
      '',
    );
    if (action.influences.length > 0) {
      lines.push('**Data it could draw on:**', '');
      for (const influence of action.influences) lines.push(`- ${influenceText(influence)}`);
      lines.push('');
    }
    lines.push(
      `**Outcome:** ${action.outcome.status} — ${action.outcome.detail}${action.outcome.approval ? ` Approval ${action.outcome.approval.id}: ${action.outcome.approval.outcome}${action.outcome.approval.approvers.length > 0 ? ` (${action.outcome.approval.approvers.join(', ')})` : ''}.` : ''}`,
      '',
    );
  }
  if (explanation.custody.length > 0) {
    lines.push('## Custody', '');
    for (const entry of explanation.custody) lines.push(`- seq ${entry.seq} (${entry.ts}), ${entry.kind}: ${cell(entry.detail)}`);
    lines.push('');
  }
  lines.push(`Replay with \`${explanation.replay.command}\`; what-if with \`${explanation.replay.whatIf}\`.`);
  return lines.join('\n');
}

/** The registry prompt a run recorded (run.started metadata `prompt`), if any. */
function promptOf(value: unknown): { name: string; version: number; label: string | null } | null {
  const prompt = value as { name?: unknown; version?: unknown; label?: unknown } | null | undefined;
  if (!prompt || typeof prompt.name !== 'string' || typeof prompt.version !== 'number') return null;
  return { name: prompt.name, version: prompt.version, label: typeof prompt.label === 'string' ? prompt.label : null };
}
