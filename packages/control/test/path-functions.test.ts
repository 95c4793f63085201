// Paths, URLs and hosts compared the way a risk officer means them: every spelling of the same
// file gets the same authority, and a spelling tools could read two ways fails closed.
import { describe, expect, it } from 'vitest';
import {
  decide,
  hostWithin,
  lintPolicies,
  normalizePath,
  normalizeUrl,
  parsePolicy,
  pathWithin,
  urlHost,
  urlWithin,
} from '../src/index.ts';
import { action, policyText, setOf } from './helpers.ts';

describe('path.normalize and path.within', () => {
  it('reads ./, duplicate slashes, . and .. the way a file system does', () => {
    expect(normalizePath('./invoices/invoice-1042.txt')).toBe('invoices/invoice-1042.txt');
    expect(normalizePath('reports/../invoices//./invoice-1042.txt/')).toBe('invoices/invoice-1042.txt');
    expect(normalizePath('../../etc/passwd')).toBe('../../etc/passwd');
    expect(normalizePath('/srv/../../etc/passwd')).toBe('/etc/passwd');
    expect(normalizePath('a/..')).toBe('.');
  });

  it('keeps containment to whole segments, and never lets a path climb out of a relative base', () => {
    expect(pathWithin('invoices/x.txt', 'invoices')).toBe(true);
    expect(pathWithin('invoices', 'invoices/')).toBe(true);
    expect(pathWithin('invoices-archive/x.txt', 'invoices')).toBe(false);
    expect(pathWithin('invoices/../x.txt', 'invoices')).toBe(false);
    expect(pathWithin('../invoices/x.txt', 'invoices')).toBe(false);
    expect(pathWithin('/invoices/x.txt', 'invoices')).toBe(false);
    expect(pathWithin('x/../../y', '.')).toBe(false);
    expect(pathWithin('/srv/data/invoices/x', '/srv/data')).toBe(true);
  });

  it('refuses what tools could read two ways: encoded separators and dots, double encoding, backslashes, NUL, look-alike slashes', () => {
    for (const path of [
      'invoices%2Fx.txt',
      'invoices%2fx.txt',
      '%2e%2e/secrets',
      'invoices%252Fx',
      'invoices\\x.txt',
      'invoices/x\u0000.txt',
      'invoices\uFF0Fx.txt',
      'invoices\u2215x.txt',
      'invoices/%c0%af',
    ]) {
      expect(() => normalizePath(path), JSON.stringify(path)).toThrowError(/path/);
    }
    expect(normalizePath('100% done.txt')).toBe('100% done.txt');
    expect(normalizePath('résumé.txt')).toBe('résumé.txt');
  });
});

describe('url and host functions', () => {
  it('compares scheme, host and port exactly and paths by segment, ignoring case, user names and dot segments', () => {
    expect(urlWithin('https://Files.Example.com./reports/../shared/q1.pdf', 'https://files.example.com/shared/')).toBe(true);
    expect(urlWithin('https://files.example.com/shared-other/x', 'https://files.example.com/shared')).toBe(false);
    expect(urlWithin('https://files.example.com@evil.example/shared/x', 'https://files.example.com/shared/')).toBe(false);
    expect(urlWithin('http://files.example.com/shared/x', 'https://files.example.com/shared/')).toBe(false);
    expect(urlWithin('https://files.example.com:8443/shared/x', 'https://files.example.com/shared/')).toBe(false);
    expect(urlWithin('https://files.example.com:443/shared/x', 'https://files.example.com/shared/')).toBe(true);
    expect(() => urlWithin('https://files.example.com/shared/..%2Fprivate', 'https://files.example.com/shared/')).toThrowError(
      /encoded separator/,
    );
    expect(() => urlWithin('files.example.com/shared', 'https://files.example.com/')).toThrowError(/not an absolute URL/);
  });

  it('gives hosts one spelling: lower case, IDNA, no trailing dot', () => {
    expect(urlHost('https://user:pw@API.Example.COM.:8080/x')).toBe('api.example.com');
    expect(normalizeUrl('HTTPS://Bücher.Example/a/./b/../c')).toBe('https://xn--bcher-kva.example/a/c');
    expect(hostWithin('API.example.com.', 'example.com')).toBe(true);
    expect(hostWithin('example.com', 'example.com')).toBe(true);
    expect(hostWithin('badexample.com', 'example.com')).toBe(false);
    expect(hostWithin('example.com.evil.example', 'example.com')).toBe(false);
    expect(() => hostWithin('example.com/x', 'example.com')).toThrowError(/not a host name/);
  });
});

describe('in conditions', () => {
  const clerk = `default: { tool: require_approval }
rules:
  - id: look-around
    match: { kind: tool, name: fs.read_text_file }
    authority: autonomous
  - id: invoices
    match: { kind: tool, name: fs.read_text_file }
    when: path.within(action.args.path, "invoices")
    authority: notify_human
    notify: [inbox:finance]
  - id: plain-paths
    match: { kind: tool, name: fs.read_text_file }
    when: path.isAbsolute(action.args.path) || !path.within(action.args.path, ".")
    authority: require_approval`;

  it('gives ./invoices/x and reports/../invoices/x the authority of invoices/x, and holds what could be read two ways', () => {
    const set = setOf(['clerk', clerk]);
    const authority = (path: string): string => decide(set, action('tool', 'fs.read_text_file', { path })).authority;
    expect(authority('invoices/invoice-1042.txt')).toBe('notify_human');
    expect(authority('./invoices/invoice-1042.txt')).toBe('notify_human');
    expect(authority('reports/../invoices/invoice-1042.txt')).toBe('notify_human');
    expect(authority('invoices//invoice-1042.txt')).toBe('notify_human');
    expect(authority('README.md')).toBe('autonomous');
    expect(authority('/srv/shared/invoices/invoice-1042.txt')).toBe('require_approval');
    expect(authority('invoices%2Finvoice-1042.txt')).toBe('require_approval');
    expect(authority('invoices\\invoice-1042.txt')).toBe('require_approval');
  });

  it('reports a path that cannot be read one way as the condition error', () => {
    const decision = decide(setOf(['clerk', clerk]), action('tool', 'fs.read_text_file', { path: 'invoices%2Finvoice-1042.txt' }));
    expect(decision.rules.find((rule) => rule.ruleId === 'plain-paths')?.conditionError).toBe(
      'The path "invoices%2Finvoice-1042.txt" contains an encoded separator, dot or percent sign, which tools decode differently',
    );
  });
});

describe('lint', () => {
  const lint = (when: string, tools?: Parameters<typeof lintPolicies>[1]) =>
    lintPolicies(
      [
        parsePolicy(
          policyText(
            'p',
            `default: require_approval\nrules:\n  - id: r\n    match: { kind: tool, name: t }\n    when: '${when}'\n    authority: notify_human\n    notify: [x@example.com]`,
          ),
          'p.yaml',
        ),
      ],
      tools,
    ).filter((finding) => finding.code === 'location-as-text');

  it('warns, at line and column, when a path, URL or host argument is compared as text', () => {
    const [finding] = lint('action.args.path.startsWith("invoices/")');
    expect(finding).toMatchObject({ severity: 'warning', location: { line: 9, column: 14 }, rule: 'r' });
    expect(finding!.message).toBe(
      'Rule \'r\' compares action.args.path as text (startsWith()); a path can be written many ways (./, .., // and encoded separators), so compare it with path.within(…, "folder") or path.normalize(…).',
    );
    expect(lint('action.args.target_url == "https://x.example/"')[0]!.message).toMatch(/url\.within/);
    expect(lint('action.args.host in ["a.example", "b.example"]')[0]!.message).toMatch(/host\.within/);
    expect(lint('action.args.source_file.endsWith(".csv")')).toHaveLength(1);
  });

  it('warns for an argument whose tool schema says it is a URI or host name', () => {
    const tools = {
      tools: [{ name: 't', inputSchema: { type: 'object', properties: { destination: { type: 'string', format: 'uri' } } } }],
    };
    expect(lint('action.args.destination.startsWith("s3://internal/")')).toEqual([]);
    expect(lint('action.args.destination.startsWith("s3://internal/")', tools)[0]!.message).toMatch(
      /compares action\.args\.destination as text/,
    );
  });

  it('is quiet when the functions are used, for null checks, and for fields that are not locations', () => {
    expect(lint('path.within(action.args.path, "invoices") && path.normalize(action.args.path) != "invoices/x"')).toEqual([]);
    expect(lint('action.args.path != null && action.args.profile.startsWith("x")')).toEqual([]);
  });
});
