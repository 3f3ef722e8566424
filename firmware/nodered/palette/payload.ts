// msg.payload of the apply node → the objects to apply: YAML or JSON text (multi-document, Lists flattened, as
// `kubectl apply -f` reads it), one object, a List object or an array. Pure.
import { parseManifests, withDefaultNamespace } from '../../core/api/manifests';
import { PaletteError, type PaletteFieldError } from './services';

export function objectsFromPayload(payload: unknown, defaultNamespace = ''): unknown[] {
  let objects: unknown[];
  if (typeof payload === 'string') {
    const parsed = parseManifests(payload);
    if (parsed.errors.length > 0) {
      const fieldErrors: PaletteFieldError[] = parsed.errors.map((error) => ({
        path: `line ${error.line} column ${error.column}`,
        reason: error.message,
      }));
      throw new PaletteError(
        'Invalid',
        `msg.payload is not valid YAML/JSON: ${fieldErrors.map((e) => `${e.path}: ${e.reason}`).join('; ')}`,
        fieldErrors,
      );
    }
    objects = parsed.objects;
  } else if (Array.isArray(payload)) {
    objects = payload;
  } else if (typeof payload === 'object' && payload !== null) {
    const list = payload as { kind?: unknown; items?: unknown };
    objects =
      typeof list.kind === 'string' && list.kind.endsWith('List') && Array.isArray(list.items)
        ? list.items
        : [payload];
  } else {
    throw new PaletteError(
      'Invalid',
      'msg.payload must be YAML/JSON text, a policy object or a list of them',
      [{ path: 'payload', reason: 'must be text, an object or an array', value: payload }],
    );
  }
  if (objects.length === 0) {
    throw new PaletteError('Invalid', 'msg.payload holds no objects', [
      { path: 'payload', reason: 'no objects' },
    ]);
  }
  return defaultNamespace === '' ? objects : withDefaultNamespace(objects, defaultNamespace);
}
