// @aifactory/control/internal: not public API. The schema-issue and regex helpers other definition
// files (eval suites, prompts, models) reuse so their errors read the way policy errors do; the
// YAML document with positions itself is public, in @aifactory/core/yaml.
// test/package-boundaries.test.ts pins which packages may import it.
export { describeValue, issueProblems } from './schema-issues.ts';
export { compileRegex, regexMatches, regexSyntaxProblem } from './safe-regex.ts';
