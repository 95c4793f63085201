// @aifactory/core/yaml: the YAML document with positions every definition file is read through, and
// the located problems it reports. A subpath, so that core's main entry does not load the YAML parser.
// Anything exported here is public API.
export { formatPath, parseYamlSource, problemsError, problemsMessage, problemsOf, sortProblems, YamlSource } from './yaml-source.ts';
export type { DocumentPath, SourceProblem, YamlSourceOptions } from './yaml-source.ts';
