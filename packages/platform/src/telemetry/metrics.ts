import { metrics, type Attributes, type Counter, type Histogram, type ObservableGauge } from '@opentelemetry/api';

/**
 * The process's instruments (OpenTelemetry metrics API; the SDK set up by startTelemetry exports
 * them to Prometheus and/or OTLP, and without it they cost a no-op call). Names follow the
 * Prometheus exposition: `ewx_commands_total{method,code}` and so on (docs/OPERATIONS.md).
 */
const meter = () => metrics.getMeter('@ewx/platform');

let made: ReturnType<typeof make> | undefined;
const make = () => {
  const m = meter();
  const seconds = (name: string, description: string, boundaries: number[]): Histogram =>
    m.createHistogram(name, { description, unit: 's', advice: { explicitBucketBoundaries: boundaries } });
  return {
    commands: m.createCounter('ewx_commands', { description: 'Signed commands answered, by method and gRPC status code (OK = accepted)' }),
    votes: m.createCounter('ewx_votes', { description: 'Votes recorded (each VoteCast event appended, and each vote of a VotesCast)' }),
    appended: m.createCounter('ewx_events_appended', { description: "Events appended to this service's log, by type" }),
    replay: seconds('ewx_replay_duration_seconds', 'Time to rebuild the state from the log at start', [0.01, 0.05, 0.1, 0.5, 1, 5, 10, 30, 60, 300]),
    replayEvents: m.createCounter('ewx_replay_events', { description: 'Events folded while rebuilding the state at start' }),
    periodClose: seconds(
      'ewx_period_close_duration_seconds',
      "Time to close one group's reward period (compute and append)",
      [0.005, 0.01, 0.05, 0.1, 0.5, 1, 5, 10],
    ),
    settleLatency: seconds(
      'ewx_round_settle_latency_seconds',
      "Wall time from a round's expiry (RoundClosed recorded by consensus) to its settlement or unresolution",
      [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 300],
    ),
    relayLag: m.createObservableGauge('ewx_relay_lag_events', {
      description: 'Log positions between the last event applied and the last one the relay published (approximate: inbox copies count too)',
    }),
    consumerLag: m.createObservableGauge('ewx_consumer_lag_messages', {
      description: 'Messages behind the end of each consumed partition after the last batch',
    }),
    storeUp: m.createObservableGauge('ewx_dependency_up', {
      description: '1 while the dependency (event store, broker) answered its last health probe, else 0',
    }),
    groupBudget: m.createObservableGauge('ewx_group_budget_remaining', {
      description: "Reward budget still reserved per group, in base units (the registry's state; a float: exact below 2^53)",
    }),
    roundsOverdue: m.createObservableGauge('ewx_rounds_overdue', {
      description: 'Rounds past their deadline block and not yet settled or unresolved (still open past it, or closed and waiting in OFF_CHAIN_VOTE)',
    }),
    roundsOverdueBlocks: m.createObservableGauge('ewx_rounds_overdue_oldest_blocks', {
      description: 'Blocks since the deadline of the oldest overdue round (0: none overdue)',
    }),
  };
};
export const instruments = (): ReturnType<typeof make> => (made ??= make());
/** Called once the SDK's meter provider is registered: the API has no proxy, instruments made before are no-ops. */
export const resetInstruments = (): void => {
  made = undefined;
  gauges.clear();
};

/** Observed values for the gauges, refreshed by the code that knows them: each key reads its series at each collection. */
type Series = () => Iterable<readonly [number, Attributes]>;
const gauges = new Map<ObservableGauge, Map<string, Series>>();
/** Registers (or replaces, by `key`) any number of series read at each collection (one per attribute set). */
export function observeEach(gauge: ObservableGauge, key: string, series: Series): void {
  let g = gauges.get(gauge);
  if (!g) {
    const entries = new Map<string, Series>();
    g = entries;
    gauges.set(gauge, entries);
    gauge.addCallback((r) => {
      for (const read of entries.values()) for (const [v, attributes] of read()) r.observe(v, attributes);
    });
  }
  g.set(key, series);
}
/** Registers (or replaces, by `key`) a value read at each collection. */
export function observe(gauge: ObservableGauge, key: string, attributes: Attributes, value: () => number | undefined): void {
  observeEach(gauge, key, () => {
    const v = value();
    return v === undefined ? [] : [[v, attributes] as const];
  });
}
export const unobserve = (gauge: ObservableGauge, key: string): void => {
  gauges.get(gauge)?.delete(key);
};

export const count = (c: Counter, n: number, attributes: Attributes): void => {
  if (n > 0) c.add(n, attributes);
};
