// `factory approvals`: list held actions waiting for humans, show one, approve or reject it.
import { ErrorCode, UserError } from '@aifactory/core';
import type { RunEvent } from '@aifactory/execution';
import type { Store } from '@aifactory/store';
import type { Workspace } from '@aifactory/workspace';
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
import type { Redactor } from '@aifactory/verification';
import { action, emit, ExitCode, withJson, type CommonOptions } from '../command-kit.ts';
import { actingAs, describeServer, ServerClient, viaServerOrStore, type ServerConnection } from '../connection.ts';
import { createRunRenderer, exitCodeOf } from './run.ts';

/** The part of a workspace a vote needs: the vote-and-resume use case, and closing it. */
export type VotingWorkspace = Pick<Workspace, 'voteAndResume' | 'close'>;

/** Hooks the approvals commands take from whoever wires the CLI together. */
export interface ApprovalsCommandOptions {
  /** The trace recorder for approval events of list and show (expiries); default: the workspace's recorder. */
  recorder?: (store: Store) => ApprovalRecorder | Promise<ApprovalRecorder>;
  /** Opens the workspace a vote goes through over the open store (default: openWorkspace configured from the environment). */
  openWorkspace?: (store: Store) => Promise<VotingWorkspace>;
  /** Opens the store (default: the workspace store from the environment). */
  openStore?: () => Promise<Store>;
}

/** The workspace configured from the environment, over `store`; loads the runtime only when a vote needs it. */
async function openEnvironmentWorkspace(store: Store): Promise<VotingWorkspace> {
  const { openWorkspace, workspaceConfigFromEnv } = await import('@aifactory/workspace');
  return openWorkspace(workspaceConfigFromEnv(), { store, agentPaths: true });
}

/** The workspace's recorder (its seal key and redaction), adapted to the approval service. */
async function environmentRecorder(store: Store): Promise<ApprovalRecorder> {
  const { openWorkspaceRecorder } = await import('@aifactory/workspace/config');
  const recorder = await openWorkspaceRecorder(store);
  return (runId, event) => recorder.record(runId, event);
}

/** The workspace's redactor as configured by the environment. */
async function workspaceRedactor(): Promise<Redactor> {
  const config = await import('@aifactory/workspace/config');
  return config.workspaceRedactor();
}

/** Opens the workspace's store as configured by the environment. */
async function openEnvironmentStore(): Promise<Store> {
  const { openWorkspaceStore } = await import('@aifactory/workspace/config');
  return openWorkspaceStore();
}

interface ListOptions extends CommonOptions {
  status: string;
  run?: string;
}

interface VoteOptions extends CommonOptions {
  as?: string;
  role?: string[];
  comment?: string;
}

/** Registers the `factory approvals` commands. */
export function registerApprovalsCommands(program: Command, options: ApprovalsCommandOptions = {}): Command {
  const approvals = program
    .command('approvals')
    .description('List held actions waiting for approval, show one, approve or reject it.')
    .addHelpText(
      'after',
      '\nAn approval is bound to one call (run, step, argument hash, policy version) and works once.\nApprovers need a role the policy names; whoever started the run cannot approve its actions.',
    );

  async function withStore<T>(run: (store: Store) => Promise<T>): Promise<T> {
    const store = await (options.openStore ?? openEnvironmentStore)();
    try {
      return await run(store);
    } finally {
      await store.close();
    }
  }

  const withService = <T>(run: (service: ReturnType<typeof createApprovalService>) => Promise<T>): Promise<T> =>
    withStore(async (store) => {
      const record = await (options.recorder ?? environmentRecorder)(store);
      // Approvers see masked arguments, also of approvals written before masking existed.
      const redactor = await workspaceRedactor();
      return run(createApprovalService(store, { record, redact: (value) => redactor.redact(value).value }));
    });

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
        throw new UserError(
          ErrorCode.InputInvalid,
          `--status '${listOptions.status}' is unknown; use one of ${approvalStatuses.join(', ')} or all.`,
        );
      }
      const filter = { ...(status ? { status } : {}), ...(listOptions.run ? { runId: listOptions.run } : {}) };
      const found = await viaServerOrStore({
        server: async (connection) => {
          const query = new URLSearchParams(filter).toString();
          return (
            await new ServerClient(connection).request<{ approvals: Approval[] }>('GET', `/v1/approvals${query ? `?${query}` : ''}`)
          ).approvals.map(approvalWithDates);
        },
        store: () => withService((service) => service.list(filter)),
      });
      emit(listOptions, { approvals: found }, ({ approvals: items }) => renderList(items, listOptions.status));
    }),
  );

  withJson(
    approvals
      .command('show')
      .description('Show one approval: the held call, who may approve, the votes so far.')
      .argument('<id>', 'approval id (apr_…)'),
  ).action(
    action(async (id: string, showOptions: CommonOptions) => {
      const approval = await viaServerOrStore({
        server: async (connection) =>
          approvalWithDates(
            (await new ServerClient(connection).request<{ approval: Approval }>('GET', `/v1/approvals/${encodeURIComponent(id)}`)).approval,
          ),
        store: () => withService((service) => service.get(id)),
      });
      emit(showOptions, { approval }, ({ approval: shown }) => renderApproval(shown));
    }),
  );

  for (const vote of ['approve', 'reject'] as const) {
    const command = approvals
      .command(vote)
      .description(
        vote === 'approve'
          ? 'Approve a held action (counts toward the approvers it needs).'
          : 'Reject a held action; one rejection decides.',
      )
      .argument('<id>', 'approval id (apr_…)')
      .option(
        '--as <principal>',
        'your identity, recorded with the vote (required on the store; through a remote server the token says who you are)',
      )
      .option('--role <role...>', 'the role(s) you act with; the policy names which may vote');
    if (vote === 'reject') command.requiredOption('--comment <text>', 'why: shown to the agent and recorded');
    else command.option('--comment <text>', 'why: recorded with the vote');
    withJson(command).action(
      action(async (id: string, voteOptions: VoteOptions) =>
        viaServerOrStore<number | void>({
          server: (connection) => voteThroughServer(connection, id, vote, voteOptions),
          store: () => voteOnStore(id, vote, voteOptions),
        }),
      ),
    );
  }

  async function voteThroughServer(
    connection: ServerConnection,
    id: string,
    vote: 'approve' | 'reject',
    voteOptions: VoteOptions,
  ): Promise<number | void> {
    if (connection.via === 'local' && voteOptions.as === undefined)
      throw new UserError(ErrorCode.InputInvalid, '--as is required: say who votes (e.g. --as bob@acme.example --role ops-lead).', {
        location: { path: '--as' },
      });
    const client = new ServerClient(connection, actingAs(connection, voteOptions.as, voteOptions.role, voteOptions.as !== undefined));
    const answer = await client.request<{ result: VoteResult['kind']; remaining?: number; approval: Approval; resumed: boolean }>(
      'POST',
      `/v1/approvals/${encodeURIComponent(id)}/${vote}`,
      voteOptions.comment ? { comment: voteOptions.comment } : {},
    );
    const approval = approvalWithDates(answer.approval);
    const result = (
      answer.result === 'counted' ? { kind: 'counted', remaining: answer.remaining ?? 0, approval } : { kind: answer.result, approval }
    ) as VoteResult;
    // The server resumes the run itself: exactly one process drives it.
    emit(
      voteOptions,
      {
        ok: true,
        result: answer.result,
        ...(answer.result === 'counted' ? { remaining: answer.remaining } : {}),
        approval,
        resumed: answer.resumed,
        server: connection.url,
      },
      () =>
        `${renderVote(result)}${answer.resumed ? `\n${describeServer(connection)} resumes the run; follow it with 'factory runs show ${approval.runId}'.` : ''}`,
    );
  }

  async function voteOnStore(id: string, vote: 'approve' | 'reject', voteOptions: VoteOptions): Promise<number | void> {
    const as = voteOptions.as;
    if (as === undefined)
      throw new UserError(ErrorCode.InputInvalid, '--as is required: say who votes (e.g. --as bob@acme.example --role ops-lead).', {
        location: { path: '--as' },
      });
    return withStore(async (store) => {
      const workspace = await (options.openWorkspace ?? openEnvironmentWorkspace)(store);
      try {
        // A decided approval resumes its run at once, in this process (use case vote-and-resume).
        const events: RunEvent[] = [];
        const render = createRunRenderer();
        const outcome = await workspace.voteAndResume({
          approvalId: id,
          ballot: {
            approver: { id: as, roles: voteOptions.role ?? [] },
            vote,
            ...(voteOptions.comment ? { comment: voteOptions.comment } : {}),
          },
          onVoted: (result) =>
            emit(
              voteOptions,
              {
                ok: true,
                result: result.kind,
                ...(result.kind === 'counted' ? { remaining: result.remaining } : {}),
                approval: result.approval,
              },
              () => renderVote(result),
            ),
          onEvent: (event) => (voteOptions.json ? events.push(event) : render(event)),
        });
        if (outcome.kind === 'decided' && outcome.promotion) {
          // A held prompt promotion completes now: the label moves, or the refusal is recorded.
          const promotion = await outcome.promotion;
          emit(voteOptions, { promotion }, () =>
            promotion.outcome === 'promoted'
              ? `Promotion ${promotion.record} completed: the label moved.`
              : promotion.outcome === 'refused'
                ? `Promotion ${promotion.record} refused: ${promotion.reason}`
                : `Promotion ${promotion.record} is held.`,
          );
          // The vote's own outcome is success: approved and promoted, or rejected and refused.
          return (promotion.outcome === 'promoted') === (vote === 'approve') ? ExitCode.Ok : ExitCode.CheckFailed;
        }
        if (outcome.kind !== 'decided' || !outcome.resumed) return undefined;
        const result = await outcome.resumed;
        if (voteOptions.json) emit(voteOptions, { ...result, events }, () => '');
        return exitCodeOf(result);
      } finally {
        await workspace.close();
      }
    });
  }
  return approvals;
}

/** An approval read over HTTP carries ISO strings where the store gives dates. */
function approvalWithDates(approval: Approval): Approval {
  const date = (value: unknown) => (value === null || value === undefined ? value : new Date(value as string));
  return {
    ...approval,
    requestedAt: date(approval.requestedAt) as Date,
    expiresAt: date(approval.expiresAt) as Date | null,
    decidedAt: date(approval.decidedAt) as Date | null,
    consumedAt: date(approval.consumedAt) as Date | null,
    votes: approval.votes.map((vote) => ({ ...vote, at: new Date(vote.at) })),
  } as Approval;
}

function renderList(items: Approval[], status: string): string {
  if (items.length === 0) return status === 'all' ? 'No approvals.' : `No ${status} approvals.`;
  const lines = items.map((approval) => {
    const approvals = approval.votes.filter((vote) => vote.vote === 'approve').length;
    const needs = `${approvals}/${approval.requirement.count} of ${approval.requirement.roles.length > 0 ? approval.requirement.roles.join('|') : 'anyone'}`;
    return [
      pc.bold(approval.id),
      colourStatus(approval.status),
      `${approval.runId} step ${approval.step}`,
      `${approval.action.kind} ${approval.action.name}`,
      `args ${approval.argsHash.slice(0, 16)}`,
      needs,
      expiry(approval),
    ]
      .filter(Boolean)
      .join('  ');
  });
  const pending = items.find((approval) => approval.status === 'pending');
  // A command a person can paste as printed: their login name for --as, the first role that may vote.
  if (pending)
    lines.push(
      '',
      pc.dim(
        `approve: factory approvals approve ${pending.id} --as "$USER"${pending.requirement.roles[0] ? ` --role ${pending.requirement.roles[0]}` : ''} --comment "ok"`,
      ),
    );
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
    `needs      ${requirement.count} approver(s) with ${requirement.roles.length > 0 ? `one of: ${requirement.roles.join(', ')}` : 'any role'}${requirement.separation_of_duties ? ", not the run's principal" : ''}`,
    `expiry     ${approval.expiresAt ? `${approval.expiresAt.toISOString()} (then ${requirement.on_expiry})` : 'never'}`,
  ];
  if (Object.keys(approval.context).length > 0) lines.push(`context    ${JSON.stringify(approval.context)}`);
  for (const vote of approval.votes)
    lines.push(
      `vote       ${vote.approver} ${vote.vote === 'approve' ? pc.green('approved') : pc.red('rejected')} at ${vote.at.toISOString()}${vote.comment ? `: ${vote.comment}` : ''}`,
    );
  return lines.join('\n');
}

function renderVote(result: VoteResult): string {
  const approval = result.approval;
  if (result.kind === 'counted') return `Vote counted on ${approval.id}; ${result.remaining} more approval(s) needed.`;
  if (result.kind === 'approved')
    return `${pc.green('Approved')} ${approval.id} (${approval.action.kind} ${approval.action.name} in ${approval.runId}); the run may resume once.`;
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
