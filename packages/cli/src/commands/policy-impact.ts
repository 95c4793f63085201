// `factory policy impact <file...>`: what candidate policies would change over recorded runs —
// a table of authority transitions per rule, the runs affected, where each run's path changes —
// with an exit code a CI job gates on (--fail-on new-deny | new-approval | any-change).
import path from 'node:path';
import { IMPACT_GATES, compilePolicies, impactFails, loadPolicyFiles, type ImpactGate } from '@aifactory/control';
import { ErrorCode, UserError } from '@aifactory/core';
import type { PolicyImpactReport } from '@aifactory/execution/replay';
import type { Store } from '@aifactory/store';
import { Option, type Command } from 'commander';
import { ExitCode, action, emit, withJson, type CommonOptions } from '../command-kit.ts';

interface ImpactOptions extends CommonOptions {
  since?: string;
  until?: string;
  agent?: string;
  runs?: string[];
  failOn?: ImpactGate;
}

/** Adds `impact` to the `policy` command. */
export function registerPolicyImpactCommand(policy: Command, options: { openStore?: () => Promise<Store> } = {}): void {
  // The store and the replay plane load when the command runs, so `factory policy lint` stays quick.
  const openStore = options.openStore ?? (async () => (await import('@aifactory/workspace/config')).openWorkspaceStore());
  withJson(
    policy
      .command('impact')
      .description(
        'Re-decide recorded actions under candidate policies: authority transitions per rule, the runs affected, where their path would change.',
      )
      .argument('<file...>', 'candidate policy files or folders (the whole set that would be in force)')
      .option('--since <time>', 'runs started at or after (ISO date/time, or 7d / 24h ago)')
      .option('--until <time>', 'runs started before')
      .option('--agent <name>', 'runs of this agent only')
      .option('--runs <id...>', 'these runs only')
      .addOption(new Option('--fail-on <change>', 'exit 1 when the change happens').choices([...IMPACT_GATES])),
  )
    .addHelpText(
      'after',
      '\nExample (CI): factory policy impact policies/finance-ops --since 30d --fail-on new-deny\nnew-approval also fails on new denials; any-change fails on every changed decision.',
    )
    .action(
      action(async (files: string[], impactOptions: ImpactOptions) => {
        const policies = compilePolicies(await loadPolicyFiles(files.map((file) => path.resolve(file))));
        const store = await openStore();
        let report: PolicyImpactReport;
        try {
          const { policyImpact } = await import('@aifactory/execution/replay');
          report = await policyImpact(store, policies, {
            ...(impactOptions.since ? { since: parseTime(impactOptions.since, 'since') } : {}),
            ...(impactOptions.until ? { until: parseTime(impactOptions.until, 'until') } : {}),
            ...(impactOptions.agent ? { agent: impactOptions.agent } : {}),
            ...(impactOptions.runs ? { runIds: impactOptions.runs } : {}),
          });
        } finally {
          await store.close();
        }
        const failed = impactOptions.failOn ? impactFails(report, impactOptions.failOn) : false;
        emit(impactOptions, { ...report, failOn: impactOptions.failOn ?? null, failed }, renderImpact);
        return failed ? ExitCode.CheckFailed : ExitCode.Ok;
      }),
    );
}

function parseTime(text: string, option: string): Date {
  const span = /^(\d+)\s*([dhm])$/.exec(text.trim());
  if (span) return new Date(Date.now() - Number(span[1]) * { d: 86_400_000, h: 3_600_000, m: 60_000 }[span[2] as 'd' | 'h' | 'm']);
  const date = new Date(text);
  if (Number.isNaN(date.getTime()))
    throw new UserError(ErrorCode.InputInvalid, `--${option} '${text}' is neither a date/time (2025-06-01) nor a span like 7d or 24h.`, {
      location: { path: option },
    });
  return date;
}

function renderImpact(report: PolicyImpactReport & { failOn: ImpactGate | null; failed: boolean }): string {
  const lines = [
    `${report.changed} of ${report.actions} recorded actions in ${report.runs} runs would change (${report.affectedRuns.length} runs affected; ${report.newDenies} new denials, ${report.newApprovals} new approvals).`,
  ];
  if (report.rows.length > 0) {
    const width = Math.max(4, ...report.rows.map((row) => row.rule.length));
    lines.push('', `${'rule'.padEnd(width)}  ${'count'.padStart(5)}  transition                         runs`);
    for (const row of report.rows)
      lines.push(`${row.rule.padEnd(width)}  ${String(row.count).padStart(5)}  ${`${row.from} -> ${row.to}`.padEnd(33)}  ${row.runs}`);
  }
  if (report.pathChanges.length > 0) {
    lines.push('', 'Runs whose path would change:');
    for (const change of report.pathChanges)
      lines.push(`  ${change.runId}  step ${change.step}  ${change.name}  ${change.from} -> ${change.to}`);
  }
  if (report.failOn) lines.push('', report.failed ? `FAIL: --fail-on ${report.failOn}` : `ok: no ${report.failOn}`);
  return lines.join('\n');
}
