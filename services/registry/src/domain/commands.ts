import type { GroupConfig, SolutionConfig } from '@ewx/platform/domain';

/**
 * The registry's commands. `signer` is the verified account that signed it; the reaction commands
 * (ApplyCredit, ApplySettlement, SettleGroup) have none: the registry issues them itself, and each
 * is idempotent (decides nothing once done).
 */
export type RegistryCommand =
  // ledger
  | { readonly type: 'Deposit'; readonly signer: string; readonly account: string; readonly amount: string }
  | { readonly type: 'Withdraw'; readonly signer: string; readonly account: string; readonly amount: string }
  | { readonly type: 'Transfer'; readonly signer: string; readonly to: string; readonly amount: string }
  | {
      readonly type: 'PlaceHold';
      readonly signer: string;
      readonly holdId: string;
      readonly account: string;
      readonly amount: string;
      readonly purpose: string;
    }
  // registrars and groups
  | { readonly type: 'SignUpRegistrar'; readonly signer: string; readonly friendlyName: string; readonly legalLocation: string }
  | { readonly type: 'DeleteRegistrar'; readonly signer: string }
  | { readonly type: 'RegisterGroup'; readonly signer: string; readonly config: GroupConfig; readonly budget: string; readonly allowList: readonly string[] }
  | { readonly type: 'RaiseGroupBudget'; readonly signer: string; readonly group: string; readonly amount: string }
  | {
      readonly type: 'ChangeGroupRewards';
      readonly signer: string;
      readonly group: string;
      readonly subscriptionRewardPerBlock: string;
      readonly votingRewardPerBlock: string;
    }
  | {
      readonly type: 'UpdateAllowList';
      readonly signer: string;
      readonly group: string;
      readonly enabled?: boolean;
      readonly add: readonly string[];
      readonly remove: readonly string[];
    }
  | { readonly type: 'DeregisterGroup'; readonly signer: string; readonly group: string }
  // solutions
  | { readonly type: 'RegisterSolution'; readonly signer: string; readonly config: SolutionConfig }
  | { readonly type: 'PauseSolution' | 'ActivateSolution' | 'EndSolution'; readonly signer: string; readonly solution: string }
  | { readonly type: 'NominateWorker' | 'UnnominateWorker'; readonly signer: string; readonly solution: string; readonly worker: string }
  // operators and workers
  | { readonly type: 'Subscribe'; readonly signer: string; readonly group: string; readonly stake: string }
  | { readonly type: 'TopUpStake'; readonly signer: string; readonly group: string; readonly amount: string }
  | { readonly type: 'Unsubscribe'; readonly signer: string; readonly group: string }
  /**
   * `operator`: the operator named in the request (both signatures cover it); `consentBy`: the
   * account whose consent (worker_auth) was verified, undefined when none came.
   */
  | { readonly type: 'ConnectWorker'; readonly signer: string; readonly worker: string; readonly operator: string; readonly consentBy: string | undefined }
  /** Signed by the operator or by its worker. */
  | { readonly type: 'DisconnectWorker'; readonly signer: string }
  | { readonly type: 'ClaimRewards'; readonly signer: string; readonly groups: readonly string[] }
  // reactions
  | { readonly type: 'ApplyCredit'; readonly key: string }
  | { readonly type: 'ApplySettlement'; readonly holdId: string }
  | { readonly type: 'SettleGroup'; readonly group: string };

export type CommandOf<T extends RegistryCommand['type']> = Extract<RegistryCommand, { type: T }>;
