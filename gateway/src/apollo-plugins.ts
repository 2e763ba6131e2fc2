import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import { ErrorCode, httpStatusOf } from '@shop/service-kit';
import { GraphQLError } from './graphql.js';
import { checkComplexity, measureOperation, type ComplexityLimits } from './limits.js';
import type { GatewayMetrics } from './metrics.js';
import { checkVariableNames } from './variable-names.js';

export type Transport = 'http' | 'ws';

/** Refuses reserved variable names and too deep, too aliased or too costly operations after validation and before the gateway plans them. */
export function complexityPlugin(limits: ComplexityLimits, metrics: GatewayMetrics): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          if (!operation) return;
          if (operation.operation === 'subscription') {
            throw new GraphQLError(
              'Subscriptions are served over WebSocket (graphql-transport-ws) or multipart HTTP (Accept: multipart/mixed;subscriptionSpec=1.0).',
              { extensions: { code: ErrorCode.BAD_REQUEST, http: { status: httpStatusOf(ErrorCode.BAD_REQUEST) } } },
            );
          }
          const badName = checkVariableNames(operation, request.variables);
          if (badName) throw badName;
          const refusal = checkComplexity(measureOperation(schema, document, operation, request.variables ?? {}), limits);
          if (refusal) {
            metrics.refusals.inc({ reason: String(refusal.extensions.limit) });
            throw refusal;
          }
        },
      };
    },
  };
}

/** Counts operations and their latency by operation name. */
export function metricsPlugin(metrics: GatewayMetrics): ApolloServerPlugin<BaseContext> {
  return {
    async requestDidStart({ contextValue }) {
      const started = process.hrtime.bigint();
      const transport = (contextValue as { transport?: Transport }).transport ?? 'http';
      return {
        async willSendResponse({ operationName, operation, errors, response }) {
          const seconds = Number(process.hrtime.bigint() - started) / 1e9;
          const name = operationName ?? '(anonymous)';
          const type = operation?.operation ?? 'unknown';
          const bodyErrors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
          const outcome = errors?.length || bodyErrors?.length ? 'error' : 'ok';
          metrics.requests.inc({ operation: name, type, transport, outcome });
          metrics.latency.observe({ operation: name, type, transport }, seconds);
        },
      };
    },
  };
}
