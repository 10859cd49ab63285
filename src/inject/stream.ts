import { type Document, isMap, isSeq, parseAllDocuments } from 'yaml';
import { bootstrapConfigMap, bootstrapConfigMapAt, refreshBootstrapConfigMap, renderBootstrap } from './bootstrap.ts';
import { sidecarXdsTls } from './sidecar.ts';
import { xdsTlsSdsFiles } from './xds-tls.ts';
import type { InjectOptions } from './options.ts';
import { injectPodTemplate, podTemplatePath } from './pod-template.ts';
import { type Path, seqItems, stringAt } from './yaml-nodes.ts';
import { stringifyContents } from './yaml-style.ts';

/**
 * `infermesh inject` on a multi-document YAML stream, as a pure function of its text.
 *
 * The output is the input with only the contents of changed documents replaced: separators, comments
 * between and around documents, and every document that needs no change are copied from the input byte for
 * byte. A document already carrying the current sidecar needs no change, so injecting twice gives the same
 * bytes as injecting once. One bootstrap ConfigMap per namespace of an injected workload is appended unless
 * the stream already holds one there (one that inject wrote is brought up to date).
 *
 * YAML is read with YAML 1.1 rules, as Kubernetes reads it (`defaultMode: 0644` is octal, `on` is true),
 * so that re-written documents mean what they meant before.
 */

export interface InjectResult {
  output: string;
  /** Workloads that carry the sidecar in the output (including those that already did). */
  injected: number;
  /** Workloads or settings worth a look, e.g. a pod using one of the sidecar's ports. */
  warnings: string[];
}

/** A document that is not valid YAML: nothing is written. */
export class YamlStreamError extends Error {
  readonly document: number;
  readonly line: number | undefined;
  constructor(document: number, line: number | undefined, detail: string) {
    super(`document ${document}${line === undefined ? '' : ` (line ${line})`} is not valid YAML: ${detail}`);
    this.document = document;
    this.line = line;
  }
}

interface StreamState {
  options: InjectOptions;
  bootstrap: string;
  /** The SDS files of a TLS bootstrap (inject --xds-tls-secret), shipped in the same ConfigMap. */
  sdsFiles: Record<string, string>;
  injected: number;
  warnings: string[];
  /** Namespaces (undefined: none given) with an injected workload, in order of appearance. */
  needsBootstrap: Map<string, string | undefined>;
  hasBootstrap: Set<string>;
}

function namespaceKey(namespace: string | undefined): string {
  return namespace ?? '';
}

function describe(doc: Document, path: Path, kind: string, index: number): string {
  const name = stringAt(doc, [...path, 'metadata', 'name']) ?? '(unnamed)';
  const namespace = stringAt(doc, [...path, 'metadata', 'namespace']);
  return `document ${index + 1}, ${kind} ${namespace === undefined ? '' : `${namespace}/`}${name}`;
}

/** Handles one Kubernetes object of the stream (a document, or an item of a List); true when it changed. */
function processObject(state: StreamState, doc: Document, path: Path, index: number): boolean {
  const namespace = stringAt(doc, [...path, 'metadata', 'namespace']);
  const configMap = bootstrapConfigMapAt(doc, path);
  if (configMap) {
    state.hasBootstrap.add(namespaceKey(namespace));
    return configMap.generated && refreshBootstrapConfigMap(doc, path, state.bootstrap, state.sdsFiles);
  }
  const kind = stringAt(doc, [...path, 'kind']);
  if (kind === undefined || !podTemplatePath(kind)) return false;
  const outcome = injectPodTemplate(doc, path, kind, state.options);
  if (outcome.status === 'not-injectable') state.warnings.push(`${describe(doc, path, kind, index)}: not injected: ${outcome.reason}`);
  if (outcome.status !== 'injected') return false;
  state.injected += 1;
  state.warnings.push(...outcome.warnings.map((warning) => `${describe(doc, path, kind, index)}: ${warning}`));
  if (!state.needsBootstrap.has(namespaceKey(namespace))) state.needsBootstrap.set(namespaceKey(namespace), namespace);
  return outcome.changed;
}

/** The object paths of a document: the document itself, or the items of a `kind: List` (or FooList). */
function objectPaths(doc: Document): Path[] {
  const kind = stringAt(doc, ['kind']);
  if (kind?.endsWith('List') && isSeq(doc.get('items', true))) return seqItems(doc, ['items']).map((_, i) => ['items', i]);
  return [[]];
}

function firstError(doc: Document, index: number): YamlStreamError | undefined {
  const error = doc.errors[0];
  if (!error) return undefined;
  const detail = error.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '');
  return new YamlStreamError(index + 1, error.linePos?.[0].line, detail);
}

/** Writes new text with the line breaks of the input (Windows files stay CRLF throughout). */
function inputLineBreaks(source: string): (text: string) => string {
  return source.includes('\r\n') ? (text) => text.replaceAll('\n', '\r\n') : (text) => text;
}

function appendDocuments(source: string, documents: string[], lineBreaks: (text: string) => string): string {
  if (documents.length === 0) return source;
  let output = source === '' || source.endsWith('\n') ? source : source + lineBreaks('\n');
  const endsWithSeparator = /(^|\n)---[ \t]*\r?\n$/.test(output);
  for (const [i, text] of documents.entries()) output += lineBreaks(`${i === 0 && endsWithSeparator ? '' : '---\n'}${text}`);
  return output;
}

/** Injects the sidecar into every workload of `source`. Throws YamlStreamError on a document that does not parse. */
export function injectStream(source: string, options: InjectOptions): InjectResult {
  const docs = parseAllDocuments(source, { version: '1.1' });
  const documents = Array.isArray(docs) ? docs : [];
  documents.forEach((doc, index) => {
    const error = firstError(doc, index);
    if (error) throw error;
  });

  const state: StreamState = {
    options,
    bootstrap: renderBootstrap(options.bootstrapTemplate, { xdsAddress: options.xdsAddress, ...(options.xdsTls ? { xdsTls: sidecarXdsTls(options.xdsTls) } : {}) }),
    sdsFiles: options.xdsTls ? xdsTlsSdsFiles(sidecarXdsTls(options.xdsTls)) : {},
    injected: 0,
    warnings: [],
    needsBootstrap: new Map(),
    hasBootstrap: new Set(),
  };
  const lineBreaks = inputLineBreaks(source);
  const replacements: { start: number; end: number; text: string }[] = [];
  documents.forEach((doc, index) => {
    if (!isMap(doc.contents) || !doc.contents.range) return;
    const [start, , end] = doc.contents.range;
    let changed = false;
    for (const path of objectPaths(doc)) changed = processObject(state, doc, path, index) || changed;
    if (changed) replacements.push({ start, end, text: lineBreaks(stringifyContents(doc, source)) });
  });

  let output = '';
  let position = 0;
  for (const replacement of replacements) {
    output += source.slice(position, replacement.start) + replacement.text;
    position = replacement.end;
  }
  output += source.slice(position);
  const configMaps = [...state.needsBootstrap]
    .filter(([key]) => !state.hasBootstrap.has(key))
    .map(([, namespace]) => bootstrapConfigMap(namespace, state.bootstrap, state.sdsFiles));
  return { output: appendDocuments(output, configMaps, lineBreaks), injected: state.injected, warnings: state.warnings };
}
