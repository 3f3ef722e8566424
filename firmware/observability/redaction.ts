// What keeps secrets out of support bundles. Two independent layers: (1) known secret values (the users table's
// password hashes and salts, read when the bundle is made) are replaced wherever they appear, whatever the
// format; (2) fields and `key=value` pairs whose NAME says secret are removed from log lines, so a secret
// logged by mistake does not leave the appliance either.

export const REDACTED = '[REDACTED]';

/** Names of fields that hold secrets: password, passwd, secret, salt, token, credential, private key, hash. */
const SECRET_NAME = /pass(?:word|wd|phrase)?|secret|salt|token|credential|private[-_]?key|hash/i;

/** Secret values shorter than this are not searched for: they would match unrelated text. */
export const MIN_SECRET_LENGTH = 8;

/** Whether a field name says its value is secret. */
export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name);
}

/** Replaces every occurrence of every known secret value. */
export function redactKnownSecrets(text: string, secrets: readonly string[]): string {
  let result = text;
  const usable = [...new Set(secrets)]
    .filter((secret) => secret.length >= MIN_SECRET_LENGTH)
    // Longest first: a secret containing another is replaced whole.
    .sort((a, b) => b.length - a.length);
  for (const secret of usable) result = result.split(secret).join(REDACTED);
  return result;
}

/**
 * One log line: a JSON object loses its secret-named fields (at any depth; `redactedFields` counts them);
 * other text loses `name=value` / `name: value` pairs with a secret name.
 */
export function redactLogLine(line: string): string {
  const trimmed = line.trim();
  if (trimmed.startsWith('{') && trimmed.endsWith('}')) {
    try {
      const record = JSON.parse(trimmed) as unknown;
      const counter = { removed: 0 };
      const cleaned = dropSecretFields(record, counter);
      if (counter.removed === 0) return line;
      const withCount =
        typeof cleaned === 'object' && cleaned !== null && !Array.isArray(cleaned)
          ? { ...cleaned, redactedFields: counter.removed }
          : cleaned;
      return JSON.stringify(withCount);
    } catch {
      // Not JSON after all: treat as text.
    }
  }
  return line.replace(
    /\b[\w.-]*(?:pass(?:word|wd|phrase)?|secret|salt|token|credential|private[-_]?key)[\w.-]*\s*[=:]\s*("[^"]*"|'[^']*'|\S+)/gi,
    REDACTED,
  );
}

/** Every line of a log through redactLogLine. */
export function redactLog(text: string): string {
  return text
    .split('\n')
    .map((line) => (line === '' ? line : redactLogLine(line)))
    .join('\n');
}

function dropSecretFields(value: unknown, counter: { removed: number }): unknown {
  if (Array.isArray(value)) return value.map((item) => dropSecretFields(item, counter));
  if (typeof value !== 'object' || value === null) return value;
  const result: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(value)) {
    if (isSecretName(key)) {
      counter.removed++;
      continue;
    }
    result[key] = dropSecretFields(field, counter);
  }
  return result;
}
