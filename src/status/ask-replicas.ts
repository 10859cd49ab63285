import type { ClientConfig } from './csds-client.ts';
import type { Replica } from './replicas.ts';

export type ReplicaAnswer = Replica & ({ reachable: true; clients: ClientConfig[] } | { reachable: false; error: string });

/**
 * Asks every replica at once; each gets `timeoutMs` (the CSDS call carries its own deadline, this bounds
 * anything around it), and one that fails or does not answer in time is an answer too, never an exception.
 */
export async function askReplicas(replicas: readonly Replica[], ask: (address: string) => Promise<ClientConfig[]>, timeoutMs: number): Promise<ReplicaAnswer[]> {
  return Promise.all(
    replicas.map(async (replica): Promise<ReplicaAnswer> => {
      let timer: NodeJS.Timeout | undefined;
      const late = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer within ${timeoutMs + 1_000} ms`)), timeoutMs + 1_000);
      });
      try {
        return { ...replica, reachable: true, clients: await Promise.race([ask(replica.address), late]) };
      } catch (error) {
        return { ...replica, reachable: false, error: error instanceof Error ? error.message : String(error) };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
}
