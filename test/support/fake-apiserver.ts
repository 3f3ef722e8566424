// Moved to scripts/lib/fake-apiserver.ts (scripts may not import from test/); tests keep importing it from here.
export * from '../../scripts/lib/fake-apiserver';
