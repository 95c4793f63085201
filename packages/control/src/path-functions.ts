// Paths, URLs and host names as conditions compare them (`path.within(action.args.path,
// "invoices")`). A plain `startsWith` is fooled by `./invoices/x`, `reports/../invoices/x` or
// `invoices//x`; these functions compare the normalised form instead. Where tools could read one
// string two ways (an encoded separator some decode and others do not, a backslash that is a
// separator on Windows and a file-name character elsewhere, a look-alike slash) there is no
// normal form that is right for every tool, so they throw: the condition fails, and decide()
// fails closed. Pure functions: nothing here touches the file system (symbolic links are out of
// reach, see docs/policy-language.md).

/** Thrown when a path, URL or host cannot be read one way only; decide() reports the message. */
export class AmbiguousLocationError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AmbiguousLocationError';
  }
}

// %2e '.', %2f '/', %5c '\', %25 '%' (double encoding), %00 NUL, and overlong UTF-8 lead bytes.
const encodedStructure = /%(?:2e|2f|5c|25|00|c0|c1|e0%80)/i;
// Slashes and dots NFKC leaves alone but people (and some tools) read as separators.
const lookAlikes = new Map([
  ['\u2215', '/'],
  ['\u2044', '/'],
  ['\u29F8', '/'],
  ['\u29F9', '\\'],
  ['\u2216', '\\'],
  ['\u2024', '.'],
]);
const nonAscii = /[^ -~\t\n\r]/u;

function clip(text: string): string {
  return JSON.stringify(text.length > 60 ? `${text.slice(0, 57)}...` : text);
}

/** Throws unless `text` has one reading: no NUL, no backslash, no encoded or look-alike separator or dot. */
function assertUnambiguous(text: string, what: string): void {
  if (text.includes('\u0000')) throw new AmbiguousLocationError(`The ${what} ${clip(text)} contains a NUL character.`);
  if (text.includes('\\'))
    throw new AmbiguousLocationError(`The ${what} ${clip(text)} contains a backslash, which some systems read as a separator.`);
  if (encodedStructure.test(text))
    throw new AmbiguousLocationError(
      `The ${what} ${clip(text)} contains an encoded separator, dot or percent sign, which tools decode differently.`,
    );
  if (nonAscii.test(text)) {
    for (const character of text) {
      if (character.charCodeAt(0) < 0x80) continue;
      const folded = lookAlikes.get(character) ?? character.normalize('NFKC');
      if (folded.includes('/') || folded.includes('.') || folded.includes('\\')) {
        throw new AmbiguousLocationError(`The ${what} ${clip(text)} contains '${character}', which some systems read as '${folded}'.`);
      }
    }
  }
}

/**
 * The normal form of a file path: one slash between segments, no `.` segments, `..` resolved
 * against the segment before it (kept at the start of a relative path, dropped at the root of
 * an absolute one), no trailing slash. `./a//b/../c/` becomes `a/c`; the empty path is `.`.
 */
export function normalizePath(path: string): string {
  assertUnambiguous(path, 'path');
  const absolute = path.startsWith('/');
  const segments: string[] = [];
  for (const segment of path.split('/')) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') {
      if (segments.length > 0 && segments.at(-1) !== '..') segments.pop();
      else if (!absolute) segments.push('..');
      continue;
    }
    segments.push(segment);
  }
  const joined = segments.join('/');
  if (absolute) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

/** Whether a path is absolute: `/…`, a home path `~…` (tools expand it) or a drive `C:/…`. */
export function isAbsolutePath(path: string): boolean {
  assertUnambiguous(path, 'path');
  return path.startsWith('/') || path.startsWith('~') || /^[A-Za-z]:/.test(path);
}

/**
 * Whether `path` is `base` or inside it, after normalising both. A relative path is never inside
 * an absolute base nor the other way round, and a path that climbs out (`../x`) is inside no
 * relative base but `..` itself. `path.within("reports/../invoices/x", "invoices")` is true.
 */
export function pathWithin(path: string, base: string): boolean {
  const normalPath = normalizePath(path);
  const normalBase = normalizePath(base);
  if (isAbsolutePath(path) !== isAbsolutePath(base)) return false;
  if (normalBase === '.') return normalPath !== '..' && !normalPath.startsWith('../');
  if (normalBase === '/') return normalPath.startsWith('/');
  return normalPath === normalBase || normalPath.startsWith(`${normalBase}/`);
}

function parseUrl(text: string): URL {
  if (text.includes('\u0000')) throw new AmbiguousLocationError(`The URL ${clip(text)} contains a NUL character.`);
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new AmbiguousLocationError(`${clip(text)} is not an absolute URL.`);
  }
  // The WHATWG parser resolves `.`, `..` and `%2e` segments and reads `\` as `/` for http(s);
  // what it leaves encoded (%2F, %5C, %25) some servers decode and others do not.
  if (/%(?:2f|5c|25|00)/i.test(url.pathname))
    throw new AmbiguousLocationError(
      `The URL ${clip(text)} has an encoded separator or percent sign in its path, which servers decode differently.`,
    );
  return url;
}

/** A host name lower-cased, in ASCII (IDNA) and without a trailing dot. */
function canonicalHost(hostname: string): string {
  const lower = hostname.toLowerCase();
  return lower.endsWith('.') ? lower.slice(0, -1) : lower;
}

/** The WHATWG normal form of an absolute URL, with its host lower-cased and without a trailing dot. */
export function normalizeUrl(text: string): string {
  const url = parseUrl(text);
  if (url.hostname !== '') url.hostname = canonicalHost(url.hostname);
  return url.href;
}

/** The host of a URL (`https://Files.Example.com./a` gives `files.example.com`); empty when it has none. */
export function urlHost(text: string): string {
  return canonicalHost(parseUrl(text).hostname);
}

/**
 * Whether `url` is `base` or below it: same scheme, host and port, and a path that is the base's
 * path or continues it at a segment boundary. User names and passwords are ignored, so
 * `https://acme.example@evil.example/` is on evil.example.
 */
export function urlWithin(text: string, baseText: string): boolean {
  const url = parseUrl(text);
  const base = parseUrl(baseText);
  if (url.protocol !== base.protocol || canonicalHost(url.hostname) !== canonicalHost(base.hostname) || url.port !== base.port)
    return false;
  const basePath = base.pathname === '' ? '/' : base.pathname;
  const path = url.pathname === '' ? '/' : url.pathname;
  if (basePath.endsWith('/')) return path.startsWith(basePath) || path === basePath.slice(0, -1);
  return path === basePath || path.startsWith(`${basePath}/`);
}

/** A host name as DNS compares it: lower case, IDNA ASCII, no trailing dot. Throws on anything that is not a bare host. */
export function normalizeHost(text: string): string {
  if (text === '' || text.includes('\u0000') || /[\s/\\@?#%]/.test(text))
    throw new AmbiguousLocationError(`${clip(text)} is not a host name.`);
  let url: URL;
  try {
    url = new URL(`http://${text}/`);
  } catch {
    throw new AmbiguousLocationError(`${clip(text)} is not a host name.`);
  }
  if (url.port !== '' || (text.includes(':') && !text.startsWith('[')))
    throw new AmbiguousLocationError(`${clip(text)} is not a host name (it has a port).`);
  return canonicalHost(url.hostname);
}

/** Whether `host` is `domain` or one of its subdomains: `host.within("api.Example.com.", "example.com")`. */
export function hostWithin(host: string, domain: string): boolean {
  const normalHost = normalizeHost(host);
  const normalDomain = normalizeHost(domain);
  return normalHost === normalDomain || normalHost.endsWith(`.${normalDomain}`);
}
