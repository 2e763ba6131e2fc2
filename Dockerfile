# One image for every service; docker-compose.yml picks the entry point per service.
FROM node:22-bookworm-slim AS deps
WORKDIR /app
COPY package.json package-lock.json ./
COPY events/package.json events/
COPY service-kit/package.json service-kit/
COPY subgraphs/orders/package.json subgraphs/orders/
COPY subgraphs/inventory/package.json subgraphs/inventory/
COPY subgraphs/notifications/package.json subgraphs/notifications/
COPY gateway/package.json gateway/
COPY web-demo/package.json web-demo/
COPY test/package.json test/
RUN npm ci --no-audit --no-fund

FROM deps AS web-build
COPY . .
ARG VITE_GATEWAY_URL=http://localhost:4000/graphql
RUN npm run build -w @shop/web-demo

FROM nginx:1.27-alpine AS web
COPY --from=web-build /app/web-demo/dist /usr/share/nginx/html

FROM deps AS service
COPY . .
ENV NODE_ENV=production HOST=0.0.0.0
USER node
# SERVICE_ENTRY: subgraphs/orders/src/main.ts, subgraphs/inventory/src/main.ts, subgraphs/notifications/src/main.ts or gateway/src/main.ts
ENV SERVICE_ENTRY=gateway/src/main.ts
CMD ["sh", "-c", "exec node --import tsx \"$SERVICE_ENTRY\""]
