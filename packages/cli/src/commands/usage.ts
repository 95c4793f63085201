// `factory usage`: model cost and tokens by team, feature, agent and model over a time window,
// summed from the trace's model.responded events (the same figures an auditor re-adds by hand).
// On the store, or through a server (--server / AIFACTORY_URL, or this home's factory serve): GET /v1/usage.
import { summarizeUsage, parseUsageDimensions, type UsageReport, type UsageRow } from '@aifactory/verification';
import type { Store } from '@aifactory/store';
import type { Command } from 'commander';
import { action, emit, withJson, type CommonOptions } from '../command-kit.ts';
import { openWorkspaceStore } from '@aifactory/workspace/config';
import { ServerClient, viaServerOrStore } from '../connection.ts';
import { parseTime } from './time-options.ts';

interface UsageOptions extends CommonOptions {
  by: string;
  since: string;
  until?: string;
}

/** Hooks the usage command takes from whoever wires the CLI together. */
export interface UsageCommandOptions {
  /** Opens the store (default: the workspace store from the environment). */
  openStore?: () => Promise<Store>;
}

/** Registers `factory usage`. */
export function registerUsageCommand(program: Command, hooks: UsageCommandOptions = {}): void {
  withJson(
    program
      .command('usage')
      .description('Model cost and tokens by team, feature, agent and model, summed from the recorded trace.')
      .option(
        '--by <dimensions>',
        'group by any of team, feature, agent, model (comma-separated, in that order of columns)',
        'team,feature',
      )
      .option('--since <time>', 'calls answered at or after: an ISO time, or a duration ago such as 24h, 7d, 30d', '30d')
      .option('--until <time>', 'calls answered before: an ISO time, or a duration ago')
      .addHelpText(
        'after',
        '\nExamples:\n  factory usage --by team,feature --since 30d\n  factory usage --by agent,model --since 7d --json\n  factory usage --server https://factory.example.com --by team --json   (AIFACTORY_TOKEN: an auditor token)\n\nRuns carry their team from the agent (metadata.team) and their feature from the agent\n(metadata.feature) or the run (factory run --feature, POST /v1/runs {"feature": …}).\nErased runs no longer say what they cost and drop out of the figures.',
      ),
  ).action(
    action(async (options: UsageOptions) => {
      const now = new Date();
      const by = parseUsageDimensions(options.by);
      const since = parseTime(options.since, '--since', now);
      const until = options.until ? parseTime(options.until, '--until', now) : undefined;
      const report = await viaServerOrStore<UsageReport>({
        // The window is resolved here, so a duration means the same instant either way.
        server: async (connection) => {
          const query = new URLSearchParams({
            by: by.join(','),
            since: since.toISOString(),
            ...(until ? { until: until.toISOString() } : {}),
          });
          return new ServerClient(connection).request<UsageReport>('GET', `/v1/usage?${query.toString()}`);
        },
        store: async () => {
          const store = await (hooks.openStore ?? openWorkspaceStore)();
          try {
            return await summarizeUsage(store, { by, since, ...(until ? { until } : {}) });
          } finally {
            await store.close();
          }
        },
      });
      emit(options, report, renderUsage);
    }),
  );
}

/** Renders a usage report as an aligned table with a total line. */
export function renderUsage(report: UsageReport): string {
  if (report.rows.length === 0) return `No model calls recorded since ${report.since ?? 'the beginning'}.`;
  const header = [...report.by, 'runs', 'calls', 'input tokens', 'output tokens', 'cost (USD)'];
  const cells = (row: Omit<UsageRow, 'team' | 'feature' | 'agent' | 'model'> & Partial<UsageRow>, label?: string) => [
    ...report.by.map((dimension, index) => (label !== undefined ? (index === 0 ? label : '') : (row[dimension] ?? '—'))),
    String(row.runs),
    String(row.calls),
    String(row.inputTokens),
    String(row.outputTokens),
    row.costUsd.toFixed(4),
  ];
  const lines = [header, ...report.rows.map((row) => cells(row)), cells(report.total, 'total')];
  const widths = header.map((_, column) => Math.max(...lines.map((line) => line[column]!.length)));
  const numeric = (column: number) => column >= report.by.length;
  return lines
    .map((line) =>
      line
        .map((cell, column) => (numeric(column) ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!)))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}
