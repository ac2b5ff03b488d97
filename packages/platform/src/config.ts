// The environment reader lives in the client kit, so that client processes (the distance evaluator)
// read their settings by the same rules without loading the server platform.
export { readEnv, type Env } from '@ewx/client/config';
