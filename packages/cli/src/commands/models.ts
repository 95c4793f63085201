// `factory models list|show`: the model registry (models/*.yaml) — approved model versions with
// what they were tested on, the data they are cleared for, their limitations and prices. Policies
// read a model call's entry as CEL `model`; the gateway falls back to registered models only.
import { ErrorCode, UserError } from '@aifactory/core';
import type { ModelRegistry, RegisteredModel } from '@aifactory/execution';
import type { Command } from 'commander';
import { action, emit, withJson, type CommonOptions } from '../command-kit.ts';

interface ModelsOptions extends CommonOptions {
  models: string;
}

/** Registers `factory models`. */
export function registerModelsCommands(program: Command): void {
  const models = program
    .command('models')
    .description('The model registry: approved model versions (models/*.yaml), what they were tested on, what data they are cleared for.')
    .addHelpText(
      'after',
      [
        '',
        'Policies see the entry of the model a call uses as CEL `model` (registered, id, version, owner, classifications,',
        'residency): e.g. deny when "!model.registered", or when "data.classifications.exists(c, !(c in model.classifications))".',
        "The gateway's fallback only calls registered models. See docs/quality.md and policies/model-registry/.",
        'Examples:',
        '  factory models list',
        '  factory models show openai:gpt-4o-mini --json',
      ].join('\n'),
    );
  const folder = (command: Command) => command.option('--models <dir>', 'folder of model definitions', 'models');

  withJson(
    folder(models.command('list').description('Every registered model: id, version, owner, cleared classifications, residency, prices.')),
  ).action(
    action(async (options: ModelsOptions) => {
      const registry = await openRegistry(options.models);
      emit(options, { models: registry.models.map(publicView) }, ({ models: list }) =>
        list.length === 0
          ? `No models registered in ${options.models}/.`
          : list
              .map(
                (model) =>
                  `${model.id.padEnd(32)} ${model.version.padEnd(12)} ${model.owner.padEnd(24)} cleared: ${model.classifications.join(', ') || '-'}  residency: ${model.residency.join(', ') || '-'}${model.prices ? `  $${model.prices.inputPerMillionUsd}/$${model.prices.outputPerMillionUsd} per 1M` : ''}`,
              )
              .join('\n'),
      );
    }),
  );

  withJson(
    folder(
      models
        .command('show')
        .description('One registered model in full: evaluations with their results, compliance, limitations, prices.')
        .argument('<model>', 'provider:model or the registry name'),
    ),
  ).action(
    action(async (reference: string, options: ModelsOptions) => {
      const registry = await openRegistry(options.models);
      const model = registry.find(reference) ?? registry.models.find((candidate) => candidate.name === reference);
      if (!model) {
        throw new UserError(
          ErrorCode.NotFound,
          `Model '${reference}' is not registered; registered: ${registry.models.map((candidate) => candidate.id).join(', ') || 'none'}.`,
          { location: { path: 'model' } },
        );
      }
      emit(options, { model: publicView(model) }, ({ model: shown }) =>
        [
          `${shown.id} v${shown.version}  (${shown.name}, owner ${shown.owner})`,
          ...(shown.description ? [`  ${shown.description}`] : []),
          `  cleared for: ${shown.classifications.join(', ') || 'nothing'}`,
          `  residency:   ${shown.residency.join(', ') || 'unknown'}`,
          ...(shown.prices
            ? [`  prices:      $${shown.prices.inputPerMillionUsd} in, $${shown.prices.outputPerMillionUsd} out per 1M tokens`]
            : []),
          'Evaluations:',
          ...(shown.evaluations.length === 0
            ? ['  none']
            : shown.evaluations.map(
                (evaluation) =>
                  `  ${evaluation.passed ? 'passed' : 'FAILED'}  ${evaluation.suite}  ${Object.entries(evaluation.scores)
                    .map(([name, score]) => `${name}=${score}`)
                    .join(' ')}${evaluation.date ? `  ${evaluation.date}` : ''}${evaluation.record ? `  ${evaluation.record}` : ''}`,
              )),
          'Known limitations:',
          ...(shown.limitations.length === 0 ? ['  none recorded'] : shown.limitations.map((limitation) => `  - ${limitation}`)),
        ].join('\n'),
      );
    }),
  );
}

async function openRegistry(directory: string): Promise<ModelRegistry> {
  const { loadModelRegistry } = await import('@aifactory/execution');
  const registry = await loadModelRegistry(directory);
  if (!registry)
    throw new UserError(
      ErrorCode.NotFound,
      `No model registry: the folder ${directory} does not exist; write models/<name>.yaml (see docs/quality.md).`,
      { location: { path: '--models' } },
    );
  return registry;
}

/** The entry without the absolute file path it was read from. */
function publicView(model: RegisteredModel): Omit<RegisteredModel, 'file'> {
  const { file: _file, ...view } = model;
  return view;
}
