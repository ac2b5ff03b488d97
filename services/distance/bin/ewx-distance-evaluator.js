#!/usr/bin/env node
// The evaluator worker (npm bin): see src/evaluator.ts for its configuration.
import '../dist/evaluator.js';
