import * as grpc from '@grpc/grpc-js';
import { service as healthService } from 'grpc-health-check';

const HealthClient = grpc.makeGenericClientConstructor(healthService, 'Health');
type Check = (
  req: { service: string },
  meta: grpc.Metadata,
  opts: grpc.CallOptions,
  cb: (e: grpc.ServiceError | null, r?: { status: string | number }) => void,
) => void;

/**
 * One grpc.health.v1 Check over plaintext: 'SERVING', another status name, or the reason it got
 * none. The image's HEALTHCHECK uses it (`launch.js healthcheck`).
 */
export function probeHealth(address: string, service = '', timeoutMs = 2000): Promise<string> {
  const client = new HealthClient(address, grpc.credentials.createInsecure()) as unknown as grpc.Client & { check: Check };
  return new Promise<string>((resolve) => {
    client.check({ service }, new grpc.Metadata(), { deadline: Date.now() + timeoutMs }, (e, r) => {
      client.close();
      if (e) resolve(`unreachable (${grpc.status[e.code] ?? e.code}: ${e.details || e.message})`);
      else
        resolve(
          r!.status === 1
            ? 'SERVING'
            : typeof r!.status === 'number'
              ? (['UNKNOWN', 'SERVING', 'NOT_SERVING', 'SERVICE_UNKNOWN'][r!.status] ?? String(r!.status))
              : r!.status,
        );
    });
  });
}
