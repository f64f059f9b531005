// The gpt-cuda command line: argument parsing, and errors turned into one line and an exit code.
//   0 ok · 1 runtime error · 2 usage error · 130 generation stopped by Ctrl-C
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import { spawnSync } from "node:child_process";
import { pathToFileURL } from "node:url";

import { Command, CommanderError, Option } from "commander";

import { GptError, GptInputError } from "../errors.js";
import { packageRoot } from "../native.js";
import { integerArg, numberArg, UsageError } from "./args.js";
import { cacheRoot } from "../hub/cache.js";
import { CHAT_MAX_TOKENS, chatCommand, type ChatFlags } from "./chat.js";
import { generateCommand, type GenerateFlags } from "./generate.js";
import type { Io } from "./io.js";
import { addLoadFlags, addSamplingFlags, modelOption } from "./model-flags.js";
import { infoCommand, packageVersion } from "./info.js";
import { pullCommand } from "./pull.js";
import { serveCommand, type ServeFlags } from "./serve.js";

export const EXIT_OK = 0;
export const EXIT_RUNTIME = 1;
export const EXIT_USAGE = 2;

function buildProgram(io: Io, state: { verbose: boolean; exitCode: number }): Command {
  const program = new Command("gpt-cuda")
    .description("GPT-2 text generation in Node.js")
    .version(packageVersion(), "-V, --version")
    .showSuggestionAfterError(true)
    .exitOverride()
    .configureOutput({
      writeOut: (s) => io.stdout.write(s),
      writeErr: (s) => io.stderr.write(s),
      outputError: () => {}, // reported by run(), as one line
    });
  const done = (code: number) => {
    state.exitCode = code;
  };

  addSamplingFlags(
    addLoadFlags(
      program
        .command("generate")
        .description("continue a prompt, streaming the text to stdout")
        .argument("[prompt]", "the prompt; read from stdin when left out"),
    ),
  )
    .option("--ignore-eos", "keep generating past <|endoftext|> (to exactly --max-tokens)")
    .option("--json", "print the whole result as JSON instead of streaming text; errors as JSON too")
    .option("-v, --verbose", "print load time and prefill/decode speed to stderr, and stack traces on errors")
    .addHelpText(
      "after",
      "\nExamples:\n" +
        "  gpt-cuda pull openai-community/gpt2\n" +
        '  gpt-cuda generate --model gpt2 --max-tokens 40 "The meaning of life is"\n' +
        "  echo 'Once upon a time' | gpt-cuda generate -m ./my-gpt2 -t 0 --json",
    )
    .action(async (prompt: string | undefined, flags: GenerateFlags) => {
      state.verbose = flags.verbose === true;
      done(await generateCommand(prompt, flags, io));
    });

  addSamplingFlags(
    addLoadFlags(
      program
        .command("chat")
        .description("talk with a chat model in the terminal; with stdin not a terminal, reply to the message it holds"),
    ),
    CHAT_MAX_TOKENS,
  )
    .option("--system <text>", "a system message to start the conversation with")
    .option("--chat-template <file>", "a Jinja chat template to use instead of the checkpoint's")
    .option("-v, --verbose", "print the load time and each reply's tokens (prompt, cached, generated) and speed to stderr, and stack traces on errors")
    .addHelpText(
      "after",
      "\nIn the terminal: /reset starts over; Ctrl-C stops a reply, and at the prompt (or twice) exits; Ctrl-D exits.\n" +
        "Examples:\n" +
        "  gpt-cuda chat --model ./my-chat-model --system 'You are terse.'\n" +
        "  echo 'What is a GPU?' | gpt-cuda chat -m ./my-chat-model -t 0",
    )
    .action(async (flags: ChatFlags) => {
      state.verbose = flags.verbose === true;
      done(await chatCommand(flags, io));
    });

  addLoadFlags(
    program
      .command("serve")
      .description("serve the model over HTTP with the OpenAI API (/v1/completions, /v1/chat/completions), /health and /metrics"),
  )
    .option("--host <host>", "address to listen on; 0.0.0.0 for every interface", "127.0.0.1")
    .option("--port <port>", "port to listen on; 0 picks a free one", integerArg(0, 65535), 8080)
    .option("--api-key <key>", "require Authorization: Bearer <key> (or set GPT_CUDA_API_KEY)")
    .option("--served-model-name <id>", "the model id clients send (default: the --model name or directory name)")
    .option("--max-sequences <n>", "sequences decoded together at most (default 16)", integerArg(1))
    .option("--kv-cache-tokens <n>", "the KV cache's capacity in tokens", integerArg(1))
    .option("--max-batch-tokens <n>", "rows in one forward pass at most", integerArg(1))
    .option("--max-queue <n>", "sequences queued beyond --max-sequences before answering 429 (default 4 × max-sequences)", integerArg(0))
    .option("--chat-template <file>", "a Jinja chat template to use instead of the checkpoint's")
    .option("--drain-timeout <s>", "on SIGTERM or Ctrl-C, seconds to let requests in flight finish", numberArg(0, 86400), 30)
    .option("--max-connections <n>", "client connections open at once; more are closed (default 1024)", integerArg(1))
    .option("--headers-timeout <s>", "seconds a new connection has to send its request's headers (default 10)", numberArg(0, 86400, true))
    .option("--request-timeout <s>", "seconds a client has to send its whole request, body included (default 30)", numberArg(0, 86400, true))
    .addOption(
      new Option("--log-level <level>", "one JSON line per request on stdout at info").choices(["trace", "debug", "info", "warn", "error", "silent"]).default("info"),
    )
    .option("-v, --verbose", "print the load time to stderr, and stack traces on errors")
    .addHelpText(
      "after",
      "\nRun the gpt-cuda binary itself under a process manager (not npx, which does not pass SIGTERM on).\n" +
        "Examples:\n" +
        "  gpt-cuda serve --model gpt2 --port 8080\n" +
        "  curl http://127.0.0.1:8080/v1/completions -H 'content-type: application/json' -d '{\"prompt\": \"Hello\", \"max_tokens\": 16}'",
    )
    .action(async (flags: ServeFlags) => {
      state.verbose = flags.verbose === true;
      done(await serveCommand(flags, io));
    });

  program
    .command("info")
    .description("show the build (CUDA, CPU instruction set), threads, and with --model a checkpoint summary")
    .addOption(modelOption("the checkpoint to summarise: a directory or .safetensors file, or a pulled model (gpt2, org/name[@revision])"))
    .option("--json", "print as JSON; errors as JSON too")
    .option("-v, --verbose", "stack traces on errors")
    .action(async (flags: { model?: string; json?: boolean; verbose?: boolean }) => {
      state.verbose = flags.verbose === true;
      done(await infoCommand(flags, io));
    });

  program
    .command("pull")
    .description("download a checkpoint (GPT-2, OPT, BLOOM or GPT-Neo; safetensors or .bin) from the Hugging Face Hub into the cache")
    .argument("<repo>", "a Hub repo, e.g. openai-community/gpt2 (or a short name: gpt2 … gpt2-xl, opt-125m, bloom-560m, gpt-neo-125m, …)")
    .option("-r, --revision <rev>", "branch, tag or commit (default main)")
    .option("-v, --verbose", "stack traces on errors")
    .addHelpText(
      "after",
      `\nThe cache is $GPT_CUDA_CACHE, else ~/.cache/gpt-cuda/models (here: ${cacheRoot()}).\n` +
        "HF_ENDPOINT selects a mirror (default https://huggingface.co); HF_TOKEN is sent for private or gated repos.\n" +
        "An interrupted pull resumes where it stopped when run again.",
    )
    .action(async (repo: string, flags: { revision?: string; verbose?: boolean }) => {
      state.verbose = flags.verbose === true;
      // Ctrl-C: stop at once; finished files and .part files stay, and the next pull resumes.
      const onSigint = () => {
        io.stderr.write("\ngpt-cuda: pull interrupted; run it again to resume\n");
        process.exit(130);
      };
      process.once("SIGINT", onSigint);
      try {
        const result = await pullCommand(repo, { ...(flags.revision ? { revision: flags.revision } : {}), log: io.stderr });
        io.stdout.write(`${result.dir}\n`);
      } finally {
        process.off("SIGINT", onSigint);
      }
      done(EXIT_OK);
    });

  program
    .command("bench")
    .description("run the benchmarks (from a repository checkout)")
    .allowUnknownOption()
    .argument("[args...]", "passed to bench/run.ts")
    .action((args: string[]) => done(benchCommand(args, io)));

  return program;
}

/** The benchmarks live in the repository (bench/), not in the package: run them where they are. */
function benchCommand(args: string[], io: Io): number {
  const script = join(packageRoot, "bench", "run.ts");
  let tsx: string | null = null;
  try {
    tsx = createRequire(join(packageRoot, "package.json")).resolve("tsx");
  } catch {
    // not a checkout with dev dependencies installed
  }
  if (!existsSync(script) || tsx === null) {
    io.stderr.write(
      "gpt-cuda: the benchmarks run from a repository checkout: clone gpt-cuda, `npm install`, then `npm run bench`\n",
    );
    return EXIT_USAGE;
  }
  const child = spawnSync(process.execPath, ["--import", pathToFileURL(tsx).href, script, ...args], {
    cwd: packageRoot,
    stdio: "inherit",
  });
  return child.status ?? EXIT_RUNTIME;
}

function exitCodeFor(e: unknown): number {
  if (e instanceof UsageError) return EXIT_USAGE;
  if (e instanceof GptInputError) return EXIT_USAGE; // an option, or a prompt too long for the model
  return EXIT_RUNTIME;
}

/** A program's code for an error: the GptError code, else E_USAGE (exit 2) or E_RUNTIME (exit 1). */
function errorCode(e: unknown): string {
  if (e instanceof GptError) return e.code;
  return exitCodeFor(e) === EXIT_USAGE ? "E_USAGE" : "E_RUNTIME";
}

function report(e: unknown, io: Io, verbose: boolean, json: boolean): void {
  if (json) {
    // --json: a program reads stdout, so the error is there, as JSON, one line.
    const message = (e instanceof Error ? e.message : String(e)).replace(/^gpt-cuda: /, "");
    io.stdout.write(`${JSON.stringify({ error: { code: errorCode(e), message } })}\n`);
    if (verbose && e instanceof Error && e.stack) io.stderr.write(`${e.stack}\n`);
    return;
  }
  if (verbose && e instanceof Error && e.stack) {
    io.stderr.write(`${e.stack}\n`);
    for (let c = e.cause; c instanceof Error; c = c.cause) io.stderr.write(`caused by: ${c.stack ?? c.message}\n`);
    return;
  }
  let message = e instanceof Error ? e.message : String(e);
  message = message.replace(/^gpt-cuda: /, "");
  // The native addon's load error explains how to build it, over several lines: keep those.
  if (!(e instanceof GptError && e.code === "E_NATIVE")) message = message.replace(/\s*\n\s*/g, " ");
  io.stderr.write(`gpt-cuda: ${message}\n`);
}

/** Runs the command line `argv` (without node and the script); resolves with the exit code. */
export async function run(argv: string[], io: Io = process): Promise<number> {
  const state = { verbose: false, exitCode: EXIT_OK };
  const program = buildProgram(io, state);
  // Known before parsing, so that a bad flag next to --json is reported as JSON too.
  const json = argv.includes("--json");
  if (argv.length === 0) {
    program.outputHelp({ error: true });
    return EXIT_USAGE;
  }
  try {
    await program.parseAsync(argv, { from: "user" });
    return state.exitCode;
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version end in a CommanderError too, with exit code 0.
      if (e.exitCode === 0) return EXIT_OK;
      const message = e.message.replace(/^error: /, "");
      report(new UsageError(message), io, false, json);
      return EXIT_USAGE;
    }
    report(e, io, state.verbose, json);
    return exitCodeFor(e);
  }
}

/** Runs the command line of this process and sets its exit code. */
export async function main(): Promise<void> {
  // `gpt-cuda generate … | head` closes the pipe early: stop quietly.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(EXIT_OK);
    throw e;
  });
  process.exitCode = await run(process.argv.slice(2));
}

// Run when executed directly (node --import tsx lib/cli/main.ts …); bin/gpt-cuda.mjs calls main().
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
