// Node 20.0–20.3 have no Symbol.dispose: define it as the symbol TypeScript's `using` falls back
// to (Symbol.for("Symbol.dispose")), so that `using gpt = …` frees the model there too.
const symbols = Symbol as { dispose?: symbol };
symbols.dispose ??= Symbol.for("Symbol.dispose");
