/** Polls until `check` returns a value other than undefined, or fails after `ms` naming what it waited for. */
export async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, ms = 20_000, every = 50): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (e) {
      last = e;
    }
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? ` (last error: ${(last as Error).message})` : ''}`);
    await new Promise((r) => setTimeout(r, every));
  }
}
