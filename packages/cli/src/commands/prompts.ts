// `factory prompts list|show|diff|publish|promote|rollback`: the prompt registry. Drafts are
// prompts/<name>.yaml; published versions and label moves are sealed records in the store
// (@aifactory/quality prompt-registry.ts). Promotion is decided under the promotion policy with
// the version's latest recorded evaluation, and recorded whatever the outcome.
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, UserError } from '@aifactory/core';
import type { PromptDocument } from '@aifactory/quality';
import type { Store } from '@aifactory/store';
import type { Command } from 'commander';
import { createTwoFilesPatch } from 'diff';
import { action, emit, ExitCode, withJson, type CommonOptions } from '../command-kit.ts';
import { describeServer, viaServerOrStore } from '../connection.ts';

interface RegistryOptions extends CommonOptions {
  prompts: string;
}

interface PromoteOptions extends RegistryOptions {
  label: string;
  policy: string[];
  as: string;
  role: string[];
  approval?: string;
}

interface RollbackOptions extends RegistryOptions {
  label: string;
  as: string;
  role: string[];
}

const defaultPrincipal = process.env.USER ? `${process.env.USER}@local` : 'cli@local';

/** Registers `factory prompts`. */
export function registerPromptsCommands(program: Command): void {
  const prompts = program
    .command('prompts')
    .description('The prompt registry: drafts in prompts/<name>.yaml, immutable published versions, labels moved by governed promotions.')
    .addHelpText(
      'after',
      [
        '',
        'Agents name a registry prompt as spec.prompt: <name>@<label or version> (e.g. policy-copilot@production);',
        'every run records the version it used (factory runs explain). Promotion is decided under the promotion',
        'policy (default policies/prompt-promotion/policy.yaml) with the latest recorded evaluation of the version as CEL `eval`',
        "(e.g. eval.passed && eval.scores.accuracy >= 0.9); evaluate a version with 'factory eval <agent> --suite <file> --prompt <name>@<version>'.",
        'Examples:',
        '  factory prompts publish policy-copilot',
        '  factory prompts diff policy-copilot 1 draft',
        '  factory prompts promote policy-copilot@2 --label production --as lead@acme.example --role prompt-owner',
        '  factory prompts rollback policy-copilot --label production',
        'See docs/quality.md.',
      ].join('\n'),
    );
  const folder = (command: Command) => command.option('--prompts <dir>', 'folder of prompt drafts', 'prompts');

  withJson(folder(prompts.command('list').description('Every prompt: its draft, published versions and labels.'))).action(
    action(async (options: RegistryOptions) =>
      onStore('list', async (store) => {
        const { promptVersions, publishedPromptNames, promptLabels } = await import('@aifactory/quality');
        const drafts = await draftNames(options.prompts);
        const names = [...new Set([...drafts, ...(await publishedPromptNames(store))])].sort();
        const rows = [];
        for (const name of names) {
          const versions = await promptVersions(store, name);
          rows.push({
            name,
            draft: drafts.includes(name),
            versions: versions.length,
            latest: versions.at(-1)?.version ?? null,
            labels: await promptLabels(store, name),
          });
        }
        emit(options, { prompts: rows }, ({ prompts: list }) =>
          list.length === 0
            ? `No prompts: write one in ${options.prompts}/<name>.yaml (see docs/quality.md).`
            : list
                .map(
                  (row) =>
                    `${row.name.padEnd(28)} ${row.latest === null ? 'unpublished' : `v${row.latest} (${row.versions} versions)`}  ${
                      Object.entries(row.labels)
                        .map(([label, version]) => `${label}=v${version}`)
                        .join(' ') || '-'
                    }${row.draft ? '' : '  (no draft file)'}`,
                )
                .join('\n'),
        );
      }),
    ),
  );

  withJson(
    folder(
      prompts
        .command('show')
        .description(
          "One prompt: its versions, labels, label history and refused promotions; with @<version or label>, that version's template.",
        )
        .argument('<prompt>', '<name> or <name>@<version, label or latest>'),
    ),
  ).action(
    action(async (reference: string, options: RegistryOptions) =>
      onStore('show', async (store) => {
        const { promptVersions, promptVersion, labelHistory, refusedPromotions } = await import('@aifactory/quality');
        const { name, ref } = splitReference(reference);
        if (ref !== undefined) {
          const version = await promptVersion(store, name, ref);
          emit(options, { version }, ({ version: shown }) =>
            [
              `${shown.name} v${shown.version}  ${shown.contentHash.slice(0, 12)}  published by ${shown.by} at ${shown.publishedAt}  labels: ${shown.labels.join(', ') || '-'}`,
              '',
              shown.template,
            ].join('\n'),
          );
          return;
        }
        const versions = await promptVersions(store, name);
        if (versions.length === 0)
          throw new UserError(
            ErrorCode.NotFound,
            `Prompt '${name}' has no published version; publish one with 'factory prompts publish ${name}'.`,
            { location: { path: 'prompt' } },
          );
        const shown = { name, versions, labels: await labelHistory(store, name), refused: await refusedPromotions(store, name) };
        emit(options, shown, (value) =>
          [
            `Prompt ${name}`,
            ...value.versions.map(
              (version) =>
                `  v${version.version}  ${version.contentHash.slice(0, 12)}  ${version.publishedAt}  by ${version.by}${version.labels.length > 0 ? `  [${version.labels.join(', ')}]` : ''}`,
            ),
            'Label history:',
            ...(value.labels.length === 0
              ? ['  none']
              : value.labels.map(
                  (move) =>
                    `  ${move.at}  ${move.label} -> v${move.version}${move.previousVersion === null ? '' : ` (was v${move.previousVersion})`}${move.rollback ? ' rollback' : ''}  by ${move.by}  ${move.record}`,
                )),
            ...(value.refused.length === 0
              ? []
              : [
                  'Refused promotions:',
                  ...value.refused.map(
                    (refusal) => `  ${refusal.at}  v${refusal.version} -> ${refusal.label}  by ${refusal.by}  ${refusal.record}`,
                  ),
                ]),
          ].join('\n'),
        );
      }),
    ),
  );

  withJson(
    folder(
      prompts
        .command('diff')
        .description('A unified diff between two versions of a prompt (a version number, a label, latest, or draft for the file).')
        .argument('<name>', 'prompt name')
        .argument('<from>', 'version, label, latest or draft')
        .argument('<to>', 'version, label, latest or draft'),
    ),
  ).action(
    action(async (name: string, from: string, to: string, options: RegistryOptions) =>
      onStore('diff', async (store) => {
        const { promptVersion, loadPromptDocument } = await import('@aifactory/quality');
        const read = async (reference: string): Promise<{ label: string; text: string }> => {
          if (reference === 'draft') return { label: `${name} (draft)`, text: (await loadPromptDocument(options.prompts, name)).template };
          const version = await promptVersion(store, name, reference);
          return { label: `${name} v${version.version}`, text: version.template };
        };
        const [left, right] = [await read(from), await read(to)];
        const patch = createTwoFilesPatch(left.label, right.label, left.text, right.text);
        const changed = left.text !== right.text;
        emit(options, { name, from: left.label, to: right.label, changed, patch }, (value) =>
          value.changed ? value.patch : `${value.from} and ${value.to} have the same template.`,
        );
        return changed ? ExitCode.CheckFailed : ExitCode.Ok;
      }),
    ),
  );

  withJson(
    folder(
      prompts
        .command('publish')
        .description('Publish the draft prompts/<name>.yaml as the next immutable version (nothing happens when it equals the latest).')
        .argument('<name>', 'prompt name')
        .option('--as <principal>', 'who publishes', defaultPrincipal),
    ),
  ).action(
    action(async (name: string, options: RegistryOptions & { as: string }) =>
      onStore('publish', async (store) => {
        const [{ loadPromptDocument, publishPrompt }, { openWorkspaceRecorder }] = await Promise.all([
          import('@aifactory/quality'),
          import('@aifactory/workspace/config'),
        ]);
        const document: PromptDocument = await loadPromptDocument(options.prompts, name);
        const result = await publishPrompt({ store, recorder: await openWorkspaceRecorder(store) }, document, options.as);
        emit(options, result, (value) =>
          value.published
            ? `Published ${name} v${value.version.version} (${value.version.contentHash.slice(0, 12)}) as ${value.version.record}.`
            : `${name} v${value.version.version} already holds this template; nothing published.`,
        );
      }),
    ),
  );

  withJson(
    folder(
      prompts
        .command('promote')
        .description(
          "Move a label to a version, as a governed action: decided under the promotion policy with the version's latest recorded evaluation; recorded whatever the outcome.",
        )
        .argument('<prompt>', '<name>@<version>')
        .requiredOption('--label <label>', 'the label to move, e.g. production or staging')
        .option('--policy <file...>', 'promotion policy files', ['policies/prompt-promotion/policy.yaml'])
        .option('--as <principal>', 'who promotes', defaultPrincipal)
        .option('--role <role...>', "the promoter's roles (the policy sees them)", [])
        .option('--approval <id>', 'complete a held promotion with its decided approval (or see how it ended)')
        .addHelpText(
          'after',
          '\nA held promotion completes as soon as its approval is decided (factory approvals approve|reject, the HTTP API or the console): the label moves, or the refusal is recorded.\nExit codes: 0 promoted, 1 refused (recorded) or held for approval (recorded), 2 bad input.',
        ),
    ),
  ).action(
    action(async (reference: string, options: PromoteOptions) =>
      onStore('promote', async (store) => {
        const { name, ref } = splitReference(reference);
        if (ref === undefined || !/^[1-9][0-9]*$/.test(ref))
          throw new UserError(
            ErrorCode.InputInvalid,
            `Promote a version number: '${name}@<version>', e.g. ${name}@2 (see 'factory prompts show ${name}').`,
            { location: { path: 'prompt' } },
          );
        const [{ promotePrompt }, { openWorkspaceRecorder }, { compilePolicies, loadPolicyFiles }, { createApprovalService }] =
          await Promise.all([
            import('@aifactory/quality'),
            import('@aifactory/workspace/config'),
            import('@aifactory/control'),
            import('@aifactory/execution'),
          ]);
        const policies = compilePolicies(await loadPolicyFiles(options.policy));
        const recorder = await openWorkspaceRecorder(store);
        const approvals = createApprovalService(store, { record: (runId, event) => recorder.record(runId, event as never) });
        const result = await promotePrompt(
          { store, recorder },
          {
            name,
            version: Number(ref),
            label: options.label,
            by: { id: options.as, roles: options.role },
            policies,
            approvals,
            ...(options.approval ? { approvalId: options.approval } : {}),
          },
        );
        emit(options, result, (value) => {
          if (value.outcome === 'promoted')
            return `Promoted ${name} v${ref} to '${options.label}'${value.previousVersion === null ? '' : ` (was v${value.previousVersion})`}; recorded as ${value.record}.`;
          if (value.outcome === 'held')
            return `Held: ${value.decision.reason}\nApproval ${value.approvalId} requested (record ${value.record}); the promotion completes once it is decided: factory approvals approve ${value.approvalId} --as <approver> --role <role>`;
          return `Refused: ${value.reason}\nRecorded as ${value.record}.`;
        });
        return value(result.outcome);
      }),
    ),
  );

  withJson(
    folder(
      prompts
        .command('rollback')
        .description('Move a label back to the version it pointed at before its last move (recorded like a promotion).')
        .argument('<name>', 'prompt name')
        .requiredOption('--label <label>', 'the label to roll back, e.g. production')
        .option('--as <principal>', 'who rolls back', defaultPrincipal)
        .option('--role <role...>', "the principal's roles", []),
    ),
  ).action(
    action(async (name: string, options: RollbackOptions) =>
      onStore('rollback', async (store) => {
        const [{ rollbackPrompt }, { openWorkspaceRecorder }] = await Promise.all([
          import('@aifactory/quality'),
          import('@aifactory/workspace/config'),
        ]);
        const result = await rollbackPrompt(
          { store, recorder: await openWorkspaceRecorder(store) },
          { name, label: options.label, by: { id: options.as, roles: options.role } },
        );
        emit(
          options,
          result,
          (value) => `Rolled '${options.label}' of ${name} back to v${value.version} (from v${value.from}); recorded as ${value.record}.`,
        );
      }),
    ),
  );
}

function value(outcome: 'promoted' | 'held' | 'refused'): number {
  return outcome === 'promoted' ? ExitCode.Ok : ExitCode.CheckFailed;
}

/** `name@ref` into its parts; a bare name has no ref. */
export function splitReference(reference: string): { name: string; ref?: string } {
  const at = reference.lastIndexOf('@');
  return at < 0 ? { name: reference } : { name: reference.slice(0, at), ref: reference.slice(at + 1) };
}

async function draftNames(directory: string): Promise<string[]> {
  try {
    return (await readdir(directory)).filter((file) => /\.ya?ml$/i.test(file)).map((file) => path.basename(file).replace(/\.ya?ml$/i, ''));
  } catch {
    return [];
  }
}

/** The registry lives in the store; through a server the command refuses before writing anything. */
async function onStore(command: string, work: (store: Store) => Promise<number | void>): Promise<number | void> {
  return viaServerOrStore({
    server: (connection) => {
      throw new UserError(
        ErrorCode.InputInvalid,
        `'factory prompts ${command}' works on the store and cannot run through ${describeServer(connection)}; stop it, or point DATABASE_URL at the shared Postgres store.`,
      );
    },
    store: async () => {
      const { openWorkspaceStore } = await import('@aifactory/workspace/config');
      const store = await openWorkspaceStore();
      try {
        return await work(store);
      } finally {
        await store.close();
      }
    },
  });
}
