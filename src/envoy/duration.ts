/** Milliseconds as a proto3 JSON Duration string ("0.25s"). */
export function durationJson(ms: number): string {
  return `${+(ms / 1000).toFixed(9)}s`;
}
