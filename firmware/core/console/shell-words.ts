// Splits a console line into words the way a POSIX shell would for simple cases: blanks separate words,
// '...' and "..." group, a backslash escapes the next character. No variables, globs or pipes.

export type SplitResult = { words: string[] } | { error: string };

export function splitWords(line: string): SplitResult {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote: "'" | '"' | undefined;
  for (let index = 0; index < line.length; index++) {
    const char = line[index] ?? '';
    if (quote !== undefined) {
      if (char === quote) quote = undefined;
      else if (char === '\\' && quote === '"' && index + 1 < line.length) word += line[++index] ?? '';
      else word += char;
      continue;
    }
    if (char === ' ' || char === '\t') {
      if (inWord) words.push(word);
      word = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (char === "'" || char === '"') quote = char;
    else if (char === '\\') {
      if (index + 1 < line.length) word += line[++index] ?? '';
    } else word += char;
  }
  if (quote !== undefined) return { error: `unterminated ${quote === '"' ? 'double' : 'single'} quote` };
  if (inWord) words.push(word);
  return { words };
}
