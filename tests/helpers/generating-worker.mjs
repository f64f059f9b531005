// The entry of tests/helpers/generating-worker.ts in a worker thread: tsx's loader is registered
// in the worker itself (Node 20 does not pass the main thread's --import on to workers).
import { register } from "tsx/esm/api";

register();
await import("./generating-worker.ts");
