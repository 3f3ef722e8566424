// Moved to scripts/lib/k8s-netns-bridge.ts (scripts may not import from test/); tests keep importing it from here.
export * from '../../scripts/lib/k8s-netns-bridge';
