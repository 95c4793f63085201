// @aifactory/control/source: the YAML-with-locations helpers other definition files (eval suites,
// prompts, models) reuse so their errors name file, line and column the way policy errors do.
// Anything exported here is public API.
export { formatPath, problemsError, problemsOf, YamlSource } from './yaml-source.ts';
export type { DocumentPath, SourceProblem } from './yaml-source.ts';
export { describeValue, issueProblems } from './schema-issues.ts';
export { compileRegex, regexMatches, regexSyntaxProblem } from './safe-regex.ts';
