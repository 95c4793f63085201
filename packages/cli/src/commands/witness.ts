// `factory witness serve`: a minimal witness that keeps the signed checkpoints of stores' seal
// chains outside their databases (run it on another machine or volume), and `factory witness
// show` to read what it holds. Recorders hand it checkpoints when AIFACTORY_WITNESS names it;
// `factory runs verify --witness <url|dir>` checks a store against it.
import { ErrorCode, UserError } from '@aifactory/core';
import { openWitness, readPublicKeyFile, startWitnessServer } from '@aifactory/verification';
import type { Command } from 'commander';
import { ExitCode, action, emit, withJson, type CommonOptions } from '../command-kit.ts';

interface ServeOptions extends CommonOptions {
  dir: string;
  port: string;
  host: string;
  key?: string[];
}

/** Registers `factory witness serve` and `factory witness show`. */
export function registerWitnessCommands(program: Command): Command {
  const witness = program
    .command('witness')
    .description('Keep signed checkpoints of seal chains outside the database, so removed or rewritten runs are seen.')
    .addHelpText(
      'after',
      '\nA witness keeps every checkpoint it is given and refuses a second, different seal at a place it holds.\nPoint recorders at it with AIFACTORY_WITNESS=<url|dir> (and AIFACTORY_WITNESS_TOKEN); verify with `factory runs verify --all --witness <url|dir>`.',
    );

  withJson(
    witness
      .command('serve')
      .description('Serve a witness over HTTP: POST /v1/checkpoints, GET /v1/stores/<store id>/checkpoints.')
      .requiredOption('--dir <dir>', 'where the checkpoint logs are kept (one <store id>.jsonl per store)')
      .option('--port <port>', 'port to listen on (0 picks a free one)', '8790')
      .option('--host <host>', 'interface to listen on', '127.0.0.1')
      .option('--key <pem...>', 'accept checkpoints only from these seal keys (PEM files); default: the first key seen per store')
      .addHelpText(
        'after',
        '\nSubmitting needs `Authorization: Bearer $AIFACTORY_WITNESS_TOKEN` when that variable is set; reading is open (checkpoints are hashes).\nCtrl-C (SIGINT) or SIGTERM stops it.',
      ),
  ).action(
    action(async (options: ServeOptions) => {
      const port = Number(options.port);
      if (!Number.isInteger(port) || port < 0 || port > 65_535)
        throw new UserError(ErrorCode.InputInvalid, `--port '${options.port}' is not a port number (0-65535).`);
      const trustedKeys = options.key ? await Promise.all(options.key.map((file) => readPublicKeyFile(file))) : undefined;
      const token = process.env.AIFACTORY_WITNESS_TOKEN;
      const server = await startWitnessServer({
        directory: options.dir,
        port,
        host: options.host,
        ...(trustedKeys ? { trustedKeys } : {}),
        ...(token ? { token } : {}),
      });
      emit(
        options,
        { ok: true, url: server.url, dir: options.dir },
        (value) => `Witness listening on ${value.url}, keeping checkpoints in ${value.dir}.`,
      );
      await new Promise<void>((resolve) => {
        const stop = () => resolve();
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.close();
      return ExitCode.Ok;
    }),
  );

  withJson(
    witness
      .command('show')
      .description(
        'List the checkpoints a witness holds for a store (its id: `factory runs verify --all --json` prints it as tail.storeId).',
      )
      .argument('<witness>', 'the witness: a directory or an http(s) URL')
      .argument('<store>', 'store id'),
  ).action(
    action(async (target: string, storeId: string, options: CommonOptions) => {
      const checkpoints = await openWitness(target).checkpoints(storeId);
      emit(options, { storeId, checkpoints }, (value) =>
        value.checkpoints.length === 0
          ? `No checkpoints for store ${storeId}.`
          : value.checkpoints
              .map((checkpoint) => `seal ${checkpoint.sealSeq}  ${checkpoint.sealHash}  ${checkpoint.ts}  ${checkpoint.keyId}`)
              .join('\n'),
      );
    }),
  );
  return witness;
}
