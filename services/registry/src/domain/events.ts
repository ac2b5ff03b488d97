/**
 * Events of the registry's log: exactly the published contracts, as the union `RegistryEvent` of
 * @ewx/contracts. Deciders build them with `registryEvent({ type, data })`; `evolve` reads them
 * through `decodeRegistryLog`.
 */
export type { RegistryEvent, RegistryLogEvent } from '@ewx/contracts';
export type RegistryEventType = import('@ewx/contracts').RegistryEvent['type'];
