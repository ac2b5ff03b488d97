import { SERVICE_NAMES, type Ewx, type ServiceName } from '@ewx/client';

/**
 * What tells the gateway that something changed: one `Watch` stream per service, from the
 * position its status gives (what happens from now on). A stream that cannot be had (a server
 * without Watch, a restart) is opened again after `retryMs`; while any is down, GetStatus is
 * polled every `pollMs` instead, so the page stays live either way.
 */
export function liveFeed(ewx: Ewx, onChange: (why: string) => void, { retryMs = 1_000, pollMs = 500 } = {}): { close(): void; watching(): ServiceName[] } {
  const stop = new AbortController();
  const up = new Set<ServiceName>();
  const follow = async (s: ServiceName): Promise<void> => {
    while (!stop.signal.aborted) {
      try {
        const from = (await ewx[s].getStatus({})).position;
        const events = ewx.watch(s, { from, signal: stop.signal });
        up.add(s);
        onChange(`${s} watch opened`); // anything between the status and the stream's start
        for await (const e of events) onChange(`${s} ${e.type}`);
      } catch {
        /* a refusal or a lost connection: poll meanwhile, then try again */
      }
      up.delete(s);
      if (!stop.signal.aborted) await new Promise((r) => setTimeout(r, retryMs));
    }
  };
  for (const s of SERVICE_NAMES) void follow(s);
  const poll = setInterval(() => {
    if (up.size < SERVICE_NAMES.length) onChange('poll');
  }, pollMs);
  return {
    close: () => {
      stop.abort();
      clearInterval(poll);
    },
    watching: () => [...up],
  };
}
