import { stat } from 'node:fs/promises';
import path from 'node:path';
import { readYamlFiles, yamlFiles } from '../sources/folder.ts';
import { renderWorld } from './render.ts';
import { SETTINGS_HELP, SETTINGS_OPTIONS, settingsFromFlags } from './settings.ts';
import { UsageError, parseCommandArgs } from './usage.ts';

const HELP = `Usage: infermesh validate PATH... [options]

Checks policy ConfigMaps (files or folders of Kubernetes YAML) without a cluster: schema, names, weights,
durations, retry conditions, conflicting owners, and the Envoy resources they would produce. Every problem
names its namespace, ConfigMap, key and field. Exit 0 when valid, 1 when not, 2 on usage errors.

Options:
${SETTINGS_HELP}`;

async function expand(paths: string[]): Promise<string[]> {
  const files: string[] = [];
  for (const given of paths) {
    const info = await stat(given).catch(() => undefined);
    if (!info) throw new UsageError(`no such file or folder: ${given}`, HELP);
    files.push(...(info.isDirectory() ? await yamlFiles(given) : [path.resolve(given)]));
  }
  return files;
}

export async function validateCommand(argv: string[], out: NodeJS.WritableStream, err: NodeJS.WritableStream): Promise<number> {
  const { values, positionals } = parseCommandArgs(argv, SETTINGS_OPTIONS, HELP, true);
  if (values.help) {
    out.write(HELP);
    return 0;
  }
  if (positionals.length === 0) throw new UsageError('give at least one file or folder to validate', HELP);
  const world = await readYamlFiles(await expand(positionals), process.cwd());
  const policyCount = world.configMaps.filter((cm) => cm.labels['infermesh.io/policy'] === 'true').length;
  const rendered = renderWorld(world, settingsFromFlags(values));
  if (rendered.problems.length > 0) {
    for (const problem of rendered.problems) err.write(`${problem}\n`);
    err.write(`invalid: ${rendered.problems.length} problem(s) in ${policyCount} policy ConfigMap(s)\n`);
    return 1;
  }
  for (const warning of rendered.warnings) err.write(`warning: ${warning}\n`);
  const models = rendered.snapshot.resources('cluster').size - 1;
  out.write(`valid: ${policyCount} policy ConfigMap(s), ${models} backend cluster(s)\n`);
  return 0;
}
