/** Events of the registry's log. Amounts are decimal strings in base units. */
export interface Deposited { readonly account: string; readonly amount: string }

export type RegistryEvent =
  | { readonly type: 'Deposited'; readonly data: Deposited };
