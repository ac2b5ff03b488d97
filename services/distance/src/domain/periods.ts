/**
 * Evaluation periods are runs of `periodBlocks` blocks. Period N is blocks N×L+1 .. (N+1)×L, so
 * period(h) = floor((h − 1) / L); before the first block (height 0) the service is in period 0.
 * Requests made in period N are evaluated during N + 1 (pool (N+1) mod 3) and settled when N + 2
 * begins.
 */
export const periodOf = (height: number, periodBlocks: number): number => (height <= 0 ? 0 : Math.floor((height - 1) / periodBlocks));

export const firstBlockOf = (period: number, periodBlocks: number): number => period * periodBlocks + 1;
export const lastBlockOf = (period: number, periodBlocks: number): number => (period + 1) * periodBlocks;

/** The three pools rotate with the period index: pool N mod 3 is evaluated during period N. */
export const poolOf = (evaluationPeriod: number): number => evaluationPeriod % 3;
