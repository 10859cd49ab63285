import protobuf from 'protobufjs';
import { parse } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { injectCommand } from '../../src/cli/inject.ts';
import { validateMessage } from '../../src/protobuf/pgv.ts';
import { fromProto3Json, toProto3Json } from '../support/proto3-json/index.ts';
import { loadEnvoyProtos } from '../../src/envoy/protos.ts';
import { YamlStreamError, injectStream } from '../../src/inject/stream.ts';
import { Capture, inject, named, objects, stdinOf, testOptions } from './support.ts';

/** A pod spec (containers, volumes), indented by `indent` spaces. */
function podSpec(indent: number): string {
  const lines = [
    'containers:',
    '  - name: app # the app itself',
    '    image: "example/app:1.0"',
    '    ports: [{containerPort: 8080}]',
    'volumes:',
    '  - name: cfg',
    '    configMap: {name: cfg, defaultMode: 0644}',
  ];
  return lines.map((line) => `${' '.repeat(indent)}${line}\n`).join('');
}

function workload(apiVersion: string, kind: string, metadata: string, spec: string): string {
  return `apiVersion: ${apiVersion}\nkind: ${kind}\nmetadata:\n${metadata}spec:\n${spec}`;
}

const templated = (prefix: string) => `  template:\n    metadata:\n      labels: {app: web}\n    spec:\n${prefix}${podSpec(6)}`;

const workloads: Record<string, string> = {
  Deployment: workload('apps/v1', 'Deployment', '  name: web\n  namespace: shop\n', templated('')),
  StatefulSet: workload('apps/v1', 'StatefulSet', '  name: db\n  namespace: shop\n', templated('')),
  DaemonSet: workload('apps/v1', 'DaemonSet', '  name: agent\n  namespace: ops\n', templated('')),
  Job: workload('batch/v1', 'Job', '  name: batch\n', templated('      restartPolicy: Never\n')),
  CronJob: workload('batch/v1', 'CronJob', '  name: nightly\n', `  schedule: "0 3 * * *"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n${podSpec(10)}`),
  Pod: workload('v1', 'Pod', '  name: solo\n  namespace: shop\n', podSpec(2)),
};

const templatePaths: Record<string, string[]> = {
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
  Pod: [],
};

function podTemplate(object: Record<string, any>): Record<string, any> {
  return templatePaths[object['kind']]!.reduce((node, key) => node[key], object);
}

/** Documents nobody asked to change: comments, odd but valid formatting, other kinds. */
const untouched = [
  `# Leading comment of the stream\n\n`,
  `---   # a comment on the separator\napiVersion: v1\nkind: Service\nmetadata: { name: web,   namespace: shop }   # flow, odd spacing\nspec:\n    ports:\n    -   port: 80\n        targetPort: 'http'\n    selector: {"app": "web"}\n...\n`,
  `%TAG !e! tag:example.com,2000:\n--- !e!thing\n# not Kubernetes at all\nkey: &anchor\n  - 0644\n  - on\nother: *anchor\nfolded: >\n  a long folded\n  text\n`,
  `---\napiVersion: argoproj.io/v1alpha1\nkind: Rollout    # unknown kind with a pod template: not ours\nmetadata: {name: r}\nspec:\n  template:\n    spec:\n      containers: [{name: a, image: b}]\n`,
  `---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  "k": |\n     indented literal\n\n`,
];

let root: protobuf.Root;
beforeAll(() => {
  root = loadEnvoyProtos(['envoy/extensions/resource_monitors/downstream_connections/v3/downstream_connections.proto']);
});

describe.each(['native', 'container'] as const)('inject (%s sidecar)', (sidecarMode) => {
  const listKey = sidecarMode === 'native' ? 'initContainers' : 'containers';

  it.each(Object.keys(workloads))('adds exactly one sidecar to a %s, once however often it runs', (kind) => {
    const once = inject(workloads[kind]!, { sidecarMode });
    expect(inject(once, { sidecarMode })).toBe(once);
    const spec = podTemplate(objects(once)[0]!)['spec'];
    expect(named(spec.initContainers, 'infermesh-proxy').length + named(spec.containers, 'infermesh-proxy').length).toBe(1);
    expect(named(spec[listKey], 'infermesh-proxy')).toHaveLength(1);
    expect(named(spec.volumes, 'infermesh-bootstrap')).toEqual([{ name: 'infermesh-bootstrap', configMap: { name: 'infermesh-envoy-bootstrap' } }]);
    expect(named(spec.containers, 'app')[0]!.env).toEqual([{ name: 'INFERMESH_PROXY', value: 'http://127.0.0.1:15001' }]);
    expect(podTemplate(objects(once)[0]!)['metadata'].annotations).toEqual({ 'infermesh.io/injected': '0.1.0' });
    // The label the control plane's NetworkPolicy admits to the xDS port (manifests/base/networkpolicy.yaml).
    expect(podTemplate(objects(once)[0]!)['metadata'].labels?.['infermesh.io/xds-client']).toBe('true');
  });

  it('switching modes moves the sidecar instead of adding a second one', () => {
    const other = sidecarMode === 'native' ? 'container' : 'native';
    const switched = inject(inject(workloads['Deployment']!, { sidecarMode: other }), { sidecarMode });
    const spec = podTemplate(objects(switched)[0]!)['spec'];
    expect(named(spec[listKey], 'infermesh-proxy')).toHaveLength(1);
    expect(named(spec[sidecarMode === 'native' ? 'containers' : 'initContainers'], 'infermesh-proxy')).toHaveLength(0);
  });
});

describe('the injected sidecar', () => {
  const spec = podTemplate(objects(inject(workloads['Deployment']!))[0]!)['spec'];
  const sidecar = spec.initContainers[0];

  it('runs Envoy on the mounted bootstrap, named after the pod', () => {
    expect(sidecar).toMatchObject({ name: 'infermesh-proxy', image: 'envoyproxy/envoy:distroless-v1.40.0', restartPolicy: 'Always' });
    expect(sidecar.args.join(' ')).toBe(
      '-c /etc/infermesh/bootstrap.yaml --service-cluster $(POD_NAMESPACE) --service-node $(POD_NAME).$(POD_NAMESPACE) --service-zone $(INFERMESH_ZONE) ' +
        '--log-level warn --component-log-level misc:error --disable-hot-restart --concurrency 2',
    );
    expect(sidecar.env).toEqual([
      { name: 'POD_NAME', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
      { name: 'POD_NAMESPACE', valueFrom: { fieldRef: { fieldPath: 'metadata.namespace' } } },
      // The node's zone, as the PodTopologyLabels admission plugin copies it onto the pod (zone failover).
      { name: 'INFERMESH_ZONE', valueFrom: { fieldRef: { fieldPath: "metadata.labels['topology.kubernetes.io/zone']" } } },
    ]);
    expect(sidecar.volumeMounts).toEqual([{ name: 'infermesh-bootstrap', mountPath: '/etc/infermesh', readOnly: true }]);
  });

  it('has its ports (valid Kubernetes port names), resources and probes', () => {
    expect(sidecar.ports).toEqual([
      { name: 'infermesh-proxy', containerPort: 15001, protocol: 'TCP' },
      { name: 'proxy-status', containerPort: 15021, protocol: 'TCP' },
    ]);
    for (const port of sidecar.ports) expect(port.name).toMatch(/^(?=.*[a-z])[a-z0-9]([a-z0-9-]{0,13}[a-z0-9])?$/);
    expect(sidecar.resources).toEqual({ requests: { cpu: '100m', memory: '128Mi' }, limits: { cpu: '1', memory: '512Mi' } });
    for (const probe of [sidecar.startupProbe, sidecar.readinessProbe]) expect(probe.httpGet).toEqual({ path: '/healthz/ready', port: 15021 });
    expect(sidecar.livenessProbe).toBeUndefined();
  });

  it('runs non-root, read-only, without capabilities or privilege escalation', () => {
    expect(sidecar.securityContext).toEqual({
      runAsNonRoot: true, runAsUser: 65532, runAsGroup: 65532, allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true, capabilities: { drop: ['ALL'] }, seccompProfile: { type: 'RuntimeDefault' },
    });
  });

  it('takes the flags: image, proxy port, resources, concurrency', () => {
    const options = { image: 'mirror/envoy:1', proxyPort: 16001, concurrency: 4, limits: { cpu: '2', memory: '1Gi' } };
    const custom = podTemplate(objects(inject(workloads['Pod']!, options))[0]!)['spec'];
    expect(custom.initContainers[0]).toMatchObject({ image: 'mirror/envoy:1', resources: { limits: { cpu: '2', memory: '1Gi' } } });
    expect(custom.initContainers[0].ports[0].containerPort).toBe(16001);
    expect(custom.initContainers[0].args.slice(-2)).toEqual(['--concurrency', '4']);
    expect(custom.containers[0].env).toEqual([{ name: 'INFERMESH_PROXY', value: 'http://127.0.0.1:16001' }]);
  });

  it('replaces a stale sidecar in place', () => {
    const old = inject(workloads['Deployment']!, { image: 'envoyproxy/envoy:distroless-v1.34.0', version: '0.0.9' });
    const updated = inject(old);
    expect(updated).toBe(inject(workloads['Deployment']!));
  });
});

describe('what stays as it was', () => {
  const stream = untouched.join('');

  it('copies a stream without workloads byte for byte, and appends nothing', () => {
    expect(inject(stream)).toBe(stream);
    for (const trivial of ['', '\n', '# only a comment\n', '---\n---\n', 'kind: Pod\nmetadata: {name: p}']) expect(inject(trivial)).toBe(trivial);
  });

  it('copies every other document byte for byte around injected ones', () => {
    const before = untouched.slice(0, 3).join('');
    const after = untouched.slice(3).join('');
    const output = inject(`${before}---\n${workloads['Deployment']}${after}`);
    expect(output.startsWith(`${before}---\napiVersion: apps/v1\nkind: Deployment\n`)).toBe(true);
    expect(output).toContain(`\n${after}---\n# Envoy bootstrap of the infermesh sidecars`);
  });

  it('keeps comments, key order, quoting and YAML 1.1 octal numbers inside an injected document', () => {
    const output = inject(workloads['Deployment']!);
    expect(output).toContain('- name: app # the app itself\n          image: "example/app:1.0"\n          ports: [{containerPort: 8080}]\n');
    expect(output).toContain('configMap: {name: cfg, defaultMode: 0644}');
    // The xDS client label joins the template's labels in their own (flow) style, before the annotation.
    const labels = output.indexOf('labels: {app: web, infermesh.io/xds-client: "true"}');
    expect(labels).toBeGreaterThan(0);
    expect(labels).toBeLessThan(output.indexOf('infermesh.io/injected: "0.1.0"'));
  });

  it('keeps kubectl-style sequences (not indented under their key)', () => {
    const kubectlStyle = 'apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\nspec:\n  containers:\n  - image: app\n    name: app\n';
    const output = inject(kubectlStyle);
    expect(output.startsWith('apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n')).toBe(true);
    expect(output).toContain('\n  containers:\n  - image: app\n    name: app\n    env:\n    - name: INFERMESH_PROXY\n');
  });

  it('keeps Windows line breaks', () => {
    const crlf = `${untouched[1]}---\n${workloads['Pod']}`.replaceAll('\n', '\r\n');
    const output = inject(crlf);
    expect(output.startsWith(untouched[1]!.replaceAll('\n', '\r\n'))).toBe(true);
    expect(output.replaceAll('\r\n', '')).not.toContain('\n');
    expect(inject(output)).toBe(output);
  });

  it('leaves workloads annotated infermesh.io/inject: "false" alone (on the object or its pod template)', () => {
    const onTemplate = workloads['Deployment']!.replace('labels: {app: web}', 'annotations: {infermesh.io/inject: "false"}');
    const onObject = workloads['Pod']!.replace('  namespace: shop\n', '  namespace: shop\n  annotations:\n    infermesh.io/inject: "false"\n');
    expect(inject(onTemplate)).toBe(onTemplate);
    expect(inject(onObject)).toBe(onObject);
  });

  it('leaves hostNetwork pods alone, with a warning', () => {
    const hostNetwork = workloads['Pod']!.replace('spec:\n', 'spec:\n  hostNetwork: true\n');
    const result = injectStream(hostNetwork, testOptions());
    expect(result.output).toBe(hostNetwork);
    expect(result.warnings).toEqual([expect.stringMatching(/document 1, Pod shop\/solo: not injected: hostNetwork/)]);
  });
});

describe('the bootstrap ConfigMap', () => {
  const configMaps = (text: string) => objects(text).filter((o) => o['kind'] === 'ConfigMap' && o['metadata'].name === 'infermesh-envoy-bootstrap');

  it('is appended once per namespace of an injected workload, in order of appearance', () => {
    const stream = [workloads['Deployment'], workloads['Job'], workloads['DaemonSet'], workloads['Pod'], workloads['StatefulSet']].join('---\n');
    expect(configMaps(inject(stream)).map((cm) => cm['metadata'].namespace)).toEqual(['shop', undefined, 'ops']);
  });

  it('is not appended where the stream already has one; a hand-written one is left as it is', () => {
    const handWritten = 'apiVersion: v1\nkind: ConfigMap\nmetadata: {name: infermesh-envoy-bootstrap, namespace: shop}\ndata: {bootstrap.yaml: "mine"}\n';
    const output = inject(`${workloads['Deployment']}---\n${handWritten}`);
    expect(output.endsWith(`---\n${handWritten}`)).toBe(true);
    expect(configMaps(output)).toHaveLength(1);
  });

  it('holds the bootstrap with the xDS address, and Envoy reads it without a single error', () => {
    const output = inject(workloads['Pod']!, { xdsAddress: { host: 'cp.infermesh.svc', port: 9000 } });
    const [configMap] = configMaps(output);
    expect(configMap!['metadata']).toMatchObject({ namespace: 'shop', labels: { 'app.kubernetes.io/managed-by': 'infermesh-inject' } });
    const { message, errors } = fromProto3Json(root, 'envoy.config.bootstrap.v3.Bootstrap', parse(configMap!['data']['bootstrap.yaml']));
    expect(errors).toEqual([]);
    expect(validateMessage(root, 'envoy.config.bootstrap.v3.Bootstrap', message!)).toEqual([]);
    const json = toProto3Json(root, 'envoy.config.bootstrap.v3.Bootstrap', message!) as Record<string, any>;
    const xds = json['static_resources'].clusters.find((c: { name: string }) => c.name === 'infermesh-xds');
    expect(xds.load_assignment.endpoints[0].lb_endpoints[0].endpoint.address.socket_address).toEqual({ address: 'cp.infermesh.svc', port_value: 9000 });
  });

  it('is brought up to date when inject wrote it and the address changed', () => {
    const first = inject(workloads['Pod']!);
    const moved = inject(first, { xdsAddress: { host: 'elsewhere.svc', port: 18000 } });
    expect(configMaps(moved)).toHaveLength(1);
    expect(configMaps(moved)[0]!['data']['bootstrap.yaml']).toContain('address: elsewhere.svc');
    expect(inject(moved, { xdsAddress: { host: 'elsewhere.svc', port: 18000 } })).toBe(moved);
  });
});

describe('streams', () => {
  it('injects the items of a kind: List (kubectl get -o yaml)', () => {
    const list = `apiVersion: v1\nkind: List\nitems:\n- ${workloads['Pod']!.trimEnd().replaceAll('\n', '\n  ')}\n`;
    const output = inject(list);
    expect(named(objects(output)[0]!['items'][0].spec.initContainers, 'infermesh-proxy')).toHaveLength(1);
    expect(inject(output)).toBe(output);
  });

  it('warns about app containers using one of the sidecar ports', () => {
    const clash = workloads['Pod']!.replace('containerPort: 8080', 'containerPort: 15021');
    expect(injectStream(clash, testOptions()).warnings).toEqual(['document 1, Pod shop/solo: container "app" uses port 15021, which the sidecar listens on']);
  });

  it('rejects a document that is not YAML, naming the document and line', () => {
    const broken = `${workloads['Pod']}---\nkind: Pod\nmetadata:\n  name: [unclosed\n`;
    const error = (() => {
      try {
        injectStream(broken, testOptions());
      } catch (thrown) {
        return thrown;
      }
    })();
    expect(error).toBeInstanceOf(YamlStreamError);
    expect(error).toMatchObject({ document: 2, message: expect.stringMatching(/^document 2 \(line 1[5-8]\) is not valid YAML: Flow sequence/) });
  });
});

async function run(argv: string[], stdin = '') {
  const out = new Capture();
  const err = new Capture();
  const code = await injectCommand(argv, out, err, stdinOf(stdin));
  return { code, out: out.text, err: err.text };
}

describe('infermesh inject', () => {
  it('reads standard input with -f - and prints the injected stream', async () => {
    const { code, out, err } = await run(['-f', '-'], workloads['Deployment']);
    expect({ code, err }).toEqual({ code: 0, err: '' });
    expect(out).toBe(inject(workloads['Deployment']!));
  });

  it('exits 2 without -f, or with a bad flag value, naming the problem', async () => {
    expect(await run([])).toMatchObject({ code: 2, out: '', err: expect.stringContaining('-f FILE is required') });
    expect(await run(['-f', '-', '--xds-address', 'no-port'])).toMatchObject({ code: 2, err: expect.stringContaining('--xds-address must be HOST:PORT') });
    expect(await run(['-f', '-', '--cpu-limit', 'lots'])).toMatchObject({ code: 2, err: expect.stringContaining('--cpu-limit must be a Kubernetes quantity') });
    expect(await run(['-f', '-', '--bogus'])).toMatchObject({ code: 2, err: expect.stringContaining('--bogus') });
  });

  it('exits 1 on YAML it cannot parse, or a file it cannot read, and prints nothing', async () => {
    expect(await run(['-f', '-'], `${workloads['Pod']}---\na: [1\n`)).toMatchObject({ code: 1, out: '', err: expect.stringMatching(/document 2 \(line \d+\) is not valid YAML/) });
    expect(await run(['-f', '/nonexistent/app.yaml'])).toMatchObject({ code: 1, out: '', err: expect.stringContaining('cannot read /nonexistent/app.yaml') });
  });

  it('prints its help', async () => {
    expect(await run(['--help'])).toMatchObject({ code: 0, out: expect.stringContaining('Usage: infermesh inject -f FILE|-') });
  });
});
