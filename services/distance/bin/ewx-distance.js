#!/usr/bin/env node
// The `ewx-distance` command (npm bin). Committed outside dist/ so `npm ci` can link it before the
// build has run; it needs `npm run build` to have compiled the oracle's CLI.
import { main } from '../dist/oracle/cli.js';

process.stdout.on('error', (err) => { if (err.code !== 'EPIPE') throw err; });
process.exitCode = main(process.argv.slice(2));
