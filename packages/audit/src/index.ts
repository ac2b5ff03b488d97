export * from './types.js';
export * from './source.js';
export { audit, type AuditOptions } from './audit.js';
export { canonical } from './runner.js';
export { formatReport } from './report.js';
export * from './export.js';
export * from './whatif.js';
export { makeBundle } from './bundle/make.js';
export { verifyBundle, BUNDLE_FORMAT, type Bundle, type BundleVerdict } from './bundle/verify.js';
