#!/usr/bin/env node
// The TypeScript sources run directly on Node 24 (type stripping): there is no build step.
import { main } from '../src/cli/main.ts';

process.exitCode = await main(process.argv.slice(2));
