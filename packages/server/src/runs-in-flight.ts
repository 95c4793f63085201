// The runs this process is driving now, so a shutting-down server can wait for each to reach a
// checkpoint (held, completed, failed) before it exits.
export class RunsInFlight {
  readonly #runs = new Set<Promise<unknown>>();

  get size(): number {
    return this.#runs.size;
  }

  /** Counts `promise` in flight until it settles. */
  track<T>(promise: Promise<T>): Promise<T> {
    const inFlight = this.#runs;
    inFlight.add(promise);
    const remove = () => inFlight.delete(promise);
    promise.then(remove, remove);
    return promise;
  }

  /** Resolves when every run in flight has settled or `timeoutMs` passed; returns how many were still running. */
  async drain(timeoutMs: number): Promise<number> {
    const inFlight = this.#runs;
    const deadline = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), timeoutMs).unref());
    while (inFlight.size > 0) {
      const settled = await Promise.race([Promise.allSettled([...inFlight]).then(() => 'settled' as const), deadline]);
      if (settled === 'timeout') break;
    }
    return inFlight.size;
  }
}
