/**
 * The distance oracle: Duniter's distance rule over a web of trust, as pure
 * functions. The distance service builds a graph from its own state with
 * buildGraph; files in the ewx-wot/1 format go through parseWot.
 */
export {
  buildGraph,
  graphFromDocument,
  indicesOf,
  issuedCount,
  parseWot,
  receivedCount,
  WOT_FORMAT,
  WotError,
  type WotGraph,
  type WotIdentity,
} from './wot.js';
export {
  DEFAULT_MAX_DISTANCE,
  evaluate,
  evaluateAll,
  evaluateNaive,
  NO_REFEREES_PERBILL,
  PERBILL_ONE,
  perbill,
  pickStrategy,
  referees,
  refereeThreshold,
  shareOfReferees,
  type EvaluateOptions,
  type Referees,
  type Strategy,
} from './distance.js';
