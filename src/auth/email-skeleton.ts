import unhomoglyph from "unhomoglyph";

/**
 * The UTS #39 confusable skeleton of `text` (Unicode Technical Standard #39, section 4 "Confusable
 * Detection"): NFD, then every character replaced by its prototype from the Unicode
 * `confusables.txt` mapping, then NFD again. Two strings that look alike have the same skeleton:
 * Cyrillic `ѕорһіе` and Latin `sophie` both give `sophie`, `m` gives `rn`, `1` gives `l`. A skeleton
 * is for comparing only, never for showing or sending: it is a hodgepodge of scripts
 * (`alice@acme.com` gives `alice@acrne.corn`).
 *
 * The prototypes come from the `unhomoglyph` package (MIT, pinned exactly), whose `data.json` is
 * the whole `confusables.txt` mapping, one code point to its prototype, and whose one function
 * applies it character by character; the two NFD steps around it are ours. It was chosen over
 * `unicode-confusables` (the same kind of table, but of Unicode 10.0, and no NFD), `confusables`
 * (a hand-made list for English profanity filters, not `confusables.txt`) and `decancer` (a native
 * module with its own mapping): of the npm packages looked at, it is the only one whose data is
 * the standard's table in full. Its data is of Unicode 13.0.0 (2020); 17.0.0 adds about 250
 * mappings (mostly new characters) and changes 39, among them Cyrillic small palochka `ӏ`, which
 * 13.0 maps to `i` and 17.0 to `l`: `аӏісе` is not yet caught as a look-alike of `alice`. A newer
 * table must come from a package too (no copy of Unicode's data file lives in this repository).
 *
 * The standard's step of removing default-ignorable code points is left out: `normalizeEmail`
 * refuses an address with any of them before a skeleton is taken.
 *
 * Skeletons are stored (`auth.users.email_skeleton`, migration 0007): a change of the mapping (a
 * new `unhomoglyph`) changes what new addresses give, so it needs a migration that recomputes the
 * stored ones, or look-alikes of older accounts slip through.
 */
export function skeleton(text: string): string {
  return unhomoglyph(text.normalize("NFD")).normalize("NFD");
}

/**
 * The skeleton of a normalised email (what `normalizeEmail` returns), local part, `@` and domain
 * alike: an account is refused when its address's skeleton is another account's.
 */
export function emailSkeleton(normalizedEmail: string): string {
  return skeleton(normalizedEmail);
}
