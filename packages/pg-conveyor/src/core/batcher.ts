/**
 * Coalesces concurrent calls into batches, the way graphile-worker batches completions: a call
 * made while `maxInFlight` batches are running waits, and leaves with every call queued meanwhile
 * in one run of `run`. With nothing in flight a call leaves at once (after the current
 * microtasks, so calls made together share it): batching adds no wait to an idle queue and grows
 * with load.
 *
 *   const completions = new Batcher(async (reqs) => completeMany(reqs), { maxInFlight: 2 });
 *   const row = await completions.call(req);   // resolves with run's answer at the same index
 */
export interface BatcherOptions {
  /** Batches running at once. */
  maxInFlight: number;
  /** The most calls one batch carries. */
  maxBatch: number;
}

interface Pending<In, Out> {
  input: In;
  resolve: (output: Out) => void;
  reject: (error: unknown) => void;
}

export class Batcher<In, Out> {
  private queued: Pending<In, Out>[] = [];
  private inFlight = 0;
  private readonly options: BatcherOptions;

  /** `run` answers every input, in order; if it throws, every call in its batch rejects with that. */
  constructor(
    private readonly run: (inputs: In[]) => Promise<Out[]>,
    options: Partial<BatcherOptions> = {},
  ) {
    this.options = { maxInFlight: 2, maxBatch: 1_000, ...options };
  }

  call(input: In): Promise<Out> {
    return new Promise<Out>((resolve, reject) => {
      this.queued.push({ input, resolve, reject });
      if (this.queued.length === 1) queueMicrotask(() => void this.flush());
    });
  }

  private async flush(): Promise<void> {
    if (this.inFlight >= this.options.maxInFlight) return; // a running batch takes them when it returns
    this.inFlight++;
    try {
      while (this.queued.length > 0) {
        const batch = this.queued.splice(0, this.options.maxBatch);
        try {
          const outputs = await this.run(batch.map((p) => p.input));
          batch.forEach((p, i) => p.resolve(outputs[i]!));
        } catch (error) {
          batch.forEach((p) => p.reject(error));
        }
      }
    } finally {
      this.inFlight--;
    }
  }
}
