/**
 * Long synchronous work (reconciling 10,000 models) written as a generator that yields between units, so
 * one function serves both the one-shot commands (run to the end) and the server, whose event loop must keep
 * answering /healthz and xDS streams while it rebuilds (run in slices, giving the loop a turn between them).
 */
export type Steps<T> = Generator<void, T, void>;

/** Runs the steps synchronously to their result. */
export function runToEnd<T>(steps: Steps<T>): T {
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
  }
}

export interface SliceOptions {
  /** How long one slice may run before the event loop gets a turn. */
  sliceMs?: number;
  now?: () => number;
  /** Gives the event loop a turn; setImmediate lets pending I/O run before the next slice. */
  yieldToLoop?: () => Promise<void>;
}

export const DEFAULT_SLICE_MS = 10;

const nextTurn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** Runs the steps in slices of at most about `sliceMs` each, giving the event loop a turn between slices. */
export async function runInSlices<T>(steps: Steps<T>, options: SliceOptions = {}): Promise<T> {
  const { sliceMs = DEFAULT_SLICE_MS, now = () => performance.now(), yieldToLoop = nextTurn } = options;
  let sliceStart = now();
  for (;;) {
    const step = steps.next();
    if (step.done) return step.value;
    if (now() - sliceStart >= sliceMs) {
      await yieldToLoop();
      sliceStart = now();
    }
  }
}
