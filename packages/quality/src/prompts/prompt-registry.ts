// The prompt registry's state, kept in the store as sealed records (the way feedback is): every
// publication and every promotion is a small hash-chained run of the agent `prompt-registry`,
// sealed into the seal chain, so a version or a label cannot be edited or deleted unnoticed.
//
//   publish   run.started (metadata: prompt, version, content hash) · prompt.published (template) · run.completed
//   promote   run.started · policy.decided (the promotion decided under the promotion policy, with
//             the eval it read) · prompt.promoted | prompt.promotion_refused | (held: approval.requested)
//   held      once its approval is decided, wherever it is decided (vote-and-resume), the held record
//             goes on: approval consumed · prompt.promoted (approved) | prompt.promotion_refused (rejected)
//
// A version is immutable: its record id is `prm_<name>_v<version>`, so two publishers racing for a
// number collide on the runs' primary key instead of both winning, and the template is read back
// from the sealed event and checked against the hash the version was published with. Labels are
// not stored anywhere else: a label points where the last prompt.promoted record for it says.
import { randomUUID } from 'node:crypto';
import { contentHash, ErrorCode, SystemError, UserError } from '@aifactory/core';
import { compilePolicies, decide, parsePolicy, type Decision, type EvalContext, type PolicySet } from '@aifactory/control';
import type { ApprovalService } from '@aifactory/execution';
import { findPolicyVersions, rememberPolicies } from '@aifactory/execution/agents';
import type { Store } from '@aifactory/store';
import { readRunEvents, type Recorder } from '@aifactory/verification';
import { distinctRunMetadata, findRun, findRunsWhere } from '@aifactory/verification/internal';
import { promptContentHash, promptLabelPattern, renderPrompt, type PromptDocument } from './prompt-document.ts';

/** The agent name prompt registry records are filed under. */
export const PROMPT_REGISTRY_AGENT = 'prompt-registry';
/** The agent name evaluation records are filed under. */
export const EVAL_RECORD_AGENT = 'eval';
/** The action a promotion is decided as, under the promotion policy. */
export const PROMOTE_ACTION = 'prompts.promote';

/** One published version, as recorded. */
export interface PromptVersion {
  name: string;
  version: number;
  contentHash: string;
  owner: string;
  by: string;
  publishedAt: string;
  /** The record that holds it. */
  record: string;
  /** Labels pointing at it now. */
  labels: string[];
}

/** A published version with its template. */
export interface PromptVersionContent extends PromptVersion {
  template: string;
  variables: Record<string, { description?: string; default?: string }>;
}

/** One promotion or rollback of a label, as recorded. */
export interface LabelMove {
  label: string;
  version: number;
  previousVersion: number | null;
  by: string;
  at: string;
  rollback: boolean;
  record: string;
}

/** What the registry writes with. */
export interface RegistryParts {
  store: Store;
  recorder: Recorder;
}

/** Publishes the draft as a new version; returns the latest version unchanged when its content is the same. */
export async function publishPrompt(
  parts: RegistryParts,
  document: PromptDocument,
  by: string,
): Promise<{ published: boolean; version: PromptVersion }> {
  for (let attempt = 0; attempt < 5; attempt += 1) {
    const versions = await promptVersions(parts.store, document.name);
    const latest = versions.at(-1);
    if (latest && latest.contentHash === document.contentHash) return { published: false, version: latest };
    const version = (latest?.version ?? 0) + 1;
    const id = versionRecordId(document.name, version);
    try {
      await parts.recorder.startRun({
        id,
        agent: PROMPT_REGISTRY_AGENT,
        principal: by,
        metadata: { kind: 'prompt.published', prompt: document.name, version, content_hash: document.contentHash, owner: document.owner },
      });
    } catch (error) {
      // Another publisher took this number first: read again and take the next.
      if ((await promptVersions(parts.store, document.name)).some((existing) => existing.version === version)) continue;
      throw error;
    }
    await parts.recorder.record(id, {
      type: 'prompt.published',
      actor: by,
      payload: {
        prompt: document.name,
        version,
        content_hash: document.contentHash,
        template: document.template,
        variables: document.variables,
        owner: document.owner,
        by,
        ...(document.tests ? { tests: document.tests } : {}),
      },
    });
    const finished = await parts.recorder.finishRun(id, { status: 'completed' });
    return {
      published: true,
      version: {
        name: document.name,
        version,
        contentHash: document.contentHash,
        owner: document.owner,
        by,
        publishedAt: finished.event.ts.toISOString(),
        record: id,
        labels: [],
      },
    };
  }
  throw new SystemError(
    ErrorCode.Conflict,
    `Could not publish prompt '${document.name}': other publishers kept taking the next version number; try again.`,
  );
}

/** Every published version of a prompt, oldest first, with the labels that point at each. */
export async function promptVersions(store: Store, name: string): Promise<PromptVersion[]> {
  const rows = await findRunsWhere(
    store,
    { agent: PROMPT_REGISTRY_AGENT, status: 'completed', metadata: { prompt: name, kind: 'prompt.published' } },
    { order: 'oldest' },
  );
  const labels = await promptLabels(store, name);
  return rows
    .map((row) => {
      const metadata = row.metadata as { version: number; content_hash: string; owner: string };
      return {
        name,
        version: metadata.version,
        contentHash: metadata.content_hash,
        owner: metadata.owner,
        by: row.principal,
        publishedAt: row.startedAt.toISOString(),
        record: row.id,
        labels: Object.entries(labels)
          .filter(([, version]) => version === metadata.version)
          .map(([label]) => label),
      };
    })
    .sort((left, right) => left.version - right.version);
}

/** The names of every prompt with a published version. */
export async function publishedPromptNames(store: Store): Promise<string[]> {
  const names = await distinctRunMetadata(store, { agent: PROMPT_REGISTRY_AGENT, metadata: { kind: 'prompt.published' } }, 'prompt');
  return names.sort();
}

/** Every label move of a prompt (promotions that went through, rollbacks), oldest first. */
export async function labelHistory(store: Store, name: string): Promise<LabelMove[]> {
  // A move is a promotion or rollback record that completed (a refused one ends failed); what the
  // label pointed at before is the previous move's version, so a promotion held for a while and
  // completed after another one still reads right.
  const rows = await findRunsWhere(
    store,
    { agent: PROMPT_REGISTRY_AGENT, status: 'completed', metadata: { prompt: name, kind: ['prompt.promotion', 'prompt.rollback'] } },
    { order: 'first-ended' },
  );
  const current = new Map<string, number>();
  return rows.map((row) => {
    const metadata = row.metadata as { kind: string; label: string; version: number };
    const previousVersion = current.get(metadata.label) ?? null;
    current.set(metadata.label, metadata.version);
    return {
      label: metadata.label,
      version: metadata.version,
      previousVersion,
      by: row.principal,
      at: (row.endedAt ?? row.startedAt).toISOString(),
      rollback: metadata.kind === 'prompt.rollback',
      record: row.id,
    };
  });
}

/** Where each label of a prompt points now. */
export async function promptLabels(store: Store, name: string): Promise<Record<string, number>> {
  const labels: Record<string, number> = {};
  for (const move of await labelHistory(store, name)) labels[move.label] = move.version;
  return labels;
}

/** One version with its template, read from its sealed record and checked against its content hash. */
export async function promptVersion(store: Store, name: string, reference: string | number): Promise<PromptVersionContent> {
  const versions = await promptVersions(store, name);
  if (versions.length === 0)
    throw new UserError(
      ErrorCode.NotFound,
      `Prompt '${name}' has no published version; publish one with 'factory prompts publish ${name}'.`,
      { location: { path: 'prompt' } },
    );
  const wanted = await versionNumber(store, name, reference, versions);
  const version = versions.find((candidate) => candidate.version === wanted);
  if (!version)
    throw new UserError(
      ErrorCode.NotFound,
      `Prompt '${name}' has no version ${wanted}; versions: ${versions.map((candidate) => candidate.version).join(', ')}.`,
      { location: { path: 'version' } },
    );
  let payload: { template?: unknown; variables?: unknown } | undefined;
  for await (const event of readRunEvents(store, version.record)) {
    if (event.type === 'prompt.published' && event.payloadText !== null) payload = JSON.parse(event.payloadText) as typeof payload;
  }
  const template = typeof payload?.template === 'string' ? payload.template : undefined;
  const variables = (payload?.variables ?? {}) as PromptVersionContent['variables'];
  // The runs row and the event could be edited apart from each other; the hash ties them together.
  if (template === undefined || promptContentHash(template, variables) !== version.contentHash) {
    throw new SystemError(
      ErrorCode.VerificationFailed,
      `Prompt '${name}' v${version.version} does not match the hash it was published with; run 'factory runs verify ${version.record}'.`,
    );
  }
  return { ...version, template, variables };
}

/** A version number from `3`, `latest` or a label. */
async function versionNumber(store: Store, name: string, reference: string | number, versions: PromptVersion[]): Promise<number> {
  if (typeof reference === 'number') return reference;
  if (/^[1-9][0-9]*$/.test(reference)) return Number(reference);
  if (reference === 'latest') return versions.at(-1)!.version;
  const labels = await promptLabels(store, name);
  if (!Object.hasOwn(labels, reference)) {
    const known = Object.keys(labels);
    throw new UserError(
      ErrorCode.NotFound,
      `Prompt '${name}' has no version labelled '${reference}'${known.length > 0 ? `; labels: ${known.join(', ')}` : ''}; promote one with 'factory prompts promote ${name}@<version> --label ${reference}'.`,
      { location: { path: 'prompt' } },
    );
  }
  return labels[reference]!;
}

/** The text an agent runs with: the version `reference` names, rendered with the agent's variables. */
export async function resolvePrompt(
  store: Store,
  name: string,
  reference: string,
  variables: Record<string, string>,
): Promise<{ text: string; version: PromptVersionContent; label?: string }> {
  const version = await promptVersion(store, name, reference);
  const label = /^[1-9][0-9]*$/.test(reference) ? undefined : reference;
  return {
    text: renderPrompt({ name, template: version.template, variables: version.variables }, variables),
    version,
    ...(label ? { label } : {}),
  };
}

/** What a promotion asks. */
export interface PromotionRequest {
  name: string;
  version: number;
  label: string;
  /** Who promotes, with their roles (the policy and approvers see them). */
  by: { id: string; roles: string[] };
  /** The promotion policy set (`policies/prompt-promotion.yaml`). */
  policies: PolicySet;
  /** Approvals, to hold a promotion that needs one and to use the decided approval. */
  approvals: ApprovalService;
  /** A decided approval of an earlier held promotion of this exact version and label. */
  approvalId?: string;
}

/** Who holds a promotion's approval: once it is decided, completeHeldPromotion goes on with it (vote-and-resume calls it). */
export const PROMOTION_RESUMER = 'prompt-registry';

/** What a promotion came to. */
export type PromotionResult =
  | { outcome: 'promoted'; record: string; previousVersion: number | null; decision: Decision | null; eval: EvalContext }
  | { outcome: 'held'; record: string; approvalId: string; decision: Decision; eval: EvalContext }
  | { outcome: 'refused'; record: string; reason: string; decision: Decision | null; eval: EvalContext };

/**
 * Promotes a version to a label as a governed action: decided under the promotion policy with the
 * latest recorded evaluation of that version (CEL `eval`), on the record whatever the outcome.
 * Denied: refused and recorded. Held: an approval is requested; promote again with its id once
 * decided. Allowed: the label moves.
 */
export async function promotePrompt(parts: RegistryParts, request: PromotionRequest): Promise<PromotionResult> {
  if (!promptLabelPattern.test(request.label))
    throw new UserError(
      ErrorCode.InputInvalid,
      `'${request.label}' is not a label; use lowercase letters, digits and dashes, e.g. production or staging.`,
      { location: { path: '--label' } },
    );
  const version = await promptVersion(parts.store, request.name, request.version);
  if (request.approvalId) return promoteWithApproval(parts, request, version);
  const evaluation = await latestEval(parts.store, request.name, request.version);
  const record = `prm_${randomUUID()}`;
  const args = { prompt: request.name, version: request.version, label: request.label, content_hash: version.contentHash };
  const decision = decide(
    request.policies,
    {
      kind: 'tool',
      name: PROMOTE_ACTION,
      args,
      agent: { id: PROMPT_REGISTRY_AGENT, tags: [] },
      principal: request.by,
      run: { id: record, steps: 0, tool_calls: 0, tokens: 0, cost_usd: 0, elapsed_ms: 0 },
    },
    { eval: evaluation },
  );
  const labels = await promptLabels(parts.store, request.name);
  const previous = Object.hasOwn(labels, request.label) ? labels[request.label]! : null;
  await parts.recorder.startRun({
    id: record,
    agent: PROMPT_REGISTRY_AGENT,
    principal: request.by.id,
    metadata: {
      kind: 'prompt.promotion',
      prompt: request.name,
      version: request.version,
      label: request.label,
      previous_version: previous,
      principal_roles: request.by.roles,
      policy_set_hash: request.policies.hash,
      // The policies that decided, by content hash: a held promotion is completed under exactly them.
      policies: request.policies.policies.map((policy) => ({ name: policy.name, version: policy.version, hash: policy.hash })),
      eval: evaluation,
    },
  });
  await parts.recorder.record(record, {
    type: 'policy.decided',
    actor: 'control-plane',
    payload: {
      step: 1,
      action: { kind: 'tool', name: PROMOTE_ACTION, args, args_hash: contentHash(args) },
      decision: { authority: decision.authority, rules: decision.rules, reason: decision.reason, policies: decision.policies },
      eval: evaluation,
    },
  });
  if (decision.authority === 'deny') {
    const reason = `${decision.reason}${evaluation.found ? '' : ' (no evaluation of this version is on record; run factory eval with --prompt ' + `${request.name}@${request.version})`}`;
    await refuse(parts, record, request, reason);
    return { outcome: 'refused', record, reason, decision, eval: evaluation };
  }
  if (decision.authority === 'require_approval') {
    // Kept by content hash, so whichever process the approval is decided in completes it under them.
    await rememberPolicies(parts.store, request.policies, new Date());
    const approval = await request.approvals.request({
      runId: record,
      step: 1,
      action: { kind: 'tool', name: PROMOTE_ACTION, args },
      policyHash: request.policies.hash,
      requirement: decision.obligations.approvers as unknown as Record<string, unknown>,
      requestedBy: request.by.id,
      // No agent run resumes this: once decided, the registry completes it (completeHeldPromotion).
      context: {
        agent: PROMPT_REGISTRY_AGENT,
        reason: decision.reason,
        rules: decision.rules.map((rule) => `${rule.policy}/${rule.ruleId}`),
        eval: evaluation,
        resumed_by: PROMOTION_RESUMER,
      },
    });
    await parts.recorder.setStatus(record, 'held');
    return { outcome: 'held', record, approvalId: approval.id, decision, eval: evaluation };
  }
  await moveLabel(parts, record, request, previous);
  return { outcome: 'promoted', record, previousVersion: previous, decision, eval: evaluation };
}

/** A held promotion named again with its approval: it must be the same prompt, version and label. */
async function promoteWithApproval(
  parts: RegistryParts,
  request: PromotionRequest,
  version: PromptVersionContent,
): Promise<PromotionResult> {
  const approval = await request.approvals.get(request.approvalId!);
  const row = await findRun(parts.store, approval.runId);
  const metadata = (row?.metadata ?? {}) as { kind?: string; prompt?: string; version?: number; label?: string };
  if (!row || row.agent !== PROMPT_REGISTRY_AGENT || metadata.kind !== 'prompt.promotion')
    throw new UserError(
      ErrorCode.ApprovalInvalid,
      `Approval '${approval.id}' is not for a held promotion; promote without --approval to ask for one.`,
      { location: { path: '--approval' } },
    );
  if (metadata.prompt !== request.name || metadata.version !== version.version || metadata.label !== request.label)
    throw new UserError(
      ErrorCode.ApprovalInvalid,
      `Approval '${approval.id}' is for promoting ${metadata.prompt}@${metadata.version} to '${metadata.label}', not ${request.name}@${version.version} to '${request.label}'.`,
      { location: { path: '--approval' } },
    );
  return completeHeldPromotion({ ...parts, approvals: request.approvals }, approval.id, request.policies);
}

/**
 * Completes a held promotion once its approval is decided: consumes the approval (bound to the
 * held record, its step, the exact arguments and the policy set) and moves the label, or records
 * the refusal when it was rejected or expired. Called wherever the deciding vote is cast
 * (vote-and-resume), and by `promote --approval`; a promotion already completed reports how it
 * ended. `policies` default to the ones that held it, kept by content hash.
 */
export async function completeHeldPromotion(
  parts: RegistryParts & { approvals: Pick<ApprovalService, 'get' | 'consume'> },
  approvalId: string,
  policies?: PolicySet,
): Promise<PromotionResult> {
  const approval = await parts.approvals.get(approvalId);
  const row = await findRun(parts.store, approval.runId);
  const metadata = (row?.metadata ?? {}) as {
    kind?: string;
    prompt?: string;
    version?: number;
    label?: string;
    eval?: EvalContext;
    principal_roles?: string[];
    policies?: Array<{ name: string; version: string | number; hash: string }>;
  };
  if (!row || row.agent !== PROMPT_REGISTRY_AGENT || metadata.kind !== 'prompt.promotion' || !metadata.prompt || !metadata.label)
    throw new UserError(ErrorCode.ApprovalInvalid, `Approval '${approvalId}' is not for a held promotion.`, {
      location: { path: '--approval' },
    });
  const name = metadata.prompt;
  const request = {
    name,
    version: Number(metadata.version),
    label: metadata.label,
    by: { id: row.principal, roles: metadata.principal_roles ?? [] },
  };
  const evaluation = metadata.eval ?? (await latestEval(parts.store, name, request.version));
  if (row.status !== 'held') return endedPromotion(parts.store, row.id, evaluation);
  const version = await promptVersion(parts.store, name, request.version);
  const args = { prompt: name, version: request.version, label: request.label, content_hash: version.contentHash };
  const policySet = policies ?? (await heldUnder(parts.store, metadata.policies ?? [], row.id));
  await parts.recorder.setStatus(row.id, 'running');
  // consume() checks that the approval was for exactly these arguments under this policy set.
  const consumed = await parts.approvals
    .consume(approval.id, { runId: row.id, step: 1, argsHash: contentHash(args), policyHash: policySet.hash })
    .catch(async (error: unknown) => {
      await parts.recorder.setStatus(row.id, 'held');
      throw error;
    });
  if (consumed.outcome === 'rejected') {
    const reason = `Approval ${approval.id} was rejected${consumed.approvers.length > 0 ? ` by ${consumed.approvers.join(', ')}` : ' (expired)'}.`;
    await refuse(parts, row.id, request, reason);
    return { outcome: 'refused', record: row.id, reason, decision: null, eval: evaluation };
  }
  const labels = await promptLabels(parts.store, name);
  const previous = Object.hasOwn(labels, request.label) ? labels[request.label]! : null;
  await moveLabel(parts, row.id, request, previous, { approvers: consumed.approvers });
  return { outcome: 'promoted', record: row.id, previousVersion: previous, decision: null, eval: evaluation };
}

/** The policy set a promotion was held under, from the policy versions kept by content hash. */
async function heldUnder(
  store: Store,
  refs: Array<{ name: string; version: string | number; hash: string }>,
  record: string,
): Promise<PolicySet> {
  const rows = await findPolicyVersions(
    store,
    refs.map((ref) => ref.hash),
  );
  if (refs.length === 0 || rows.length !== refs.length)
    throw new SystemError(
      ErrorCode.Internal,
      `The policies that held promotion ${record} are not all stored; complete it with 'factory prompts promote ... --approval' and the promotion policy files.`,
    );
  return compilePolicies(rows.map((row) => parsePolicy(row.source, row.file ?? `${row.name}@${row.version}`)));
}

/** How an already completed promotion record ended. */
async function endedPromotion(store: Store, record: string, evaluation: EvalContext): Promise<PromotionResult> {
  for await (const event of readRunEvents(store, record)) {
    if (event.payloadText === null) continue;
    const payload = JSON.parse(event.payloadText) as { previous_version?: number | null; reason?: string };
    if (event.type === 'prompt.promoted')
      return { outcome: 'promoted', record, previousVersion: payload.previous_version ?? null, decision: null, eval: evaluation };
    if (event.type === 'prompt.promotion_refused')
      return { outcome: 'refused', record, reason: String(payload.reason ?? 'refused'), decision: null, eval: evaluation };
  }
  throw new UserError(ErrorCode.Conflict, `Promotion ${record} is no longer held, and its record shows no outcome.`);
}

/** Moves a label back to the version it pointed at before its last move; recorded like a promotion. */
export async function rollbackPrompt(
  parts: RegistryParts,
  request: { name: string; label: string; by: { id: string; roles: string[] } },
): Promise<{ record: string; version: number; from: number }> {
  const moves = (await labelHistory(parts.store, request.name)).filter((move) => move.label === request.label);
  const current = moves.at(-1);
  if (!current)
    throw new UserError(ErrorCode.NotFound, `Prompt '${request.name}' has no label '${request.label}' to roll back.`, {
      location: { path: '--label' },
    });
  if (current.previousVersion === null)
    throw new UserError(
      ErrorCode.Conflict,
      `Label '${request.label}' of prompt '${request.name}' has pointed only at v${current.version}; there is nothing to roll back to.`,
      { location: { path: '--label' } },
    );
  const record = `prm_${randomUUID()}`;
  const target = current.previousVersion;
  await parts.recorder.startRun({
    id: record,
    agent: PROMPT_REGISTRY_AGENT,
    principal: request.by.id,
    metadata: {
      kind: 'prompt.rollback',
      prompt: request.name,
      version: target,
      label: request.label,
      previous_version: current.version,
      principal_roles: request.by.roles,
    },
  });
  await moveLabel(parts, record, { name: request.name, version: target, label: request.label, by: request.by }, current.version, {
    rollback: true,
  });
  return { record, version: target, from: current.version };
}

async function moveLabel(
  parts: RegistryParts,
  record: string,
  request: Pick<PromotionRequest, 'name' | 'version' | 'label' | 'by'>,
  previous: number | null,
  extra: Record<string, unknown> = {},
): Promise<void> {
  await parts.recorder.record(record, {
    type: 'prompt.promoted',
    actor: request.by.id,
    payload: {
      prompt: request.name,
      version: request.version,
      label: request.label,
      previous_version: previous,
      by: request.by.id,
      ...extra,
    },
  });
  await parts.recorder.finishRun(record, { status: 'completed' });
}

async function refuse(
  parts: RegistryParts,
  record: string,
  request: Pick<PromotionRequest, 'name' | 'version' | 'label' | 'by'>,
  reason: string,
): Promise<void> {
  await parts.recorder.record(record, {
    type: 'prompt.promotion_refused',
    actor: 'control-plane',
    payload: { prompt: request.name, version: request.version, label: request.label, by: request.by.id, reason },
  });
  // A refused promotion ends failed: the label did not move (labelHistory reads completed ones only).
  await parts.recorder.finishRun(record, { status: 'failed', payload: { error: reason } });
}

/** Every refused promotion of a prompt, newest first (for `prompts show`). */
export async function refusedPromotions(
  store: Store,
  name: string,
): Promise<Array<{ record: string; version: number; label: string; by: string; at: string }>> {
  const rows = await findRunsWhere(store, {
    agent: PROMPT_REGISTRY_AGENT,
    status: 'failed',
    metadata: { prompt: name, kind: 'prompt.promotion' },
  });
  return rows.map((row) => {
    const metadata = row.metadata as { version: number; label: string };
    return { record: row.id, version: metadata.version, label: metadata.label, by: row.principal, at: row.startedAt.toISOString() };
  });
}

/** The newest recorded evaluation of a prompt version, as a promotion's CEL `eval` sees it. */
export async function latestEval(store: Store, name: string, version: number): Promise<EvalContext> {
  // The version is compared as the text `->>` reads (an integer's digits), newest record first.
  const [row] = await findRunsWhere(
    store,
    { agent: EVAL_RECORD_AGENT, status: 'completed', metadata: { 'prompt.name': name, 'prompt.version': String(version) } },
    { limit: 1 },
  );
  if (!row) return { found: false, passed: false, scores: {} };
  const metadata = row.metadata as { suite: string; passed: boolean; scores: Record<string, number> };
  return { found: true, passed: metadata.passed === true, scores: metadata.scores ?? {}, suite: metadata.suite, record: row.id };
}

function versionRecordId(name: string, version: number): string {
  return `prm_${name}_v${version}`;
}
