import { context, metrics, propagation, trace } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import type { PrometheusExporter } from '@opentelemetry/exporter-prometheus';
import { resourceFromAttributes } from '@opentelemetry/resources';
import { MeterProvider, PeriodicExportingMetricReader, type MetricReader } from '@opentelemetry/sdk-metrics';
import { BatchSpanProcessor, type SpanExporter, type SpanProcessor } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import type { Env } from '../config.js';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { resetInstruments } from './metrics.js';
import { setTracing } from './trace.js';

export interface TelemetrySettings {
  /** OTEL_SDK_DISABLED=true: no spans, no trace metadata, no metrics endpoint. */
  readonly disabled: boolean;
  readonly serviceName: string;
  /** METRICS_PORT: the Prometheus endpoint (`/metrics`); unset: none. */
  readonly metricsPort?: number;
  readonly metricsHost: string;
  /** OTLP/HTTP export of traces (and metrics) when an OTEL_EXPORTER_OTLP_* endpoint is set. */
  readonly otlpTraces: boolean;
  readonly otlpMetrics: boolean;
}

const isTrue = (v: string | undefined): boolean => v !== undefined && /^(true|1)$/i.test(v.trim());

/** Parses the telemetry variables (checked before any connection, like every other setting). */
export function telemetrySettingsFrom(env: Env, service: string, defaultHost: string): TelemetrySettings {
  const disabled = isTrue(env.optional('OTEL_SDK_DISABLED'));
  const port = env.optional('METRICS_PORT');
  if (port !== undefined && !/^\d{1,5}$/.test(port)) throw new ConfigError('METRICS_PORT', 'a TCP port 0..65535 for the Prometheus endpoint', port);
  const traces = env.optional('OTEL_TRACES_EXPORTER') ?? 'otlp';
  const metricsExp = env.optional('OTEL_METRICS_EXPORTER') ?? 'otlp';
  for (const [name, v] of [
    ['OTEL_TRACES_EXPORTER', traces],
    ['OTEL_METRICS_EXPORTER', metricsExp],
  ] as const) {
    if (!/^(otlp|none|prometheus)$/.test(v)) throw new ConfigError(name, 'otlp or none (prometheus: see METRICS_PORT)', v);
  }
  const endpoint = (k: string): boolean => env.optional(`OTEL_EXPORTER_OTLP_${k}ENDPOINT`) !== undefined;
  const protocol = env.optional('OTEL_EXPORTER_OTLP_PROTOCOL');
  if (protocol !== undefined && !/^http\/(json|protobuf)$/.test(protocol))
    throw new ConfigError('OTEL_EXPORTER_OTLP_PROTOCOL', 'http/json or http/protobuf (this build exports OTLP over HTTP)', protocol);
  return {
    disabled,
    serviceName: env.optional('OTEL_SERVICE_NAME') ?? `ewx-${service}`,
    ...(port === undefined ? {} : { metricsPort: Number(port) }),
    metricsHost: env.str('METRICS_HOST', defaultHost),
    otlpTraces: traces === 'otlp' && (endpoint('') || endpoint('TRACES_')),
    otlpMetrics: metricsExp === 'otlp' && (endpoint('') || endpoint('METRICS_')),
  };
}

export interface Telemetry {
  /** The bound Prometheus port, when METRICS_PORT is set. */
  readonly metricsPort?: number;
  shutdown(): Promise<void>;
}

/**
 * Sets up the OpenTelemetry SDK for this process: W3C trace context, a tracer provider (OTLP/HTTP
 * export when OTEL_EXPORTER_OTLP_ENDPOINT or _TRACES_ENDPOINT is set; the ids still reach events
 * and log lines without one), a meter provider with the Prometheus endpoint on METRICS_PORT and
 * OTLP metrics when an endpoint is set. `extraSpanProcessors` are for tests (an in-memory exporter).
 */
export async function startTelemetry(s: TelemetrySettings, log: Logger, extraSpanProcessors: readonly SpanProcessor[] = []): Promise<Telemetry> {
  if (s.disabled) {
    setTracing(false);
    log.info('telemetry: disabled (OTEL_SDK_DISABLED)');
    return { shutdown: async () => undefined };
  }
  const resource = resourceFromAttributes({ 'service.name': s.serviceName, 'service.namespace': 'ewx' });
  const processors: SpanProcessor[] = [...extraSpanProcessors];
  // The exporters are loaded only when configured (with their OTLP encoders, ~80 files, none needed by default).
  if (s.otlpTraces) {
    const { OTLPTraceExporter } = await import('@opentelemetry/exporter-trace-otlp-http');
    processors.push(new BatchSpanProcessor(new OTLPTraceExporter() as SpanExporter));
  }
  const tracerProvider = new NodeTracerProvider({ resource, spanProcessors: processors });
  tracerProvider.register({ propagator: new W3CTraceContextPropagator() });
  const readers: MetricReader[] = [];
  let prometheus: PrometheusExporter | undefined;
  if (s.metricsPort !== undefined) {
    const { PrometheusExporter } = await import('@opentelemetry/exporter-prometheus');
    prometheus = new PrometheusExporter({ port: s.metricsPort, host: s.metricsHost, preventServerStart: true });
    await prometheus.startServer();
    readers.push(prometheus);
  }
  if (s.otlpMetrics) {
    const { OTLPMetricExporter } = await import('@opentelemetry/exporter-metrics-otlp-http');
    readers.push(new PeriodicExportingMetricReader({ exporter: new OTLPMetricExporter() }));
  }
  const meterProvider = new MeterProvider({ resource, readers });
  metrics.setGlobalMeterProvider(meterProvider);
  resetInstruments();
  // Spans are recorded only when something takes them; otherwise only their ids travel (trace.ts).
  setTracing(true, processors.length > 0);
  const bound = prometheus ? (boundPort(prometheus) ?? s.metricsPort) : undefined;
  log.info('telemetry: OpenTelemetry on', {
    serviceName: s.serviceName,
    spans: processors.length > 0 ? 'recorded' : 'ids only (no OTLP traces endpoint)',
    metrics: bound === undefined ? 'off (METRICS_PORT unset)' : `http://${s.metricsHost}:${bound}/metrics`,
    otlpTraces: s.otlpTraces,
    otlpMetrics: s.otlpMetrics,
  });
  return {
    ...(bound === undefined ? {} : { metricsPort: bound }),
    async shutdown() {
      setTracing(false);
      await tracerProvider.shutdown().catch(() => undefined);
      await meterProvider.shutdown().catch(() => undefined);
      trace.disable();
      metrics.disable();
      context.disable();
      propagation.disable();
    },
  };
}

/** The port the exporter's server bound (METRICS_PORT=0 binds a free one, for tests). */
const boundPort = (p: PrometheusExporter): number | undefined => {
  const addr = (p as unknown as { _server?: { address(): { port: number } | string | null } })._server?.address();
  return typeof addr === 'object' && addr !== null ? addr.port : undefined;
};
