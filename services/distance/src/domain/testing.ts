import type { EventData } from '@ewx/platform';

/** Keys for specs: fixed addresses, no randomness. */
export const addr = (n: number): string => `ed25519:${n.toString(16).padStart(64, '0')}`;
export const ADMIN = addr(0xad);
export const EVALUATORS = [addr(0xe1), addr(0xe2), addr(0xe3)];
export const REQUESTER = addr(0x11);

export const block = (height: number): EventData => ({ type: 'BlockProduced', data: { height } });

export const ofType = <T>(events: readonly EventData[], type: string): T[] => events.filter((e) => e.type === type).map((e) => e.data as unknown as T);

/** A web of trust of `n` members where everybody certifies everybody else (all are referees). */
export function fullWot(n: number, firstId = 0): EventData[] {
  const ids = Array.from({ length: n }, (_, i) => firstId + i);
  return [
    {
      type: 'WotImported',
      data: { importId: 'spec', chunk: 0, chunks: 1, identities: ids.map((id) => ({ id, member: true, certifiedBy: ids.filter((o) => o !== id) })) },
    },
  ];
}
