// @aifactory/control/source: the schema-issue and regex helpers other definition files (eval suites,
// prompts, models) reuse so their errors read the way policy errors do. The YAML document with
// positions itself lives in @aifactory/core/yaml. Anything exported here is public API.
export { describeValue, issueProblems } from './schema-issues.ts';
export { compileRegex, regexMatches, regexSyntaxProblem } from './safe-regex.ts';
