/**
 * @module model/ioi
 * A seeded generator of indirect-object-identification prompts (Wang et al. 2022, "Interpretability
 * in the Wild"), with the templates, names, places and objects of the IOI dataset code that
 * TransformerLens users run (Redwood's ioi_dataset.py): 15 BABA templates ("Then, [B] and [A] went to
 * the [PLACE]. [B] gave a [OBJECT] to [A]"), their ABBA forms (the first [B] and the first [A]
 * swapped), its 99 first names, 8 places and 8 objects. Prompt i is BABA for even i and ABBA for odd i; the
 * template, two distinct names (A is the indirect object IO, B the subject S), the place and the object
 * are drawn uniformly with xoshiro128** from the seed (src/analysis/random.ts). The text stops before
 * the answer: it ends with " to", the END token, and the model's next token should be IO.
 */
import { createRng } from "../analysis/random";

export const IOI_NAMES = [
  "Michael", "Christopher", "Jessica", "Matthew", "Ashley", "Jennifer", "Joshua", "Amanda", "Daniel", "David",
  "James", "Robert", "John", "Joseph", "Andrew", "Ryan", "Brandon", "Jason", "Justin", "Sarah",
  "William", "Jonathan", "Stephanie", "Brian", "Nicole", "Nicholas", "Anthony", "Heather", "Eric", "Elizabeth",
  "Adam", "Megan", "Melissa", "Kevin", "Steven", "Thomas", "Timothy", "Christina", "Kyle", "Rachel",
  "Laura", "Lauren", "Amber", "Brittany", "Danielle", "Richard", "Kimberly", "Jeffrey", "Amy", "Crystal",
  "Michelle", "Tiffany", "Jeremy", "Benjamin", "Mark", "Emily", "Aaron", "Charles", "Rebecca", "Jacob",
  "Stephen", "Patrick", "Sean", "Erin", "Jamie", "Kelly", "Samantha", "Nathan", "Sara", "Dustin",
  "Paul", "Angela", "Tyler", "Scott", "Katherine", "Andrea", "Gregory", "Erica", "Mary", "Travis",
  "Lisa", "Kenneth", "Bryan", "Lindsey", "Kristen", "Jose", "Alexander", "Jesse", "Katie", "Lindsay",
  "Shannon", "Vanessa", "Courtney", "Christine", "Alicia", "Cody", "Allison", "Bradley", "Samuel",
];

export const IOI_PLACES = ["store", "garden", "restaurant", "school", "hospital", "office", "house", "station"];
export const IOI_OBJECTS = ["ring", "kiss", "bone", "basketball", "computer", "necklace", "drink", "snack"];

export const BABA_TEMPLATES = [
  "Then, [B] and [A] went to the [PLACE]. [B] gave a [OBJECT] to [A]",
  "Then, [B] and [A] had a lot of fun at the [PLACE]. [B] gave a [OBJECT] to [A]",
  "Then, [B] and [A] were working at the [PLACE]. [B] decided to give a [OBJECT] to [A]",
  "Then, [B] and [A] were thinking about going to the [PLACE]. [B] wanted to give a [OBJECT] to [A]",
  "Then, [B] and [A] had a long argument, and afterwards [B] said to [A]",
  "After [B] and [A] went to the [PLACE], [B] gave a [OBJECT] to [A]",
  "When [B] and [A] got a [OBJECT] at the [PLACE], [B] decided to give it to [A]",
  "When [B] and [A] got a [OBJECT] at the [PLACE], [B] decided to give the [OBJECT] to [A]",
  "While [B] and [A] were working at the [PLACE], [B] gave a [OBJECT] to [A]",
  "While [B] and [A] were commuting to the [PLACE], [B] gave a [OBJECT] to [A]",
  "After the lunch, [B] and [A] went to the [PLACE]. [B] gave a [OBJECT] to [A]",
  "Afterwards, [B] and [A] went to the [PLACE]. [B] gave a [OBJECT] to [A]",
  "Then, [B] and [A] had a long argument. Afterwards [B] said to [A]",
  "The [PLACE] [B] and [A] went to had a [OBJECT]. [B] gave it to [A]",
  "Friends [B] and [A] found a [OBJECT] at the [PLACE]. [B] gave it to [A]",
];

/** ABBA form of a BABA template: the first [B] and the first [A] (both in the first clause) swapped. */
export function abba(template: string): string {
  const b = template.indexOf("[B]");
  const a = template.indexOf("[A]");
  return template.slice(0, b) + "[A]" + template.slice(b + 3, a) + "[B]" + template.slice(a + 3);
}
export const ABBA_TEMPLATES = BABA_TEMPLATES.map(abba);

export type IoiKind = "BABA" | "ABBA";

/** One IOI prompt as text, with where its names are (character offsets of the space before each). */
export interface IoiText {
  text: string;
  kind: IoiKind;
  template: number;
  io: string;
  s: string;
  place: string;
  object: string;
  /** character offset of " IO", " S" (first) and " S" (second) in text */
  chars: { IO: number; S1: number; S2: number };
}

/** `n` IOI prompts from `seed`. */
export function ioiTexts(n: number, seed = 0): IoiText[] {
  const rng = createRng(seed);
  const pick = <T>(xs: T[]): T => xs[Math.floor(rng.uniform() * xs.length)];
  const out: IoiText[] = [];
  for (let i = 0; i < n; i++) {
    const kind: IoiKind = i % 2 === 0 ? "BABA" : "ABBA";
    const templates = kind === "BABA" ? BABA_TEMPLATES : ABBA_TEMPLATES;
    const template = Math.floor(rng.uniform() * templates.length);
    const io = pick(IOI_NAMES);
    let s = pick(IOI_NAMES);
    while (s === io) s = pick(IOI_NAMES);
    const place = pick(IOI_PLACES);
    const object = pick(IOI_OBJECTS);
    // drop the answer: the text ends with " to" (END)
    const t = templates[template].replace(/ \[A\]$/, "").replaceAll("[PLACE]", place).replaceAll("[OBJECT]", object);
    // names in order of appearance; [A] → IO, [B] → S
    let text = "";
    const at: Array<{ who: "A" | "B"; char: number }> = [];
    let rest = t;
    for (;;) {
      const m = /\[(A|B)\]/.exec(rest);
      if (!m) break;
      text += rest.slice(0, m.index);
      at.push({ who: m[1] as "A" | "B", char: text.length - 1 }); // the space before the name
      text += m[1] === "A" ? io : s;
      rest = rest.slice(m.index + 3);
    }
    text += rest;
    const sAt = at.filter((x) => x.who === "B").map((x) => x.char);
    out.push({ text, kind, template, io, s, place, object, chars: { IO: at.find((x) => x.who === "A")!.char, S1: sAt[0], S2: sAt[1] } });
  }
  return out;
}
