// Redaction before recording: secrets (common provider key formats plus configured literal
// values) and enabled PII patterns are replaced by typed placeholders carrying a keyed hash,
// `[REDACTED:openai_key:3f9a1c2b]`, so equal values stay comparable for auditors without being
// readable. The key (HMAC-SHA256) lives in the data directory; without it the short hash cannot
// be brute-forced from guesses of the value.
import { createHmac, createSecretKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { ErrorCode, UserError } from '@aifactory/core';
import { loadOrCreateKeyFile } from './key-file.ts';
import type { RedactionNote } from './hash-chain.ts';
import {
  detectionText,
  detectSpans,
  isSecretFieldName,
  secretDetectors,
  secretDetectorsSafeText,
  secretDetectorsShortestMatch,
  type DetectedSpan,
  type Detector,
} from './secret-detectors.ts';

/** Built-in PII patterns a configuration may enable by name. */
export const builtInPiiPatterns = {
  email: { pattern: /\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b/dg },
  // International (+CC ...) or North American ((415) 555-0100, 415-555-0100) forms only, so
  // grouped digits such as order or card numbers are not taken for phone numbers.
  phone: {
    pattern:
      /(?<![\w+])(?:\+\d{1,3}[ .-]?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]?\d{2,4}){1,4}|\(\d{3}\)[ .-]?\d{3}[ .-]\d{4}|\b\d{3}[.-]\d{3}[.-]\d{4})\b/dg,
  },
  iban: { pattern: /\b[A-Z]{2}\d{2}(?: ?[A-Z0-9]{4}){2,7}(?: ?[A-Z0-9]{1,3})?\b/dg, accept: ibanChecksumValid },
  credit_card: { pattern: /\b\d(?:[ -]?\d){12,18}\b/dg, accept: luhnValid },
  us_ssn: { pattern: /\b\d{3}-\d{2}-\d{4}\b/dg },
  ipv4: { pattern: /\b(?:(?:25[0-5]|2[0-4]\d|1?\d?\d)\.){3}(?:25[0-5]|2[0-4]\d|1?\d?\d)\b/dg },
} satisfies Record<string, Omit<Detector, 'kind'>>;

const piiPrecedence: Array<keyof typeof builtInPiiPatterns> = ['iban', 'credit_card', 'us_ssn', 'email', 'ipv4', 'phone'];

/** Name of a built-in PII pattern. */
export type BuiltInPii = keyof typeof builtInPiiPatterns;

/** How a redactor is configured. */
export interface RedactorOptions {
  /** Literal secret values to redact wherever they appear (e.g. from the environment); kind `secret`. */
  secrets?: string[];
  /** Built-in PII patterns to enable: email, phone, iban, credit_card, us_ssn, ipv4. */
  pii?: BuiltInPii[];
  /** Extra PII patterns: a name (the placeholder's kind) and a regular expression source. */
  piiPatterns?: Array<{ name: string; pattern: string; flags?: string }>;
  /** HMAC key for the placeholders' hashes (see loadOrCreateRedactionKey). */
  key: Buffer;
}

/** The result of redacting one value. */
export interface Redacted<T = unknown> {
  /** The value with every sensitive string replaced; same shape as the input. */
  value: T;
  /** What was replaced, where; empty when nothing was. */
  redactions: RedactionNote[];
}

/** Replaces secrets and PII in any JSON-like value. */
export interface Redactor {
  /** Redacts every string inside value (object keys are kept). */
  redact<T>(value: T): Redacted<T>;
  /** Redacts one string. */
  redactText(text: string): { text: string; kinds: string[] };
}

const kindPattern = /^[a-z][a-z0-9_]{0,40}$/;

/** Builds a redactor; invalid configuration is refused with the offending entry named. */
export function createRedactor(options: RedactorOptions): Redactor {
  if (!Buffer.isBuffer(options.key) || options.key.length < 16) {
    throw new UserError(
      ErrorCode.InputInvalid,
      'Redaction key must be a Buffer of at least 16 bytes; use loadOrCreateRedactionKey(dataDir).',
    );
  }
  const detectors: Detector[] = [...secretDetectors];
  for (const name of options.pii ?? []) {
    if (!Object.hasOwn(builtInPiiPatterns, name))
      throw new UserError(
        ErrorCode.InputInvalid,
        `Unknown PII pattern '${String(name)}'; built-in ones are ${Object.keys(builtInPiiPatterns).join(', ')}.`,
      );
  }
  // Checksummed and specific patterns before the looser ones, whatever order the configuration names them in.
  for (const name of piiPrecedence) if (options.pii?.includes(name)) detectors.push({ kind: name, ...builtInPiiPatterns[name] });
  for (const [index, entry] of (options.piiPatterns ?? []).entries()) {
    if (!kindPattern.test(entry.name)) {
      throw new UserError(
        ErrorCode.InputInvalid,
        `piiPatterns[${index}].name '${entry.name}' is invalid; use lower-case letters, digits and underscores.`,
        { location: { path: `piiPatterns[${index}].name` } },
      );
    }
    let pattern: RegExp;
    try {
      pattern = new RegExp(entry.pattern, `${(entry.flags ?? '').replace(/[gd]/g, '')}dg`);
    } catch (error) {
      throw new UserError(
        ErrorCode.InputInvalid,
        `piiPatterns[${index}].pattern is not a valid regular expression: ${(error as Error).message}`,
        { location: { path: `piiPatterns[${index}].pattern` } },
      );
    }
    if (pattern.test(''))
      throw new UserError(
        ErrorCode.InputInvalid,
        `piiPatterns[${index}].pattern matches the empty string; it would redact nothing useful.`,
        { location: { path: `piiPatterns[${index}].pattern` } },
      );
    detectors.push({ kind: entry.name, pattern });
  }
  // Longest literal first, so a secret containing another is replaced whole; one alternation,
  // matched on the normalised text like every other detector.
  const literals = [...new Set((options.secrets ?? []).filter((secret) => secret.length >= 4))].sort(
    (left, right) => right.length - left.length,
  );
  // What the built-in secret formats alone cannot match is told without running them (most strings
  // of a trace: ids, step counters, digests), see secretDetectorsShortestMatch; PII and custom
  // patterns can match anything, so with any of them every string is run through every detector.
  const builtInOnly = detectors.length === secretDetectors.length;
  const shortestMatch = builtInOnly ? Math.min(secretDetectorsShortestMatch, literals.at(-1)?.length ?? Infinity) : 0;
  const safeTextKnown = builtInOnly && literals.length === 0;
  if (literals.length > 0) detectors.unshift({ kind: 'secret', pattern: new RegExp(literals.map(escapeRegExp).join('|'), 'dg') });

  /** True when no detector can find anything in text (false: run them). */
  function nothingToFind(text: string): boolean {
    if (text.length < shortestMatch) {
      // Printable ASCII and common white space only: NFKC folding could lengthen anything else (see
      // detectionText), while ASCII is only ever shortened there (percent-decoding). A loop: most
      // such strings are a handful of characters, for which a regular expression's call costs more.
      for (let index = 0; index < text.length; index += 1) {
        const code = text.charCodeAt(index);
        if (code > 0x7e || (code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d)) return false;
      }
      return true;
    }
    return safeTextKnown && secretDetectorsSafeText.test(text);
  }
  // One KeyObject for every placeholder: given a Buffer, createHmac imports the key anew each time,
  // which cost more than the HMAC itself (a principal's e-mail address is redacted in every line).
  const key = createSecretKey(options.key);

  function placeholder(kind: string, value: string): string {
    return `[REDACTED:${kind}:${createHmac('sha256', key).update(value).digest('hex').slice(0, 8)}]`;
  }

  function redactText(text: string): { text: string; kinds: string[] } {
    return nothingToFind(text) ? { text, kinds: [] } : scan(text);
  }

  /** Runs every detector over text (redactText, once nothingToFind has said they may find something). */
  function scan(text: string): { text: string; kinds: string[] } {
    const kinds: string[] = [];
    let result = text;
    // Each detector sees the text the previous ones left, so the more specific one wins a value;
    // its normalised view is made again only when a detector changed the text.
    let view = detectionText(result);
    for (const detector of detectors) {
      const spans = outsidePlaceholders(result, detectSpans(detector, result, view));
      if (spans.length === 0) continue;
      let rebuilt = '';
      let cursor = 0;
      for (const span of spans) {
        if (span.start < cursor) continue;
        rebuilt += result.slice(cursor, span.start) + placeholder(detector.kind, span.value);
        cursor = span.end;
      }
      result = rebuilt + result.slice(cursor);
      view = detectionText(result);
      kinds.push(detector.kind);
    }
    return { text: result, kinds };
  }

  // Most strings of a trace recur step after step (rule ids, reasons, hashes, model and tool
  // names) and hold nothing to redact: remember those, and only those, so a recurring string costs
  // one lookup instead of every detector. A string in which anything was found is never kept (the
  // cache holds no secret), nor is a long one. Bounded; the oldest entry goes first.
  const clean = new Set<string>();
  const maxCleanEntries = 4096;
  const maxCleanLength = 256;
  /** Scans a string that nothingToFind and the cache did not clear, and remembers it when clean. */
  function scanRecurring(text: string): { text: string; kinds: string[] } {
    const result = scan(text);
    if (result.kinds.length === 0 && text.length <= maxCleanLength) {
      if (clean.size >= maxCleanEntries) clean.delete(clean.values().next().value!);
      clean.add(text);
    }
    return result;
  }
  const secretNames = new Map<string, boolean>();
  const isSecretName = (name: string): boolean => {
    let secret = secretNames.get(name);
    if (secret === undefined) {
      secret = isSecretFieldName(name);
      if (secretNames.size >= maxCleanEntries) secretNames.clear();
      secretNames.set(name, secret);
    }
    return secret;
  };

  /** A string under a secret-named field (password, apiKey, aws_secret_access_key) is a secret, whatever it looks like. */
  function redactField(name: string, text: string): { text: string; kinds: string[] } | undefined {
    if (text.length < 4 || !isSecretName(name) || /^\[REDACTED:[a-z0-9_]+:[0-9a-f]{8}\]$/.test(text)) return undefined;
    // Our API tokens' ids (tok_ and 12 hex, as logs name them) identify a token; they are not one.
    if (/^tok_[0-9a-f]{12}$/.test(text)) return undefined;
    // When a detector recognises the value, its placeholder (and the rest, e.g. 'Bearer ') is kept.
    const inner = redactText(text);
    if (inner.kinds.length > 0) return inner;
    return { text: placeholder('secret_field', text), kinds: ['secret_field'] };
  }

  /** The path to a value: keys and array indices, pushed on the way down; joined only when a note needs it. */
  type Path = Array<string | number>;

  function pathText(path: Path): string {
    let text = '';
    for (let index = 0; index < path.length; index += 1) {
      const key = path[index]!;
      text += typeof key === 'number' ? `[${key}]` : index > 0 ? `.${key}` : key;
    }
    return text || '$';
  }

  // Copy on write: a payload with nothing to redact (nearly all of them) is walked without
  // allocating a copy or a path string; only the containers above a replaced string are copied.
  // The path is one array per payload, pushed and popped on the way (a step object per member
  // visited was a tenth of what a governed action allocated).
  function walk(value: unknown, path: Path, notes: RedactionNote[]): unknown {
    if (typeof value === 'string') {
      // Strings under secret-named fields went through redactField, which never uses the cache.
      if (nothingToFind(value) || clean.has(value)) return value;
      const { text, kinds } = scanRecurring(value);
      if (kinds.length > 0) {
        const where = pathText(path);
        for (const kind of kinds) notes.push({ path: where, kind });
      }
      return text;
    }
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined;
      for (let index = 0; index < value.length; index += 1) {
        const item: unknown = value[index];
        if (item === null || (typeof item !== 'string' && typeof item !== 'object')) continue;
        path.push(index);
        const redacted = walk(item, path, notes);
        path.pop();
        if (redacted !== item) (copy ??= [...value])[index] = redacted;
      }
      return copy ?? value;
    }
    if (value !== null && typeof value === 'object' && !(value instanceof Date)) {
      let copy: Record<string, unknown> | undefined;
      for (const name of Object.keys(value)) {
        const item = (value as Record<string, unknown>)[name];
        if (item === null || (typeof item !== 'string' && typeof item !== 'object')) continue;
        path.push(name);
        const field = typeof item === 'string' ? redactField(name, item) : undefined;
        if (field) {
          const where = pathText(path);
          for (const kind of field.kinds) notes.push({ path: where, kind });
        }
        const redacted = field ? field.text : walk(item, path, notes);
        path.pop();
        if (redacted !== item) (copy ??= { ...value })[name] = redacted;
      }
      return copy ?? value;
    }
    return value;
  }

  return {
    redact<T>(value: T): Redacted<T> {
      const redactions: RedactionNote[] = [];
      const redacted = walk(value, [], redactions) as T;
      return { value: redactions.length > 0 ? redacted : value, redactions };
    },
    redactText,
  };
}

const placeholderPattern = /\[REDACTED:[a-z0-9_]+:[0-9a-f]{8}\]/g;

/** Drops spans that touch a placeholder already written, so no detector redacts a redaction. */
function outsidePlaceholders(text: string, spans: DetectedSpan[]): DetectedSpan[] {
  if (spans.length === 0 || !text.includes('[REDACTED:')) return spans;
  const taken = [...text.matchAll(placeholderPattern)].map((match) => [match.index, match.index + match[0].length] as const);
  return spans.filter((span) => !taken.some(([start, end]) => span.start < end && span.end > start));
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Luhn checksum, so random digit runs are not taken for card numbers. */
export function luhnValid(candidate: string): boolean {
  const digits = candidate.replace(/[ -]/g, '');
  if (digits.length < 13 || digits.length > 19) return false;
  let sum = 0;
  for (let index = 0; index < digits.length; index += 1) {
    let digit = Number(digits[digits.length - 1 - index]);
    if (index % 2 === 1) {
      digit *= 2;
      if (digit > 9) digit -= 9;
    }
    sum += digit;
  }
  return sum % 10 === 0;
}

/** ISO 13616 mod-97 check of an IBAN. */
export function ibanChecksumValid(candidate: string): boolean {
  const compact = candidate.replace(/ /g, '');
  if (compact.length < 15 || compact.length > 34) return false;
  const rearranged = compact.slice(4) + compact.slice(0, 4);
  let remainder = 0;
  for (const character of rearranged) {
    const code = character.charCodeAt(0);
    const chunk = code >= 65 && code <= 90 ? String(code - 55) : character;
    for (const digit of chunk) remainder = (remainder * 10 + Number(digit)) % 97;
  }
  return remainder === 1;
}

/** Loads the redaction HMAC key from the data directory, generating it (mode 0600) on first use. */
export function loadOrCreateRedactionKey(dataDir: string): Promise<Buffer> {
  return loadOrCreateKeyFile(dataDir, 'redaction', 'Redaction key');
}

/** What `<data dir>/redaction.json` may hold. */
export interface RedactionConfig {
  /** Built-in PII patterns to enable. */
  pii?: BuiltInPii[];
  /** Extra PII patterns. */
  piiPatterns?: Array<{ name: string; pattern: string; flags?: string }>;
  /** Literal secret values. */
  secrets?: string[];
  /** Names of environment variables whose values are secrets (e.g. OPENAI_API_KEY). */
  secretEnv?: string[];
}

/**
 * The workspace redactor: the HMAC key from the data directory, and the configuration in
 * `<dataDir>/redaction.json` when it exists (provider key formats are always redacted).
 */
export async function loadRedactor(dataDir: string, env: NodeJS.ProcessEnv = process.env): Promise<Redactor> {
  const file = path.join(dataDir, 'redaction.json');
  let config: RedactionConfig = {};
  try {
    const text = await readFile(file, 'utf8');
    try {
      config = JSON.parse(text) as RedactionConfig;
    } catch (error) {
      throw new UserError(ErrorCode.InputInvalid, `${file} is not valid JSON: ${(error as Error).message}`, { location: { file } });
    }
    if (config === null || typeof config !== 'object' || Array.isArray(config))
      throw new UserError(ErrorCode.InputInvalid, `${file} must hold a JSON object.`, { location: { file } });
    for (const field of ['pii', 'piiPatterns', 'secrets', 'secretEnv'] as const) {
      if (config[field] !== undefined && !Array.isArray(config[field]))
        throw new UserError(ErrorCode.InputInvalid, `${field} must be an array.`, { location: { file, path: field } });
    }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
  }
  const fromEnv = (config.secretEnv ?? [])
    .map((name) => env[name])
    .filter((value): value is string => typeof value === 'string' && value.length > 0);
  try {
    return createRedactor({
      key: await loadOrCreateRedactionKey(dataDir),
      secrets: [...(config.secrets ?? []), ...fromEnv],
      ...(config.pii ? { pii: config.pii } : {}),
      ...(config.piiPatterns ? { piiPatterns: config.piiPatterns } : {}),
    });
  } catch (error) {
    if (error instanceof UserError && !error.location?.file)
      throw new UserError(error.code, error.message, {
        location: { file, ...(error.location?.path ? { path: error.location.path } : {}) },
      });
    throw error;
  }
}
