/**
 * Retries an assertion until it passes or the deadline expires, then rethrows its last failure. Used only
 * where the thing being waited for happens in another process or over the network (a config push reaching
 * a gRPC client); every loop is bounded.
 */
export async function eventually<T>(check: () => Promise<T> | T, { timeoutMs = 10_000, intervalMs = 25 } = {}): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, intervalMs));
    }
  }
}
