import { bootstrapCommand } from './bootstrap.ts';
import { explainCommand } from './explain.ts';
import { injectCommand } from './inject.ts';
import { inspectCommand } from './inspect.ts';
import { renderCommand } from './render.ts';
import { serveCommand } from './serve.ts';
import { statusCommand } from './status.ts';
import { validateCommand } from './validate.ts';
import { UsageError } from './usage.ts';

const HELP = `infermesh — model-aware Envoy control plane for TF Serving and Triton

Usage:
  infermesh serve    --config-dir DIR [--xds-address 0.0.0.0:18000] [--admin-address 0.0.0.0:9090]
  infermesh validate PATH...
  infermesh render   --config-dir DIR
  infermesh inject   -f FILE|-        add the Envoy sidecar to workloads in a YAML stream
  infermesh bootstrap [--xds-address HOST:PORT] [--node-id ID]   a sidecar's Envoy bootstrap
  infermesh status   [--server HOST:PORT,... | --kubeconfig FILE] [--model M] [-o table|json|yaml]   every replica
  infermesh explain  --model M [--version V] (--config-dir DIR | --kubeconfig FILE)
  infermesh inspect  --admin URL [--model M] [--watch] [--server HOST:PORT]

Run "infermesh COMMAND --help" for the options of one command.
Exit codes: 0 ok, 1 invalid input (validate) or runtime failure, 2 usage error, 3 a replica did not answer (status).
`;

export async function main(argv: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const [command, ...rest] = argv;
  try {
    switch (command) {
      case 'serve':
        return await serveCommand(rest, out, err);
      case 'validate':
        return await validateCommand(rest, out, err);
      case 'render':
        return await renderCommand(rest, out, err);
      case 'inject':
        return await injectCommand(rest, out, err);
      case 'bootstrap':
        return await bootstrapCommand(rest, out);
      case 'status':
        return await statusCommand(rest, out, err);
      case 'explain':
        return await explainCommand(rest, out, err);
      case 'inspect':
        return await inspectCommand(rest, out, err);
      case undefined:
      case '-h':
      case '--help':
      case 'help':
        out.write(HELP);
        return command === undefined ? 2 : 0;
      default:
        err.write(`infermesh: unknown command "${command}"; valid commands: serve, validate, render, inject, bootstrap, status, explain, inspect\n\n${HELP}`);
        return 2;
    }
  } catch (error) {
    if (error instanceof UsageError) {
      err.write(`infermesh ${command}: ${error.message}\n\n${error.help}`);
      return 2;
    }
    err.write(`infermesh ${command}: ${error instanceof Error ? error.message : String(error)}\n`);
    return 1;
  }
}
