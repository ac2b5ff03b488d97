import type { EventData } from './eventstore/types.js';
import type { Decider } from './runtime.js';

/**
 * The one shape of a service's rules: `initialState` and `evolve` fold its log (the runtime's
 * `Decider`), `decide(command, state, policy)` gives the events of a command, pure (a refusal
 * throws a DomainError), and `streamOf(command, state)` names the stream the command appends to.
 * `policy` is what the rules need beyond the log, fixed at start-up (admins, parameters); services
 * without one ignore it.
 */
export interface ServiceDecider<S, C extends { readonly type: string }, P = undefined> extends Decider<S> {
  decide(command: C, state: S, policy: P): readonly EventData[];
  streamOf(command: C, state: S): string;
}
