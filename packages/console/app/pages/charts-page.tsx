// Charts where people would rather look than read: decisions by authority over time, boundary
// violations over time (denied actions, budgets breached, held actions rejected or expired), how
// long held actions waited for a human, cost by team and feature, runs by status. Plain SVG: a few
// chart shapes do not need a charting library's weight,
// and each chart carries its figures as a table for screen readers and for copying.
import { useEffect, useState } from 'react';
import { api, type Session } from '../api.ts';
import { ErrorLine } from '../components/bits.tsx';

interface Stats {
  since: string;
  until: string;
  bucket: 'hour' | 'day';
  decisions: Array<{ at: string; authority: string; count: number }>;
  violations: Array<{ at: string; kind: 'deny' | 'budget' | 'rejection' | 'expiry'; count: number }>;
  approvalLatencies: Array<{ approvalId: string; outcome: string; seconds: number }>;
  runsByStatus: Record<string, number>;
  costByTeamAndFeature: Array<{ team?: string | null; feature?: string | null; costUsd: number; calls: number; runs: number }>;
  costTotal: { costUsd: number; calls: number };
}

const authorities = ['autonomous', 'notify_human', 'require_approval', 'deny'] as const;
const violationKinds = [
  { key: 'deny', label: 'denied actions', fill: 'deny' },
  { key: 'budget', label: 'budgets breached', fill: 'budget' },
  { key: 'rejection', label: 'held actions rejected', fill: 'rejection' },
  { key: 'expiry', label: 'held actions expired', fill: 'expiry' },
] as const;
const windows = [
  { label: 'Last 24 hours', hours: 24 },
  { label: 'Last 7 days', hours: 24 * 7 },
  { label: 'Last 30 days', hours: 24 * 30 },
];

export default function ChartsPage({ session }: { session: Session }) {
  const [hours, setHours] = useState(24 * 7);
  const [stats, setStats] = useState<Stats | null>(null);
  const [error, setError] = useState<string | null>(null);
  useEffect(() => {
    const since = new Date(Date.now() - hours * 3_600_000).toISOString();
    api<{ stats: Stats }>(session.token, `/v1/stats?since=${encodeURIComponent(since)}`).then(
      (body) => setStats(body.stats),
      (caught: Error) => setError(caught.message),
    );
  }, [session.token, hours]);
  return (
    <section aria-labelledby="charts-heading" className="charts">
      <h1 id="charts-heading">Charts</h1>
      <div className="field">
        <label htmlFor="window">Window</label>
        <select id="window" value={hours} onChange={(event) => setHours(Number(event.target.value))}>
          {windows.map((window) => (
            <option key={window.hours} value={window.hours}>
              {window.label}
            </option>
          ))}
        </select>
      </div>
      <ErrorLine error={error} />
      {!stats && !error && <p role="status">Loading figures…</p>}
      {stats && (
        <div className="chart-grid">
          <StackedChart
            id="decisions"
            title={`Decisions by authority per ${stats.bucket}`}
            bucket={stats.bucket}
            rows={stats.decisions.map((row) => ({ at: row.at, key: row.authority, count: row.count }))}
            series={authorities.map((authority) => ({ key: authority, label: authority, fill: authority }))}
            empty="No decisions in this window."
          />
          <StackedChart
            id="violations"
            title={`Boundary violations per ${stats.bucket}`}
            bucket={stats.bucket}
            rows={stats.violations.map((row) => ({ at: row.at, key: row.kind, count: row.count }))}
            series={violationKinds}
            empty="No boundary met in this window: nothing denied, no budget breached, no held action rejected or expired."
          />
          <LatencyChart stats={stats} />
          <Bars
            id="cost"
            title="Cost by team and feature (USD)"
            rows={stats.costByTeamAndFeature.map((row) => ({
              label: `${row.team ?? '(no team)'} / ${row.feature ?? '(no feature)'}`,
              value: row.costUsd,
            }))}
            format={(value) => `$${value.toFixed(4)}`}
            empty="No model calls in this window."
          />
          <Bars
            id="status"
            title="Runs by status"
            rows={Object.entries(stats.runsByStatus).map(([label, value]) => ({ label, value }))}
            format={(value) => String(value)}
            empty="No runs started in this window."
          />
        </div>
      )}
    </section>
  );
}

const width = 520;
const height = 220;
const margin = { top: 10, right: 10, bottom: 40, left: 44 };

/** Counts per time bucket, stacked by series (decisions by authority, violations by kind). */
function StackedChart({
  id,
  title,
  bucket,
  rows,
  series,
  empty,
}: {
  id: string;
  title: string;
  bucket: Stats['bucket'];
  rows: Array<{ at: string; key: string; count: number }>;
  series: ReadonlyArray<{ key: string; label: string; fill: string }>;
  empty: string;
}) {
  const buckets = [...new Set(rows.map((row) => row.at))].sort();
  const totals = buckets.map((at) => rows.filter((row) => row.at === at).reduce((sum, row) => sum + row.count, 0));
  const max = Math.max(1, ...totals);
  const plotWidth = width - margin.left - margin.right;
  const plotHeight = height - margin.top - margin.bottom;
  const barWidth = buckets.length > 0 ? Math.max(2, plotWidth / buckets.length - 4) : 0;
  const label = (at: string) =>
    bucket === 'hour' ? new Date(at).toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' }) : new Date(at).toLocaleDateString();
  return (
    <figure className="chart" data-testid={`chart-${id}`} data-points={rows.length}>
      <figcaption id={`chart-${id}-title`}>{title}</figcaption>
      {buckets.length === 0 ? (
        <p className="empty">{empty}</p>
      ) : (
        <svg viewBox={`0 0 ${width} ${height}`} role="img" aria-labelledby={`chart-${id}-title`}>
          <Axis max={max} />
          {buckets.map((at, index) => {
            let y = margin.top + plotHeight;
            const x = margin.left + index * (plotWidth / buckets.length) + 2;
            return (
              <g key={at}>
                {series.map(({ key, label: name, fill }) => {
                  const count = rows.find((row) => row.at === at && row.key === key)?.count ?? 0;
                  if (count === 0) return null;
                  const barHeight = (count / max) * plotHeight;
                  y -= barHeight;
                  return (
                    <rect key={key} className={`fill-${fill}`} x={x} y={y} width={barWidth} height={barHeight}>
                      <title>{`${label(at)}: ${count} ${name}`}</title>
                    </rect>
                  );
                })}
                {(buckets.length <= 12 || index % Math.ceil(buckets.length / 12) === 0) && (
                  <text x={x + barWidth / 2} y={height - margin.bottom + 14} textAnchor="middle" className="tick">
                    {label(at)}
                  </text>
                )}
              </g>
            );
          })}
        </svg>
      )}
      <ul className="legend">
        {series.map(({ key, label: name, fill }) => (
          <li key={key}>
            <span className={`swatch fill-${fill}`} aria-hidden="true" /> {name}:{' '}
            {rows.filter((row) => row.key === key).reduce((sum, row) => sum + row.count, 0)}
          </li>
        ))}
      </ul>
    </figure>
  );
}

const latencyBuckets = [
  { label: '< 1 min', upTo: 60 },
  { label: '1–5 min', upTo: 300 },
  { label: '5–30 min', upTo: 1800 },
  { label: '30 min–2 h', upTo: 7200 },
  { label: '2–24 h', upTo: 86_400 },
  { label: '> 24 h', upTo: Number.POSITIVE_INFINITY },
];

function LatencyChart({ stats }: { stats: Stats }) {
  const seconds = stats.approvalLatencies.map((row) => row.seconds).sort((a, b) => a - b);
  const median = seconds.length > 0 ? seconds[Math.floor(seconds.length / 2)]! : undefined;
  const rows = latencyBuckets.map((bucket, index) => ({
    label: bucket.label,
    value: seconds.filter((value) => value < bucket.upTo && (index === 0 || value >= latencyBuckets[index - 1]!.upTo)).length,
  }));
  return (
    <Bars
      id="latency"
      title={`Approval latency (${seconds.length} decided${median === undefined ? '' : `, median ${formatSeconds(median)}`})`}
      rows={seconds.length > 0 ? rows : []}
      format={(value) => String(value)}
      empty="No approvals decided in this window."
    />
  );
}

function formatSeconds(value: number): string {
  if (value < 60) return `${value.toFixed(1)} s`;
  if (value < 3600) return `${(value / 60).toFixed(1)} min`;
  return `${(value / 3600).toFixed(1)} h`;
}

function Bars({
  id,
  title,
  rows,
  format,
  empty,
}: {
  id: string;
  title: string;
  rows: Array<{ label: string; value: number }>;
  format: (value: number) => string;
  empty: string;
}) {
  const max = Math.max(0, ...rows.map((row) => row.value));
  const rowHeight = 24;
  const labelWidth = 170;
  const svgHeight = rows.length * rowHeight + 8;
  return (
    <figure className="chart" data-testid={`chart-${id}`} data-points={rows.length}>
      <figcaption id={`chart-${id}-title`}>{title}</figcaption>
      {rows.length === 0 ? (
        <p className="empty">{empty}</p>
      ) : (
        <>
          <svg viewBox={`0 0 ${width} ${svgHeight}`} role="img" aria-labelledby={`chart-${id}-title`}>
            {rows.map((row, index) => {
              const barWidth = max > 0 ? ((width - labelWidth - 80) * row.value) / max : 0;
              const y = 4 + index * rowHeight;
              return (
                <g key={row.label}>
                  <text x={labelWidth - 6} y={y + 15} textAnchor="end" className="tick">
                    {row.label.length > 26 ? `${row.label.slice(0, 25)}…` : row.label}
                  </text>
                  <rect
                    className={`fill-bar fill-${row.label}`}
                    x={labelWidth}
                    y={y + 2}
                    width={Math.max(barWidth, row.value > 0 ? 2 : 0)}
                    height={rowHeight - 6}
                  >
                    <title>{`${row.label}: ${format(row.value)}`}</title>
                  </rect>
                  <text x={labelWidth + barWidth + 6} y={y + 15} className="tick">
                    {format(row.value)}
                  </text>
                </g>
              );
            })}
          </svg>
          <details>
            <summary>Figures</summary>
            <table>
              <tbody>
                {rows.map((row) => (
                  <tr key={row.label}>
                    <th scope="row">{row.label}</th>
                    <td>{format(row.value)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </details>
        </>
      )}
    </figure>
  );
}

function Axis({ max }: { max: number }) {
  const plotHeight = height - margin.top - margin.bottom;
  const ticks = [0, Math.round(max / 2), max];
  return (
    <g>
      <line x1={margin.left} x2={margin.left} y1={margin.top} y2={margin.top + plotHeight} className="axis" />
      <line x1={margin.left} x2={width - margin.right} y1={margin.top + plotHeight} y2={margin.top + plotHeight} className="axis" />
      {ticks.map((tick) => (
        <text key={tick} x={margin.left - 6} y={margin.top + plotHeight - (tick / max) * plotHeight + 4} textAnchor="end" className="tick">
          {tick}
        </text>
      ))}
    </g>
  );
}
