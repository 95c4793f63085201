// Do an answer's citations support it? A knowledge agent's answer marks statements with [n] and
// ends with a "Sources:" block listing each number's source as the search returned it. The
// answer is supported when it cites at least one source, every [n] in its text is listed, and
// every listed source is a passage the run's own recorded retrievals returned — so an agent
// cannot cite a document it never saw.
import type { ObservedPassage } from './run-observation.ts';

/** One entry of an answer's Sources block. */
export interface Citation {
  number: number;
  /** The cited text, e.g. `handbook/leave-policy.md › Leave policy › Parental leave`. */
  text: string;
}

/** The verdict on an answer's citations. */
export interface CitationCheck {
  supported: boolean;
  citations: Citation[];
  /** One sentence per problem found. */
  problems: string[];
}

const sourceLine = /^\s*\[(\d+)\]\s+(.+?)\s*$/;
const marker = /\[(\d+)\]/g;

/** Splits an answer into its body and the entries of its Sources block. */
export function parseCitations(answer: string): { body: string; citations: Citation[] } {
  const at = answer.search(/^\s*Sources:\s*$/im);
  if (at < 0) return { body: answer, citations: [] };
  const body = answer.slice(0, at);
  const citations: Citation[] = [];
  for (const line of answer.slice(at).split('\n').slice(1)) {
    const match = sourceLine.exec(line);
    if (match) citations.push({ number: Number(match[1]), text: match[2]! });
  }
  return { body, citations };
}

/** Checks an answer's citations against the passages its run retrieved; `sources` must each be cited. */
export function checkCitations(
  answer: string,
  passages: readonly ObservedPassage[],
  options: { sources?: readonly string[]; min?: number } = {},
): CitationCheck {
  const { body, citations } = parseCitations(answer);
  const problems: string[] = [];
  const min = options.min ?? 1;
  if (citations.length < min)
    problems.push(
      `The answer cites ${citations.length} source${citations.length === 1 ? '' : 's'}; at least ${min} expected in a "Sources:" block.`,
    );
  const listed = new Set(citations.map((citation) => citation.number));
  const unlisted = [...new Set([...body.matchAll(marker)].map((match) => Number(match[1])))].filter((number) => !listed.has(number));
  if (unlisted.length > 0)
    problems.push(
      `The answer marks [${unlisted.join('], [')}] but its Sources block does not list ${unlisted.length === 1 ? 'it' : 'them'}.`,
    );
  const retrieved = [...new Set(passages.map((passage) => passage.source))];
  for (const citation of citations) {
    if (!retrieved.some((source) => citesSource(citation.text, source))) {
      problems.push(
        `Cited source '${citation.text}' is not among the passages the run retrieved${retrieved.length > 0 ? ` (${retrieved.join(', ')})` : ' (it retrieved none)'}.`,
      );
    }
  }
  for (const wanted of options.sources ?? []) {
    if (!citations.some((citation) => citesSource(citation.text, wanted))) problems.push(`The answer does not cite '${wanted}'.`);
  }
  return { supported: problems.length === 0, citations, problems };
}

/**
 * A citation names a source when they are equal or one is the other followed by a location
 * (` › heading`, ` (page 1)`): answers may cite `handbook/leave.md` for a passage recorded as
 * `handbook/leave.md › Leave › Parental`, or the reverse.
 */
export function citesSource(text: string, source: string): boolean {
  return text === source || text.startsWith(`${source} `) || source.startsWith(`${text} `);
}
