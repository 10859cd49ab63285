/**
 * A fake Kubernetes API server over real HTTPS for tests (see server.ts for the control API):
 *
 *   const fake = await startFakeKube();
 *   const kc = loadKubeConfig(fake);            // or: serve --kubeconfig (await fake.writeKubeconfig())
 *   fake.create('ConfigMap', { metadata: { name: 'p', labels: { 'infermesh.io/policy': 'true' } }, data });
 *   ...
 *   await fake.close();
 */
export { startFakeKube, type FakeKube, type FakeKubeOptions, type RequestRecord } from './server.ts';
export { loadKubeConfig } from './kubeconfig.ts';
export type { KindName, KubeObject, ObjectMeta } from './kinds.ts';
export { ApiError, type Status } from './status.ts';
export { Recorder, within } from './wait.ts';
