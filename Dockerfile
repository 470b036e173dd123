# syntax=docker/dockerfile:1
# One Dockerfile, four stages:
#   build         npm ci, type-check, bundle dist/
#   runtime-deps  production node_modules, with tfjs-node only where it is the fastest engine
#   lambda        the AWS Lambda image (serverless.yml builds it with --target lambda)
#   beanstalk     the HTTP server on port 8080; last, so it is what a plain `docker build` (and
#                 Elastic Beanstalk, building from a source bundle) produces
ARG NODE_VERSION=22

FROM node:${NODE_VERSION}-bookworm-slim AS build
WORKDIR /app
COPY package.json package-lock.json .npmrc ./
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json esbuild.config.cjs ./
COPY scripts ./scripts
COPY lib ./lib
COPY handlers ./handlers
RUN npm run typecheck && npm run build

FROM node:${NODE_VERSION}-bookworm-slim AS runtime-deps
WORKDIR /app
# auto: tfjs-node (with libtensorflow) only when the model folder has no model.onnx, ONNX Runtime
# being the faster engine; true/false force it (tfjs-node has no arm64 build). MODEL_DIR, a folder
# under models/, is the model the images serve: `docker build --build-arg MODEL_DIR=models/mine .`
ARG TFJS_NODE=auto
ARG MODEL_DIR=models/mobilenet_v2
COPY package.json package-lock.json .npmrc ./
COPY models ./models
COPY scripts/install-runtime-deps.sh ./scripts/
RUN TFJS_NODE="$TFJS_NODE" MODEL_DIR="$MODEL_DIR" sh scripts/install-runtime-deps.sh && npm cache clean --force

FROM public.ecr.aws/lambda/nodejs:${NODE_VERSION} AS lambda
ARG MODEL_DIR=models/mobilenet_v2
# glibc: allocations of 4 MiB and more (request bodies) get their own mappings, returned to the
# system when freed instead of fragmenting the heap (about 120 MB less peak RSS under load).
ENV NODE_ENV=production MODEL_DIR=${MODEL_DIR} MALLOC_MMAP_THRESHOLD_=4194304
COPY --from=runtime-deps /app/node_modules ${LAMBDA_TASK_ROOT}/node_modules
COPY --from=build /app/dist ${LAMBDA_TASK_ROOT}/dist
COPY package.json ${LAMBDA_TASK_ROOT}/
COPY models ${LAMBDA_TASK_ROOT}/models
# serverless.yml sets the command per function (dist/predict.handler, dist/health.handler).
CMD ["dist/predict.handler"]

FROM node:${NODE_VERSION}-bookworm-slim AS beanstalk
WORKDIR /app
ARG MODEL_DIR=models/mobilenet_v2
# MALLOC_MMAP_THRESHOLD_: see the lambda stage.
ENV NODE_ENV=production PORT=8080 MODEL_DIR=${MODEL_DIR} MALLOC_MMAP_THRESHOLD_=4194304
COPY --from=runtime-deps /app/node_modules ./node_modules
COPY --from=build /app/dist ./dist
COPY package.json ./
COPY models ./models
COPY public ./public
# uid 1000 is the image's unprivileged "node" user (numeric, so runtimes can verify it is not root).
USER 1000
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT}/health/ready`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# node is PID 1 and handles SIGTERM itself: it drains requests in flight, then exits.
CMD ["node", "--enable-source-maps", "dist/server.mjs"]
