/** Waiting in tests for something the database or a worker does: poll a condition, never a fixed sleep alone. */
export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Resolves once `check` holds (polled every 10 ms); throws after `timeoutMs`. */
export async function until(check: () => Promise<boolean> | boolean, timeoutMs = 10_000): Promise<void> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await sleep(10)) if (await check()) return;
  throw new Error('condition not met in time');
}
