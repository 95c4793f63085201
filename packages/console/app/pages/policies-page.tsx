// Policies: the server's policies, a YAML editor (CodeMirror 6) with live lint from
// POST /v1/policies/validate (each problem at its line and column, in the gutter and in a list),
// and a what-if preview over recorded runs (POST /v1/policies/impact) shown as a transition
// table, before anything is saved. The page never writes a policy: changes go through review.
import { useEffect, useRef, useState } from 'react';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { yaml } from '@codemirror/lang-yaml';
import { bracketMatching, defaultHighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { linter, lintGutter, type Diagnostic } from '@codemirror/lint';
import { EditorState } from '@codemirror/state';
import { EditorView, highlightActiveLine, keymap, lineNumbers } from '@codemirror/view';
import { api, hasRole, type Session } from '../api.ts';
import { AuthorityBadge, ErrorLine } from '../components/bits.tsx';

interface PolicyInfo {
  name: string;
  version: string;
  file: string;
  hash: string;
  rules: number;
}

interface Problem {
  message: string;
  location: { line?: number; column?: number; path?: string };
}

interface ImpactReport {
  actions: number;
  runs: number;
  changed: number;
  newDenies: number;
  newApprovals: number;
  rows: Array<{ rule: string; from: string; to: string; count: number; runs: number }>;
  affectedRuns: string[];
}

export default function PoliciesPage({ session }: { session: Session }) {
  const [policies, setPolicies] = useState<PolicyInfo[] | null>(null);
  const [selected, setSelected] = useState<string>('');
  const [original, setOriginal] = useState<string>('');
  const [problems, setProblems] = useState<Problem[] | null>(null);
  const [impact, setImpact] = useState<ImpactReport | null>(null);
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const host = useRef<HTMLDivElement>(null);
  const view = useRef<EditorView | null>(null);
  const editor = hasRole(session, ['risk_officer', 'admin']);

  useEffect(() => {
    api<{ policies: PolicyInfo[] }>(session.token, '/v1/policies').then(
      (body) => {
        setPolicies(body.policies);
        if (body.policies[0]) setSelected(body.policies[0].name);
      },
      (caught: Error) => setError(caught.message),
    );
  }, [session.token]);

  useEffect(() => {
    if (!selected) return;
    api<{ policy: { source: string } }>(session.token, `/v1/policies/${encodeURIComponent(selected)}/source`).then(
      (body) => setOriginal(body.policy.source),
      (caught: Error) => setError(caught.message),
    );
  }, [session.token, selected]);

  useEffect(() => {
    if (!host.current) return;
    const lint = linter(
      async (target) => {
        if (!editor) return [];
        const source = target.state.doc.toString();
        if (source.trim() === '') return [];
        const result = await api<{ ok: boolean; problems: Problem[] }>(session.token, '/v1/policies/validate', { method: 'POST', body: { source, file: `${selected || 'policy'}.yaml` } }).catch((caught: Error) => ({ ok: false, problems: [{ message: caught.message, location: {} }] }));
        setProblems(result.problems);
        return result.problems.map((problem) => toDiagnostic(target.state, problem));
      },
      { delay: 300 },
    );
    const created = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: original,
        extensions: [
          lineNumbers(),
          history(),
          highlightActiveLine(),
          bracketMatching(),
          syntaxHighlighting(defaultHighlightStyle),
          yaml(),
          lintGutter(),
          lint,
          EditorState.readOnly.of(!editor),
          keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
          EditorView.contentAttributes.of({ 'aria-label': 'Policy YAML', 'aria-multiline': 'true' }),
          // The server's CSP admits the editor's <style> element by this page load's nonce.
          EditorView.cspNonce.of(document.querySelector<HTMLMetaElement>('meta[name=csp-nonce]')?.content ?? ''),
        ],
      }),
    });
    view.current = created;
    return () => {
      created.destroy();
      view.current = null;
    };
  }, [original, session.token, editor, selected]);

  const preview = async () => {
    const source = view.current?.state.doc.toString() ?? '';
    setBusy(true);
    setError(null);
    try {
      // The edited policy replaces the one it was opened from; the others stay as they are in force.
      const others = await Promise.all((policies ?? []).filter((policy) => policy.name !== selected).map(async (policy) => (await api<{ policy: { source: string } }>(session.token, `/v1/policies/${encodeURIComponent(policy.name)}/source`)).policy.source));
      const body = await api<{ impact: ImpactReport }>(session.token, '/v1/policies/impact', { method: 'POST', body: { policies: [source, ...others] } });
      setImpact(body.impact);
    } catch (caught) {
      setError((caught as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section aria-labelledby="policies-heading" className="policies">
      <h1 id="policies-heading">Policies</h1>
      <ErrorLine error={error} />
      <div className="field">
        <label htmlFor="policy-select">Policy</label>
        <select id="policy-select" value={selected} onChange={(event) => setSelected(event.target.value)}>
          {policies?.map((policy) => (
            <option key={policy.name} value={policy.name}>
              {policy.name} v{policy.version} ({policy.rules} rules)
            </option>
          ))}
        </select>
      </div>
      {!editor && <p className="note">Your roles can read policies; editing and previewing need risk_officer or admin.</p>}
      <div ref={host} className="editor" />
      {problems && (
        <div role="status" className="lint" data-testid="lint" data-problems={problems.length}>
          {problems.length === 0 ? (
            <p className="ok">✓ Valid policy.</p>
          ) : (
            <ul>
              {problems.map((problem, index) => (
                <li key={index} className="error">
                  {problem.location.line ? `line ${problem.location.line}:${problem.location.column ?? 1}` : 'policy'} — {problem.message}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {editor && (
        <button type="button" onClick={() => void preview()} disabled={busy}>
          Preview impact on recorded runs
        </button>
      )}
      {busy && <p role="status">Re-deciding recorded actions…</p>}
      {impact && <ImpactTable impact={impact} />}
    </section>
  );
}

function toDiagnostic(state: EditorState, problem: Problem): Diagnostic {
  const lines = state.doc.lines;
  const lineNumber = Math.min(Math.max(problem.location.line ?? 1, 1), lines);
  const line = state.doc.line(lineNumber);
  const from = Math.min(line.from + Math.max((problem.location.column ?? 1) - 1, 0), line.to);
  return { from, to: line.to > from ? line.to : from, severity: 'error', message: problem.message };
}

function ImpactTable({ impact }: { impact: ImpactReport }) {
  return (
    <section aria-labelledby="impact-heading" className="impact" data-testid="impact">
      <h2 id="impact-heading">What would change</h2>
      <p>
        {impact.actions} recorded action(s) in {impact.runs} run(s) re-decided: {impact.changed} change authority ({impact.newDenies} newly denied, {impact.newApprovals} newly held for approval), in {impact.affectedRuns.length} run(s).
      </p>
      {impact.rows.length > 0 ? (
        <table>
          <caption className="visually-hidden">Authority transitions by rule</caption>
          <thead>
            <tr>
              <th scope="col">Rule</th>
              <th scope="col">From</th>
              <th scope="col">To</th>
              <th scope="col">Actions</th>
              <th scope="col">Runs</th>
            </tr>
          </thead>
          <tbody>
            {impact.rows.map((row) => (
              <tr key={`${row.rule}-${row.from}-${row.to}`}>
                <td>
                  <code>{row.rule}</code>
                </td>
                <td>
                  <AuthorityBadge authority={row.from} />
                </td>
                <td>
                  <AuthorityBadge authority={row.to} />
                </td>
                <td>{row.count}</td>
                <td>{row.runs}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : (
        <p>No decision would change.</p>
      )}
    </section>
  );
}
