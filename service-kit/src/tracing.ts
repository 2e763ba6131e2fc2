import { OTLPTraceExporter as OtlpJsonExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { OTLPTraceExporter as OtlpProtoExporter } from '@opentelemetry/exporter-trace-otlp-proto';
import { detectResources, envDetector, resourceFromAttributes } from '@opentelemetry/resources';
import { BatchSpanProcessor, type SpanExporter } from '@opentelemetry/sdk-trace-base';
import { NodeTracerProvider } from '@opentelemetry/sdk-trace-node';
import { ATTR_SERVICE_NAME } from '@opentelemetry/semantic-conventions';
import type { Logger } from './logger.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface Tracing {
  /** Flushes the spans still buffered and stops exporting. */
  shutdown(): Promise<void>;
}

/** The OTLP protocols a trace exporter is made for (gRPC is not offered: it would pull in a second HTTP stack). */
export const OTLP_PROTOCOLS = ['http/protobuf', 'http/json'] as const;
export type OtlpProtocol = (typeof OTLP_PROTOCOLS)[number];

/**
 * Whether traces are exported, and how, from the standard OpenTelemetry variables: on only when an OTLP endpoint
 * is set (`OTEL_EXPORTER_OTLP_ENDPOINT` or `…_TRACES_ENDPOINT`), and not with `OTEL_SDK_DISABLED=true` or
 * `OTEL_TRACES_EXPORTER=none`. The protocol is `OTEL_EXPORTER_OTLP_TRACES_PROTOCOL`, else
 * `OTEL_EXPORTER_OTLP_PROTOCOL`, else `http/protobuf` (the specification's default).
 */
export function tracingSettings(env: Env = process.env): { readonly protocol: OtlpProtocol } | null {
  if (env['OTEL_SDK_DISABLED']?.trim().toLowerCase() === 'true') return null;
  if (env['OTEL_TRACES_EXPORTER']?.trim().toLowerCase() === 'none') return null;
  if (!env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] && !env['OTEL_EXPORTER_OTLP_ENDPOINT']) return null;
  const protocol = (env['OTEL_EXPORTER_OTLP_TRACES_PROTOCOL'] ?? env['OTEL_EXPORTER_OTLP_PROTOCOL'] ?? 'http/protobuf').trim();
  if (!(OTLP_PROTOCOLS as readonly string[]).includes(protocol)) {
    throw new Error(`OTEL_EXPORTER_OTLP_PROTOCOL=${protocol} is not supported; use ${OTLP_PROTOCOLS.join(' or ')}`);
  }
  return { protocol: protocol as OtlpProtocol };
}

/**
 * Starts the OpenTelemetry SDK for this process when `tracingSettings` says so, else returns null and every span
 * the code starts is a no-op. The exporters read their endpoint and headers from the standard variables, the
 * sampler comes from `OTEL_TRACES_SAMPLER`/`…_ARG` (default: parent-based, always on), and the service name from
 * `OTEL_SERVICE_NAME`, else `serviceName`. Propagation is W3C trace context.
 */
export function startTracing(serviceName: string, logger: Logger, env: Env = process.env): Tracing | null {
  const settings = tracingSettings(env);
  if (!settings) return null;
  const exporter: SpanExporter = settings.protocol === 'http/json' ? new OtlpJsonExporter() : new OtlpProtoExporter();
  const resource = resourceFromAttributes({ [ATTR_SERVICE_NAME]: serviceName }).merge(detectResources({ detectors: [envDetector] }));
  const provider = new NodeTracerProvider({ resource, spanProcessors: [new BatchSpanProcessor(exporter)] });
  provider.register();
  logger.info({ protocol: settings.protocol, endpoint: env['OTEL_EXPORTER_OTLP_TRACES_ENDPOINT'] ?? env['OTEL_EXPORTER_OTLP_ENDPOINT'] }, 'exporting traces (OTLP)');
  return { shutdown: () => provider.shutdown() };
}
