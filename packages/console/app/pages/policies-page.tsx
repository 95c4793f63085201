// Policies: the server's policies, a YAML editor (CodeMirror 6) with completion from the policy
// format's JSON Schema (GET /v1/policies/schema), live lint from POST /v1/policies/validate (each
// problem at its line and column, in the gutter and in a list), the policy's own test cases run
// against the edit (POST /v1/policies/test), a what-if preview over recorded runs
// (POST /v1/policies/impact) shown as a transition table, and the diff to review. The page never
// writes a policy: the reviewed diff goes into the repository's review like any change.
import { useEffect, useRef, useState } from 'react';
import { autocompletion } from '@codemirror/autocomplete';
import { diffLines } from 'diff';
import { defaultKeymap, history, historyKeymap, indentWithTab } from '@codemirror/commands';
import { yaml } from '@codemirror/lang-yaml';
import { bracketMatching, defaultHighlightStyle, syntaxHighlighting } from '@codemirror/language';
import { linter, lintGutter, type Diagnostic } from '@codemirror/lint';
import { EditorState } from '@codemirror/state';
import { EditorView, highlightActiveLine, keymap, lineNumbers } from '@codemirror/view';
import { api, download, hasRole, type Session } from '../api.ts';
import { schemaCompletion, type JsonSchema } from '../schema-completion.ts';
import { AuthorityBadge, ErrorLine } from '../components/bits.tsx';

interface PolicyInfo {
  name: string;
  version: string;
  file: string;
  hash: string;
  rules: number;
}

/** A located problem as the API sends it: `text` is its one line as the CLI prints it (file:line:column: path: message). */
interface Problem {
  message: string;
  location: { line?: number; column?: number; path?: string };
  text: string;
}

interface PolicyTestReport {
  total: number;
  passed: number;
  failed: number;
  results: Array<{
    name: string;
    file: string;
    line: number;
    expected: string;
    actual: string;
    passed: boolean;
    failures: string[];
    rules: string[];
  }>;
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
  const [tests, setTests] = useState<{ report: PolicyTestReport | null; message?: string } | null>(null);
  const [review, setReview] = useState<string | null>(null);
  const schema = useRef<JsonSchema | null>(null);
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
    // Completion works once it arrives; the editor does not wait for it.
    api<JsonSchema>(session.token, '/v1/policies/schema').then(
      (body) => (schema.current = body),
      () => undefined,
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
        const result = await api<{ ok: boolean; problems: Problem[] }>(session.token, '/v1/policies/validate', {
          method: 'POST',
          body: { source, file: `${selected || 'policy'}.yaml` },
        }).catch((caught: Error) => ({ ok: false, problems: [{ message: caught.message, location: {}, text: caught.message }] }));
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
          autocompletion({ override: [schemaCompletion(() => schema.current)] }),
          lintGutter(),
          lint,
          EditorState.readOnly.of(!editor),
          keymap.of([...defaultKeymap, ...historyKeymap, indentWithTab]),
          EditorView.contentAttributes.of({ 'aria-label': 'Policy YAML', 'aria-multiline': 'true', 'aria-describedby': 'editor-keys' }),
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
      const others = await Promise.all(
        (policies ?? [])
          .filter((policy) => policy.name !== selected)
          .map(
            async (policy) =>
              (await api<{ policy: { source: string } }>(session.token, `/v1/policies/${encodeURIComponent(policy.name)}/source`)).policy
                .source,
          ),
      );
      const body = await api<{ impact: ImpactReport }>(session.token, '/v1/policies/impact', {
        method: 'POST',
        body: { policies: [source, ...others] },
      });
      setImpact(body.impact);
    } catch (caught) {
      setError((caught as Error).message);
    } finally {
      setBusy(false);
    }
  };

  const edited = () => view.current?.state.doc.toString() ?? '';
  const runTests = async () => {
    setBusy(true);
    setError(null);
    try {
      setTests(
        await api<{ report: PolicyTestReport | null; message?: string }>(session.token, '/v1/policies/test', {
          method: 'POST',
          body: { name: selected, source: edited() },
        }),
      );
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
      {editor && (
        <p className="muted" id="editor-keys">
          In the editor, Tab indents; press Esc, then Tab, to move on. Ctrl+Space offers completions.
        </p>
      )}
      <div ref={host} className="editor" />
      {problems && (
        <div role="status" className="lint" data-testid="lint" data-problems={problems.length}>
          {problems.length === 0 ? (
            <p className="ok">✓ Valid policy.</p>
          ) : (
            <ul>
              {problems.map((problem, index) => (
                <li key={index} className="error">
                  {problem.text}
                </li>
              ))}
            </ul>
          )}
        </div>
      )}
      {editor && (
        <div className="buttons">
          <button type="button" onClick={() => void runTests()} disabled={busy}>
            Run policy tests
          </button>
          <button type="button" onClick={() => void preview()} disabled={busy}>
            Preview impact on recorded runs
          </button>
          <button type="button" onClick={() => setReview(edited())} disabled={busy}>
            Review changes
          </button>
        </div>
      )}
      {busy && <p role="status">Working…</p>}
      {tests && <TestResults tests={tests} />}
      {impact && <ImpactTable impact={impact} />}
      {review !== null && (
        <ReviewDiff
          original={original}
          edited={review}
          file={policies?.find((policy) => policy.name === selected)?.file ?? `${selected}.yaml`}
        />
      )}
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

function TestResults({ tests }: { tests: { report: PolicyTestReport | null; message?: string } }) {
  const { report } = tests;
  return (
    <section aria-labelledby="tests-heading" className="tests" data-testid="policy-tests" data-failed={report?.failed ?? 0}>
      <h2 id="tests-heading">Policy tests</h2>
      {!report ? (
        <p>{tests.message}</p>
      ) : (
        <>
          <p className={report.failed === 0 ? 'ok' : 'error'}>
            {report.passed} of {report.total} case(s) pass{report.failed > 0 ? `; ${report.failed} fail under the edited policy` : ''}.
          </p>
          <table>
            <caption className="visually-hidden">Test cases and their outcomes</caption>
            <thead>
              <tr>
                <th scope="col">Case</th>
                <th scope="col">Where</th>
                <th scope="col">Expected</th>
                <th scope="col">Decided</th>
                <th scope="col">Result</th>
              </tr>
            </thead>
            <tbody>
              {report.results.map((result) => (
                <tr key={`${result.file}:${result.line}`} className={result.passed ? '' : 'failed'}>
                  <td>{result.name}</td>
                  <td>
                    <code>
                      {result.file}:{result.line}
                    </code>
                  </td>
                  <td>
                    <AuthorityBadge authority={result.expected} />
                  </td>
                  <td>
                    <AuthorityBadge authority={result.actual} />
                  </td>
                  <td>{result.passed ? 'pass' : `FAIL: ${result.failures.join(' ')}`}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </>
      )}
    </section>
  );
}

function ReviewDiff({ original, edited, file }: { original: string; edited: string; file: string }) {
  const parts = diffLines(original, edited);
  const changed = parts.some((part) => part.added || part.removed);
  const name = file.split(/[\\/]/).pop() ?? 'policy.yaml';
  return (
    <section aria-labelledby="review-heading" className="review" data-testid="policy-diff">
      <h2 id="review-heading">Review changes</h2>
      {!changed ? (
        <p>No changes to review.</p>
      ) : (
        <>
          <pre className="diff" tabIndex={0} aria-label={`Changes to ${name}`}>
            {parts.flatMap((part, index) =>
              part.value
                .replace(/\n$/, '')
                .split('\n')
                .map((line, lineIndex) => (
                  <span key={`${index}-${lineIndex}`} className={part.added ? 'ins' : part.removed ? 'del' : 'same'}>
                    {`${part.added ? '+' : part.removed ? '-' : ' '} ${line}\n`}
                  </span>
                )),
            )}
          </pre>
          <p className="note">Nothing is saved here: propose the change for review in the repository (download the edited file).</p>
          <button type="button" className="quiet" onClick={() => download(name, edited, 'application/yaml')}>
            Download {name}
          </button>
        </>
      )}
    </section>
  );
}

function ImpactTable({ impact }: { impact: ImpactReport }) {
  return (
    <section aria-labelledby="impact-heading" className="impact" data-testid="impact">
      <h2 id="impact-heading">What would change</h2>
      <p>
        {impact.actions} recorded action(s) in {impact.runs} run(s) re-decided: {impact.changed} change authority ({impact.newDenies} newly
        denied, {impact.newApprovals} newly held for approval), in {impact.affectedRuns.length} run(s).
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
