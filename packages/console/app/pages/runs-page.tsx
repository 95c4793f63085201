// Runs: a filterable list (agent, status, principal, team, authority, time), a page at a time.
// Paging follows the cursor the API returns (a position, so runs started meanwhile never shift a
// page); the query lives in the URL, so a filtered page can be shared and reloaded.
import { useEffect, useState, type FormEvent } from 'react';
import { api, type Session } from '../api.ts';
import { Link, navigate, useLocation } from '../router.tsx';
import { ErrorLine, StatusBadge, Time } from '../components/bits.tsx';
import { filterNames, runsRequest, type FilterName } from '../runs-request.ts';

/** A run as GET /v1/runs lists it. */
interface RunSummary {
  id: string;
  agent: string;
  team: string | null;
  principal: string;
  status: string;
  startedAt: string;
  endedAt: string | null;
  events: number;
  sealed: boolean;
}

const statuses = ['running', 'queued', 'orphaned', 'recovering', 'held', 'completed', 'failed'];
const authorities = ['autonomous', 'notify_human', 'require_approval', 'deny'];
export function RunsPage({ session }: { session: Session }) {
  const { query } = useLocation();
  const [runs, setRuns] = useState<RunSummary[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const search = query.toString();
  const request = runsRequest(search);

  useEffect(() => {
    const abort = new AbortController();
    setError(null);
    api<{ runs: RunSummary[]; nextCursor?: string | null }>(session.token, request, { signal: abort.signal }).then(
      (body) => {
        setRuns(body.runs);
        setNext(body.nextCursor ?? null);
      },
      (caught: Error) => {
        if (!abort.signal.aborted) setError(caught.message);
      },
    );
    return () => abort.abort();
  }, [session.token, request]);

  const apply = (event: FormEvent<HTMLFormElement>) => {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const params = new URLSearchParams();
    for (const name of filterNames) {
      const value = String(form.get(name) ?? '').trim();
      if (value) params.set(name, value);
    }
    navigate(`/runs${params.size > 0 ? `?${params}` : ''}`);
  };
  const pageLink = (cursor: string) => {
    const params = new URLSearchParams(query);
    params.set('cursor', cursor);
    return `/runs?${params}`;
  };

  return (
    <section aria-labelledby="runs-heading">
      <h1 id="runs-heading">Runs</h1>
      <form className="filters" onSubmit={apply} key={search}>
        <Filter name="agent" label="Agent" value={query.get('agent')} />
        <div className="field">
          <label htmlFor="filter-status">Status</label>
          <select id="filter-status" name="status" defaultValue={query.get('status') ?? ''}>
            <option value="">any</option>
            {statuses.map((status) => (
              <option key={status}>{status}</option>
            ))}
          </select>
        </div>
        <Filter name="principal" label="Principal" value={query.get('principal')} />
        <Filter name="team" label="Team" value={query.get('team')} />
        <div className="field">
          <label htmlFor="filter-authority">Authority</label>
          <select id="filter-authority" name="authority" defaultValue={query.get('authority') ?? ''}>
            <option value="">any</option>
            {authorities.map((authority) => (
              <option key={authority}>{authority}</option>
            ))}
          </select>
        </div>
        <Filter name="since" label="Started after" type="datetime-local" value={query.get('since')} />
        <Filter name="until" label="Started before" type="datetime-local" value={query.get('until')} />
        <button type="submit">Filter</button>
      </form>
      <ErrorLine error={error} />
      {runs && runs.length === 0 && <p className="empty">No runs match.</p>}
      {runs && runs.length > 0 && (
        <table className="runs">
          <caption className="visually-hidden">Runs matching the filters</caption>
          <thead>
            <tr>
              <th scope="col">Run</th>
              <th scope="col">Agent</th>
              <th scope="col">Principal</th>
              <th scope="col">Status</th>
              <th scope="col">Started</th>
              <th scope="col">Events</th>
              <th scope="col">Sealed</th>
            </tr>
          </thead>
          <tbody>
            {runs.map((run) => (
              <tr key={run.id}>
                <td>
                  <Link href={`/runs/${encodeURIComponent(run.id)}`}>{run.id}</Link>
                </td>
                <td>
                  {run.agent}
                  {run.team ? <span className="muted"> · {run.team}</span> : null}
                </td>
                <td>{run.principal}</td>
                <td>
                  <StatusBadge status={run.status} />
                </td>
                <td>
                  <Time value={run.startedAt} />
                </td>
                <td>{run.events}</td>
                <td>{run.sealed ? 'yes' : 'no'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <nav aria-label="Pages of runs" className="pager">
        {query.get('cursor') && (
          <Link
            href={`/runs${(() => {
              const params = new URLSearchParams(query);
              params.delete('cursor');
              return params.size > 0 ? `?${params}` : '';
            })()}`}
          >
            First page
          </Link>
        )}
        {next && <Link href={pageLink(next)}>Next page</Link>}
      </nav>
    </section>
  );
}

function Filter({ name, label, value, type = 'text' }: { name: FilterName; label: string; value: string | null; type?: string }) {
  return (
    <div className="field">
      <label htmlFor={`filter-${name}`}>{label}</label>
      <input id={`filter-${name}`} name={name} type={type} defaultValue={value ?? ''} />
    </div>
  );
}
