export { startGateway, WEB_ROOT, type Gateway, type GatewayOptions } from './gateway.js';
export * as views from './reads.js';
export { startDashboard } from './start.js';
export { auditSourceFromEnv, type AuditSource } from './audit.js';
