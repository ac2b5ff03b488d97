import * as grpc from '@grpc/grpc-js';

type Unary<Req, Res> = (req: Req, cb: (err: grpc.ServiceError | null, res: Res) => void) => unknown;

/** Promisified unary call on a ts-proto grpc-js client: `await call(client.getAccount, client, req)`. */
export function call<Req, Res>(method: Unary<Req, Res>, client: grpc.Client, req: Req): Promise<Res> {
  return new Promise((resolve, reject) => {
    method.call(client, req, (err, res) => (err ? reject(err) : resolve(res)));
  });
}

/**
 * Runs a service implementation's unary handler in process, without a server or a network: what
 * it answers, or a rejection with the error it answers (`call` is what the handler reads of it,
 * e.g. `{ request }` or `{ request, metadata }`).
 */
export const invokeUnary = <Res>(handler: unknown, call: { request: unknown; metadata?: grpc.Metadata }): Promise<Res> =>
  new Promise((resolve, reject) =>
    (handler as grpc.handleUnaryCall<unknown, Res>)(call as unknown as grpc.ServerUnaryCall<unknown, Res>, (e, r) => (e ? reject(e) : resolve(r as Res))),
  );

/** Expects a call to fail with `code`; returns the error's details for further checks. */
export async function expectStatus(p: Promise<unknown>, code: grpc.status): Promise<string> {
  try {
    await p;
  } catch (e) {
    const err = e as grpc.ServiceError;
    if (err.code !== code)
      throw new Error(`expected gRPC status ${grpc.status[code]}, got ${grpc.status[err.code] ?? err.code}: ${err.details ?? err.message}`);
    return err.details;
  }
  throw new Error(`expected gRPC status ${grpc.status[code]}, but the call succeeded`);
}

export type ClientCtor<C> = new (address: string, credentials: grpc.ChannelCredentials, options?: Partial<grpc.ClientOptions>) => C;

export const insecureClient = <C>(Ctor: ClientCtor<C>, address: string): C => new Ctor(address, grpc.credentials.createInsecure());

type LastUnary<F> = F extends (req: infer Q, m: never, o: never, cb: (e: grpc.ServiceError | null, r: infer R) => void) => unknown ? [Q, R] : never;

/**
 * Typed unary call by method name on a ts-proto grpc-js client: `await rpc(client, 'getAccount', req)`.
 * (ts-proto's methods are overloaded, which defeats inference in `call`.)
 */
export function rpc<C extends grpc.Client, K extends keyof C & string>(client: C, method: K, req: LastUnary<C[K]>[0]): Promise<LastUnary<C[K]>[1]> {
  return new Promise((resolve, reject) => {
    (client[method] as (...args: unknown[]) => void).call(client, req, (err: grpc.ServiceError | null, res: LastUnary<C[K]>[1]) =>
      err ? reject(err) : resolve(res),
    );
  });
}
