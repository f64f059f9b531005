/**
 * Oniguruma patterns (what tokenizer.json's Split and Replace "Regex" hold; Hugging Face
 * compiles them with Oniguruma's default syntax, UTF-8) translated to JavaScript RegExp
 * source for the `v` flag, so that JavaScript matches what Oniguruma matches:
 *
 * - `.` is any character but "\n"; `^` / `$` are line anchors that know only "\n";
 *   `\A`, `\z`, `\Z`, `\b`, `\B` as Oniguruma defines them.
 * - `\s` is White_Space, `\d` is Nd, `\h` is [0-9a-fA-F], `\w` is Oniguruma's word set
 *   (Alphabetic, marks, Nd, Pc, and the Latin-1 digits ²³¹¼½¾); \p{…} takes general
 *   categories, scripts and the usual binary properties, Oniguruma's loose spelling included.
 *   Every positive property leaves out what Unicode 17 added (see unicode-pin.ts).
 * - Character classes nest (`[^(\s|[.,!?])]` is a union, as in BLOOM's pattern) and
 *   intersect (`&&`); POSIX brackets [:alpha:] and friends.
 * - Atomic groups `(?>…)` and possessive quantifiers (`*+`, `++`, `?+`) are emulated exactly
 *   with a lookahead and a back-reference; a quantifier after a quantifier nests.
 * - `(?i)` / `(?i:…)` case-insensitivity uses simple case folding, expanded into classes
 *   (Node 20 has no modifier groups); Oniguruma's multi-character folds (ß ~ ss) are not
 *   reproduced.
 *
 * What cannot be translated exactly (back-references, \G, \K, \X, absent and conditional
 * groups, callouts, a property JavaScript does not know) throws OnigTranslationError, so a
 * tokenizer that uses it fails to load instead of giving different ids.
 */
import { UNICODE_17_CATEGORY_CHANGES, UNICODE_17_CLASS, isUnicode17Addition } from "./unicode-pin.js";

export class OnigTranslationError extends Error {}

interface Flags {
  /** Case-insensitive. */
  i: boolean;
  /** Oniguruma's (?m): "." also matches "\n". */
  dotAll: boolean;
  /** (?x): white space and #-comments in the pattern are ignored. */
  extended: boolean;
}

const hex = (cp: number): string => `\\u{${cp.toString(16)}}`;

/** A literal outside a class: ASCII letters and digits as themselves, anything else escaped. */
function literal(cp: number): string {
  const alnum = (cp >= 0x30 && cp <= 0x39) || (cp >= 0x41 && cp <= 0x5a) || (cp >= 0x61 && cp <= 0x7a);
  return alnum ? String.fromCodePoint(cp) : hex(cp);
}

// ---- Unicode sets as v-flag class operands ----------------------------------------------

/** A positive property without the Unicode 17 additions (HF's tables call them unassigned). */
const pinned = (prop: string): string => `[${prop}--${UNICODE_17_CLASS}]`;

/** Oniguruma's \w: Alphabetic, M, Nd, Pc, plus ² ³ ¹ ¼ ½ ¾ (checked against Oniguruma over all code points). */
const WORD = pinned("[\\p{Alphabetic}\\p{M}\\p{Nd}\\p{Pc}\\u{b2}\\u{b3}\\u{b9}\\u{bc}-\\u{be}]");
const DIGIT = pinned("\\p{Nd}");
const SPACE = "\\p{White_Space}";
const HEX_DIGIT = "[0-9a-fA-F]";

const GENERAL_CATEGORIES: ReadonlyArray<readonly [string, string]> = [
  ["L", "Letter"], ["LC", "Cased_Letter"], ["Lu", "Uppercase_Letter"], ["Ll", "Lowercase_Letter"],
  ["Lt", "Titlecase_Letter"], ["Lm", "Modifier_Letter"], ["Lo", "Other_Letter"],
  ["M", "Mark"], ["Mn", "Nonspacing_Mark"], ["Mc", "Spacing_Mark"], ["Me", "Enclosing_Mark"],
  ["N", "Number"], ["Nd", "Decimal_Number"], ["Nl", "Letter_Number"], ["No", "Other_Number"],
  ["P", "Punctuation"], ["Pc", "Connector_Punctuation"], ["Pd", "Dash_Punctuation"],
  ["Ps", "Open_Punctuation"], ["Pe", "Close_Punctuation"], ["Pi", "Initial_Punctuation"],
  ["Pf", "Final_Punctuation"], ["Po", "Other_Punctuation"],
  ["S", "Symbol"], ["Sm", "Math_Symbol"], ["Sc", "Currency_Symbol"], ["Sk", "Modifier_Symbol"], ["So", "Other_Symbol"],
  ["Z", "Separator"], ["Zs", "Space_Separator"], ["Zl", "Line_Separator"], ["Zp", "Paragraph_Separator"],
  ["C", "Other"], ["Cc", "Control"], ["Cf", "Format"], ["Cs", "Surrogate"], ["Co", "Private_Use"], ["Cn", "Unassigned"],
];

const BINARY_PROPERTIES = [
  "Alphabetic", "White_Space", "Uppercase", "Lowercase", "Math", "Hex_Digit", "ASCII_Hex_Digit",
  "Ideographic", "Dash", "Diacritic", "Extender", "Emoji", "Emoji_Presentation", "Emoji_Modifier",
  "Emoji_Modifier_Base", "Emoji_Component", "Extended_Pictographic", "Regional_Indicator",
  "Join_Control", "Default_Ignorable_Code_Point", "Noncharacter_Code_Point", "Quotation_Mark",
  "Terminal_Punctuation", "Sentence_Terminal", "Variation_Selector", "Cased", "Case_Ignorable",
  "ID_Start", "ID_Continue", "XID_Start", "XID_Continue", "Grapheme_Base", "Grapheme_Extend",
  "Pattern_White_Space", "Pattern_Syntax", "Unified_Ideograph", "Radical", "IDS_Binary_Operator",
];

/** Oniguruma's loose property matching: case, spaces, "_" and "-" do not count. */
const loose = (name: string): string => name.toLowerCase().replace(/[\s_-]/g, "");

/** Loose name → the positive v-flag operand, for names whose set is not a plain JS property. */
const SPECIAL_PROPERTIES = new Map<string, string>([
  ["any", "[\\u{0}-\\u{10ffff}]"],
  ["assigned", `[\\P{Cn}--${UNICODE_17_CLASS}]`],
  ["ascii", "[\\u{0}-\\u{7f}]"],
  ["alpha", pinned("\\p{Alphabetic}")],
  ["alnum", pinned("[\\p{Alphabetic}\\p{Nd}]")],
  ["digit", DIGIT],
  ["space", SPACE],
  ["upper", pinned("\\p{Uppercase}")],
  ["lower", pinned("\\p{Lowercase}")],
  ["word", WORD],
  ["xdigit", HEX_DIGIT],
  ["punct", pinned("\\p{P}")],
  // The unassigned sets grow by what Unicode 17 added.
  ["cn", `[\\p{Cn}${UNICODE_17_CLASS}]`],
  ["unassigned", `[\\p{Cn}${UNICODE_17_CLASS}]`],
  ["c", `[\\p{C}${UNICODE_17_CLASS}]`],
  ["other", `[\\p{C}${UNICODE_17_CLASS}]`],
]);

/** POSIX bracket names inside a class ([:alpha:]), as Oniguruma defines them for Unicode. */
const POSIX_CLASSES = new Map<string, string>([
  ["alpha", pinned("\\p{Alphabetic}")],
  ["alnum", pinned("[\\p{Alphabetic}\\p{Nd}]")],
  ["digit", DIGIT],
  ["space", SPACE],
  ["upper", pinned("\\p{Uppercase}")],
  ["lower", pinned("\\p{Lowercase}")],
  ["word", WORD],
  ["xdigit", HEX_DIGIT],
  ["punct", pinned("[\\p{P}\\p{S}]")],
  ["ascii", "[\\u{0}-\\u{7f}]"],
]);

/**
 * \p{gc} as Unicode 16 has it: without the Unicode 17 additions, and with the code points
 * whose category 17 changed put back where 16 had them (ʕ is Ll, not Lo).
 */
function generalCategory(gc: string): string {
  const hasGc = (cat: string): boolean => cat === gc || (gc.length === 1 && cat.startsWith(gc)) || (gc === "LC" && /^L[ult]$/.test(cat));
  let set = pinned(`\\p{${gc}}`);
  for (const { cp, was, now } of UNICODE_17_CATEGORY_CHANGES) {
    if (hasGc(was) && !hasGc(now)) set = `[${set}${hex(cp)}]`;
    else if (hasGc(now) && !hasGc(was)) set = `[${set}--${hex(cp)}]`;
  }
  return set;
}

const propertyCache = new Map<string, string | null>();

function isValidProperty(body: string): boolean {
  try {
    new RegExp(`\\p{${body}}`, "v");
    return true;
  } catch {
    return false;
  }
}

/** The positive v-flag operand for Oniguruma's \p{name}, or null if JavaScript has no such property. */
function resolveProperty(name: string): string | null {
  const key = loose(name);
  const cached = propertyCache.get(key);
  if (cached !== undefined) return cached;
  let out: string | null = SPECIAL_PROPERTIES.get(key) ?? null;
  if (out === null) {
    const gc = GENERAL_CATEGORIES.find(([short, long]) => loose(short) === key || loose(long) === key);
    const binary = BINARY_PROPERTIES.find((p) => loose(p) === key);
    if (gc) out = generalCategory(gc[0]);
    else if (binary) out = pinned(`\\p{${binary}}`);
    else {
      // A script: JavaScript wants Script=Name with Unicode's spelling (Old_Italic, Han).
      const titled = name
        .trim()
        .split(/[\s_-]+/)
        .map((w) => w.charAt(0).toUpperCase() + w.slice(1).toLowerCase())
        .join("_");
      for (const candidate of [name, titled]) {
        if (/^[A-Za-z_]+$/.test(candidate) && isValidProperty(`Script=${candidate}`)) {
          out = pinned(`\\p{Script=${candidate}}`);
          break;
        }
      }
    }
  }
  propertyCache.set(key, out);
  return out;
}

// ---- case folding ------------------------------------------------------------------------

let foldGroups: Map<number, readonly number[]> | null = null;

/**
 * The code points simple case folding makes equal to `cp` (itself included). Candidates are
 * linked by toLowerCase/toUpperCase; each is kept only if JavaScript's /iu (simple case
 * folding, like Oniguruma's single-character folds) says it matches.
 */
function caseVariants(cp: number): readonly number[] {
  if (foldGroups === null) {
    const parent = new Map<number, number>();
    const find = (x: number): number => {
      let r = x;
      while (parent.has(r) && parent.get(r) !== r) r = parent.get(r)!;
      return r;
    };
    const union = (a: number, b: number): void => {
      const ra = find(a);
      const rb = find(b);
      if (ra !== rb) parent.set(ra, rb);
    };
    for (let c = 0; c < 0x20000; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      if (isUnicode17Addition(c)) continue;
      const s = String.fromCodePoint(c);
      for (const t of [s.toLowerCase(), s.toUpperCase()]) {
        const other = t.codePointAt(0)!;
        if (t.length === String.fromCodePoint(other).length && other !== c && !isUnicode17Addition(other)) {
          if (!parent.has(c)) parent.set(c, c);
          if (!parent.has(other)) parent.set(other, other);
          union(c, other);
        }
      }
    }
    const groups = new Map<number, number[]>();
    for (const c of parent.keys()) {
      const r = find(c);
      let g = groups.get(r);
      if (!g) groups.set(r, (g = []));
      g.push(c);
    }
    foldGroups = new Map();
    for (const g of groups.values()) for (const c of g) foldGroups.set(c, g);
  }
  const group = foldGroups.get(cp);
  if (!group) return [cp];
  const re = new RegExp(hex(cp), "iu");
  return group.filter((c) => c === cp || re.test(String.fromCodePoint(c)));
}

let multiFold: Set<string> | null = null;

/** The strings some character fully case-folds to when that is more than one character ("ss" for ß). */
function multiFoldTargets(): ReadonlySet<string> {
  if (multiFold === null) {
    multiFold = new Set();
    for (let c = 0; c < 0x20000; c++) {
      if (c >= 0xd800 && c <= 0xdfff) continue;
      const s = String.fromCodePoint(c);
      for (const t of [s.toUpperCase().toLowerCase(), s.toLowerCase()]) if (Array.from(t).length > 1) multiFold.add(t);
    }
  }
  return multiFold;
}

// ---- the parser --------------------------------------------------------------------------

/** One piece of a character class being built: v-flag operands whose union it is. */
interface ClassUnion {
  parts: string[];
}

class Translator {
  private readonly cps: number[];
  private pos = 0;
  private atomicCount = 0;
  /** The code point of the atom just parsed when it is a literal under (?i), else null. */
  private lastCaseLiteral: number | null = null;

  constructor(private readonly pattern: string) {
    this.cps = Array.from(pattern, (c) => c.codePointAt(0)!);
  }

  translate(): string {
    const out = this.parseAlternation({ i: false, dotAll: false, extended: false });
    if (this.pos < this.cps.length) this.fail(`unmatched ")"`);
    return out;
  }

  private fail(problem: string): never {
    throw new OnigTranslationError(`${problem} at offset ${this.pos} of ${JSON.stringify(this.pattern)}`);
  }

  private peek(offset = 0): number | undefined {
    return this.cps[this.pos + offset];
  }

  private eat(ch: string): boolean {
    if (this.peek() === ch.codePointAt(0)) {
      this.pos++;
      return true;
    }
    return false;
  }

  private skipExtended(flags: Flags): void {
    if (!flags.extended) return;
    for (;;) {
      const c = this.peek();
      if (c === undefined) return;
      if (c === 0x20 || (c >= 0x09 && c <= 0x0d)) this.pos++;
      else if (c === 0x23 /* # */) {
        while (this.peek() !== undefined && this.peek() !== 0x0a) this.pos++;
      } else return;
    }
  }

  private parseAlternation(flags: Flags): string {
    const alts: string[] = [this.parseSequence(flags)];
    while (this.eat("|")) alts.push(this.parseSequence(flags));
    return alts.join("|");
  }

  private parseSequence(flags: Flags): string {
    let out = "";
    let caseRun = "";
    for (;;) {
      this.skipExtended(flags);
      const c = this.peek();
      if (c === undefined || c === 0x7c /* | */ || c === 0x29 /* ) */) {
        this.checkFoldRun(caseRun);
        return out;
      }
      // An option switch "(?i)" applies to the rest of the enclosing group, later alternatives included.
      const switched = this.tryOptionSwitch(flags);
      if (switched !== null) {
        this.checkFoldRun(caseRun);
        const rest = this.parseAlternation(switched);
        return out + (rest === "" ? "" : `(?:${rest})`);
      }
      this.lastCaseLiteral = null;
      let atom = this.parseAtom(flags);
      if (atom === null) continue; // a comment group
      const literal = this.lastCaseLiteral;
      const beforeQuantifier = this.pos;
      atom = this.parseQuantifiers(atom, flags);
      if (literal !== null && this.pos === beforeQuantifier) caseRun += String.fromCodePoint(literal);
      else {
        this.checkFoldRun(caseRun);
        caseRun = "";
      }
      out += atom;
    }
  }

  /**
   * Under (?i) Oniguruma also matches a literal run by full case folding: "ss" matches "ß",
   * "fi" matches "ﬁ". We do not reproduce that, so refuse a run where it could happen.
   */
  private checkFoldRun(run: string): void {
    if (run === "") return;
    const folded = Array.from(run, (c) => c.toLowerCase()).join("");
    for (const c of run) if (multiFoldTargets().has(c.toUpperCase().toLowerCase()) || c.toLowerCase().length > c.length) {
      this.fail(`(?i) on ${JSON.stringify(c)}, which case-folds to several characters, is not supported`);
    }
    for (const target of multiFoldTargets()) {
      if (folded.includes(target)) this.fail(`(?i) on ${JSON.stringify(run)}, which holds ${JSON.stringify(target)} (a character's full case folding), is not supported`);
    }
  }

  /** "(?imx-imx)" with no ":" : returns the new flags and consumes it, else null. */
  private tryOptionSwitch(flags: Flags): Flags | null {
    if (this.peek() !== 0x28 || this.peek(1) !== 0x3f) return null;
    let j = this.pos + 2;
    let on = true;
    const next: Flags = { ...flags };
    for (;;) {
      const c = this.cps[j];
      if (c === 0x29 /* ) */) break;
      if (c === 0x2d /* - */) on = false;
      else if (c === 0x69 /* i */) next.i = on;
      else if (c === 0x6d /* m */) next.dotAll = on;
      else if (c === 0x78 /* x */) next.extended = on;
      else return null;
      j++;
    }
    if (j === this.pos + 2) return null; // "(?)"
    this.pos = j + 1;
    return next;
  }

  private parseQuantifiers(atom: string, flags: Flags): string {
    let out = atom;
    let quantified = false;
    for (;;) {
      this.skipExtended(flags);
      const c = this.peek();
      let q: string | null = null;
      if (c === 0x2a) q = "*";
      else if (c === 0x2b) q = "+";
      else if (c === 0x3f) q = "?";
      else if (c === 0x7b) q = this.tryInterval();
      if (q === null) return out;
      if (c !== 0x7b) this.pos++;
      let mode: "greedy" | "lazy" | "possessive" = "greedy";
      if (this.peek() === 0x3f) {
        this.pos++;
        mode = "lazy";
      } else if (this.peek() === 0x2b && c !== 0x7b) {
        // "{n,m}+" is a second quantifier in Oniguruma's syntax, not a possessive one.
        this.pos++;
        mode = "possessive";
      }
      const body = quantified ? `(?:${out})` : out;
      if (mode === "possessive") {
        out = this.atomic(`${body}${q}`);
        quantified = false; // the atomic wrapper is an atom again
      } else {
        out = `${body}${q}${mode === "lazy" ? "?" : ""}`;
        quantified = true;
      }
    }
  }

  /** "{n}", "{n,}", "{n,m}", "{,m}" at pos: the JS quantifier (pos moved past it), else null ("{" is a literal). */
  private tryInterval(): string | null {
    let j = this.pos + 1;
    const digits = (): string => {
      let s = "";
      while (this.cps[j] !== undefined && this.cps[j]! >= 0x30 && this.cps[j]! <= 0x39) s += String.fromCodePoint(this.cps[j++]!);
      return s;
    };
    const low = digits();
    let high: string | null = null;
    if (this.cps[j] === 0x2c /* , */) {
      j++;
      high = digits();
    }
    if (this.cps[j] !== 0x7d /* } */) return null;
    if (low === "" && (high === null || high === "")) return null;
    this.pos = j + 1;
    if (high === null) return `{${Number(low)}}`;
    if (high === "") return `{${Number(low)},}`;
    const lo = low === "" ? 0 : Number(low);
    if (Number(high) < lo) this.fail("interval {n,m} with m < n");
    return `{${lo},${Number(high)}}`;
  }

  private atomic(body: string): string {
    const name = `onigAtomic${this.atomicCount++}`;
    return `(?=(?<${name}>${body}))\\k<${name}>`;
  }

  /** One atom as JS source; null for a comment group. */
  private parseAtom(flags: Flags): string | null {
    const c = this.peek()!;
    switch (c) {
      case 0x28: // (
        return this.parseGroup(flags);
      case 0x5b: // [
        return this.parseClass(flags);
      case 0x2e: // .
        this.pos++;
        return flags.dotAll ? "[\\u{0}-\\u{10ffff}]" : "[^\\n]";
      case 0x5e: // ^
        this.pos++;
        return "(?<![^\\n])";
      case 0x24: // $
        this.pos++;
        return "(?![^\\n])";
      case 0x5c: // \
        return this.parseEscape(flags);
      case 0x2a:
      case 0x2b:
      case 0x3f:
        this.fail("target of repeat operator is not specified");
        break;
      default:
        if (c === 0x7b && this.tryIntervalPeek()) this.fail("target of repeat operator is not specified");
    }
    this.pos++;
    return this.charAtom(c, flags);
  }

  private tryIntervalPeek(): boolean {
    const save = this.pos;
    const q = this.tryInterval();
    this.pos = save;
    return q !== null;
  }

  private charAtom(cp: number, flags: Flags): string {
    if (!flags.i) return literal(cp);
    this.lastCaseLiteral = cp;
    const variants = caseVariants(cp);
    return variants.length === 1 ? literal(cp) : `[${variants.map(hex).join("")}]`;
  }

  private parseGroup(flags: Flags): string | null {
    this.pos++; // (
    let prefix = "(?:";
    let inner = flags;
    let atomic = false;
    if (this.eat("?")) {
      const c = this.peek();
      if (c === 0x3a /* : */) this.pos++;
      else if (c === 0x3d /* = */) (this.pos++, (prefix = "(?="));
      else if (c === 0x21 /* ! */) (this.pos++, (prefix = "(?!"));
      else if (c === 0x3e /* > */) (this.pos++, (atomic = true));
      else if (c === 0x3c /* < */ && this.peek(1) === 0x3d) ((this.pos += 2), (prefix = "(?<="));
      else if (c === 0x3c && this.peek(1) === 0x21) ((this.pos += 2), (prefix = "(?<!"));
      else if (c === 0x3c /* <name> */ || c === 0x27 /* 'name' */) {
        const close = c === 0x3c ? 0x3e : 0x27;
        this.pos++;
        while (this.peek() !== undefined && this.peek() !== close) this.pos++;
        if (!this.eat(String.fromCodePoint(close))) this.fail("unterminated group name");
      } else if (c === 0x23 /* # comment */) {
        while (this.peek() !== undefined && this.peek() !== 0x29) this.pos++;
        if (!this.eat(")")) this.fail("unterminated comment group");
        return null;
      } else {
        // (?imx-imx:...)
        let on = true;
        const next: Flags = { ...flags };
        for (;;) {
          const f = this.peek();
          if (f === 0x3a) break;
          if (f === 0x2d) on = false;
          else if (f === 0x69) next.i = on;
          else if (f === 0x6d) next.dotAll = on;
          else if (f === 0x78) next.extended = on;
          else this.fail(`unsupported group "(?${f === undefined ? "" : String.fromCodePoint(f)}"`);
          this.pos++;
        }
        this.pos++; // :
        inner = next;
      }
    }
    const body = this.parseAlternation(inner);
    if (!this.eat(")")) this.fail('missing ")"');
    return atomic ? this.atomic(body) : `${prefix}${body})`;
  }

  private parseEscape(flags: Flags): string {
    this.pos++; // backslash
    const c = this.peek();
    if (c === undefined) this.fail("trailing backslash");
    const ch = String.fromCodePoint(c);
    this.pos++;
    switch (ch) {
      case "d":
        return DIGIT;
      case "D":
        return `[^${DIGIT}]`;
      case "w":
        return WORD;
      case "W":
        return `[^${WORD}]`;
      case "s":
        return SPACE;
      case "S":
        return "\\P{White_Space}";
      case "h":
        return HEX_DIGIT;
      case "H":
        return "[^0-9a-fA-F]";
      case "p":
      case "P":
        return this.noCaseSet(this.parseProperty(ch === "P"), flags);
      case "A":
        return "(?<![\\u{0}-\\u{10ffff}])";
      case "z":
        return "(?![\\u{0}-\\u{10ffff}])";
      case "Z":
        return "(?=\\n?(?![\\u{0}-\\u{10ffff}]))";
      case "b":
        return `(?:(?<=${WORD})(?!${WORD})|(?<!${WORD})(?=${WORD}))`;
      case "B":
        return `(?:(?<=${WORD})(?=${WORD})|(?<!${WORD})(?!${WORD}))`;
      case "R":
        return this.atomic("\\r\\n|[\\n\\v\\f\\r\\u{85}\\u{2028}\\u{2029}]");
      case "N":
        return "[^\\n]";
      case "O":
        return "[\\u{0}-\\u{10ffff}]";
      default: {
        const cp = this.charEscape(c, false);
        return this.charAtom(cp, flags);
      }
    }
  }

  /** A property class; Oniguruma applies (?i) to it, which we refuse rather than guess. */
  private noCaseSet(set: string, flags: Flags): string {
    if (flags.i) this.fail("a Unicode property inside (?i) is not supported");
    return set;
  }

  /** After "\p" or "\P": "{name}" or "{^name}". */
  private parseProperty(negated: boolean): string {
    if (!this.eat("{")) this.fail("\\p must be followed by {name}");
    let neg = negated;
    if (this.eat("^")) neg = !neg;
    let name = "";
    while (this.peek() !== undefined && this.peek() !== 0x7d) name += String.fromCodePoint(this.cps[this.pos++]!);
    if (!this.eat("}")) this.fail("unterminated \\p{");
    const set = resolveProperty(name);
    if (set === null) this.fail(`unknown Unicode property ${JSON.stringify(name)}`);
    return neg ? `[^${set}]` : set;
  }

  /**
   * The code point of a character escape whose letter `c` was just consumed (\n, \x41,
   * \u{…}, \., …). `inClass`: \b is a backspace there.
   */
  private charEscape(c: number, inClass: boolean): number {
    const ch = String.fromCodePoint(c);
    const simple: Record<string, number> = { t: 9, n: 10, r: 13, f: 12, v: 11, a: 7, e: 27 };
    if (simple[ch] !== undefined) return simple[ch];
    if (ch === "b" && inClass) return 8;
    if (ch === "x") {
      if (this.eat("{")) return this.hexDigits(1, 8, true);
      return this.hexDigits(0, 2, false);
    }
    if (ch === "u") return this.hexDigits(4, 4, false);
    if (ch === "0") {
      let v = 0;
      for (let k = 0; k < 2 && this.peek() !== undefined && this.peek()! >= 0x30 && this.peek()! <= 0x37; k++) {
        v = v * 8 + (this.cps[this.pos++]! - 0x30);
      }
      return v;
    }
    if (ch === "o" && this.peek() === 0x7b) {
      this.pos++;
      let v = 0;
      while (this.peek() !== undefined && this.peek() !== 0x7d) v = v * 8 + (this.cps[this.pos++]! - 0x30);
      this.pos++;
      return v;
    }
    if (/[1-9]/.test(ch)) this.fail("back-references are not supported");
    if (/[A-Za-z]/.test(ch)) this.fail(`unsupported escape "\\${ch}"`);
    return c; // an escaped punctuation or other character stands for itself
  }

  private hexDigits(min: number, max: number, braced: boolean): number {
    let s = "";
    while (s.length < max) {
      const c = this.peek();
      if (c === undefined || !/[0-9a-fA-F]/.test(String.fromCodePoint(c))) break;
      s += String.fromCodePoint(c);
      this.pos++;
    }
    if (s.length < min) this.fail("bad hexadecimal escape");
    if (braced && !this.eat("}")) this.fail("unterminated \\x{");
    const v = s === "" ? 0 : Number.parseInt(s, 16);
    if (v > 0x10ffff) this.fail("code point out of range");
    return v;
  }

  // ---- character classes ----

  private parseClass(flags: Flags): string {
    this.pos++; // [
    const negated = this.eat("^");
    if (negated && flags.i) this.fail("a negated class inside (?i) is not supported");
    const intersection: ClassUnion[] = [{ parts: [] }];
    let first = true;
    for (;;) {
      const c = this.peek();
      if (c === undefined) this.fail('premature end of char-class');
      if (c === 0x5d /* ] */ && !first) {
        this.pos++;
        break;
      }
      first = false;
      const current = intersection[intersection.length - 1]!;
      if (c === 0x26 && this.peek(1) === 0x26) {
        this.pos += 2;
        intersection.push({ parts: [] });
        continue;
      }
      if (c === 0x5b && this.peek(1) === 0x3a) {
        const posix = this.tryPosix();
        if (posix !== null) {
          current.parts.push(this.noCaseSet(posix, flags));
          continue;
        }
      }
      if (c === 0x5b /* nested class */) {
        current.parts.push(this.parseClass(flags));
        continue;
      }
      const start = this.classAtom(flags);
      if (typeof start === "string") {
        current.parts.push(start);
        continue;
      }
      // A range "a-b" (a "-" before "]" or "&&" is a literal).
      if (this.peek() === 0x2d && this.peek(1) !== undefined && this.peek(1) !== 0x5d && !(this.peek(1) === 0x26 && this.peek(2) === 0x26)) {
        const save = this.pos;
        this.pos++;
        if (this.peek() === 0x5b) {
          this.pos = save; // "a-[" : "-" is a literal and a nested class follows
        } else {
          const end = this.classAtom(flags);
          if (typeof end === "string") this.fail("a range cannot end in a class");
          if (end < start) this.fail("empty range in char class");
          current.parts.push(...this.rangeParts(start, end, flags));
          continue;
        }
      }
      current.parts.push(...this.rangeParts(start, start, flags));
    }
    const body =
      intersection.length === 1
        ? intersection[0]!.parts.join("")
        : intersection.map((u) => `[${u.parts.join("")}]`).join("&&");
    return `[${negated ? "^" : ""}${body}]`;
  }

  /** "[:name:]" or "[:^name:]" at pos (inside a class): its operand, or null if it is not one. */
  private tryPosix(): string | null {
    let j = this.pos + 2;
    let neg = false;
    if (this.cps[j] === 0x5e) {
      neg = true;
      j++;
    }
    let name = "";
    while (this.cps[j] !== undefined && /[a-z]/.test(String.fromCodePoint(this.cps[j]!))) name += String.fromCodePoint(this.cps[j++]!);
    if (this.cps[j] !== 0x3a || this.cps[j + 1] !== 0x5d) return null;
    const set = POSIX_CLASSES.get(name);
    if (set === undefined) this.fail(`unsupported POSIX bracket [:${name}:]`);
    this.pos = j + 2;
    return neg ? `[^${set}]` : set;
  }

  /** One class member: a code point, or a set operand (\d, \p{…}) as a string. */
  private classAtom(flags: Flags): number | string {
    const c = this.cps[this.pos++]!;
    if (c !== 0x5c) return c;
    const e = this.peek();
    if (e === undefined) this.fail("trailing backslash");
    const ch = String.fromCodePoint(e);
    this.pos++;
    switch (ch) {
      case "d":
        return DIGIT;
      case "D":
        return `[^${DIGIT}]`;
      case "w":
        return this.noCaseSet(WORD, flags);
      case "W":
        return this.noCaseSet(`[^${WORD}]`, flags);
      case "s":
        return SPACE;
      case "S":
        return "\\P{White_Space}";
      case "h":
        return HEX_DIGIT;
      case "H":
        return "[^0-9a-fA-F]";
      case "p":
      case "P":
        return this.noCaseSet(this.parseProperty(ch === "P"), flags);
      case "R":
      case "N":
      case "O":
      case "A":
      case "z":
      case "Z":
      case "B":
        this.fail(`"\\${ch}" is not allowed in a character class`);
        break;
      default:
        return this.charEscape(e, true);
    }
  }

  /** The class operands for the range a..b, with case variants under (?i). */
  private rangeParts(a: number, b: number, flags: Flags): string[] {
    const parts = [a === b ? hex(a) : `${hex(a)}-${hex(b)}`];
    if (flags.i) {
      if (b - a > 0x3000) this.fail("a large range inside (?i) is not supported");
      const extra = new Set<number>();
      for (let cp = a; cp <= b; cp++) for (const v of caseVariants(cp)) if (v < a || v > b) extra.add(v);
      for (const v of [...extra].sort((x, y) => x - y)) parts.push(hex(v));
    }
    return parts;
  }
}

/** JavaScript source (for the `v` flag) matching what Oniguruma matches for `pattern`. */
export function translateOniguruma(pattern: string): string {
  const source = new Translator(pattern).translate();
  try {
    new RegExp(source, "v");
  } catch (err) {
    throw new OnigTranslationError(`cannot be translated to JavaScript (${(err as Error).message})`);
  }
  return source;
}

/** The source of a regex matching `text` literally (Split / Replace "String" patterns). */
export function literalPattern(text: string): string {
  return Array.from(text, (c) => literal(c.codePointAt(0)!)).join("");
}
