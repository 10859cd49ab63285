/**
 * Reading what a real Envoy shows an SRE: samples of its Prometheus text, the JSON access-log lines among
 * its output, and the deprecated fields its log warns about.
 */

export interface Sample {
  name: string;
  labels: Map<string, string>;
  value: number;
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)",?/y;

/** Every sample line of a Prometheus text exposition (comments skipped); a line that does not parse throws. */
export function parsePrometheus(text: string): Sample[] {
  const samples: Sample[] = [];
  for (const line of text.split('\n')) {
    if (line.trim() === '' || line.startsWith('#')) continue;
    const match = SAMPLE.exec(line);
    if (!match) throw new Error(`not a Prometheus sample: ${line}`);
    const [, name = '', labelText = '', value = ''] = match;
    const labels = new Map<string, string>();
    LABEL.lastIndex = 0;
    while (LABEL.lastIndex < labelText.length) {
      const label = LABEL.exec(labelText);
      if (!label) throw new Error(`bad labels in: ${line}`);
      labels.set(label[1]!, label[2]!.replace(/\\(.)/g, (_, escaped: string) => (escaped === 'n' ? '\n' : escaped)));
    }
    samples.push({ name, labels, value: Number(value) });
  }
  return samples;
}

/**
 * The access-log lines in Envoy's output: its stdout (the access log) and stderr (its own log, whose lines
 * start with `[`) go to one file in the tests, so the JSON objects are the lines starting with `{`.
 */
export function accessLogLines(output: string): Record<string, unknown>[] {
  return output
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * The fields Envoy's log names in "Using deprecated option 'envoy.config.route.v3.HeaderMatcher.exact_match'
 * from file route_components.proto ..." warnings, sorted, each once.
 */
export function deprecationWarnings(output: string): string[] {
  const found = new Set<string>();
  for (const match of output.matchAll(/[Dd]eprecated option '([A-Za-z0-9_.]+)'/g)) found.add(match[1]!);
  return [...found].sort();
}
