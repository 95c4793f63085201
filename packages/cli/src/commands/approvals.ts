// `factory approvals`: list held actions waiting for humans, show one, approve or reject it.
import { ErrorCode, UserError } from '@aifactory/core';
import type { Store } from '@aifactory/store';
import {
  approvalStatuses,
  createApprovalService,
  type Approval,
  type ApprovalRecorder,
  type ApprovalStatus,
  type VoteResult,
} from '@aifactory/execution/approvals';
import type { Command } from 'commander';
import pc from 'picocolors';
import { action, emit, withJson, type CommonOptions } from '../command-kit.ts';
import { loadRedactor } from '@aifactory/verification';
import { openWorkspaceStore, workspaceDataDir } from '../workspace.ts';

/** What happens after a vote decided an approval (the runtime resumes the held run here). */
export interface ApprovalDecidedContext {
  /** The vote's result: approved or rejected. */
  result: Extract<VoteResult, { kind: 'approved' | 'rejected' }>;
  /** The decided approval. */
  approval: Approval;
  /** The open workspace store (closed after the hook returns). */
  store: Store;
  /** Whether the command prints JSON. */
  json: boolean;
}

/** Hooks the approvals commands take from whoever wires the CLI together. */
export interface ApprovalsCommandOptions {
  /** The trace recorder for approval events (the verification plane's); default: none, with a warning. */
  recorder?: (store: Store) => ApprovalRecorder | Promise<ApprovalRecorder>;
  /** Called once a vote decided an approval, e.g. to resume the held run; may return an exit code. */
  onDecided?: (context: ApprovalDecidedContext) => Promise<number | void> | number | void;
  /** Opens the store (default: the workspace store from the environment). */
  openStore?: () => Promise<Store>;
}

interface ListOptions extends CommonOptions {
  status: string;
  run?: string;
}

interface VoteOptions extends CommonOptions {
  as: string;
  role?: string[];
  comment?: string;
}

let warnedAboutRecorder = false;

/** Until the verification plane's recorder is wired in, votes still work but say they are not traced. */
function unrecordedRecorder(): ApprovalRecorder {
  return async () => {
    if (warnedAboutRecorder) return;
    warnedAboutRecorder = true;
    process.stderr.write(`${pc.yellow('warning')}: no trace recorder is wired into this CLI; approval events are not recorded in the run's trace.\n`);
  };
}

/** Registers the `factory approvals` commands. */
export function registerApprovalsCommands(program: Command, options: ApprovalsCommandOptions = {}): Command {
  const approvals = program
    .command('approvals')
    .description('List held actions waiting for approval, show one, approve or reject it.')
    .addHelpText('after', '\nAn approval is bound to one call (run, step, argument hash, policy version) and works once.\nApprovers need a role the policy names; whoever started the run cannot approve its actions.');

  async function withService<T>(run: (service: ReturnType<typeof createApprovalService>, store: Store) => Promise<T>): Promise<T> {
    const store = await (options.openStore ?? openWorkspaceStore)();
    try {
      const record = options.recorder ? await options.recorder(store) : unrecordedRecorder();
      // Approvers see masked arguments, also of approvals written before masking existed.
      const redactor = await loadRedactor(workspaceDataDir());
      return await run(createApprovalService(store, { record, redact: (value) => redactor.redact(value).value }), store);
    } finally {
      await store.close();
    }
  }

  withJson(
    approvals
      .command('list')
      .description('List approvals, oldest first (pending ones by default).')
      .option('--status <status>', `only this status: ${approvalStatuses.join(', ')} or all`, 'pending')
      .option('--run <runId>', 'only approvals of this run'),
  ).action(
    action(async (listOptions: ListOptions) => {
      const status = listOptions.status === 'all' ? undefined : (listOptions.status as ApprovalStatus);
      if (status !== undefined && !approvalStatuses.includes(status)) {
        throw new UserError(ErrorCode.InputInvalid, `--status '${listOptions.status}' is unknown; use one of ${approvalStatuses.join(', ')} or all.`);
      }
      const found = await withService((service) => service.list({ ...(status ? { status } : {}), ...(listOptions.run ? { runId: listOptions.run } : {}) }));
      emit(listOptions, { approvals: found }, ({ approvals: items }) => renderList(items, listOptions.status));
    }),
  );

  withJson(approvals.command('show').description('Show one approval: the held call, who may approve, the votes so far.').argument('<id>', 'approval id (apr_…)')).action(
    action(async (id: string, showOptions: CommonOptions) => {
      const approval = await withService((service) => service.get(id));
      emit(showOptions, { approval }, ({ approval: shown }) => renderApproval(shown));
    }),
  );

  for (const vote of ['approve', 'reject'] as const) {
    const command = approvals
      .command(vote)
      .description(vote === 'approve' ? 'Approve a held action (counts toward the approvers it needs).' : 'Reject a held action; one rejection decides.')
      .argument('<id>', 'approval id (apr_…)')
      .requiredOption('--as <principal>', 'your identity, recorded with the vote')
      .option('--role <role...>', 'the role(s) you act with; the policy names which may vote');
    if (vote === 'reject') command.requiredOption('--comment <text>', 'why: shown to the agent and recorded');
    else command.option('--comment <text>', 'why: recorded with the vote');
    withJson(command).action(
      action(async (id: string, voteOptions: VoteOptions) => {
        return withService(async (service, store) => {
          const result = await service.vote(id, {
            approver: { id: voteOptions.as, roles: voteOptions.role ?? [] },
            vote,
            ...(voteOptions.comment ? { comment: voteOptions.comment } : {}),
          });
          emit(voteOptions, { ok: true, result: result.kind, ...(result.kind === 'counted' ? { remaining: result.remaining } : {}), approval: result.approval }, () => renderVote(result));
          if (result.kind !== 'counted' && options.onDecided) {
            return options.onDecided({ result, approval: result.approval, store, json: voteOptions.json === true });
          }
          return undefined;
        });
      }),
    );
  }
  return approvals;
}

function renderList(items: Approval[], status: string): string {
  if (items.length === 0) return status === 'all' ? 'No approvals.' : `No ${status} approvals.`;
  const lines = items.map((approval) => {
    const approvals = approval.votes.filter((vote) => vote.vote === 'approve').length;
    const needs = `${approvals}/${approval.requirement.count} of ${approval.requirement.roles.length > 0 ? approval.requirement.roles.join('|') : 'anyone'}`;
    return [pc.bold(approval.id), colourStatus(approval.status), `${approval.runId} step ${approval.step}`, `${approval.action.kind} ${approval.action.name}`, `args ${approval.argsHash.slice(0, 16)}`, needs, expiry(approval)]
      .filter(Boolean)
      .join('  ');
  });
  const pending = items.find((approval) => approval.status === 'pending');
  if (pending) lines.push('', pc.dim(`approve: factory approvals approve ${pending.id} --as <you> --role <role> [--comment "…"]`));
  return lines.join('\n');
}

function renderApproval(approval: Approval): string {
  const requirement = approval.requirement;
  const lines = [
    `${pc.bold(approval.id)}  ${colourStatus(approval.status)}${approval.outcome && approval.status !== approval.outcome ? ` (${approval.outcome})` : ''}`,
    `run        ${approval.runId} step ${approval.step}, started by ${approval.requestedBy}`,
    `action     ${approval.action.kind} ${approval.action.name}`,
    `arguments  ${JSON.stringify(approval.action.args)}`,
    `args hash  ${approval.argsHash} (sha256 of the real arguments; secrets above are masked)`,
    `policy     ${approval.policyHash}`,
    `needs      ${requirement.count} approver(s) with ${requirement.roles.length > 0 ? `one of: ${requirement.roles.join(', ')}` : 'any role'}${requirement.separation_of_duties ? ', not the run\'s principal' : ''}`,
    `expiry     ${approval.expiresAt ? `${approval.expiresAt.toISOString()} (then ${requirement.on_expiry})` : 'never'}`,
  ];
  if (Object.keys(approval.context).length > 0) lines.push(`context    ${JSON.stringify(approval.context)}`);
  for (const vote of approval.votes) lines.push(`vote       ${vote.approver} ${vote.vote === 'approve' ? pc.green('approved') : pc.red('rejected')} at ${vote.at.toISOString()}${vote.comment ? `: ${vote.comment}` : ''}`);
  return lines.join('\n');
}

function renderVote(result: VoteResult): string {
  const approval = result.approval;
  if (result.kind === 'counted') return `Vote counted on ${approval.id}; ${result.remaining} more approval(s) needed.`;
  if (result.kind === 'approved') return `${pc.green('Approved')} ${approval.id} (${approval.action.kind} ${approval.action.name} in ${approval.runId}); the run may resume once.`;
  return `${pc.red('Rejected')} ${approval.id} (${approval.action.kind} ${approval.action.name} in ${approval.runId}); the agent is told it was refused.`;
}

function colourStatus(status: ApprovalStatus): string {
  if (status === 'pending') return pc.yellow(status);
  if (status === 'approved') return pc.green(status);
  if (status === 'rejected' || status === 'expired') return pc.red(status);
  return pc.dim(status);
}

function expiry(approval: Approval): string {
  if (approval.status !== 'pending' || !approval.expiresAt) return '';
  const minutes = Math.max(0, Math.round((approval.expiresAt.getTime() - Date.now()) / 60_000));
  return pc.dim(`expires in ${minutes < 120 ? `${minutes}m` : `${Math.round(minutes / 60)}h`} (then ${approval.requirement.on_expiry})`);
}
