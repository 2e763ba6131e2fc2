# One image for every service (docker-compose.yml picks the entry point per service) and one for the web demo.
# Stages: deps (every dependency, for building) → build (`npm run build`: dist/ of each workspace, the web demo's
# bundle) → web (nginx with that bundle) and service (production dependencies, dist/ and nothing else, as `node`).
FROM node:22-bookworm-slim AS base
WORKDIR /app
# Only the manifests, so the dependency layers are rebuilt when a dependency changes, not when code does.
COPY package.json package-lock.json .npmrc ./
COPY events/package.json events/
COPY service-kit/package.json service-kit/
COPY subgraphs/orders/package.json subgraphs/orders/
COPY subgraphs/inventory/package.json subgraphs/inventory/
COPY subgraphs/notifications/package.json subgraphs/notifications/
COPY gateway/package.json gateway/
COPY web-demo/package.json web-demo/
COPY test/package.json test/

FROM base AS deps
RUN npm ci --no-audit --no-fund

FROM deps AS build
COPY . .
ARG VITE_GATEWAY_URL=http://localhost:4000/graphql
ENV TURBO_TELEMETRY_DISABLED=1
RUN npm run build

FROM nginx:1.27-alpine AS web
COPY --from=build /app/web-demo/dist /usr/share/nginx/html

FROM base AS service
ENV NODE_ENV=production
# Production dependencies of the services only: no TypeScript, tsx, turbo, test tools, nor the web demo's.
RUN npm ci --omit=dev --no-audit --no-fund \
      -w events -w service-kit -w subgraphs/orders -w subgraphs/inventory -w subgraphs/notifications -w gateway \
  && npm cache clean --force
COPY --from=build /app/events/dist events/dist
COPY --from=build /app/service-kit/dist service-kit/dist
COPY --from=build /app/subgraphs/orders/dist subgraphs/orders/dist
COPY --from=build /app/subgraphs/inventory/dist subgraphs/inventory/dist
COPY --from=build /app/subgraphs/notifications/dist subgraphs/notifications/dist
COPY --from=build /app/gateway/dist gateway/dist
# The gateway serves this composed supergraph (`npm run compose` writes it; `npm test` checks it is current).
COPY gateway/supergraph.graphql gateway/
# Files stay root's: the service cannot change its own code.
USER node
# Every service listens on 127.0.0.1 unless HOST says otherwise: docker-compose.yml opens the gateway to the
# outside and the subgraphs only to its internal network.
# Entry points: gateway/dist/main.js, subgraphs/{orders,inventory,notifications}/dist/main.js.
# --max-semi-space-size: as scripts/lib/processes.ts SERVICE_NODE_ARGS (fewer young-generation GCs).
ENTRYPOINT ["node", "--max-semi-space-size=32"]
CMD ["gateway/dist/main.js"]
