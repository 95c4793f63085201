// Action-name globs. Names are not file paths, so `*` must match every character, `/` and a
// leading `.` included: a deny rule on `*` that let `../x` or a name with a newline through would
// fail open. The three common shapes (exact, `prefix*`, `*`) are matched with plain string
// operations, which also lets the rule index look them up by key; anything else goes through
// picomatch, compiled once, with path semantics neutralised (see toPicomatchSubject).
import picomatch from 'picomatch';

/** How a glob is matched, and how the rule index files it. */
export type NameGlob =
  | { kind: 'any'; pattern: string }
  | { kind: 'exact'; pattern: string; name: string }
  | { kind: 'prefix'; pattern: string; prefix: string }
  | { kind: 'pattern'; pattern: string; test: (name: string) => boolean };

const specialCharacters = /[*?[\]{}()!+@\\]/;

// `bash` makes a single star cross `/`; `dot` lets it match leading dots; `s` lets `.` match
// newlines; brackets, braces and parens must balance (strictBrackets) so a typo is an error,
// not a rule that silently matches nothing. Extglobs and negation are off: they are not part
// of the documented language.
const picomatchOptions = { bash: true, dot: true, flags: 's', strictBrackets: true, nonegate: true, noextglob: true } as const;

/** Compiles a name glob; throws an Error with a one-sentence message when the glob is malformed. */
export function compileNameGlob(pattern: string): NameGlob {
  if (pattern.length === 0) throw new Error('An empty name glob matches nothing; use "*" for every name.');
  if (/^\*+$/.test(pattern)) return { kind: 'any', pattern };
  if (!specialCharacters.test(pattern)) return { kind: 'exact', pattern, name: pattern };
  const stars = /^([^*?[\]{}()!+@\\]+)\*+$/.exec(pattern);
  if (stars) return { kind: 'prefix', pattern, prefix: stars[1]! };
  let regex: RegExp;
  try {
    regex = picomatch.makeRe(toPicomatchSubject(pattern), picomatchOptions);
  } catch (error) {
    throw new Error(`The name glob ${JSON.stringify(pattern)} is malformed: ${(error as Error).message.replace(/\.$/, '')}.`, {
      cause: error,
    });
  }
  if (regex.source === '$^') throw new Error(`The name glob ${JSON.stringify(pattern)} can never match a name.`);
  return { kind: 'pattern', pattern, test: (name) => regex.test(toPicomatchSubject(name)) };
}

/** True when the glob matches the name. */
export function matchesName(glob: NameGlob, name: string): boolean {
  switch (glob.kind) {
    case 'any':
      return true;
    case 'exact':
      return name === glob.name;
    case 'prefix':
      return name.startsWith(glob.prefix);
    case 'pattern':
      return glob.test(name);
  }
}

/**
 * picomatch treats `/` as a separator and refuses `.`/`..` segments; prefixing a letter and
 * swapping `/` for a look-alike (U+2215) leaves it no separators and no leading dots to act on.
 */
function toPicomatchSubject(text: string): string {
  return `n${text.includes('/') ? text.replaceAll('/', '\u2215') : text}`;
}

/**
 * Whether every name `inner` matches is also matched by `outer`, when that can be proven cheaply
 * (lint uses it to find shadowed rules; undefined means "cannot tell", never a guess).
 */
export function globCovers(outer: NameGlob, inner: NameGlob): boolean | undefined {
  if (outer.kind === 'any') return true;
  if (inner.kind === 'exact') return matchesName(outer, inner.name);
  if (inner.kind === 'prefix') {
    if (outer.kind === 'prefix') return inner.prefix.startsWith(outer.prefix);
    return outer.kind === 'exact' ? false : undefined;
  }
  if (inner.kind === 'any') return false;
  return outer.pattern === inner.pattern ? true : undefined;
}
