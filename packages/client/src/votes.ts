import { SubmitVoteRequest } from '@ewx/proto/voting';
import { signWith, type Signer } from './signing.js';

/** The method every vote is signed for, alone or inside a `SubmitVotes` batch. */
export const SUBMIT_VOTE_METHOD = '/ewx.v1.Voting/SubmitVote';

/**
 * A vote signed by its worker, ready for `voting.submitVote` or to be put in a
 * `voting.submitVotes({ votes })` batch. The batch itself is not signed: the voting service checks
 * each vote as a `SubmitVote` (method `/ewx.v1.Voting/SubmitVote`), never as `SubmitVotes`.
 */
export function signVote(worker: Signer, vote: { solution: string; roundId: string; result: Uint8Array }): Promise<SubmitVoteRequest> {
  const message: SubmitVoteRequest = { auth: undefined, solution: vote.solution, roundId: vote.roundId, result: Buffer.from(vote.result) };
  return signWith(worker, SUBMIT_VOTE_METHOD, message, (m) => SubmitVoteRequest.encode(m).finish());
}
