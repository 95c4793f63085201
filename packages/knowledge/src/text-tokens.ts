// One tokenizer for the keyword index and the local embedder, so a query and a chunk are cut
// into words the same way by both halves of hybrid search.

const wordPattern = /[\p{L}\p{N}]+/gu;

/** English function words that carry no topic; dropped from unigram features and keyword terms. */
export const stopWords: ReadonlySet<string> = new Set(
  (
    'a an and are as at be been but by can could did do does for from had has have how i if in into is it its ' +
    'may me my no not of on or our should so than that the their them then there these they this to was we ' +
    'were what when where which who why will with would you your'
  ).split(' '),
);

/** Lower-cased words (letters and digits of any script), NFKC-normalised. */
export function words(text: string): string[] {
  return text.normalize('NFKC').toLowerCase().match(wordPattern) ?? [];
}

/** Words without stop words: the terms the keyword index scores. */
export function terms(text: string): string[] {
  return words(text).filter((word) => !stopWords.has(word));
}
