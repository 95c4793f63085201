// What the redactor looks for, and the text it looks in. Detectors run on a normalised view of
// each string — invisible characters (zero-width spaces, joiners, soft hyphens, bidi marks)
// dropped, percent-escapes of printable ASCII decoded, compatibility forms folded by NFKC — so a
// key split by U+200B, written as `sk%2Dproj%2D…` or in full-width letters is found; each match
// is mapped back to the span of the original string it came from, and that span is replaced.

/** A pattern that finds one kind of sensitive value. */
export interface Detector {
  kind: string;
  /** Global pattern; compiled with the `d` flag so a group's span is known. */
  pattern: RegExp;
  /** Capture group holding the value to replace (default: the whole match). */
  group?: number;
  /** Extra check of a candidate (checksums, entropy), to keep false positives down. */
  accept?: (value: string) => boolean;
}

/** Secret formats that are always redacted. Order matters: the more specific first. */
export const secretDetectors: Detector[] = [
  { kind: 'private_key', pattern: /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----/dg },
  // A password inside a URL's authority: postgres://user:pass@host, mongodb+srv://, redis://:pass@,
  // amqp://, jdbc:mysql://… The greedy class backs off to the authority's last '@'.
  {
    kind: 'connection_password',
    pattern: /\b[a-z][a-z0-9+.-]{1,30}:\/\/[^\s:/?#@"'<>]*:([^\s/?#"'<>]+)@(?=[^\s@/?#"'<>])/dgi,
    group: 1,
    accept: (value) => !value.startsWith('[REDACTED:'),
  },
  { kind: 'aifactory_token', pattern: /\baif_[A-Za-z0-9_-]{20,200}/dg },
  { kind: 'anthropic_key', pattern: /\bsk-ant-[A-Za-z0-9_-]{20,}/dg },
  { kind: 'openai_key', pattern: /\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}/dg },
  { kind: 'aws_access_key', pattern: /\b(?:AKIA|ASIA|ABIA|ACCA|AROA|AIDA)[0-9A-Z]{16}\b/dg },
  // An AWS secret access key named as one (aws_secret_access_key=…, "SecretAccessKey": "…").
  {
    kind: 'aws_secret_key',
    pattern: /(?:aws[_-]?)?secret[_-]?(?:access[_-]?)?key["']?\s*[:=]\s*["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/dgi,
    group: 1,
  },
  { kind: 'github_token', pattern: /\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{22,})\b/dg },
  { kind: 'slack_token', pattern: /\bxox[abposr]-[A-Za-z0-9-]{10,}/dg },
  { kind: 'google_api_key', pattern: /\bAIza[0-9A-Za-z_-]{35}\b/dg },
  { kind: 'stripe_key', pattern: /\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{16,}\b/dg },
  { kind: 'jwt', pattern: /\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/dg },
  { kind: 'bearer_token', pattern: /\bBearer\s+([A-Za-z0-9\-._~+/]{16,}=*)/dgi, group: 1 },
  // A credential assigned in text: password=…, DB_PASSWORD: …, api_key="…", Password=…; (ADO.NET).
  {
    kind: 'credential',
    pattern:
      /(?<![A-Za-z0-9])(?:password|passwd|pwd|client[_-]?secret|api[_-]?key|access[_-]?token|auth[_-]?token|refresh[_-]?token|secret)["']?\s*[:=]\s*["']?(?!\[REDACTED:)([^\s"',;&<>]{6,})/dgi,
    group: 1,
  },
  // An unlabelled AWS secret access key: 40 characters of its alphabet, standing alone, with a
  // '/' or '+', all three character classes and the entropy of random data (paths and words fall short).
  { kind: 'aws_secret_key', pattern: /(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])/dg, accept: looksLikeAwsSecret },
];

/**
 * No string shorter than this can hold a match of any secretDetectors pattern: the shortest is a
 * connection password, `ab://:p@h` (two letters of scheme, `://`, `:`, one character, `@` and the
 * host character its lookahead needs); the others need 10 (`pwd=` and six) or more. A property test
 * holds it. Only for text the detectors see unchanged (ASCII: NFKC folding can lengthen a character).
 */
export const secretDetectorsShortestMatch = 9;

/**
 * Text made of these characters only (lower-case letters, digits, dots: hex digests, rule ids,
 * model and tool names) holds no match of any secretDetectors pattern: every one of them needs an
 * upper-case letter, white space or one of `_ - : = / + @`. A property test holds it.
 */
export const secretDetectorsSafeText = /^[a-z0-9.]*$/;

/** Field names whose string values are secrets whatever they look like (compared without case, '-' or '_'). */
export const secretFieldNames: ReadonlySet<string> = new Set([
  'password',
  'passwd',
  'pwd',
  'secret',
  'clientsecret',
  'secretkey',
  'secretaccesskey',
  'awssecretaccesskey',
  'sessiontoken',
  'awssessiontoken',
  'apikey',
  'accesstoken',
  'refreshtoken',
  'authtoken',
  'bearertoken',
  'privatekey',
  'authorization',
  'token',
]);

/** Whether a field of this name holds a secret (`db_password`, `apiKey`, `X-Api-Key`). */
export function isSecretFieldName(name: string): boolean {
  const compact = name.toLowerCase().replace(/[-_ ]/g, '');
  if (secretFieldNames.has(compact)) return true;
  // A qualified name (db_password, stripeApiKey): its last word or two.
  return (
    /(?:password|passwd|secret|apikey|secretkey|accesstoken|refreshtoken|authtoken|privatekey)$/.test(compact) &&
    !/(?:hash|id|name|ref|path|file|url)$/.test(compact)
  );
}

function looksLikeAwsSecret(value: string): boolean {
  if (!/[/+]/.test(value) || !/[A-Z]/.test(value) || !/[a-z]/.test(value) || !/[0-9]/.test(value)) return false;
  return shannonEntropy(value) >= 4.2;
}

/** Bits per character of a string's own character distribution. */
export function shannonEntropy(value: string): number {
  const counts = new Map<string, number>();
  for (const character of value) counts.set(character, (counts.get(character) ?? 0) + 1);
  let bits = 0;
  for (const count of counts.values()) {
    const share = count / value.length;
    bits -= share * Math.log2(share);
  }
  return bits;
}

/** A string as detectors see it, with the original span of each of its characters. */
export interface DetectionText {
  text: string;
  /** Original start index of each character of text. */
  starts: number[];
  /** Original end index (exclusive) of each character of text. */
  ends: number[];
}

// Invisible in rendering, so they can split a key without anyone noticing: soft hyphen, Mongolian
// vowel separator, zero-width space/non-joiner/joiner, LRM/RLM, bidi embeddings and isolates,
// word joiner, invisible operators, BOM.
const invisible = /[\u00AD\u180E\u200B-\u200F\u202A-\u202E\u2060-\u2064\u2066-\u2069\uFEFF]/;
const needsNormalising = /[%\u0080-\uFFFF]/;

/** The normalised view of text, or undefined when it is the text itself (the common case). */
export function detectionText(text: string): DetectionText | undefined {
  if (!needsNormalising.test(text)) return undefined;
  let normal = '';
  const starts: number[] = [];
  const ends: number[] = [];
  let changed = false;
  let index = 0;
  while (index < text.length) {
    const code = text.codePointAt(index)!;
    const width = code > 0xffff ? 2 : 1;
    if (code === 0x25 && index + 2 < text.length) {
      const hex = text.slice(index + 1, index + 3);
      const decoded = /^[0-9A-Fa-f]{2}$/.test(hex) ? Number.parseInt(hex, 16) : -1;
      if (decoded >= 0x20 && decoded <= 0x7e) {
        normal += String.fromCharCode(decoded);
        starts.push(index);
        ends.push(index + 3);
        index += 3;
        changed = true;
        continue;
      }
    }
    const character = text.slice(index, index + width);
    if (code > 0x7f) {
      if (invisible.test(character)) {
        index += width;
        changed = true;
        continue;
      }
      const folded = character.normalize('NFKC');
      if (folded !== character) changed = true;
      for (let position = 0; position < folded.length; position += 1) {
        starts.push(index);
        ends.push(index + width);
      }
      normal += folded;
      index += width;
      continue;
    }
    normal += character;
    starts.push(index);
    ends.push(index + 1);
    index += 1;
  }
  return changed ? { text: normal, starts, ends } : undefined;
}

/** A span of the original string to replace, and the value found there (normalised). */
export interface DetectedSpan {
  start: number;
  end: number;
  value: string;
}

/**
 * Every match of one detector in text, as spans of the original text, in order. `view` is
 * detectionText(text), made once by the caller for all detectors (it was made again for each).
 */
export function detectSpans(detector: Detector, text: string, view: DetectionText | undefined): DetectedSpan[] {
  const subject = view?.text ?? text;
  const pattern = detector.pattern;
  pattern.lastIndex = 0;
  if (!pattern.test(subject)) return [];
  pattern.lastIndex = 0;
  const spans: DetectedSpan[] = [];
  for (let match = pattern.exec(subject); match !== null; match = pattern.exec(subject)) {
    if (match[0] === '') {
      pattern.lastIndex += 1;
      continue;
    }
    const group = detector.group ?? 0;
    const value = match[group];
    const indices = match.indices?.[group];
    if (!value || !indices || (detector.accept && !detector.accept(value))) continue;
    const [from, to] = indices;
    spans.push(view ? { start: view.starts[from]!, end: view.ends[to - 1]!, value } : { start: from, end: to, value });
  }
  return spans;
}
