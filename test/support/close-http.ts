import type http from 'node:http';

/** Closes a test's HTTP server now, keep-alive connections included. */
export async function closeNow(server: http.Server | undefined): Promise<void> {
  if (!server) return;
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
}
