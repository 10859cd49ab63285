import { type Document, isMap } from 'yaml';
import { INJECT_ANNOTATION, INJECTED_ANNOTATION, type InjectOptions, SIDECAR_NAME, XDS_CLIENT_LABEL } from './options.ts';
import { bootstrapVolume, proxyEnvVar, sidecarContainer, sidecarPorts, xdsTlsVolume } from './sidecar.ts';
import { XDS_TLS_VOLUME } from './xds-tls.ts';
import { type Path, isFalse, plainValue, removeNamed, seqItems, setQuotedString, upsertNamed } from './yaml-nodes.ts';

/** Where each kind inject handles keeps its pod template, relative to the object; a Pod is its own. */
const POD_TEMPLATE_PATHS: Record<string, Path> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  ReplicationController: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

/** The pod template path of `kind`, or undefined for kinds inject leaves alone. */
export function podTemplatePath(kind: unknown): Path | undefined {
  return typeof kind === 'string' && Object.hasOwn(POD_TEMPLATE_PATHS, kind) ? POD_TEMPLATE_PATHS[kind] : undefined;
}

export type TemplateOutcome =
  /** The pod template carries the current sidecar; `changed` is false when it already did. */
  | { status: 'injected'; changed: boolean; warnings: string[] }
  /** `infermesh.io/inject: "false"` on the object or its pod template. */
  | { status: 'opted-out' }
  | { status: 'not-injectable'; reason: string };

function optedOut(doc: Document, objectPath: Path, templatePath: Path): boolean {
  return [objectPath, templatePath].some((path) => isFalse(doc.getIn([...path, 'metadata', 'annotations', INJECT_ANNOTATION])));
}

function runsToCompletion(kind: string, restartPolicy: unknown): boolean {
  return kind === 'Job' || kind === 'CronJob' || restartPolicy === 'Never' || restartPolicy === 'OnFailure';
}

function portWarnings(doc: Document, containersPath: Path, options: InjectOptions): string[] {
  const reserved = sidecarPorts(options);
  const warnings: string[] = [];
  for (const container of seqItems(doc, containersPath)) {
    const { name, ports } = (plainValue(doc, container) ?? {}) as { name?: unknown; ports?: unknown };
    if (name === SIDECAR_NAME || !Array.isArray(ports)) continue;
    for (const port of ports as { containerPort?: unknown }[]) {
      if (typeof port?.containerPort === 'number' && reserved.includes(port.containerPort)) {
        warnings.push(`container "${String(name)}" uses port ${port.containerPort}, which the sidecar listens on`);
      }
    }
  }
  return warnings;
}

/**
 * Adds (or brings up to date) the sidecar in the pod template of the object at `objectPath`: the
 * `infermesh-proxy` container, the bootstrap volume, INFERMESH_PROXY in every app container, the
 * `infermesh.io/xds-client` label and the `infermesh.io/injected` annotation. Edits `doc` in place.
 */
export function injectPodTemplate(doc: Document, objectPath: Path, kind: string, options: InjectOptions): TemplateOutcome {
  const template = [...objectPath, ...(podTemplatePath(kind) ?? [])];
  const spec = [...template, 'spec'];
  const specNode = doc.getIn(spec, true);
  const appContainers = seqItems(doc, [...spec, 'containers']).filter((node) => !isMap(node) || node.get('name') !== SIDECAR_NAME);
  if (!isMap(specNode) || appContainers.length === 0) {
    return { status: 'not-injectable', reason: `no pod spec with containers at ${spec.join('.')}` };
  }
  if (optedOut(doc, objectPath, template)) return { status: 'opted-out' };
  if (specNode.get('hostNetwork') === true) {
    return { status: 'not-injectable', reason: 'hostNetwork pods share the node\'s ports, so the sidecar\'s ports would clash' };
  }

  const containers = [...spec, 'containers'];
  const initContainers = [...spec, 'initContainers'];
  const native = options.sidecarMode === 'native';
  const warnings = portWarnings(doc, containers, options);
  if (!native && runsToCompletion(kind, specNode.get('restartPolicy'))) {
    warnings.push('the sidecar container keeps running after the others exit, so the pod never completes; use --sidecar-mode native');
  }

  // Each step runs whatever the previous ones returned (no short-circuit).
  const steps = [
    setQuotedString(doc, [...template, 'metadata', 'labels', XDS_CLIENT_LABEL], 'true'),
    setQuotedString(doc, [...template, 'metadata', 'annotations', INJECTED_ANNOTATION], options.version),
    removeNamed(doc, native ? containers : initContainers, SIDECAR_NAME),
    upsertNamed(doc, native ? initContainers : containers, sidecarContainer(options), native ? 'start' : 'end'),
    upsertNamed(doc, [...spec, 'volumes'], bootstrapVolume(), 'end'),
    options.xdsTls ? upsertNamed(doc, [...spec, 'volumes'], xdsTlsVolume(options.xdsTls.secret), 'end') : removeNamed(doc, [...spec, 'volumes'], XDS_TLS_VOLUME),
  ];
  seqItems(doc, containers).forEach((container, index) => {
    if (isMap(container) && container.get('name') !== SIDECAR_NAME) {
      steps.push(upsertNamed(doc, [...containers, index, 'env'], proxyEnvVar(options), 'end'));
    }
  });
  return { status: 'injected', changed: steps.includes(true), warnings };
}
