export { startGateway, WEB_ROOT, type Gateway, type GatewayOptions } from './gateway.js';
export * as views from './reads.js';
export { dashboardPort, startDashboard, startDashboardBeside, type DashboardBeside } from './start.js';
export { auditSourceFromEnv, auditSourceOver, type AuditSource, type LogReader } from './audit.js';
