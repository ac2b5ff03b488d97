# One image for every service: `node services/<name>/dist/main.js` (see deploy/k8s).
FROM node:20-bookworm-slim AS build
WORKDIR /app
COPY . .
RUN npm ci && npm run build && npm prune --omit=dev

FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY --from=build /app /app
USER node
EXPOSE 50051
CMD ["node", "packages/embedded/dist/main.js"]
