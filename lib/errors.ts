/**
 * Every error gpt-cuda throws on purpose is a GptError. The subclass says whose fault it is,
 * `code` is stable for programs, and the message names the file, value or limit at fault.
 */
export type GptErrorCode =
  | "E_CHECKPOINT" // a model file is missing, unreadable, malformed or disagrees with its config
  | "E_UNSUPPORTED" // a well-formed checkpoint of an architecture or activation we do not run
  | "E_TOKENIZER" // tokenizer files are missing or malformed
  | "E_INVALID_ARGUMENT" // an option, prompt or token id the caller passed is out of range
  | "E_CONTEXT_OVERFLOW" // prompt plus requested tokens exceed the model's positions
  | "E_DISPOSED" // the model was used after dispose()
  | "E_NATIVE" // the native addon could not be loaded or failed inside
  | "E_DEVICE" // the requested device is not available
  | "E_DOWNLOAD"; // a pull failed: the hub unreachable or refusing, a file failing its checksum

export class GptError extends Error {
  readonly code: GptErrorCode;
  constructor(code: GptErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A checkpoint or tokenizer file on disk is wrong; `file` is its path. */
export class GptLoadError extends GptError {
  readonly file: string;
  constructor(
    code: "E_CHECKPOINT" | "E_UNSUPPORTED" | "E_TOKENIZER",
    file: string,
    problem: string,
    options?: { cause?: unknown },
  ) {
    super(code, `${file}: ${problem}`, options);
    this.file = file;
  }
}

/** The caller passed something out of range. */
export class GptInputError extends GptError {
  constructor(message: string, code: "E_INVALID_ARGUMENT" | "E_CONTEXT_OVERFLOW" = "E_INVALID_ARGUMENT") {
    super(code, message);
  }
}
