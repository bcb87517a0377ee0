/**
 * The client package (clients/js) as built by `npm run build`. Tests run from dist/test, one
 * level deeper than their sources, so the runtime path is a URL and the types come from a
 * type-only import that resolves from the source.
 */
import { fileURLToPath } from 'node:url';

export type NodeClient = typeof import('../../clients/js/dist/node.js');

/** clients/js/dist, the files a browser loads. */
export const CLIENT_DIST = fileURLToPath(new URL('../../../clients/js/dist/', import.meta.url));

export const nodeClient = (await import(new URL('../../../clients/js/dist/node.js', import.meta.url).href)) as NodeClient;
