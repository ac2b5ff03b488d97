export * from './keys.js';
export * from './signing.js';
export * from './nonces.js';
export * from './keyfile.js';
export * from './errors.js';
export * from './connect.js';
export * from './votes.js';
export * from './wait.js';
