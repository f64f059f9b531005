#!/usr/bin/env node
// The gpt-cuda command: the compiled CLI in dist/cli (see lib/cli/main.ts).
import { main } from "../dist/cli/main.js";

await main();
